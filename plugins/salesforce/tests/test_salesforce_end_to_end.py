"""End to end: the loopback Salesforce fake → a careplug.toml → ``careplug run`` (a real subprocess)
→ findings → Tasks written into the org → a second run writes nothing new; and a run that meets
``REQUEST_LIMIT_EXCEEDED`` keeps its cursors so the next run resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from careplug.store import Store
from careplug.testing.fakes.salesforce import FakeSalesforce

from careplug_salesforce.harness import ENV, HISTORY_END, SalesforceHarness

NOW = HISTORY_END.isoformat()


def careplug(config: Path, *args: str) -> tuple[int, dict]:
    env = {**os.environ, "CAREPLUG_NOW": NOW}
    proc = subprocess.run([sys.executable, "-m", "careplug", "--json", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=300)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"careplug {args} printed no JSON (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return proc.returncode, data


@pytest.fixture
def org():
    h = SalesforceHarness(fake=FakeSalesforce(password="e2e-Pa55word", security_token="e2eTok3n"))
    with h:
        h.seed(60, seed=5)
        yield h


def write_config(tmp_path: Path, h: SalesforceHarness, **extra: str) -> Path:
    options = "\n".join(f"{k} = {v}" for k, v in extra.items())
    config = tmp_path / "careplug.toml"
    config.write_text(textwrap.dedent(f"""
        [store]
        path = "careplug.db"

        [sources.sf]
        type = "salesforce"
        auth = "password"
        username_env = "{ENV['username']}"
        password_env = "{ENV['password']}"
        security_token_env = "{ENV['token']}"
        instance_url = "{h.fake.url}"
        timeout = 5.0
        backoff = 0.05
        fields = {{ account_tier = "Tier__c" }}
        """) + options + textwrap.dedent("""

        [rules.unanswered]
        first_reply = "4h"
        next_reply = "8h"

        [nudges]
        default_target = "sf"
        [nudges.quiet_hours]
        enabled = false
        """))
    return config


def careplug_tasks(h: SalesforceHarness) -> list[dict]:
    return [t for t in h.fake.live("Task").values() if "[careplug:" in (t.get("Subject") or "")]


def test_a_run_writes_tasks_for_findings_and_a_second_run_writes_nothing_new(org, tmp_path):
    config = write_config(tmp_path, org)
    code, first = careplug(config, "run")
    assert code == 0, first["failures"]
    store = Store(str(tmp_path / "careplug.db"))
    assert {r.external_id for r in store.iter_records("conversation", "sf")} == org.ids("conversation")
    store.close()
    tasks = careplug_tasks(org)
    assert first["check"] and tasks, "the run found nothing to nudge: the seeded org has unanswered cases"
    for task in tasks:
        assert task["WhatId"] in org.ids("conversation") and task["ActivityDate"] is not None
        assert task["Status"] == "Not Started" and "careplug:" in task["Description"]
    writes = org.fake.calls["collections.create"]
    assert writes == -(-len(tasks) // 200), f"{len(tasks)} tasks took {writes} collection calls"

    org.reset_calls()
    code, second = careplug(config, "run")
    assert code == 0, second["failures"]
    assert len(careplug_tasks(org)) == len(tasks), "the second run wrote tasks again"
    assert org.fake.calls["collections.create"] == 0
    changed = {s["stream"]: s["changed"] for s in second["sync"]["streams"] if s["changed"]}
    assert set(changed) <= {"tasks"}, f"the second run changed more than its own tasks: {changed}"


def test_a_run_that_hits_request_limit_exceeded_keeps_its_cursors_and_the_next_run_resumes(org, tmp_path):
    config = write_config(tmp_path, org, usage_stop="1.0")
    org.fake.daily_limit = org.fake.api_used + 6      # enough for the describe and a few streams
    code, first = careplug(config, "run")
    assert code != 0
    streams = first["sync"]["streams"]
    errors = [s["error"] for s in streams if s.get("error")]
    assert any("REQUEST_LIMIT_EXCEEDED" in e and "cursors are kept" in e for e in errors), errors
    assert any("skipped" in e for e in errors), "the streams after the refusal were not skipped"
    assert any("REQUEST_LIMIT_EXCEEDED" in f for f in first["failures"]), "the run did not say why it stopped"
    completed = {s["stream"] for s in streams if not s.get("error") and s["read"]}
    store = Store(str(tmp_path / "careplug.db"))
    kept = {s for _, s in store.cursors("sf")}
    store.close()
    assert completed and kept == completed, (completed, kept)
    assert "cases" not in kept, "raise the allowance cut: the test needs cases after the refusal"
    assert careplug_tasks(org) == []

    org.fake.daily_limit = 5_000_000                 # the next day: a fresh allowance
    code, second = careplug(config, "run")
    assert code == 0, second["failures"]
    read = {s["stream"]: s["read"] for s in second["sync"]["streams"]}
    assert all(read[s] == 0 for s in completed), f"streams synced before the refusal were read again: {read}"
    assert read["cases"] == len(org.ids("conversation"))
    store = Store(str(tmp_path / "careplug.db"))
    assert {r.external_id for r in store.iter_records("conversation", "sf")} == org.ids("conversation")
    store.close()
    assert careplug_tasks(org), "the resumed run found and nudged nothing"


def test_a_run_stops_before_the_configured_share_of_the_allowance(org, tmp_path):
    org.fake.daily_limit = 100
    org.fake.api_used = 78                       # 78 % used; careplug stops at 80 %
    config = write_config(tmp_path, org, usage_stop="0.8")
    code, data = careplug(config, "sync")
    assert code != 0
    errors = " ".join(s.get("error") or "" for s in data["streams"])
    assert "usage_stop=0.8" in errors and "cursors are kept" in errors
    assert org.fake.api_used < 80 + 1, "careplug went on past the configured share"
