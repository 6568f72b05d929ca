"""Mapping documented HubSpot payloads to careplug records."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from careplug.model import AuthorRole, Channel, Deletion, Direction, Priority, Status

from careplug_hubspot import mapping

TICKET = {"id": "512", "archived": False, "createdAt": "2026-01-05T09:00:00.000Z", "updatedAt": "2026-01-05T10:00:00.000Z",
          "properties": {"subject": "Refund", "hs_pipeline_stage": "2", "hs_ticket_priority": "HIGH",
                         "hubspot_owner_id": "100", "source_type": "CHAT", "createdate": "2026-01-05T09:00:00.000Z",
                         "hs_lastmodifieddate": "2026-01-05T10:00:00.000Z", "closed_date": None,
                         "hs_merged_object_ids": "77;88"}}
PIPELINES = [{"id": "0", "stages": [
    {"id": "1", "label": "New", "metadata": {"ticketState": "OPEN"}},
    {"id": "2", "label": "Waiting on contact", "metadata": {"ticketState": "OPEN"}},
    {"id": "9", "label": "On hold (vendor)", "metadata": {"ticketState": "OPEN"}},
    {"id": "4", "label": "Closed", "metadata": {"ticketState": "CLOSED"}}]}]


def test_a_ticket_becomes_a_conversation_with_its_stage_status_priority_and_channel():
    statuses = mapping.stage_statuses(PIPELINES, {})
    conv = mapping.ticket_to_conversation("hs", TICKET, statuses, "9", "3")
    assert (conv.status, conv.priority, conv.channel) == (Status.PENDING, Priority.HIGH, Channel.CHAT)
    assert (conv.customer_id, conv.account_id, conv.assignee) == ("9", "3", "100")
    assert conv.created_at == datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
    assert statuses == {"1": Status.NEW, "2": Status.PENDING, "9": Status.ON_HOLD, "4": Status.CLOSED}


def test_stage_overrides_win_by_id_or_label():
    statuses = mapping.stage_statuses(PIPELINES, {"waiting on contact": Status.OPEN, "9": Status.PENDING})
    assert statuses["2"] is Status.OPEN and statuses["9"] is Status.PENDING


def test_merged_ids_become_deletions_pointing_at_the_winner():
    assert mapping.merged_deletions("hs", TICKET, "conversation") == [
        Deletion(source="hs", external_id="77", record_kind="conversation", merged_into="512"),
        Deletion(source="hs", external_id="88", record_kind="conversation", merged_into="512")]


def test_email_direction_decides_who_wrote():
    email = {"id": "5", "properties": {"hs_email_direction": "INCOMING_EMAIL", "hs_timestamp": "1767603600000",
                                       "hs_email_text": "Hi", "hubspot_owner_id": "100"}}
    inbound = mapping.engagement_to_record("hs", "emails", email, ticket_id="512", contact_id="9")
    assert (inbound.direction, inbound.author_role, inbound.author) == (Direction.INBOUND, AuthorRole.CUSTOMER, "9")
    assert inbound.external_id == "emails:5" and inbound.created_at == datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
    email["properties"]["hs_email_direction"] = "EMAIL"
    reply = mapping.engagement_to_record("hs", "emails", email, ticket_id="512", contact_id="9")
    assert (reply.direction, reply.author) == (Direction.OUTBOUND, "100")


def test_communications_map_whatsapp_to_sms_and_linkedin_to_social():
    def comm(kind):
        return mapping.engagement_to_record("hs", "communications", {"id": "1", "properties": {
            "hs_communication_channel_type": kind, "hs_timestamp": "2026-01-05T09:00:00Z"}}, ticket_id="1", contact_id=None)
    assert [comm(k).channel for k in ("SMS", "WHATS_APP", "LINKEDIN_MESSAGE")] == [Channel.SMS, Channel.SMS, Channel.SOCIAL]


def test_a_missed_call_is_marked_unanswered_and_notes_are_internal():
    call = mapping.engagement_to_record("hs", "calls", {"id": "2", "properties": {
        "hs_call_direction": "INBOUND", "hs_call_status": "NO_ANSWER", "hs_timestamp": "2026-01-05T09:00:00Z"}},
        ticket_id=None, contact_id="9")
    assert call.answered_call is False and call.conversation_id == "contact:9" and call.channel is Channel.PHONE
    note = mapping.engagement_to_record("hs", "notes", {"id": "3", "properties": {"hs_note_body": "x"}},
                                        ticket_id="1", contact_id=None)
    assert note.public is False and note.author_role is AuthorRole.AGENT


@pytest.mark.parametrize("payload, reason", [
    ({"id": "1"}, "lacks id or properties"),
    ({"id": "1", "properties": {"hs_email_direction": "SIDEWAYS"}}, "hs_email_direction"),
    ({"id": "1", "properties": {"hs_email_direction": "EMAIL", "hs_timestamp": "yesterday"}}, "not a date"),
])
def test_malformed_payloads_raise_a_mapping_error_with_the_reason(payload, reason):
    with pytest.raises(mapping.MappingError, match=reason):
        mapping.engagement_to_record("hs", "emails", payload, ticket_id="1", contact_id=None)


def test_company_properties_are_mapped_as_configured():
    company = {"id": "3", "properties": {"name": "Acme", "domain": "acme.example", "tier": "key", "annualrevenue": "1200.5",
                                         "hs_lastmodifieddate": "2026-01-05T09:00:00Z"}}
    account = mapping.company_to_account("hs", company, {"account_tier": "tier", "account_value": "annualrevenue",
                                                         "account_segment": None})
    assert (account.tier, account.value, account.domains) == ("key", 1200.5, ["acme.example"])
