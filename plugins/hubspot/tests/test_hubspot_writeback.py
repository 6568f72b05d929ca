"""Write-back: tasks and notes in batches, found again by marker, completed on cancel."""

from __future__ import annotations

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
