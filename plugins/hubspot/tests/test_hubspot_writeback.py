"""Write-back: tasks and notes in batches, found again by marker, completed on cancel."""

from __future__ import annotations

import time

import pytest

from careplug.errors import RetriableError
from careplug.nudges.model import Action, Nudge, nudge_key

from careplug.testing.fakes.hubspot import FakeHubSpot


def nudges(fake: FakeHubSpot, n: int, action: Action = Action.TASK) -> list[Nudge]:
    tickets = sorted(fake.objects["tickets"])
    out = []
    for i in range(n):
        t = tickets[i % len(tickets)]
        contact = fake.associated("tickets", t, "contacts")[0]
        company = (fake.associated("tickets", t, "companies") or [None])[0]
        out.append(Nudge(key=nudge_key(f"f{i}", "breach", action.value, "hubspot"), finding_key=f"f{i}", stage="breach",
                         action=action, target="hubspot", title=f"Reply to ticket {t}", body="Overdue.",
                         assignee="100", conversation_id=t, customer_id=contact, account_id=company))
    return out


def test_delivering_1000_nudges_takes_at_most_12_calls(fake: FakeHubSpot, make_source):
    fake.seed(50, engagements_per_ticket=0)
    batch = nudges(fake, 1000)
    fake.reset_calls()
    receipts = make_source().deliver(batch)
    assert [r.key for r in receipts] == [n.key for n in batch]
    assert len({r.external_ref for r in receipts}) == 1000 and len(fake.objects["tasks"]) == 1000
    assert fake.calls["batch.create"] == 10 and fake.total_calls() <= 12, dict(fake.calls)


def test_a_task_is_owned_due_associated_and_carries_the_marker(fake: FakeHubSpot, make_source):
    fake.seed(2, engagements_per_ticket=0)
    [n] = nudges(fake, 1)
    [receipt] = make_source().deliver([n])
    task = fake.objects["tasks"][receipt.external_ref]["properties"]
    assert task["hubspot_owner_id"] == "100" and task["hs_task_body"].endswith(n.marker)
    assert task["careplug_marker"] == n.marker and task["hs_timestamp"]
    for to, oid in (("tickets", n.conversation_id), ("contacts", n.customer_id), ("companies", n.account_id)):
        assert fake.associated("tasks", receipt.external_ref, to) == [oid]


def test_a_retry_finds_what_a_crashed_run_wrote_and_writes_only_the_rest(fake: FakeHubSpot, make_source):
    fake.seed(5, engagements_per_ticket=0)
    batch = nudges(fake, 250)
    make_source().deliver(batch[:130])
    receipts = make_source().deliver(batch)
    assert [r.existed for r in receipts] == [True] * 130 + [False] * 120
    assert len(fake.objects["tasks"]) == 250


def test_markers_are_found_in_the_body_when_no_marker_property_is_configured(fake: FakeHubSpot, make_source):
    fake.seed(3, engagements_per_ticket=0)
    batch = nudges(fake, 7, Action.NOTE)
    source = make_source(marker_property=None)
    source.deliver(batch[:3])
    assert set(source.find_delivered(batch)) == {n.key for n in batch[:3]}
    source.deliver(batch)
    assert len(fake.objects["notes"]) == 7


def test_cancelling_completes_the_tasks(fake: FakeHubSpot, make_source):
    fake.seed(3, engagements_per_ticket=0)
    batch = nudges(fake, 3)
    for n, r in zip(batch, make_source().deliver(batch)):
        n.external_ref = r.external_ref
    make_source().cancel(batch[:2])
    statuses = [fake.objects["tasks"][n.external_ref]["properties"]["hs_task_status"] for n in batch]
    assert statuses == ["COMPLETED", "COMPLETED", "NOT_STARTED"]


class LostAnswerHubSpot(FakeHubSpot):
    """HubSpot makes the write, but its answer never reaches careplug (a read timeout)."""

    lose: dict[str, int]

    def _respond(self, name, group, handler, req):
        response = super()._respond(name, group, handler, req)
        if self.lose.get(name):
            self.lose[name] -= 1
            time.sleep(1.5)              # longer than the source's timeout (1 s)
            return None                  # the objects exist; the answer is lost
        return response


@pytest.fixture
def lossy(fake: FakeHubSpot):
    """Its token is the ``fake``'s, which ``make_source`` reads from the environment."""
    lossy = LostAnswerHubSpot(token=fake.token)
    lossy.lose = {}
    with lossy:
        lossy.seed(3, engagements_per_ticket=0)
        lossy.search_lag = 5.0           # search sees none of the writes the test makes
        yield lossy


def marked(fake: FakeHubSpot, kind: str, n: Nudge) -> list[dict]:
    return [o for o in fake.objects[kind].values() if o["properties"].get("careplug_marker") == n.marker]


def test_a_task_whose_create_answer_was_lost_is_read_back_not_created_twice(lossy: LostAnswerHubSpot, make_source):
    [n] = nudges(lossy, 1)
    lossy.lose = {"batch.create": 1}
    [receipt] = make_source(host=lossy.url).deliver([n])
    assert [t["id"] for t in marked(lossy, "tasks", n)] == [receipt.external_ref], "one task for one nudge"
    assert lossy.calls["batch.create"] == 1 and lossy.calls["batch.read"] == 1


def test_a_contacts_note_whose_answer_was_lost_is_read_back_through_the_contact(lossy: LostAnswerHubSpot,
                                                                                make_source):
    contact = sorted(lossy.objects["contacts"])[0]
    n = Nudge(key=nudge_key("q", "breach", "note", "hubspot"), finding_key="q", stage="breach", action=Action.NOTE,
              target="hubspot", title="Quiet customer", body="Nobody talked to them.", customer_id=contact,
              conversation_id=f"contact:{contact}")
    lossy.lose = {"batch.create": 1}
    [receipt] = make_source(host=lossy.url).deliver([n])
    assert [o["id"] for o in marked(lossy, "notes", n)] == [receipt.external_ref]


def test_a_create_that_failed_is_made_after_the_read_back_finds_nothing(lossy: LostAnswerHubSpot, make_source):
    batch = nudges(lossy, 3)
    lossy.inject("503", endpoint="batch.create")           # refused: nothing was written
    receipts = make_source(host=lossy.url).deliver(batch)
    assert all(len(marked(lossy, "tasks", n)) == 1 for n in batch) and len(receipts) == 3
    assert lossy.calls["batch.create"] == 2


def test_every_answer_lost_still_writes_once_the_first_try_having_written(lossy: LostAnswerHubSpot, make_source):
    [n] = nudges(lossy, 1)
    lossy.lose = {"batch.create": 3}                        # every answer lost (max_attempts = 3)
    [receipt] = make_source(host=lossy.url).deliver([n])    # the first try wrote it; the read-back finds it
    assert len(marked(lossy, "tasks", n)) == 1 and lossy.calls["batch.create"] == 1


def test_a_create_refused_every_time_is_given_up_after_max_attempts(lossy: LostAnswerHubSpot, make_source):
    [n] = nudges(lossy, 1)
    lossy.inject("503", endpoint="batch.create", times=3)   # refused each time: nothing written
    with pytest.raises(RetriableError):
        make_source(host=lossy.url).deliver([n])
    assert marked(lossy, "tasks", n) == [] and lossy.calls["batch.create"] == 3
