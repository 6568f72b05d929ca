"""run_nudges: plan, clear and deliver — in-process, against the loopback task CRM."""

from __future__ import annotations

from datetime import timedelta

from careplug.nudges.delivery import run_nudges
from careplug.nudges.ledger import Ledger
from careplug.nudges.model import NudgeState

from nudge_app import T0, finding, make_app, resolve, save


def states(app) -> dict[str, str]:
    return {r.nudge.finding_key: r.state.value for r in Ledger(app.store).rows()}


def test_a_warning_becomes_one_task_for_the_owner_in_the_crm(crm, store_path):
    app = make_app(store_path, crm.url)
    f = finding(1, owner="alice")
    save(app.store, f)
    result = run_nudges(app, T0)
    assert result.ok, result.failures
    assert [t["assignee"] for t in crm.tasks] == ["alice"]
    assert crm.tasks[0]["due_at"] == f.due_at.isoformat()     # due when the target breaches
    assert states(app) == {f.key: "delivered"}
    assert result.count("create") == 1


def test_running_again_writes_nothing_new(crm, store_path):
    app = make_app(store_path, crm.url)
    save(app.store, finding(1), finding(2))
    run_nudges(app, T0)
    again = run_nudges(app, T0 + timedelta(minutes=5))
    assert again.planned == 0 and again.count("create") == 0
    assert len(crm.tasks) == 2
    assert crm.calls["tasks.batch"] == 1
