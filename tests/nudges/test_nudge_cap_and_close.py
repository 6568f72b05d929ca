"""A run that dies mid-delivery loses no nudge to the daily cap, and a task it wrote before
dying is closed later as a delivered nudge."""
from __future__ import annotations

from datetime import timedelta

import pytest

from careplug.nudges import failpoints, outcomes
from careplug.nudges.delivery import run_nudges
from nudge_app import T0, finding, make_app, resolve, save


class Killed(BaseException):
    pass


def _die_at(monkeypatch, point: str) -> None:
    def hit(name):
        if name == point:
            raise Killed
    monkeypatch.setattr(failpoints, "hit", hit)


def test_a_nudge_left_pending_by_a_crash_is_delivered_despite_the_daily_cap(crm, store_path, monkeypatch):
    app = make_app(store_path, crm.url, policy={"limits": {"per_person_per_day": 1}})
    save(app.store, finding(1, owner="alice"))
    _die_at(monkeypatch, "nudges.after_pending")       # the run dies right after the pending commit
    with pytest.raises(Killed):
        run_nudges(app, T0)
    monkeypatch.undo()
    for day in range(3):                               # three days of re-runs
        result = run_nudges(app, T0 + timedelta(days=day, minutes=5))
    assert len(crm.tasks) == 1, result.render()


def test_a_pending_nudge_of_this_run_does_not_take_a_second_slot_of_the_daily_cap(crm, store_path, monkeypatch):
    app = make_app(store_path, crm.url, policy={"limits": {"per_person_per_day": 2}})
    save(app.store, finding(1, owner="alice"))
    _die_at(monkeypatch, "nudges.after_pending")
    with pytest.raises(Killed):
        run_nudges(app, T0)
    monkeypatch.undo()
    save(app.store, finding(2, owner="alice"))
    save(app.store, finding(3, owner="alice"))
    run_nudges(app, T0 + timedelta(minutes=5))        # the leftover and one new nudge fill the cap of 2
    assert len(crm.tasks) == 2


def test_a_task_written_before_a_crash_and_closed_later_counts_as_delivered(crm, store_path, monkeypatch):
    app = make_app(store_path, crm.url)
    f = finding(1)
    save(app.store, f)
    _die_at(monkeypatch, "nudges.after_write")         # the task is in the CRM, the ledger says pending
    with pytest.raises(Killed):
        run_nudges(app, T0)
    monkeypatch.undo()
    resolve(app.store, f, T0 + timedelta(minutes=3))
    assert run_nudges(app, T0 + timedelta(minutes=5)).count("close") == 1
    assert crm.tasks[0]["closed"]
    assert "(closed" in outcomes.timeline(app.store, [f.key])[0].summary
    assert outcomes.summary(app.store).delivered == 1
