"""Mapping: Salesforce records as the REST API (or Bulk API CSV) returns them → careplug records."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from careplug.model import AuthorRole, Channel, Deletion, Direction, EventKind, Message, Priority, Status, Task

from careplug_salesforce import mapping

SRC = "sf"
STATUSES = mapping.CASE_STATUSES


def case(**fields):
    base = {"attributes": {"type": "Case", "url": "/services/data/v59.0/sobjects/Case/500A"}, "Id": "500A",
            "IsDeleted": False, "Status": "New", "Priority": "Medium", "Origin": "Email", "OwnerId": "005X",
            "ContactId": "003C", "AccountId": "001A", "IsClosed": False, "ClosedDate": None,
            "CreatedDate": "2026-01-05T09:00:00.000+0000", "SystemModstamp": "2026-01-05T10:00:00.000+0000"}
    return {**base, **fields}


def test_datetimes_from_rest_and_bulk_are_the_same_instant():
    rest = mapping.parse_dt("2026-01-05T09:00:00.123+0000", "f")
    bulk = mapping.parse_dt("2026-01-05T09:00:00.123Z", "f")
    assert rest == bulk == datetime(2026, 1, 5, 9, 0, 0, 123000, tzinfo=timezone.utc)
    assert mapping.soql_datetime(rest) == "2026-01-05T09:00:00.123Z"
    with pytest.raises(mapping.MappingError, match="not a Salesforce datetime"):
        mapping.parse_dt("yesterday", "CreatedDate")


@pytest.mark.parametrize("origin,channel", [("Email", Channel.EMAIL), ("Phone", Channel.PHONE),
                                            ("Web", Channel.WEB_FORM), ("Chat", Channel.CHAT),
                                            ("Facebook", Channel.SOCIAL), ("Carrier pigeon", Channel.OTHER)])
def test_case_origin_becomes_the_channel(origin, channel):
    conv = mapping.case_to_conversation(SRC, case(Origin=origin), statuses=STATUSES,
                                        origins=mapping.ORIGIN_CHANNELS, instance_url=None)
    assert conv.channel is channel


def test_case_status_priority_owner_and_closing():
    conv = mapping.case_to_conversation(SRC, case(Status="Closed", IsClosed=True, Priority="Critical",
                                                  ClosedDate="2026-01-06T09:00:00.000+0000"),
                                        statuses=STATUSES, origins={}, instance_url="https://acme.my.salesforce.com")
    assert conv.status is Status.CLOSED and conv.priority is Priority.URGENT and conv.assignee == "005X"
    assert conv.solved_at == datetime(2026, 1, 6, 9, tzinfo=timezone.utc)
    assert conv.url == "https://acme.my.salesforce.com/lightning/r/Case/500A/view"
    custom = mapping.case_to_conversation(SRC, case(Status="Waiting on Vendor"), statuses={
        **STATUSES, "waiting on vendor": Status.ON_HOLD}, origins={}, instance_url=None)
    assert custom.status is Status.ON_HOLD
    queued = mapping.case_to_conversation(SRC, case(OwnerId="00G1"), statuses=STATUSES, origins={},
                                          instance_url=None)
    assert queued.assignee is None and queued.group == "00G1"


def test_comments_are_internal_or_public_and_portal_authors_are_customers():
    row = {"Id": "00a1", "ParentId": "500A", "IsPublished": False, "CommentBody": "note", "CreatedById": "005X",
           "CreatedDate": "2026-01-05T09:00:00.000+0000"}
    note = mapping.comment_to_message(SRC, row, set())
    assert not note.public and note.direction is Direction.OUTBOUND and note.author_role is AuthorRole.AGENT
    portal = mapping.comment_to_message(SRC, {**row, "IsPublished": True, "CreatedById": "005P"}, {"005P"})
    assert portal.public and portal.direction is Direction.INBOUND and portal.author_role is AuthorRole.CUSTOMER


def test_emails_are_inbound_when_incoming():
    row = {"Id": "02s1", "ParentId": "500A", "Incoming": "true", "TextBody": "hi", "CreatedById": "005X",
           "MessageDate": "2026-01-05T09:00:00.000Z"}           # a Bulk API CSV row: strings
    msg = mapping.email_to_message(SRC, row)
    assert msg.direction is Direction.INBOUND and msg.author is None and msg.channel is Channel.EMAIL


def test_a_draft_email_is_no_message_but_the_deletion_of_one_stored_before():
    row = {"Id": "02s2", "ParentId": "500A", "Incoming": "false", "Status": "5", "TextBody": "Dear Ann, (unfinished)",
           "CreatedById": "005X", "MessageDate": "2026-01-05T09:00:00.000Z",
           "SystemModstamp": "2026-01-05T09:00:00.000Z"}
    draft = mapping.email_to_record(SRC, row)
    assert isinstance(draft, Deletion) and draft.record_kind == "message" and draft.external_id == "02s2"
    sent = mapping.email_to_record(SRC, {**row, "Status": "3"})
    assert isinstance(sent, Message) and sent.direction is Direction.OUTBOUND and sent.public


def test_logged_calls_on_a_case_are_messages_and_missed_ones_say_so():
    row = {"Id": "00T1", "TaskSubtype": "Call", "CallType": "Inbound", "CallDisposition": "Missed",
           "Status": "Completed", "IsClosed": True, "WhatId": "500A", "CreatedDate": "2026-01-05T09:00:00.000+0000"}
    call = mapping.task_to_record(SRC, row)
    assert isinstance(call, Message) and call.channel is Channel.PHONE and call.answered_call is False
    follow_up = mapping.task_to_record(SRC, {**row, "TaskSubtype": "Task", "Status": "Not Started",
                                             "IsClosed": False, "ActivityDate": "2026-01-07", "WhoId": "003C"})
    assert isinstance(follow_up, Task) and not follow_up.done and follow_up.conversation_id == "500A"
    assert follow_up.due_at == datetime(2026, 1, 7, tzinfo=timezone.utc) and follow_up.customer_id == "003C"


def test_a_task_on_an_account_names_the_account_only():
    # WhatId = an Account, no WhoId: neither a case message nor a contact's task (AccountId may be
    # missing from the row: a field hidden by field-level security)
    row = {"Id": "00T2", "TaskSubtype": "Call", "Status": "Completed", "IsClosed": True, "WhatId": "001A",
           "CreatedDate": "2026-01-05T09:00:00.000+0000", "CompletedDateTime": "2026-01-05T09:30:00.000+0000"}
    call = mapping.task_to_record(SRC, row)
    assert isinstance(call, Task) and call.done and call.type == "call"
    assert (call.account_id, call.customer_id, call.conversation_id) == ("001A", None, None)
    assert call.completed_at == datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc)
    assert mapping.task_to_record(SRC, {**row, "AccountId": "001A"}) == call


def test_case_history_gives_owner_and_status_events_and_skips_the_rest():
    row = {"Id": "0171", "CaseId": "500A", "Field": "Owner", "OldValue": "005X", "NewValue": "005Y",
           "CreatedById": "005X", "CreatedDate": "2026-01-05T09:00:00.000+0000"}
    owner = mapping.history_to_event(SRC, row, STATUSES)
    assert owner.type is EventKind.ASSIGNEE and (owner.from_value, owner.to_value) == ("005X", "005Y")
    assert mapping.history_to_event(SRC, {**row, "OldValue": "Ada", "NewValue": "Bob"}, STATUSES) is None
    status = mapping.history_to_event(SRC, {**row, "Field": "Status", "OldValue": "New",
                                            "NewValue": "On Hold"}, STATUSES)
    assert status.type is EventKind.STATUS and status.to_value == "on_hold"
    assert mapping.history_to_event(SRC, {**row, "Field": "Priority"}, STATUSES) is None


def test_deleted_merged_and_converted_rows_leave():
    gone = mapping.deletion(SRC, case(IsDeleted=True, MasterRecordId="500W"), "conversation")
    assert isinstance(gone, Deletion) and gone.merged_into == "500W"
    assert mapping.deletion(SRC, case(), "conversation") is None
    lead = {"Id": "00Q1", "IsConverted": True, "ConvertedContactId": "003C"}
    [converted] = mapping.lead_to_records(SRC, lead, {})
    assert isinstance(converted, Deletion) and converted.record_kind == "customer" and converted.merged_into == "003C"


def test_accounts_take_tier_value_and_segment_from_the_mapped_fields():
    row = {"Id": "001A", "Name": "Acme", "OwnerId": "005X", "Website": "https://www.acme.example/x",
           "Tier__c": "key", "AnnualRevenue": "120000", "Industry": "Retail", "CreatedDate": None}
    acc = mapping.account_to_account(SRC, row, {"account_tier": "Tier__c", "account_value": "AnnualRevenue",
                                                "account_segment": "Industry"})
    assert (acc.tier, acc.value, acc.segment, acc.domains) == ("key", 120000.0, "Retail", ["acme.example"])
