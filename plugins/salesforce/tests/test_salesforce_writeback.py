"""Write-back: nudges become Tasks / internal CaseComments with their marker, through sObject
Collections, exactly once, in few calls."""

from __future__ import annotations

from datetime import timedelta

from careplug.nudges.model import Action, Nudge, nudge_key

from careplug_salesforce.harness import SalesforceHarness


def nudges(org: SalesforceHarness, n: int, *, action: Action = Action.TASK) -> list[Nudge]:
    cases = sorted(org.ids("conversation"))
    out = []
    for i in range(n):
        case = org.fake.objects["Case"][cases[i % len(cases)]]
        out.append(Nudge(key=nudge_key(f"f{i}", "breach", action.value, "crm"), finding_key=f"f{i}", stage="breach",
                         action=action, target="crm", title=f"Reply to case {case['CaseNumber']}", body="Overdue.",
                         assignee=case["OwnerId"], escalation=i % 2 == 0, due_at=org.fake.clock + timedelta(hours=1),
                         conversation_id=case["Id"], customer_id=case["ContactId"]))
    return out


def test_1000_task_nudges_take_5_calls_when_tasks_are_upserted_on_a_marker_field(org):
    source = org.make_source(marker_field="Careplug_Key__c")
    source.client                       # log in first: the login is not an API call
    org.reset_calls()
    batch = nudges(org, 1000)
    receipts = source.deliver(batch)
    assert sum(org.fake.calls.values()) == 5 and org.fake.calls["collections.upsert"] == 5
    assert [r.key for r in receipts] == [n.key for n in batch] and not any(r.existed for r in receipts)
    assert len([t for t in org.fake.live("Task").values() if t["Careplug_Key__c"]]) == 1000
    org.reset_calls()
    again = org.make_source(marker_field="Careplug_Key__c").deliver(batch)
    assert all(r.existed for r in again) and [r.external_ref for r in again] == [r.external_ref for r in receipts]
    assert len([t for t in org.fake.live("Task").values() if t["Careplug_Key__c"]]) == 1000


def test_1000_task_nudges_without_a_marker_field_are_looked_up_then_created_200_a_call(org):
    source = org.make_source()
    source.client
    org.reset_calls()
    source.deliver(nudges(org, 1000))
    lookups = org.fake.calls["query"] + org.fake.calls["queryMore"]
    assert org.fake.calls["collections.create"] == 5
    assert lookups <= 5, f"{lookups} lookup queries for 1,000 markers"


def test_a_task_carries_case_contact_owner_due_date_reminder_and_marker(org):
    nudge = nudges(org, 1)[0]
    receipt = org.make_source().deliver([nudge])[0]
    task = org.fake.objects["Task"][receipt.external_ref]
    assert task["WhatId"] == nudge.conversation_id and task["WhoId"] == nudge.customer_id
    assert task["OwnerId"] == nudge.assignee and task["Priority"] == "High"
    assert task["ActivityDate"] == nudge.due_at.date() and task["IsReminderSet"] is True
    assert task["Subject"].endswith(f"[{nudge.marker}]") and nudge.marker in task["Description"]


def test_notes_become_internal_case_comments_found_again_by_marker(org):
    batch = nudges(org, 3, action=Action.NOTE)
    first = org.make_source().deliver(batch)
    comments = [c for c in org.fake.live("CaseComment").values() if "careplug:" in c["CommentBody"]]
    assert len(comments) == 3 and all(c["IsPublished"] is False for c in comments)
    second = org.make_source().deliver(batch)
    assert all(r.existed for r in second) and [r.external_ref for r in second] == [r.external_ref for r in first]


def test_a_transient_failure_of_a_write_is_looked_up_before_writing_again(org):
    batch = nudges(org, 3)
    org.inject("500", endpoint="collections.create")
    receipts = org.make_source().deliver(batch)
    assert len(receipts) == 3
    for n in batch:
        assert len(org.objects_with_marker(n.marker)) == 1


def test_closing_a_nudge_completes_its_task(org):
    batch = nudges(org, 2)
    receipts = org.make_source().deliver(batch)
    for n, r in zip(batch, receipts):
        n.external_ref = r.external_ref
    batch[1].external_ref = None                  # a pending nudge: found by marker, then closed
    org.make_source().cancel(batch)
    assert all(org.fake.objects["Task"][r.external_ref]["Status"] == "Completed" for r in receipts)
