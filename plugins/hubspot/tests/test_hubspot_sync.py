"""Sync against the loopback HubSpot, through the real hubspot-api-client."""

from __future__ import annotations

from careplug.model import Conversation, Message, Status, Task
from careplug.source import iter_records
from careplug.store import Store
from careplug.sync import sync_source
from careplug.testing.fakes.hubspot import SEARCH_RESULT_CAP, FakeHubSpot


def test_a_sync_across_the_10000_result_search_cap_returns_every_record(fake: FakeHubSpot, make_source, tmp_path):
    fake.seed(10_450, engagements_per_ticket=0, contacts=5, companies=1, tie_every=37)
    source = make_source(streams=["tickets"])
    store = Store(str(tmp_path / "s.db"))
    result = sync_source(store, source)
    assert result.ok, result.streams
    stored = {r.external_id for r in store.iter_records("conversation", "hubspot")}
    assert len(fake.objects["tickets"]) > SEARCH_RESULT_CAP
    assert stored == set(fake.objects["tickets"])
    assert fake.calls["search"] <= -(-10_450 // 200) + 1, "more search pages than the records need"
    fake.put("tickets", {"subject": "new"})
    fake.reset_calls()
    again = list(iter_records(make_source(streams=["tickets"]).fetch("tickets", store.get_cursor("hubspot", "tickets"))))
    assert [r.external_id for r in again if isinstance(r, Conversation)] == [max(fake.objects["tickets"], key=int)]


def test_records_sharing_the_boundary_millisecond_are_read_once_across_syncs(fake: FakeHubSpot, make_source, tmp_path):
    fake.seed(30, engagements_per_ticket=0, tie_every=30)      # whole pages share one timestamp
    store = Store(str(tmp_path / "s.db"))
    source = make_source(streams=["tickets"], page_size=7, association_batch=7)
    seen = [r.external_id for r in iter_records(source.fetch("tickets", None)) if isinstance(r, Conversation)]
    assert sorted(seen) == sorted(fake.objects["tickets"]) and len(seen) == len(set(seen))
    sync_source(store, make_source(streams=["tickets"], page_size=7, association_batch=7))
    cursor = store.get_cursor("hubspot", "tickets")
    assert list(iter_records(make_source(streams=["tickets"]).fetch("tickets", cursor))) == []


def test_pipeline_stages_map_to_statuses_with_waiting_on_contact_as_a_pause(fake: FakeHubSpot, make_source):
    contact = fake.put("contacts", {"email": "a@example.com"})
    ids = {}
    for stage in ("1", "2", "3", "4"):
        t = fake.put("tickets", {"subject": stage, "hs_pipeline_stage": stage})
        fake.associate("tickets", t["id"], "contacts", contact["id"])
        ids[stage] = t["id"]
    got = {r.external_id: r for r in iter_records(make_source().fetch("tickets", None))}
    assert [got[ids[s]].status for s in "1234"] == [Status.NEW, Status.PENDING, Status.OPEN, Status.CLOSED]
    assert got[ids["2"]].status.is_paused and got[ids["1"]].customer_id == contact["id"]


def test_engagements_become_messages_on_their_ticket_or_the_contacts_activity(fake: FakeHubSpot, make_source):
    fake.seed(3, engagements_per_ticket=6)
    contact = sorted(fake.objects["contacts"])[0]
    loose = fake.put("calls", {"hs_call_direction": "INBOUND", "hs_call_status": "NO_ANSWER",
                               "hs_timestamp": "2026-01-05T08:00:00.000Z"})
    fake.associate("calls", loose["id"], "contacts", contact)
    source = make_source()
    records = [r for stream in ("emails", "calls", "communications") for r in iter_records(source.fetch(stream, None))]
    messages = {m.external_id: m for m in records if isinstance(m, Message)}
    missed = messages[f"calls:{loose['id']}"]
    assert missed.conversation_id == f"contact:{contact}" and missed.answered_call is False
    assert any(isinstance(r, Conversation) and r.external_id == f"contact:{contact}" for r in records)
    inbound = [m for m in messages.values() if m.external_id.startswith("emails:") and m.direction.value == "inbound"]
    assert inbound and all(m.conversation_id.isdigit() for m in inbound)
    assert {m.channel.value for m in messages.values() if m.external_id.startswith("communications:")} <= {"sms", "social"}


def test_a_call_or_meeting_logged_on_a_company_only_is_a_touch_on_its_account(fake: FakeHubSpot, make_source):
    fake.seed(2, engagements_per_ticket=0)
    company = sorted(fake.objects["companies"])[0]
    at = "2026-01-05T08:00:00.000Z"
    call = fake.put("calls", {"hs_call_direction": "OUTBOUND", "hs_call_status": "COMPLETED", "hs_call_title": "QBR",
                              "hs_timestamp": at})
    missed = fake.put("calls", {"hs_call_direction": "INBOUND", "hs_call_status": "NO_ANSWER", "hs_timestamp": at})
    meeting = fake.put("meetings", {"hs_meeting_title": "Renewal", "hs_timestamp": at})
    note = fake.put("notes", {"hs_note_body": "internal", "hs_timestamp": at})
    for kind, obj in (("calls", call), ("calls", missed), ("meetings", meeting), ("notes", note)):
        fake.associate(kind, obj["id"], "companies", company)
    source = make_source()
    records = [r for stream in ("calls", "meetings", "notes") for r in iter_records(source.fetch(stream, None))]
    on_company = {r.external_id: r for r in records if isinstance(r, Task) and r.account_id == company}
    assert set(on_company) == {f"calls:{call['id']}", f"meetings:{meeting['id']}"}   # not the missed call, nor a note
    assert all(t.done and t.completed_at is not None and t.customer_id is None for t in on_company.values())
    assert on_company[f"calls:{call['id']}"].type == "call"


def test_inbox_threads_are_skipped_without_the_conversations_scope(make_source, tmp_path):
    with FakeHubSpot(threads_scope=False) as f:
        import os
        os.environ["CAREPLUG_TEST_HS_TOKEN"] = f.token
        f.add_thread("5", contact_id="1", messages=[])
        result = sync_source(Store(str(tmp_path / "s.db")), make_source(host=f.url, streams=["threads"]))
    assert result.ok and result.read == 0


def test_inbox_threads_become_conversations_with_their_messages(fake: FakeHubSpot, make_source):
    fake.add_owner("100", "a@example.com", "A", "B")
    fake.add_thread("9", contact_id="77", assigned_to="A-7100", messages=[
        {"type": "MESSAGE", "id": "m1", "createdAt": "2026-01-05T08:00:00Z", "direction": "INCOMING",
         "text": "hi", "senders": [{"actorId": "V-1"}]},
        {"type": "COMMENT", "id": "m2", "createdAt": "2026-01-05T08:05:00Z", "text": "internal",
         "senders": [{"actorId": "A-7100"}]}])
    records = list(iter_records(make_source().fetch("threads", None)))
    conv = records[0]
    assert conv.external_id == "thread:9" and conv.customer_id == "77" and conv.assignee == "100"
    inbound, comment = records[1:]
    assert inbound.direction.value == "inbound" and not comment.public and comment.author == "100"


def test_a_record_read_at_the_boundary_and_modified_since_does_not_hide_the_unread_ones(fake: FakeHubSpot, make_source):
    fake.seed(10, engagements_per_ticket=0, tie_every=1000)      # ten tickets in one millisecond
    items = make_source(streams=["tickets"], page_size=4, association_batch=4).fetch("tickets", None)
    first_page = []
    for item in items:
        if isinstance(item, Conversation):
            first_page.append(item.external_id)
        elif not isinstance(item, Conversation) and hasattr(item, "cursor"):
            cursor = item.cursor
            break
    assert len(first_page) == 4 and sorted(cursor["read"]) == sorted(first_page)
    fake.put("tickets", {"subject": "edited"}, id=first_page[0])
    rest = [r.external_id for r in iter_records(make_source(streams=["tickets"], page_size=4).fetch("tickets", cursor))
            if isinstance(r, Conversation)]
    assert sorted(rest) == sorted(set(fake.objects["tickets"]) - set(first_page[1:]))


def test_a_ticket_that_reaches_the_search_index_after_a_newer_one_is_read_by_the_next_sync(fake: FakeHubSpot,
                                                                                         make_source):
    """HubSpot's search index trails writes: a ticket modified before the cursor's time can become
    searchable only after a newer one was read. The next sync reads the overlap window again."""
    import time
    fake.seed(2, engagements_per_ticket=0)
    late = fake.put("tickets", {"subject": "late", "hs_pipeline": "0", "hs_pipeline_stage": "1"}, search_lag=0.5)
    newer = fake.put("tickets", {"subject": "newer", "hs_pipeline": "0", "hs_pipeline_stage": "1"})
    items = list(make_source(streams=["tickets"]).fetch("tickets", None))
    read = [i.external_id for i in items if isinstance(i, Conversation)]
    assert newer["id"] in read and late["id"] not in read, "the fake's index has not caught up yet"
    cursor = [i for i in items if hasattr(i, "cursor")][-1].cursor
    time.sleep(0.6)
    again = list(make_source(streams=["tickets"]).fetch("tickets", cursor))
    assert [i.external_id for i in again if isinstance(i, Conversation)] == [late["id"]], \
        "only the late ticket: what the window held and was read is not emitted twice"
    cursor = [i for i in again if hasattr(i, "cursor")][-1].cursor
    assert [i for i in make_source(streams=["tickets"]).fetch("tickets", cursor)] == [], "nothing changed"


def test_a_ticket_modified_just_before_the_cursor_time_but_found_only_now_is_read(fake: FakeHubSpot, make_source):
    fake.seed(2, engagements_per_ticket=0)
    items = list(make_source(streams=["tickets"]).fetch("tickets", None))
    cursor = [i for i in items if hasattr(i, "cursor")][-1].cursor
    late = fake.put("tickets", {"subject": "late", "hs_pipeline": "0", "hs_pipeline_stage": "1"},
                    at_ms=int(cursor["ts"]) - 2000)           # 2 s before the cursor, searchable only now
    again = [i.external_id for i in make_source(streams=["tickets"]).fetch("tickets", cursor)
             if isinstance(i, Conversation)]
    assert again == [late["id"]]
    outside = fake.put("tickets", {"subject": "too late"}, at_ms=int(cursor["ts"]) - 61_000)
    beyond = [i.external_id for i in make_source(streams=["tickets"]).fetch("tickets", cursor)
              if isinstance(i, Conversation)]
    assert outside["id"] not in beyond, "the window is overlap_seconds (60 s) long, not unbounded"
    wider = [i.external_id for i in make_source(streams=["tickets"], overlap_seconds=120).fetch("tickets", cursor)
             if isinstance(i, Conversation)]
    assert outside["id"] in wider


def test_a_cursor_of_an_earlier_version_resumes_without_reading_its_boundary_again(fake: FakeHubSpot,
                                                                                 make_source):
    fake.seed(6, engagements_per_ticket=0, tie_every=1000)     # every ticket in one millisecond
    from careplug.testing.fakes.hubspot import to_ms
    ids = sorted(fake.objects["tickets"])
    ts = to_ms(fake.objects["tickets"][ids[0]]["properties"]["hs_lastmodifieddate"])
    old = {"ts": ts, "ids": ids[:4]}                          # {"ts", "ids"}: before the overlap window
    got = [i.external_id for i in make_source(streams=["tickets"]).fetch("tickets", old)
           if isinstance(i, Conversation)]
    assert sorted(got) == ids[4:]
