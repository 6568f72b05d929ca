"""Write-back: follow-up tickets, internal notes and tags, exactly once, in bulk; closing them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from careplug.errors import DeliveryError
from careplug.nudges.model import Action, Nudge, nudge_key
from careplug.testing.fakes.zendesk import FakeZendesk

from careplug_zendesk.harness import ZendeskHarness
from careplug_zendesk.writeback import marker_tag


@pytest.fixture
def crm():
    with ZendeskHarness() as h:
        h.seed(6)
        yield h


def nudge(crm: ZendeskHarness, i: int, action: Action, conversation: str | None = None) -> Nudge:
    conversations = sorted(crm.ids("conversation"))
    conv = conversation or conversations[i % len(conversations)]
    return crm.nudge_for(conv, nudge_key(f"f{i}", "breach", action.value, "crm"), action=action)


def followups(crm: ZendeskHarness) -> list[dict]:
    return [t for t in crm.fake.tickets.values() if str(t.get("external_id") or "").startswith("careplug:")]


def test_a_task_becomes_an_assigned_follow_up_ticket_with_a_due_date_and_an_internal_note(crm):
    n = nudge(crm, 0, Action.TASK)
    [receipt] = crm.make_source().deliver([n])
    [task] = followups(crm)
    assert receipt.external_ref == str(task["id"]) and not receipt.existed
    assert task["type"] == "task" and task["external_id"] == n.marker and task["due_at"]
    assert task["assignee_id"] == int(n.assignee) and task["requester_id"] == int(n.assignee)
    [note] = crm.fake.comments[task["id"]]
    assert not note["public"] and n.marker in note["body"] and f"#{n.conversation_id}" in note["body"]
    assert marker_tag(n) in crm.fake.tickets[int(n.conversation_id)]["tags"], "the intent tag marks the conversation"


def test_notes_and_tags_land_on_the_conversation_in_one_update_and_are_found_again(crm):
    note = nudge(crm, 1, Action.NOTE)
    tag = Nudge(key=nudge_key("f2", "breach", "tag", "crm"), finding_key="f2", stage="breach", action=Action.TAG,
                target="crm", title="Promise broken", conversation_id=note.conversation_id, tags=["promise_broken"])
    receipts = crm.make_source().deliver([note, tag])
    ticket = crm.fake.tickets[int(note.conversation_id)]
    assert {"careplug_nudge", marker_tag(note), marker_tag(tag), "promise_broken"} <= set(ticket["tags"])
    assert [r.external_ref for r in receipts] == [note.conversation_id] * 2
    assert crm.fake.calls["tickets.update_many"] == 2, "one ticket appears once per bulk call"
    assert set(crm.make_source().find_delivered([note, tag])) == {note.key, tag.key}


def test_a_crash_between_the_intent_tag_and_the_create_still_creates_the_follow_up_once(crm):
    n = nudge(crm, 3, Action.TASK)
    crm.fake.inject("500", endpoint="tickets.create_many", times=100)
    with pytest.raises(Exception):
        crm.make_source().deliver([n])
    crm.clear_faults()
    assert marker_tag(n) in crm.fake.tickets[int(n.conversation_id)]["tags"] and not followups(crm)
    [receipt] = crm.make_source().deliver([n])
    assert not receipt.existed and len(followups(crm)) == 1
    [again] = crm.make_source().deliver([n])
    assert again.existed and len(followups(crm)) == 1


def test_many_nudges_are_written_a_hundred_per_bulk_call(crm):
    conversations = sorted(crm.ids("conversation"))
    nudges = [nudge(crm, i, Action.TASK, conversations[i % len(conversations)]) for i in range(250)]
    crm.reset_calls()
    receipts = crm.make_source().deliver(nudges)
    assert len(receipts) == 250 and len(followups(crm)) == 250
    assert crm.fake.calls["tickets.create_many"] == 3
    assert crm.fake.calls["tickets.show_many"] == 1
    assert crm.fake.calls.get("tickets.list", 0) == 0, "nothing tagged yet: no per-nudge lookups"


def test_cancelling_solves_follow_ups_and_untags_notes(crm):
    task, note = nudge(crm, 4, Action.TASK), nudge(crm, 5, Action.NOTE)
    source = crm.make_source()
    for n, r in zip([task, note], source.deliver([task, note])):
        n.external_ref = r.external_ref
    source.cancel([task, note])
    [followup] = followups(crm)
    assert followup["status"] == "solved"
    noted = crm.fake.tickets[int(note.conversation_id)]
    assert "careplug_nudge" not in noted["tags"] and marker_tag(note) in noted["tags"], "the marker stays"


def test_a_task_without_a_conversation_is_a_follow_up_looked_up_by_external_id(crm):
    n = Nudge(key=nudge_key("quiet", "breach", "task", "crm"), finding_key="quiet", stage="breach", action=Action.TASK,
              target="crm", title="Check in with Globex", due_at=datetime.now(timezone.utc) + timedelta(days=1))
    first = crm.make_source().deliver([n])[0]
    second = crm.make_source().deliver([n])[0]
    assert second.existed and first.external_ref == second.external_ref and len(followups(crm)) == 1


class LostAnswerZendesk(FakeZendesk):
    """Zendesk takes the request, but its answer never reaches careplug (a read timeout)."""

    lose: dict[str, int]

    def _respond(self, name, group, handler, req):
        response = super()._respond(name, group, handler, req)
        if self.lose.get(name):
            self.lose[name] -= 1
            time.sleep(1.5)              # longer than the source's timeout (1 s in the harness)
            return None                  # drop the connection: the job is queued, the answer is lost
        return response


@pytest.fixture
def lossy():
    h = ZendeskHarness()
    h.fake = LostAnswerZendesk(email=h.fake.email, token=h.fake.token)
    h.fake.lose = {}
    with h:
        h.seed(3)
        yield h


def test_a_follow_up_whose_create_answer_was_lost_is_looked_up_not_created_twice(lossy):
    n = nudge(lossy, 0, Action.TASK)
    lossy.fake.lose = {"tickets.create_many": 1}
    [receipt] = lossy.make_source().deliver([n])
    assert [t["id"] for t in followups(lossy)] == [int(receipt.external_ref)] and receipt.existed
    assert lossy.fake.calls["tickets.create_many"] == 1


def test_a_note_whose_update_answer_was_lost_is_looked_up_not_written_twice(lossy):
    n = nudge(lossy, 1, Action.NOTE)
    lossy.fake.lose = {"tickets.update_many": 1}
    [receipt] = lossy.make_source().deliver([n])
    notes = [c for c in lossy.fake.comments[int(n.conversation_id)] if n.marker in c["body"]]
    assert len(notes) == 1 and receipt.external_ref == n.conversation_id


def test_a_lost_bulk_job_still_queued_is_waited_for_before_the_markers_are_looked_up(lossy):
    """Zendesk runs bulk jobs in the background: right after a lost answer the follow-up may not
    exist yet. careplug waits until job_statuses.json lists no unfinished job, then looks."""
    task = nudge(lossy, 2, Action.TASK)
    lossy.fake.job_delay = 1.5                       # still queued when careplug's timeout (1 s) fires
    lossy.fake.lose = {"tickets.create_many": 1}
    [receipt] = lossy.make_source(job_poll_interval=0.1).deliver([task])
    assert [t["id"] for t in followups(lossy)] == [int(receipt.external_ref)]
    assert lossy.fake.calls["job_statuses.list"] >= 2, "the queued job was waited for"


def test_an_unfinished_job_listed_after_a_page_of_finished_ones_is_still_waited_for(lossy):
    """Zendesk lists job statuses 100 a page and does not say where unfinished ones sort."""
    for _ in range(150):                             # an hour of other integrations' finished jobs
        lossy.fake._job(1, lambda: [])
    lossy.fake.job_delay = 30.0
    lossy.fake._job(1, lambda: [])                   # one still queued, on the second page
    client = lossy.make_source().client
    assert client.unfinished_jobs() == 1


def test_writing_again_waits_for_no_longer_than_the_job_polls_allow(lossy):
    n = nudge(lossy, 4, Action.NOTE)
    lossy.fake.job_delay = 30.0                      # a job that will not run during the test
    lossy.fake.lose = {"tickets.update_many": 1}
    with pytest.raises(DeliveryError, match="unfinished bulk jobs"):
        lossy.make_source(job_poll_interval=0.01, job_poll_attempts=3).deliver([n])
    assert lossy.fake.calls["tickets.update_many"] == 1, "nothing written again while a job may be the lost one"


def test_a_note_refused_with_a_5xx_is_written_once_after_the_lookup(crm):
    n = nudge(crm, 5, Action.NOTE)
    crm.fake.inject("503", endpoint="tickets.update_many")
    crm.make_source().deliver([n])
    assert len([c for c in crm.fake.comments[int(n.conversation_id)] if n.marker in c["body"]]) == 1
    assert crm.fake.calls["tickets.update_many"] == 2


def test_a_follow_up_solved_with_a_lost_answer_gets_one_closing_comment(lossy):
    n = nudge(lossy, 0, Action.TASK)
    source = lossy.make_source()
    [receipt] = source.deliver([n])
    n.external_ref = receipt.external_ref
    lossy.fake.lose = {"tickets.update_many": 1}
    source.cancel([n])
    [followup] = followups(lossy)
    closing = [c for c in lossy.fake.comments[followup["id"]] if "finding cleared" in c["body"]]
    assert followup["status"] == "solved" and len(closing) == 1
