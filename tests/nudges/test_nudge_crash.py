"""Exactly once, even when a run is killed: a real subprocess is SIGKILLed at each ledger
transition (and mid-batch inside the adapter), then re-run; the loopback CRM must end up with each
nudge exactly once — zero duplicates, zero lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from careplug.nudges.ledger import Ledger
from careplug.nudges.model import NudgeState

from nudge_app import T0, finding, make_app, resolve, save

HERE = Path(__file__).resolve().parent
FAILPOINTS = ["nudges.before_pending", "nudges.after_pending", "crm.between_chunks",
              "nudges.after_write", "nudges.after_delivered"]
N = 5


def run_child(store_path: str, crm_url: str, now, failpoint: str | None = None, chunk: int = 2):
    env = {k: v for k, v in os.environ.items() if k != "CAREPLUG_FAILPOINT"}
    if failpoint:
        env["CAREPLUG_FAILPOINT"] = failpoint
    return subprocess.run([sys.executable, str(HERE / "nudge_child.py"), store_path, crm_url, now.isoformat(),
                           str(chunk)], env=env, capture_output=True, text=True, timeout=120, cwd=HERE)


def assert_exactly_once(crm, app, expected: int) -> None:
    markers = crm.by_marker()
    assert len(crm.tasks) == expected, f"{len(crm.tasks)} CRM tasks for {expected} nudges"
    assert all(len(tasks) == 1 for tasks in markers.values()), "a nudge was written twice"
    rows = Ledger(app.store).rows()
    assert len(rows) == expected
    for row in rows:
        assert row.state is NudgeState.DELIVERED, (row.key, row.state, row.error)
        assert [t["id"] for t in markers[row.nudge.marker]] == [row.nudge.external_ref]


@pytest.mark.parametrize("failpoint", FAILPOINTS)
def test_a_run_killed_at_any_point_then_rerun_delivers_each_nudge_exactly_once(crm, store_path, failpoint):
    app = make_app(store_path, crm.url)
    save(app.store, *(finding(i, owner=f"agent{i}") for i in range(N)))

    killed = run_child(store_path, crm.url, T0, failpoint)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    rerun = run_child(store_path, crm.url, T0 + timedelta(minutes=5))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_exactly_once(crm, app, N)

    calm = run_child(store_path, crm.url, T0 + timedelta(minutes=10))
    assert calm.returncode == 0 and json.loads(calm.stdout)["create"] == 0
    assert_exactly_once(crm, app, N)


@pytest.mark.parametrize("failpoint", ["nudges.after_pending", "crm.between_chunks", "nudges.after_write"])
def test_a_finding_that_clears_while_its_nudge_hangs_pending_is_closed_if_written_else_never_written(
        crm, store_path, failpoint):
    app = make_app(store_path, crm.url)
    findings = [finding(i) for i in range(N)]
    save(app.store, *findings)
    assert run_child(store_path, crm.url, T0, failpoint).returncode == -signal.SIGKILL
    written_before = {t["marker"] for t in crm.tasks}

    for f in findings:
        resolve(app.store, f, T0 + timedelta(minutes=3))
    rerun = run_child(store_path, crm.url, T0 + timedelta(minutes=5))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr

    assert {t["marker"] for t in crm.tasks} == written_before          # nothing new written
    assert all(t["closed"] for t in crm.tasks)                          # what was written is closed
    rows = Ledger(app.store).rows()
    assert {r.state for r in rows} == {NudgeState.CANCELLED}
    closed_in_crm = {r.nudge.marker for r in rows if r.outcome.get("why") == "resolved"}
    assert closed_in_crm == written_before
