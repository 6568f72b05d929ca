"""run_nudges: plan, clear and deliver — in-process, against the loopback task CRM."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import careplug
from careplug.calendar import BusinessCalendar
from careplug.model import Account, Conversation
from careplug.nudges import outcomes
from careplug.nudges.delivery import run_nudges
from careplug.nudges.ledger import Ledger
from careplug.nudges.model import NudgeState

from nudge_app import T0, finding, make_app, resolve, save
from nudge_taskcrm import FakeTaskCRM, TaskCrmOptions, TaskCrmSource


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
    assert again.planned == [] and again.count("create") == 0
    assert len(crm.tasks) == 2
    assert crm.calls["tasks.batch"] == 1


def test_a_finding_that_clears_before_delivery_is_never_written(crm, store_path):
    calendars = {"default": BusinessCalendar("UTC", [[(9 * 60, 17 * 60)]] * 7)}
    app = make_app(store_path, crm.url, calendars=calendars)
    f = finding(1)
    save(app.store, f)
    night = T0.replace(hour=22)
    held = run_nudges(app, night)                              # quiet hours: planned, not delivered
    assert held.count("defer") == 1 and crm.tasks == []
    resolve(app.store, f, night + timedelta(hours=1))
    morning = run_nudges(app, night + timedelta(hours=12))
    assert crm.tasks == [] and crm.total_calls() == 0
    assert morning.count("cancel") == 1
    assert states(app) == {f.key: "cancelled"}


def test_a_finding_that_clears_after_delivery_closes_its_task_and_records_time_to_action(crm, store_path):
    app = make_app(store_path, crm.url)
    f = finding(1)
    save(app.store, f)
    run_nudges(app, T0)
    resolve(app.store, f, T0 + timedelta(minutes=42))
    result = run_nudges(app, T0 + timedelta(hours=1))
    assert result.count("close") == 1
    assert crm.tasks[0]["closed"] is True
    (row,) = Ledger(app.store).rows()
    assert row.state is NudgeState.CANCELLED and row.delivered_at is not None
    assert row.outcome["time_to_action_s"] == 42 * 60
    summary = outcomes.summary(app.store)
    assert (summary.delivered, summary.acted_on, summary.open) == (1, 1, 0)
    assert summary.median_s == 42 * 60
    assert "acted on after 42m" in outcomes.timeline(app.store, [f.key])[0].summary


def test_warning_goes_to_the_owner_and_breach_to_the_manager_from_the_hierarchy(crm, store_path):
    policy = {"hierarchy": {"managers": {"alice": "maria"}}}
    app = make_app(store_path, crm.url, policy=policy)
    warning = finding(1, owner="alice")
    save(app.store, warning)
    run_nudges(app, T0)
    breach = finding(1, owner="alice", stage="breach")
    save(app.store, breach)                                   # same finding, next stage
    result = run_nudges(app, T0 + timedelta(hours=2))
    assert [(t["assignee"], t["closed"]) for t in crm.tasks] == [("alice", True), ("maria", False)]
    assert crm.tasks[1]["title"].startswith("Escalation:")
    assert result.count("close") == 1                          # at most one open nudge per finding
    assert result.count("create") == 1


def test_an_unowned_finding_goes_to_the_account_owner_in_the_store(crm, store_path):
    app = make_app(store_path, crm.url)
    app.store.commit_batch("crm", "accounts", [
        Account("crm", "acme", name="Acme", owner="olga"),
        Conversation("crm", "1", account_id="acme", assignee=None)])
    save(app.store, finding(1, owner=None))
    run_nudges(app, T0)
    assert [t["assignee"] for t in crm.tasks] == ["olga"]


def test_the_daily_cap_holds_back_what_exceeds_it_until_the_next_day(crm, store_path):
    app = make_app(store_path, crm.url, policy={"limits": {"per_person_per_day": 2}})
    save(app.store, *(finding(i, owner="alice") for i in range(3)))
    first = run_nudges(app, T0)
    assert len(crm.tasks) == 2 and first.count("defer") == 1
    assert "daily cap" in next(line.reason for line in first.lines if line.op == "defer")
    assert run_nudges(app, T0 + timedelta(hours=3)).count("create") == 0
    run_nudges(app, T0 + timedelta(days=1))
    assert len(crm.tasks) == 3


def test_quiet_hours_follow_the_assignees_calendar_and_do_not_move_the_due_time(crm, store_path):
    calendars = {"tokyo": BusinessCalendar("Asia/Tokyo", [[(9 * 60, 18 * 60)]] * 7)}
    policy = {"people": {"kenji": {"calendar": "tokyo"}}}
    app = make_app(store_path, crm.url, policy=policy, calendars=calendars)
    f = finding(1, owner="kenji")
    save(app.store, f)
    assert run_nudges(app, T0).count("defer") == 1             # 19:00 in Tokyo
    (row,) = Ledger(app.store).rows()
    assert row.not_before == datetime(2026, 11, 24, 0, 0, tzinfo=timezone.utc).timestamp()
    run_nudges(app, T0 + timedelta(hours=14, minutes=5))      # 09:05 in Tokyo
    assert [t["due_at"] for t in crm.tasks] == [f.due_at.isoformat()]


def test_one_target_down_does_not_stop_the_others_and_is_retried(crm, store_path):
    with FakeTaskCRM() as other:
        extra = {"down": TaskCrmSource("down", TaskCrmOptions(url=other.url))}
        app = make_app(store_path, crm.url, sources=extra)
        save(app.store, finding(1), finding(2, source="down"))
        other.inject("503", times=10)
        result = run_nudges(app, T0)
        assert not result.ok and "'down'" in result.failures[0]
        assert len(crm.tasks) == 1 and other.tasks == []
        (failed,) = Ledger(app.store).rows(states=[NudgeState.FAILED])
        assert failed.attempts == 1 and "503" in failed.error
        other.faults.clear()
        assert run_nudges(app, T0 + timedelta(minutes=5)).ok
        assert len(other.tasks) == 1 and len(crm.tasks) == 1


def test_a_dry_run_lists_what_would_be_written_and_writes_nothing(crm, store_path):
    app = make_app(store_path, crm.url, policy={"hierarchy": {"managers": {"alice": "maria"}}})
    save(app.store, finding(1, owner="alice"), finding(2, owner="alice", stage="breach"))
    result = run_nudges(app, T0, dry_run=True)
    assert result.dry_run and result.ok
    lines = sorted((line.op, line.action, line.target, line.assignee) for line in result.lines)
    assert lines == [("create", "task", "crm", "alice"), ("create", "task", "crm", "maria")]
    assert crm.total_calls() == 0 and Ledger(app.store).rows() == []
    assert "dry run" in result.render() and "for maria (escalation)" in result.render()
    assert result.as_dict()["create"] == 2 and len(result.planned) == 2


def test_nudge_delivered_is_called_once_per_nudge(crm, store_path):
    app = make_app(store_path, crm.url)
    seen = []

    class Audit:
        @careplug.hookimpl
        def careplug_nudge_delivered(self, nudge, receipt):
            seen.append((nudge.key, receipt.external_ref))

    app.plugins.register(Audit(), name="audit")
    save(app.store, finding(1), finding(2))
    run_nudges(app, T0)
    run_nudges(app, T0 + timedelta(minutes=1))
    assert sorted(ref for _, ref in seen) == ["1", "2"]


def test_a_target_nobody_delivers_to_is_a_reported_failure(store_path):
    app = make_app(store_path, None)
    save(app.store, finding(1, source="nowhere"))
    result = run_nudges(app, T0)
    assert not result.ok and "'nowhere'" in result.failures[0]


def test_without_a_deliverable_source_nudges_go_to_the_default_target(crm, store_path):
    app = make_app(store_path, crm.url, policy={"default_target": "crm"})
    save(app.store, finding(1, source="readonly"))
    assert run_nudges(app, T0).ok
    assert len(crm.tasks) == 1 and crm.tasks[0]["conversation"] is None


def test_a_nudge_that_keeps_failing_is_retried_up_to_max_attempts_then_reported_every_run(store_path):
    with FakeTaskCRM() as down:
        app = make_app(store_path, down.url, policy={"limits": {"max_attempts": 2}})
        save(app.store, finding(1))
        down.inject("500", times=100)
        for minute in range(4):
            result = run_nudges(app, T0 + timedelta(minutes=minute))
        assert down.calls["tasks.search"] == 2                 # two attempts, then no more calls
        assert "failed 2 times and are no longer retried" in result.failures[-1]
        assert down.tasks == []


def test_escalations_are_delivered_past_the_daily_cap(crm, store_path):
    policy = {"limits": {"per_person_per_day": 1}, "hierarchy": {"managers": {"a": "maria", "b": "maria"}}}
    app = make_app(store_path, crm.url, policy=policy)
    save(app.store, finding(1, owner="a", stage="breach"), finding(2, owner="b", stage="breach"))
    assert run_nudges(app, T0).count("defer") == 0
    assert [t["assignee"] for t in crm.tasks] == ["maria", "maria"]


def test_a_warning_held_by_quiet_hours_is_cancelled_when_the_breach_escalates(crm, store_path):
    calendars = {"default": BusinessCalendar("UTC", [[(9 * 60, 17 * 60)]] * 7)}
    policy = {"hierarchy": {"managers": {"alice": "maria"}}, "quiet_hours": {"enabled": True}}
    app = make_app(store_path, crm.url, policy=policy, calendars=calendars)
    save(app.store, finding(1, owner="alice"))
    run_nudges(app, T0.replace(hour=22))
    save(app.store, finding(1, owner="alice", stage="breach"))
    result = run_nudges(app, T0 + timedelta(days=1))
    assert [t["assignee"] for t in crm.tasks] == ["maria"]
    assert result.count("cancel") == 1
    assert "moved to another stage" in next(line.reason for line in result.lines if line.op == "cancel")


def test_with_nudges_disabled_nothing_is_written_but_cleared_findings_still_close_their_tasks(crm, store_path):
    app = make_app(store_path, crm.url)
    f = finding(1)
    save(app.store, f, finding(2))
    run_nudges(app, T0)
    app.policy = app.policy.model_copy(update={"enabled": False})
    save(app.store, finding(3))
    resolve(app.store, f, T0 + timedelta(minutes=10))
    result = run_nudges(app, T0 + timedelta(minutes=20))
    assert result.planned == [] and len(crm.tasks) == 2
    assert {t["conversation"]: t["closed"] for t in crm.tasks} == {"1": True, "2": False}


def test_a_second_nudge_run_overlapping_the_first_stops_before_writing_anything(crm, store_path):
    import pytest
    from careplug.errors import StoreLocked

    app = make_app(store_path, crm.url)
    save(app.store, finding(1))
    with app.store.run_lock(name="nudges"):                   # another job is mid-run
        with pytest.raises(StoreLocked):
            run_nudges(app, T0)
        assert run_nudges(app, T0, dry_run=True).planned       # a dry run writes nothing: no lock
    assert crm.tasks == [] and states(app) == {}
    with app.store.run_lock():                                 # the CLI's own run lock is another row
        assert run_nudges(app, T0).count("create") == 1
    assert len(crm.tasks) == 1
