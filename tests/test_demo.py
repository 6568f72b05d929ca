"""`careplug demo`: the whole loop offline, with nudges in the outbox files at any hour."""

from __future__ import annotations

import json

from click.testing import CliRunner

from careplug.cli import cli


def test_the_demo_syncs_checks_and_writes_nudges_to_the_outboxes_offline(tmp_path):
    result = CliRunner().invoke(cli, ["--json", "demo", "--dir", str(tmp_path / "demo"), "-n", "120"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["open_findings"] > 0 and len(summary["by_rule"]) >= 5
    written = [line for path in summary["outboxes"].values()
               for line in ((tmp_path / path).read_text().splitlines() if (tmp_path / path).exists() else [])]
    assert written, "the demo delivers its nudges to the outbox files whatever the hour"
    assert all(json.loads(line)["title"] for line in written)


def test_with_careplug_now_the_demo_s_history_leads_up_to_that_time(tmp_path, monkeypatch):
    """CAREPLUG_NOW pins the run's clock; the generated history must end there too, or a pinned
    time before today finds nothing (everything would lie in the future)."""
    monkeypatch.setenv("CAREPLUG_NOW", "2026-01-05T14:00:00+00:00")
    result = CliRunner().invoke(cli, ["--json", "demo", "--dir", str(tmp_path / "demo"), "-n", "120"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["open_findings"] > 0 and len(summary["by_rule"]) >= 5
    times = [json.loads(line)["created_at"] for path in (tmp_path / "demo" / "export").glob("*/messages.jsonl")
             for line in path.read_text().splitlines()]
    assert times and max(times) <= "2026-01-05T14:00:00"
