"""The command line as people and schedulers use it: real subprocesses, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from careplug.store import Store


def careplug(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "careplug", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture
def project(tmp_path):
    """A careplug.toml over a small generated files export."""
    from careplug.testing.generator import write_files

    write_files(tmp_path / "export", 40, seed=3, sources=("zendesk", "hubspot"))
    (tmp_path / "careplug.toml").write_text(textwrap.dedent("""
        [store]
        path = "careplug.db"
        [sources.zendesk]
        type = "files"
        path = "export/zendesk"
        [sources.hubspot]
        type = "files"
        path = "export/hubspot"
        [rules.unanswered]
        first_reply = "4h"
    """))
    return tmp_path


def test_init_writes_a_starter_file_that_validates_once_its_export_folder_exists(tmp_path):
    assert careplug("init", cwd=tmp_path).returncode == 0
    assert "[rules.unanswered]" in (tmp_path / "careplug.toml").read_text()
    proc = careplug("validate", cwd=tmp_path)
    assert proc.returncode == 3 and "sources.exports.path: folder" in proc.stderr, proc.stderr
    (tmp_path / "exports").mkdir()
    proc = careplug("validate", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert careplug("init", cwd=tmp_path).returncode == 2      # never overwrites without --force


def test_schema_is_json_schema_covering_plugins_options():
    proc = careplug("schema")
    schema = json.loads(proc.stdout)
    assert schema["additionalProperties"] is False
    assert {"unanswered", "broken_promise", "neglected_lead"} <= set(schema["properties"]["rules"]["properties"])
    kinds = {v["title"] for v in schema["properties"]["sources"]["additionalProperties"]["oneOf"]}
    assert {"files", "zendesk", "salesforce", "hubspot"} <= kinds


def test_plugins_lists_the_adapters_and_the_built_ins():
    data = json.loads(careplug("--json", "plugins").stdout)
    origins = {p["name"]: p["origin"] for p in data["plugins"]}
    assert {origins.get(n) for n in ("zendesk", "salesforce", "hubspot")} == {"entry point"}
    assert origins["careplug.sources.files"] == "built-in" and origins["careplug.rules.unanswered"] == "built-in"
    assert data["failed"] == []
    table = careplug("plugins").stdout
    assert "zendesk" in table and "register_rules" in table


def test_sync_twice_reads_everything_then_changes_nothing(project):
    first = careplug("--json", "sync", cwd=project)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["ok"] and data["changed"] > 0
    second = json.loads(careplug("--json", "sync", cwd=project).stdout)
    assert second["changed"] == 0


def test_a_second_run_while_one_holds_the_lock_exits_4(project):
    store = Store(str(project / "careplug.db"))
    with store.run_lock():
        proc = careplug("sync", cwd=project)
    assert proc.returncode == 4 and "another careplug run holds this store" in proc.stderr


def test_a_missing_config_is_a_config_error(tmp_path):
    proc = careplug("sync", cwd=tmp_path)
    assert proc.returncode == 3 and "careplug init" in proc.stderr


def test_an_unknown_source_name_is_a_usage_error(project):
    proc = careplug("sync", "--source", "nope", cwd=project)
    assert proc.returncode == 2 and "no source named nope" in proc.stderr


def test_history_shows_one_customer_across_sources(project):
    careplug("sync", cwd=project)
    store = Store(str(project / "careplug.db"))
    from sqlalchemy import func, select

    from careplug.store.schema import customer_links

    with store.engine.connect() as conn:
        uid = conn.execute(select(customer_links.c.uid).group_by(customer_links.c.uid)
                           .having(func.count() > 1).limit(1)).scalar()
    assert uid, "the generated history has people present in two sources"
    data = json.loads(careplug("--json", "history", uid, cwd=project).stdout)
    assert {link["source"] for link in data["links"]} == {"zendesk", "hubspot"}
    assert data["items"] and {i["source"] for i in data["items"]} <= {"zendesk", "hubspot"}


def test_history_of_no_one_is_a_usage_error_not_a_failed_run(project):
    """Exit 1 says a part of a run failed; a WHO that matches no customer is a wrong argument,
    like `sync --source nope`: exit 2, and with --json the usage error object."""
    careplug("sync", cwd=project)
    proc = careplug("history", "nobody@nowhere.invalid", cwd=project)
    assert proc.returncode == 2, proc.stderr
    assert "no customer matches 'nobody@nowhere.invalid'" in proc.stderr and "Traceback" not in proc.stderr
    proc = careplug("--json", "history", "nobody@nowhere.invalid", cwd=project)
    assert proc.returncode == 2
    error = json.loads(proc.stdout)
    assert error["ok"] is False and error["error"] == "usage" and "no customer matches" in error["message"]


def test_a_careplug_now_that_is_no_time_is_a_problem_naming_the_variable_not_an_internal_error(project):
    proc = careplug("check", cwd=project, env={"CAREPLUG_NOW": "yesterday"})
    assert proc.returncode == 3, proc.stderr
    assert "environment: CAREPLUG_NOW: 'yesterday' is not an ISO 8601 time" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    proc = careplug("--json", "check", cwd=project, env={"CAREPLUG_NOW": "2026-13-01"})
    assert proc.returncode == 3 and json.loads(proc.stdout)["problems"][0]["path"] == "CAREPLUG_NOW"


def test_explaining_a_finding_there_is_not_is_a_usage_error(project):
    careplug("sync", cwd=project)
    proc = careplug("check", "--explain", "unanswered|conversation:zendesk:nope", cwd=project)
    assert proc.returncode == 2 and "no finding 'unanswered|conversation:zendesk:nope'" in proc.stderr, proc.stderr
    proc = careplug("--json", "check", "--explain", "nope", cwd=project)
    assert proc.returncode == 2 and json.loads(proc.stdout)["error"] == "usage"


def test_history_lists_the_customers_findings_open_and_resolved(project):
    assert careplug("run", cwd=project).returncode in (0, 1)
    findings = json.loads(careplug("--json", "check", cwd=project).stdout)["findings"]
    finding = next(f for f in findings if f.get("customer_uid"))
    data = json.loads(careplug("--json", "history", finding["customer_uid"], cwd=project).stdout)
    assert finding["key"] in {f["key"] for f in data["findings"]}
    assert "outcomes" not in data    # nudges come through the timeline items, per customer


def test_a_full_check_on_two_processes_finds_what_the_normal_run_found(project):
    assert careplug("sync", cwd=project).returncode == 0
    env = {"CAREPLUG_NOW": "2026-11-23T15:00:00+00:00"}
    normal = json.loads(careplug("--json", "check", cwd=project, env=env).stdout)
    full = careplug("--json", "check", "--full", "--workers", "2", cwd=project, env=env)
    assert full.returncode in (0, 1), full.stderr
    swept = json.loads(full.stdout)
    assert sorted(f["key"] for f in swept["findings"]) == sorted(f["key"] for f in normal["findings"])
    assert swept["new"] == 0 and swept["resolved"] == 0          # the same findings, nothing changed
    assert careplug("check", "--full", "--workers", "0", cwd=project).returncode == 2   # usage error


@pytest.mark.parametrize("age, says", [("30", "needs a unit"), ("0", "needs a unit"), ("0d", "longer than zero"),
                                       ("", "needs an age"), ("  ", "needs an age"), ("soon", "bad duration"),
                                       ("99999999d", "century"), ("100000000000000000000d", "")])
def test_since_needs_an_age_with_a_unit_longer_than_zero(project, age, says):
    """`--since 30` is not 30 seconds, `--since 0d` and `--since ""` are not a plain dry-run: each is a
    usage error (exit 2) saying what to write, before anything is read."""
    proc = careplug("check", "--dry-run", "--since", age, cwd=project)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--since" in proc.stderr and says in proc.stderr and "Traceback" not in proc.stderr


def test_a_replay_shows_what_would_have_fired_when_at_which_stage_and_whether_it_cleared():
    """`check --dry-run --since 30d` in people's words: every stage reached in the window in time
    order, with its customer and summary, whether the finding cleared later and the totals, not a
    table of "open findings" that counts cleared ones as open."""
    from datetime import datetime, timedelta, timezone

    from rich.console import Console

    from careplug.check import CheckResult
    from careplug.finding import Finding, Severity
    from careplug.render import print_findings

    now = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    answered = Finding("unanswered", "conversation:zendesk:1", "m1", "breach", Severity.BREACH,
                       "email inquiry waiting 4h", now - timedelta(days=3), customer_uid="u1",
                       resolved_at=now - timedelta(days=2, hours=20))
    waiting = Finding("quiet_customer", "customer:zendesk/2", "q", "warning", Severity.WARNING,
                      "Bo: no touch for 24d", now - timedelta(days=24), customer_uid="u2")
    result = CheckResult(now=now, dry_run=True, since=timedelta(days=30), evaluated=7, open_at_start=3,
                         findings=[answered, waiting])
    result.fired = [
        {"at": "2026-11-21T15:00:00+00:00", "key": answered.key, "stage": "warning", "severity": "warning",
         "summary": "email inquiry waiting 3h of 4h"},
        {"at": "2026-11-21T16:00:00+00:00", "key": answered.key, "stage": "breach", "severity": "breach",
         "summary": "email inquiry waiting 4h"},
        {"at": "2026-11-23T09:30:00+00:00", "key": waiting.key, "stage": "warning", "severity": "warning",
         "summary": "Bo: no touch for 24d"},
    ]
    console = Console(record=True, width=200)
    print_findings(console, result, now, label={"u1": "Ada Smith", "u2": "Bo Chen"}.get)
    out = console.export_text()
    assert "would have fired in the last 30d" in out and "open findings" not in out
    rows = [line for line in out.splitlines() if "11-2" in line and "·" in line]
    assert len(rows) == 3                                   # every stage reached, oldest first
    assert "11-21 15:00" in rows[0] and "unanswered · warning" in rows[0] and "Ada Smith" in rows[0]
    assert "unanswered · breach" in rows[1] and rows[1].rstrip(" │").endswith("11-21 16:00")   # cleared then
    assert "quiet_customer · warning" in rows[2] and "Bo Chen" in rows[2] and "open" in rows[2]
    assert "would have fired: 2 finding(s), 3 stage(s) reached; cleared later: 1; still open: 1" in out
    assert "already open when the window began: 3" in out and "resolved: 0" not in out


def test_schema_describes_durations_as_careplug_reads_them():
    """Editors following `careplug schema` suggest and accept what `careplug validate` accepts:
    "4h" or ISO "PT4H" (defaults written "4h"), never a bare number or ISO years and months."""
    import re

    from careplug.durations import DURATION_PATTERN, parse_duration

    schema = json.loads(careplug("schema").stdout)
    unanswered = schema["properties"]["rules"]["properties"]["unanswered"]["properties"]
    first = unanswered["first_reply"]
    assert first["type"] == "string" and "format" not in first and first["default"] == "4h"
    assert unanswered["next_reply"]["default"] == "8h"
    durations = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("pattern") == DURATION_PATTERN:
                durations.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema["properties"]["rules"])
    assert len(durations) > 10
    pattern = re.compile(DURATION_PATTERN)
    for text in ("30m", "4h", "2d", "1w", "1h30m", "1d 12h", "2 days", "90 Minutes", "1 hour and 15 minutes", "1.5h",
                 "PT4H", "P1DT12H", "pt2h", "P1W"):
        assert pattern.match(text) and parse_duration(text, bare_seconds=False), text
    for text in ("4", "soon", "h4", "4 fortnights", "", "P1M", "P1Y", "PT", "P1DT", "PT4H 30m"):
        assert not pattern.match(text), text
        with pytest.raises(ValueError):
            parse_duration(text, bare_seconds=False)
    for rule in schema["properties"]["rules"]["properties"].values():
        for prop in rule["properties"].values():
            if isinstance(prop.get("default"), str) and prop.get("pattern") == DURATION_PATTERN:
                parse_duration(prop["default"], bare_seconds=False)


def test_the_open_findings_table_shows_each_key_so_it_can_be_explained():
    from datetime import datetime, timedelta, timezone

    from rich.console import Console

    from careplug.check import CheckResult
    from careplug.finding import Finding, Severity
    from careplug.render import print_findings

    now = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    f = Finding("unanswered", "conversation:zendesk:42", "m-981", "breach", Severity.BREACH, "email inquiry waiting 5h",
                now - timedelta(hours=5), customer_uid="u1")
    console = Console(record=True, width=200)
    print_findings(console, CheckResult(now=now, findings=[f]), now)
    out = console.export_text()
    assert "unanswered|conversation:zendesk:42|m-981" in out and "--explain" in out


def test_schema_describes_nudges_as_careplug_reads_them():
    """`careplug schema` and `careplug validate` agree on [nudges]: an action is a name ("task") or
    a table, alone or in a list; due_in is a duration as every other one (one pattern), never a
    bare number."""
    from careplug.durations import DURATION_PATTERN

    schema = json.loads(careplug("schema").stdout)
    actions = schema["$defs"]["StagePolicy"]["properties"]["actions"]["anyOf"]
    listed = next(a for a in actions if a.get("type") == "array")["items"]["anyOf"]
    assert {"type": "string", "enum": ["task", "note", "tag", "notify"]} in listed
    assert {"$ref": "#/$defs/ActionSpec"} in listed and len(actions) == 3
    due_in = schema["$defs"]["ActionSpec"]["properties"]["due_in"]
    assert '"format"' not in json.dumps(due_in)
    [text_form] = [s for s in due_in["anyOf"] if s.get("type") == "string"]
    assert text_form["pattern"] == DURATION_PATTERN


def test_the_example_config_validates_against_the_schema(monkeypatch):
    """examples/careplug.toml and the init template follow `careplug schema`."""
    jsonschema = pytest.importorskip("jsonschema")
    import tomllib

    schema = json.loads(careplug("schema").stdout)
    root = Path(__file__).resolve().parents[1]
    for path in (root / "examples" / "careplug.toml", root / "src" / "careplug" / "templates" / "careplug.toml"):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in
                  jsonschema.Draft202012Validator(schema).iter_errors(tomllib.loads(path.read_text()))]
        assert errors == [], path


@pytest.mark.parametrize("count", ["-5", "ten"])
def test_generate_with_a_count_that_is_no_count_is_a_usage_error_and_writes_nothing(tmp_path, count):
    proc = careplug("generate", "-n", count, "--out", "g", cwd=tmp_path)
    assert proc.returncode == 2 and "--conversations" in proc.stderr, proc.stderr
    assert not (tmp_path / "g").exists()


def test_an_empty_explain_key_is_a_usage_error_and_runs_no_check(project):
    """`check --explain "$KEY"` with KEY unset must not run (and write) a whole check."""
    proc = careplug("check", "--explain", "", cwd=project)
    assert proc.returncode == 2 and "--explain" in proc.stderr and "Traceback" not in proc.stderr


def test_a_rule_enabled_in_the_config_is_run_over_every_subject_by_the_next_plain_check(project):
    """An admin enables a rule and runs `careplug check`: the rule looks at the whole store once,
    not only at what changes from now on; the check after that is incremental again."""
    assert careplug("sync", cwd=project).returncode in (0, 1)
    first = json.loads(careplug("--json", "check", cwd=project).stdout)
    again = json.loads(careplug("--json", "check", cwd=project).stdout)
    assert again["notes"] == [] and again["evaluated"] < first["evaluated"]
    config = project / "careplug.toml"
    config.write_text(config.read_text() + '\n[rules.quiet_customer]\nafter = "1d"\n')
    changed = json.loads(careplug("--json", "check", cwd=project).stdout)
    assert any("rules or calendars changed" in n for n in changed["notes"])
    assert changed["evaluated"] >= first["evaluated"]
    assert any(f["rule"] == "quiet_customer" for f in changed["findings"])
    after = json.loads(careplug("--json", "check", cwd=project).stdout)
    assert after["notes"] == []


def test_sync_says_which_rows_it_quarantined_and_why_and_which_files_it_does_not_read(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"id": "c1", "channel": "email", "status": "open", "created_at": "2026-11-23T09:00:00Z"},
            {"id": "c2", "channel": "email", "status": "Open", "created_at": "2026-11-23T09:00:00Z"}]
    (data / "conversations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "customers.json").write_text('[{"id": "x1", "emails": ["xena@example.com"]}]')
    (tmp_path / "careplug.toml").write_text('[store]\npath = "careplug.db"\n[sources.hd]\ntype = "files"\npath = "data"\n')
    human = careplug("sync", cwd=tmp_path, env={"COLUMNS": "300"})
    assert human.returncode == 0, human.stderr
    assert "hd:conversations: 1 quarantined" in human.stdout
    assert "conversations.jsonl line 2: status: Input should be" in human.stdout and "(got 'Open')" in human.stdout
    assert "customers.json in" in human.stdout and "customers.jsonl or customers.csv" in human.stdout
    (tmp_path / "careplug.db").unlink()
    data = json.loads(careplug("--json", "sync", cwd=tmp_path).stdout)
    assert data["quarantined"] == 1
    [stream] = [s for s in data["streams"] if s["quarantined"]]
    assert stream["stream"] == "conversations" and stream["quarantine"][0].startswith("conversations.jsonl line 2: ")
    assert [w.split(" in ")[0] for w in data["warnings"]] == ["hd: customers.json"]
