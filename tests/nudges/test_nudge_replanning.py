"""Re-planning a nudge that waits: it follows the conversation's reassignment, and it is dropped
when its stage's policy no longer asks for it."""

from __future__ import annotations

from datetime import timedelta

import careplug
from careplug.calendar import BusinessCalendar
from careplug.nudges.delivery import run_nudges
from careplug.nudges.ledger import Ledger
from careplug.nudges.model import NudgeState

from nudge_app import T0, finding, make_app, save

OFFICE = {"default": BusinessCalendar("UTC", [[(9 * 60, 17 * 60)]] * 7)}
NIGHT = T0.replace(hour=22)


def test_a_nudge_held_back_by_quiet_hours_goes_to_the_new_assignee_after_reassignment(crm, store_path):
    app = make_app(store_path, crm.url, calendars=OFFICE)
    save(app.store, finding(1, owner="alice"))
    assert run_nudges(app, NIGHT).count("defer") == 1
    save(app.store, finding(1, owner="bob"))           # the check engine saw the conversation reassigned
    preview = run_nudges(app, NIGHT + timedelta(hours=11), dry_run=True)
    assert [line.assignee for line in preview.lines if line.op == "create"] == ["bob"]
    run_nudges(app, NIGHT + timedelta(hours=11))       # 09:00 next morning
    assert [t["assignee"] for t in crm.tasks] == ["bob"]
    [row] = Ledger(app.store).rows()
    assert row.nudge.assignee == "bob" and row.nudge.extra["owner"] == "bob"


def test_a_stage_turned_off_cancels_its_held_back_nudges(crm, store_path):
    app = make_app(store_path, crm.url, calendars=OFFICE)
    save(app.store, finding(1, rule="unanswered"))
    assert run_nudges(app, NIGHT).count("defer") == 1
    app.policy = app.policy.model_validate({"rules": {"unanswered": {"warning": {"actions": []}}}})
    preview = run_nudges(app, NIGHT + timedelta(hours=11), dry_run=True)
    assert [line.op for line in preview.lines] == ["cancel"]
    result = run_nudges(app, NIGHT + timedelta(hours=11))
    assert crm.tasks == []
    assert result.count("cancel") == 1
    assert [r.state for r in Ledger(app.store).rows()] == [NudgeState.CANCELLED]


class BrokenPlanner:
    @careplug.hookimpl
    def careplug_plan_follow_up(self, finding, policy):
        raise RuntimeError("planner down")


def test_a_finding_whose_planner_failed_keeps_its_nudges(crm, store_path):
    app = make_app(store_path, crm.url, calendars=OFFICE)
    save(app.store, finding(1, rule="unanswered"))
    assert run_nudges(app, NIGHT).count("defer") == 1
    app.policy = app.policy.model_validate({"rules": {"unanswered": {"warning": {"actions": []}}}})
    app.plugins.register(BrokenPlanner(), name="broken-planner", origin="test")
    result = run_nudges(app, NIGHT + timedelta(hours=1))   # still night: nothing is delivered
    assert result.failures and result.count("cancel") == 0
    assert [r.state for r in Ledger(app.store).rows()] == [NudgeState.PLANNED]

