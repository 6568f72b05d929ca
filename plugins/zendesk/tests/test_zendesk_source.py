"""The source's streams: exact cursors on every stream, start_date, careplug's own writes kept apart."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from careplug.model import Checkpoint, Message, Record, Task
from careplug.nudges.model import Action, nudge_key
from careplug.store import Store
from careplug.sync import sync_source

from careplug_zendesk.harness import ZendeskHarness


@pytest.fixture
def crm():
    with ZendeskHarness() as h:
        h.seed(8)
        yield h


def records(items) -> list[Record]:
    return [i for i in items if isinstance(i, Record)]


def test_a_sync_with_nothing_changed_reads_no_record_on_any_stream(crm, tmp_path):
    store = Store(str(tmp_path / "s.db"))
    assert sync_source(store, crm.make_source(page_size=4)).ok
    again = sync_source(store, crm.make_source(page_size=4))
    assert again.ok and {s.stream: s.read for s in again.streams} == {s: 0 for s in crm.make_source().streams}


def test_events_sharing_a_second_across_pages_are_read_once(crm, tmp_path):
    at = int(time.time()) + 5
    tid = int(sorted(crm.ids("conversation"))[0])
    for i in range(7):
        crm.fake.add_comment(tid, body=f"burst {i}", author_id=crm.fake.tickets[tid]["requester_id"], at=at)
    source = crm.make_source(page_size=3)
    seen: list[str] = []
    for item in source.fetch("ticket_events", None):
        if isinstance(item, Message):
            seen.append(item.external_id)
    assert len(seen) == len(set(seen)), "a message was read twice"
    assert {str(c["id"]) for c in crm.fake.comments[tid]} <= set(seen)


def test_start_date_bounds_the_first_sync(crm):
    cut = datetime.now(timezone.utc)
    new = crm.add(1)
    items = list(crm.make_source(start_date=cut).fetch("tickets", None))
    assert {r.external_id for r in records(items)} == new
    assert isinstance(items[-1], Checkpoint)


def test_careplugs_own_follow_ups_sync_as_tasks_and_their_notes_stay_out_of_the_history(crm, tmp_path):
    conv = sorted(crm.ids("conversation"))[0]
    source = crm.make_source()
    source.deliver([crm.nudge_for(conv, nudge_key("f", "breach", "task", "crm"), action=Action.TASK)])
    store = Store(str(tmp_path / "s.db"))
    assert sync_source(store, crm.make_source()).ok
    [task] = list(store.iter_records("task", "crm"))
    assert isinstance(task, Task) and task.due_at is not None and not task.done
    stored_conversations = {c.external_id for c in store.iter_records("conversation", "crm")}
    assert task.external_id not in stored_conversations
    orphans = [m for m in store.iter_records("message", "crm") if m.conversation_id == task.external_id]
    assert not orphans, "the follow-up's note was stored as a conversation message"


def test_talk_calls_without_a_ticket_sync_as_phone_conversations(crm):
    customer = next(u["id"] for u in crm.fake.users.values() if u["role"] == "end-user")
    missed = crm.fake.add_call(customer_id=customer, completion_status="abandoned_in_queue")
    crm.fake.add_call(customer_id=customer, ticket_id=int(sorted(crm.ids("conversation"))[0]))
    got = records(crm.make_source().fetch("calls", None))
    assert [r.external_id for r in got] == [f"call-{missed['id']}"] * 2
    assert crm.fake.calls["incremental.calls"] == 1


def test_an_account_without_talk_syncs_every_other_stream_without_error(tmp_path):
    from careplug.testing.fakes.zendesk import FakeZendesk

    class NoTalk(FakeZendesk):
        export_calls = None          # no route: the fake answers 404, as an account without Talk

    h = ZendeskHarness()
    h.fake = NoTalk(email=h.fake.email, token=h.fake.token)
    with h:
        h.seed(3)
        result = sync_source(Store(str(tmp_path / "s.db")), h.make_source())
        assert result.ok, [s.error for s in result.streams]
        calls = next(s for s in result.streams if s.stream == "calls")
        assert calls.read == 0 and calls.error is None
        assert {s.stream for s in result.streams if s.read} >= {"users", "tickets", "ticket_events"}


def test_an_organization_changed_after_it_was_read_in_the_boundary_second_is_read_again(crm):
    from careplug.model import Account
    from careplug.testing.fakes.zendesk import iso
    t0 = int(time.time()) + 10
    org = crm.fake.add_organization(name="Globex", at=t0, organization_fields={"tier": "standard"})
    [cp] = [i for i in crm.make_source().fetch("organizations", None) if isinstance(i, Checkpoint)][-1:]
    assert cp.cursor == {"start_time": t0, "seen": [org["id"]]}
    org["organization_fields"] = {"tier": "enterprise"}           # a new tier: Zendesk moves it on
    org["updated_at"] = iso(t0 + 100)
    again = [a for a in crm.make_source().fetch("organizations", cp.cursor) if isinstance(a, Account)]
    assert [(a.external_id, a.tier) for a in again] == [(str(org["id"]), "enterprise")]


def test_a_rating_changed_from_good_to_bad_after_it_was_read_in_the_boundary_second_is_read_again(crm):
    from careplug.model import Rating
    from careplug.testing.fakes.zendesk import iso
    tid = int(sorted(crm.ids("conversation"))[0])
    t0 = int(time.time()) + 10
    rating = crm.fake.add_rating(tid, score="good", at=t0)
    cp = [i for i in crm.make_source().fetch("satisfaction_ratings", None) if isinstance(i, Checkpoint)][-1]
    assert cp.cursor == {"start_time": t0, "seen": [rating["id"]]}
    rating.update(score="bad", comment="still broken", updated_at=iso(t0 + 100))   # customers may change it
    again = [r for r in crm.make_source().fetch("satisfaction_ratings", cp.cursor) if isinstance(r, Rating)]
    assert [(r.external_id, r.bad) for r in again] == [(str(rating["id"]), True)]
    unchanged = [r for r in crm.make_source().fetch("satisfaction_ratings", {"start_time": t0 + 100,
                                                                            "seen": [rating["id"]]})
                 if isinstance(r, Rating)]
    assert unchanged == [], "still at the boundary second: read once, not again"
