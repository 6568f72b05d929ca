"""Zendesk payloads (as documented) → careplug records."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from careplug.model import (Account, Agent, AuthorRole, Channel, Conversation, Customer, Deletion, Direction,
                            Event, EventKind, Message, Priority, Status, Task)

from careplug_zendesk import mapping


def ticket(**over):
    t = {"id": 35436, "subject": "Help, my printer is on fire!", "status": "open", "priority": "high",
         "requester_id": 20978392, "assignee_id": 235323, "group_id": 98738, "organization_id": 509974,
         "tags": ["enterprise", "other_tag"], "via": {"channel": "email", "source": {"rel": None}},
         "created_at": "2009-07-20T22:55:29Z", "updated_at": "2011-05-05T10:38:52Z", "external_id": None,
         "type": "incident", "due_at": None}
    t.update(over)
    return t


def test_a_ticket_becomes_a_conversation_with_its_people_and_link():
    [c] = mapping.ticket_to_records("zd", ticket(), base="https://acme.zendesk.com")
    assert isinstance(c, Conversation)
    assert (c.external_id, c.customer_id, c.assignee, c.group, c.account_id) == \
        ("35436", "20978392", "235323", "98738", "509974")
    assert c.channel is Channel.EMAIL and c.status is Status.OPEN and c.priority is Priority.HIGH
    assert c.created_at == datetime(2009, 7, 20, 22, 55, 29, tzinfo=timezone.utc)
    assert c.url == "https://acme.zendesk.com/agent/tickets/35436" and c.solved_at is None


@pytest.mark.parametrize("status,expected", [("new", Status.NEW), ("open", Status.OPEN), ("pending", Status.PENDING),
                                             ("hold", Status.ON_HOLD), ("solved", Status.SOLVED),
                                             ("closed", Status.CLOSED)])
def test_every_zendesk_status_maps_to_a_careplug_status(status, expected):
    [c] = mapping.ticket_to_records("zd", ticket(status=status))
    assert c.status is expected
    assert (c.solved_at is not None) == expected.is_done


@pytest.mark.parametrize("channel,expected", [
    ("email", Channel.EMAIL), ("web", Channel.WEB_FORM), ("api", Channel.API), ("chat", Channel.CHAT),
    ("voice", Channel.PHONE), ("sms", Channel.SMS), ("facebook", Channel.SOCIAL), ("twitter", Channel.SOCIAL),
    ("instagram_dm", Channel.SOCIAL), ("whatsapp", Channel.SMS), ("native_messaging", Channel.CHAT),
    ("something_new", Channel.OTHER)])
def test_the_channel_comes_from_via_channel(channel, expected):
    [c] = mapping.ticket_to_records("zd", ticket(via={"channel": channel, "source": {}}))
    assert c.channel is expected


def test_a_deleted_ticket_becomes_a_deletion():
    [d] = mapping.ticket_to_records("zd", ticket(status="deleted"))
    assert isinstance(d, Deletion) and d.record_kind == "conversation" and d.external_id == "35436"


def test_a_follow_up_careplug_created_is_a_task_not_a_conversation():
    [t] = mapping.ticket_to_records("zd", ticket(external_id="careplug:abc", type="task", due_at="2026-01-02T10:00:00Z",
                                                 status="solved"))
    assert isinstance(t, Task) and t.owner == "235323" and t.done
    assert t.due_at == datetime(2026, 1, 2, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("bad", [{"status": "weird"}, {"created_at": "not a date"}, {"id": "x"}, {"tags": "a,b"}])
def test_a_malformed_ticket_raises_a_mapping_error_naming_the_problem(bad):
    with pytest.raises(mapping.MappingError):
        mapping.ticket_to_records("zd", ticket(**bad))


def audit(*children, via="Mail", updater=20978392):
    return {"id": 926256957613, "ticket_id": 155, "timestamp": 1601357503, "created_at": "2020-09-29T05:31:43Z",
            "updater_id": updater, "via": via, "event_type": "Audit", "child_events": list(children)}


def test_comments_in_ticket_events_become_messages_with_direction_role_and_visibility():
    records = mapping.event_to_records("zd", audit(
        {"id": 1, "event_type": "Comment", "body": "It is still broken", "public": True, "author_id": 20978392},
        {"id": 2, "event_type": "Comment", "body": "Escalating to tier 2", "public": False, "author_id": 235323},
    ), agents={"235323"})
    customer, note = records
    assert isinstance(customer, Message) and customer.direction is Direction.INBOUND
    assert customer.author_role is AuthorRole.CUSTOMER and customer.public and customer.channel is Channel.EMAIL
    assert note.direction is Direction.OUTBOUND and note.author_role is AuthorRole.AGENT and not note.public
    assert customer.conversation_id == "155" and customer.created_at == datetime(2020, 9, 29, 5, 31, 43,
                                                                                 tzinfo=timezone.utc)


def test_a_missed_call_is_an_unanswered_phone_message():
    [m] = mapping.event_to_records("zd", audit(
        {"id": 3, "event_type": "VoiceComment", "body": "Voicemail", "public": False, "author_id": 20978392,
         "data": {"call_duration": 0, "answered_by_id": None}}, via="Voice"), agents=set())
    assert m.channel is Channel.PHONE and m.answered_call is False and m.direction is Direction.INBOUND


def test_field_changes_become_events_with_from_and_to():
    status, assignee, group = mapping.event_to_records("zd", audit(
        {"id": 4, "event_type": "Change", "status": "hold", "previous_value": "open"},
        {"id": 5, "event_type": "Change", "assignee_id": 7, "previous_value": 6},
        {"id": 6, "event_type": "Create", "group_id": 99},
        {"id": 7, "event_type": "Change", "tags": ["a"], "previous_value": []},
    ), agents=set())
    assert isinstance(status, Event) and status.type is EventKind.STATUS
    assert (status.from_value, status.to_value) == ("open", "on_hold")
    assert (assignee.type, assignee.from_value, assignee.to_value) == (EventKind.ASSIGNEE, "6", "7")
    assert (group.type, group.from_value, group.to_value) == (EventKind.GROUP, None, "99")


def test_a_trigger_comment_is_from_a_bot():
    [m] = mapping.event_to_records("zd", {**audit({"id": 8, "event_type": "Comment", "body": "We got your request",
                                                   "public": True, "author_id": 235323}),
                                          "via": {"channel": "rule", "source": {}}}, agents={"235323"})
    assert m.author_role is AuthorRole.BOT and m.direction is Direction.OUTBOUND


def test_users_become_agents_or_customers_by_role():
    agent = mapping.user_to_record("zd", {"id": 1, "name": "A", "role": "admin", "email": "a@x", "default_group_id": 5,
                                          "updated_at": "2020-01-01T00:00:00Z"})
    customer = mapping.user_to_record("zd", {"id": 2, "name": "C", "role": "end-user", "email": "c@x",
                                             "phone": "+1 555", "organization_id": 9})
    assert isinstance(agent, Agent) and agent.groups == ["5"]
    assert isinstance(customer, Customer) and customer.emails == ["c@x"] and customer.account_id == "9"


def test_organizations_become_accounts_with_the_configured_tier_field():
    a = mapping.organization_to_account("zd", {"id": 9, "name": "Globex", "domain_names": ["globex.com"],
                                               "organization_fields": {"plan": "enterprise"}}, tier_field="plan")
    assert isinstance(a, Account) and a.tier == "enterprise" and a.domains == ["globex.com"]


def test_ratings_map_good_and_bad_and_skip_offered():
    bad = mapping.rating_to_record("zd", {"id": 1, "score": "bad", "ticket_id": 155, "requester_id": 3,
                                          "comment": "slow", "created_at": "2020-01-01T00:00:00Z"})
    assert bad.bad and bad.score == 0.0 and bad.conversation_id == "155"
    assert mapping.rating_to_record("zd", {"id": 2, "score": "offered", "created_at": "2020-01-01T00:00:00Z"}) is None


def test_a_ticket_closed_by_a_merge_leaves_as_a_deletion():
    [d] = mapping.ticket_to_records("zd", ticket(status="closed", tags=["closed_by_merge"]))
    assert isinstance(d, Deletion) and d.external_id == "35436"


def test_a_missed_call_without_a_ticket_becomes_an_open_phone_conversation():
    conv, msg = mapping.call_to_records("zd", {"id": 7, "customer_id": 3, "agent_id": None, "ticket_id": None,
                                               "direction": "inbound", "completion_status": "abandoned_in_queue",
                                               "created_at": "2026-01-01T09:00:00Z", "phone_number": "+1555"})
    assert conv.external_id == "call-7" and conv.channel is Channel.PHONE and conv.status is Status.OPEN
    assert msg.answered_call is False and msg.direction is Direction.INBOUND and msg.conversation_id == "call-7"


def test_a_call_with_a_ticket_is_left_to_the_ticket_events():
    assert mapping.call_to_records("zd", {"id": 8, "ticket_id": 155, "created_at": "2026-01-01T09:00:00Z"}) == []


def test_a_comment_the_export_says_came_via_a_rule_is_from_a_bot():
    [m] = mapping.event_to_records("zd", audit({"id": 9, "event_type": "Comment", "body": "Auto-reply", "public": True,
                                                "author_id": 235323}, via="Rule"), agents={"235323"})
    assert m.author_role is AuthorRole.BOT
