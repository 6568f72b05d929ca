"""A finding that clears and comes back under the same key (a ticket solved without a reply, then
reopened by the customer: the same unanswered inquiry) is a new episode of neglect: it is nudged
again, once, even though the earlier episode's nudge for the same stage is in the ledger."""

from __future__ import annotations

from datetime import timedelta

from careplug.nudges.delivery import run_nudges
from careplug.nudges.ledger import Ledger
from careplug.nudges.model import NudgeState

from nudge_app import T0, finding, make_app, resolve, save


def _states(app) -> list[str]:
    return sorted(r.state.value for r in Ledger(app.store).rows())


def test_a_finding_back_after_its_task_was_closed_gets_a_new_task_once(crm, store_path):
    app = make_app(store_path, crm.url)
    first = finding(1)
    save(app.store, first)
    run_nudges(app, T0)                                        # episode 1: task written
    resolve(app.store, first, T0 + timedelta(minutes=30))      # solved without a reply
    assert run_nudges(app, T0 + timedelta(hours=1)).count("close") == 1
    back = finding(1)                                          # reopened: the same inquiry, the same key
    back.detected_at = T0 + timedelta(hours=2)                 # the check engine detects it anew
    save(app.store, back)
    again = run_nudges(app, T0 + timedelta(hours=2))
    assert [n.finding_key for n in again.planned] == [first.key]
    assert [(t["conversation"], t["closed"]) for t in crm.tasks] == [("1", True), ("1", False)]
    keys = [r.key for r in Ledger(app.store).rows()]
    assert len(set(keys)) == 2
    assert run_nudges(app, T0 + timedelta(hours=3)).planned == []     # and only once
    assert len(crm.tasks) == 2
    assert _states(app) == ["cancelled", "delivered"]


def test_a_finding_back_after_its_undelivered_nudge_was_cancelled_is_nudged(crm, store_path):
    app = make_app(store_path, crm.url)
    night = T0.replace(hour=22)
    from test_nudge_replanning import OFFICE
    app.calendars = OFFICE
    first = finding(1)
    save(app.store, first)
    assert run_nudges(app, night).count("defer") == 1          # quiet hours: planned only
    resolve(app.store, first, night + timedelta(minutes=10))
    assert run_nudges(app, night + timedelta(hours=1)).count("cancel") == 1
    back = finding(1)
    back.detected_at = night + timedelta(hours=2)
    save(app.store, back)
    run_nudges(app, night + timedelta(hours=11))               # 09:00: the comeback is delivered
    assert [t["conversation"] for t in crm.tasks] == ["1"]
    assert _states(app) == ["cancelled", "delivered"]


def test_a_finding_that_only_moved_stage_is_not_nudged_again_for_the_earlier_stage(crm, store_path):
    app = make_app(store_path, crm.url)
    f = finding(1, stage="warning")
    save(app.store, f)
    run_nudges(app, T0)
    save(app.store, finding(1, stage="breach"))                # escalated: the warning task closes
    run_nudges(app, T0 + timedelta(hours=1))
    save(app.store, finding(1, stage="warning"))               # the due time moved back: same episode
    result = run_nudges(app, T0 + timedelta(hours=2))
    assert result.planned == []
    assert sum(1 for t in crm.tasks if not t["closed"]) <= 1


def test_a_finding_detected_again_before_any_nudge_run_keeps_its_open_task(crm, store_path):
    app = make_app(store_path, crm.url)
    f = finding(1)
    save(app.store, f)
    run_nudges(app, T0)
    resolve(app.store, f, T0 + timedelta(minutes=10))
    back = finding(1)
    back.detected_at = T0 + timedelta(minutes=20)              # back before the nudge run saw it clear
    save(app.store, back)
    assert run_nudges(app, T0 + timedelta(hours=1)).planned == []
    assert [(t["conversation"], t["closed"]) for t in crm.tasks] == [("1", False)]
