"""HubSpot payloads (as the API documents them) → careplug records.

Ids: tickets keep their HubSpot id as the conversation id (nudges about a ticket name it
directly); contacts, companies and owners keep theirs. Engagements come from several object types
whose ids may collide, so messages are ``"<type>:<id>"`` (``"emails:42"``). Engagements on no
ticket belong to the contact's *activity* conversation ``"contact:<id>"`` (an inbound email and
the reply logged later meet there); inbox threads are ``"thread:<id>"``.

A payload that cannot be mapped raises ``MappingError``; the source quarantines it with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from careplug.model import (
    Account,
    Agent,
    AuthorRole,
    Channel,
    Conversation,
    Customer,
    Deletion,
    Direction,
    Message,
    Priority,
    Record,
    Status,
    Task,
)


class MappingError(ValueError):
    """The payload is malformed; ``str(error)`` is the quarantine reason."""


def parse_time(value: Any, field: str = "time") -> datetime | None:
    """A HubSpot date (ISO 8601, or epoch milliseconds as a string) as aware UTC; None when empty."""
    if value in (None, ""):
        return None
    text = str(value)
    try:
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise MappingError(f"{field} is not a date: {text[:40]!r}") from None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def millis(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _props(obj: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(obj, Mapping) or not obj.get("id") or not isinstance(obj.get("properties"), Mapping):
        raise MappingError("payload lacks id or properties")
    return dict(obj["properties"])


def _float(value: Any, field: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MappingError(f"{field} is not a number: {str(value)[:40]!r}") from None


# --- owners ---------------------------------------------------------------------------------------


def owner_to_agent(source: str, owner: Mapping[str, Any]) -> Agent:
    if not owner.get("id"):
        raise MappingError("owner lacks id")
    name = " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p) or owner.get("email") or ""
    teams = sorted(owner.get("teams") or [], key=lambda t: not t.get("primary"))
    return Agent(source=source, external_id=str(owner["id"]), name=name, email=owner.get("email"),
                 groups=[str(t["id"]) for t in teams if t.get("id")],
                 updated_at=parse_time(owner.get("updatedAt"), "updatedAt"))


# --- companies and contacts -----------------------------------------------------------------------


def company_to_account(source: str, obj: Mapping[str, Any], props_map: Mapping[str, str | None]) -> Account:
    p = _props(obj)
    tier = p.get(props_map["account_tier"]) if props_map.get("account_tier") else None
    segment = p.get(props_map["account_segment"]) if props_map.get("account_segment") else None
    value_prop = props_map.get("account_value")
    return Account(source=source, external_id=str(obj["id"]), name=p.get("name") or "",
                   tier=tier or None, segment=segment or None,
                   value=_float(p.get(value_prop), value_prop) if value_prop else None,
                   owner=p.get("hubspot_owner_id") or None,
                   domains=[p["domain"]] if p.get("domain") else [],
                   created_at=parse_time(p.get("hs_createdate") or p.get("createdate") or obj.get("createdAt"),
                                         "createdate"),
                   updated_at=parse_time(p.get("hs_lastmodifieddate") or obj.get("updatedAt"), "hs_lastmodifieddate"))


def contact_to_records(source: str, obj: Mapping[str, Any], props_map: Mapping[str, str | None]) -> list[Record]:
    """The customer, plus a ``Deletion(merged_into=...)`` per contact merged into it."""
    p = _props(obj)
    cid = str(obj["id"])
    name = " ".join(x for x in (p.get("firstname"), p.get("lastname")) if x)
    stage = (p.get("lifecyclestage") or "").lower()
    customer = Customer(
        source=source, external_id=cid, name=name,
        emails=[e for e in (p.get("email"),) if e],
        phones=[x for x in (p.get("phone"), p.get("mobilephone")) if x],
        account_id=p.get("associatedcompanyid") or None,
        tier=(p.get(props_map["customer_tier"]) or None) if props_map.get("customer_tier") else None,
        segment=(p.get(props_map["customer_segment"]) or None) if props_map.get("customer_segment") else None,
        owner=p.get("hubspot_owner_id") or None,
        is_lead=stage in ("lead", "subscriber", "marketingqualifiedlead", "salesqualifiedlead"),
        created_at=parse_time(p.get("createdate") or obj.get("createdAt"), "createdate"),
        updated_at=parse_time(p.get("lastmodifieddate") or obj.get("updatedAt"), "lastmodifieddate"))
    return [customer, *merged_deletions(source, obj, "customer")]


# --- tickets --------------------------------------------------------------------------------------

PRIORITIES = {"LOW": Priority.LOW, "MEDIUM": Priority.NORMAL, "HIGH": Priority.HIGH, "URGENT": Priority.URGENT}
TICKET_CHANNELS = {"EMAIL": Channel.EMAIL, "CHAT": Channel.CHAT, "PHONE": Channel.PHONE, "FORM": Channel.WEB_FORM}


def stage_statuses(pipelines: list[Mapping[str, Any]], overrides: Mapping[str, Status]) -> dict[str, Status]:
    """Ticket stage id → status. ``overrides`` (by stage id or label, case-insensitive) win; else a
    CLOSED ticketState is closed, "waiting on contact/customer" is pending (a pause), "on hold" or
    "waiting on a third party/vendor" is on hold, "new" is new, and the rest are open."""
    lowered = {k.lower(): v for k, v in overrides.items()}
    out: dict[str, Status] = {}
    for pipeline in pipelines:
        for stage in pipeline.get("stages") or []:
            sid, label = str(stage.get("id")), str(stage.get("label") or "").lower()
            if sid.lower() in lowered or label in lowered:
                out[sid] = lowered.get(sid.lower(), lowered.get(label))
            elif (stage.get("metadata") or {}).get("ticketState") == "CLOSED":
                out[sid] = Status.CLOSED
            elif "waiting on contact" in label or "waiting on customer" in label:
                out[sid] = Status.PENDING
            elif "on hold" in label or "third party" in label or "vendor" in label:
                out[sid] = Status.ON_HOLD
            elif label == "new":
                out[sid] = Status.NEW
            else:
                out[sid] = Status.OPEN
    return out


def merged_deletions(source: str, obj: Mapping[str, Any], record_kind: str) -> list[Deletion]:
    """A ``Deletion(merged_into=...)`` per object merged into this one (``hs_merged_object_ids``)."""
    winner = str(obj["id"])
    losers = (_props(obj).get("hs_merged_object_ids") or "").split(";")
    return [Deletion(source=source, external_id=x.strip(), record_kind=record_kind, merged_into=winner)
            for x in losers if x.strip() and x.strip() != winner]


def ticket_to_conversation(source: str, obj: Mapping[str, Any], statuses: Mapping[str, Status],
                           contact_id: str | None, company_id: str | None) -> Conversation:
    p = _props(obj)
    stage = p.get("hs_pipeline_stage")
    status = statuses.get(str(stage), Status.OPEN) if stage else Status.NEW
    return Conversation(
        source=source, external_id=str(obj["id"]), customer_id=contact_id, account_id=company_id,
        channel=TICKET_CHANNELS.get((p.get("source_type") or "").upper(), Channel.OTHER),
        status=status, priority=PRIORITIES.get((p.get("hs_ticket_priority") or "").upper(), Priority.NORMAL),
        subject=p.get("subject") or "", assignee=p.get("hubspot_owner_id") or None,
        group=p.get("hubspot_team_id") or None,
        created_at=parse_time(p.get("createdate") or p.get("hs_createdate") or obj.get("createdAt"), "createdate"),
        updated_at=parse_time(p.get("hs_lastmodifieddate") or obj.get("updatedAt"), "hs_lastmodifieddate"),
        solved_at=parse_time(p.get("closed_date"), "closed_date"))


# --- engagements ----------------------------------------------------------------------------------

ENGAGEMENT_PROPERTIES: dict[str, list[str]] = {
    "emails": ["hs_timestamp", "hubspot_owner_id", "hs_email_direction", "hs_email_subject", "hs_email_text"],
    "calls": ["hs_timestamp", "hubspot_owner_id", "hs_call_direction", "hs_call_status", "hs_call_disposition",
              "hs_call_title", "hs_call_body"],
    "meetings": ["hs_timestamp", "hubspot_owner_id", "hs_meeting_title", "hs_meeting_outcome", "hs_meeting_body"],
    "notes": ["hs_timestamp", "hubspot_owner_id", "hs_note_body"],
    "communications": ["hs_timestamp", "hubspot_owner_id", "hs_communication_channel_type",
                       "hs_communication_body", "hs_communication_logged_from"],
    "tasks": ["hs_timestamp", "hubspot_owner_id", "hs_task_subject", "hs_task_status", "hs_task_type",
              "hs_task_completion_date", "hs_task_body"],
}
COMMUNICATION_CHANNELS = {"SMS": Channel.SMS, "WHATS_APP": Channel.SMS, "LINKEDIN_MESSAGE": Channel.SOCIAL}
ANSWERED_CALL = {"COMPLETED"}
UNANSWERED_CALL = {"NO_ANSWER", "BUSY", "FAILED", "CANCELED", "MISSED"}


def activity_conversation(source: str, contact_id: str) -> Conversation:
    """The conversation that holds a contact's engagements logged on no ticket."""
    return Conversation(source=source, external_id=f"contact:{contact_id}", customer_id=contact_id,
                        channel=Channel.OTHER, status=Status.OPEN, subject="Activity outside tickets")


def engagement_to_record(source: str, object_type: str, obj: Mapping[str, Any], *, ticket_id: str | None,
                         contact_id: str | None, company_id: str | None = None) -> Record | None:
    """A message (or, for ``tasks``, a task) for one engagement. One logged on a company only (no
    ticket, no contact) is the company's touch when it is one (``company_touch``); otherwise None:
    nothing careplug can place it on."""
    p = _props(obj)
    eid = f"{object_type}:{obj['id']}"
    when = parse_time(p.get("hs_timestamp") or obj.get("createdAt"), "hs_timestamp")
    owner = p.get("hubspot_owner_id") or None
    if object_type == "tasks":
        status = (p.get("hs_task_status") or "").upper()
        return Task(source=source, external_id=str(obj["id"]), subject=p.get("hs_task_subject") or "", owner=owner,
                    conversation_id=ticket_id, customer_id=contact_id, account_id=company_id,
                    type=(p.get("hs_task_type") or "TODO").lower(), due_at=when, done=status == "COMPLETED",
                    completed_at=parse_time(p.get("hs_task_completion_date"), "hs_task_completion_date"),
                    created_at=parse_time(obj.get("createdAt"), "createdAt"),
                    updated_at=parse_time(p.get("hs_lastmodifieddate") or obj.get("updatedAt"), "hs_lastmodifieddate"))
    if ticket_id is None and contact_id is None:
        return company_touch(source, object_type, obj, company_id, when, owner) if company_id else None
    conversation = ticket_id or f"contact:{contact_id}"
    inbound = False
    channel, public, body, answered = Channel.OTHER, True, "", None
    if object_type == "emails":
        direction = (p.get("hs_email_direction") or "").upper()
        if direction not in ("INCOMING_EMAIL", "EMAIL", "FORWARDED_EMAIL"):
            raise MappingError(f"hs_email_direction is {direction or 'missing'}")
        inbound, channel = direction == "INCOMING_EMAIL", Channel.EMAIL
        body = p.get("hs_email_text") or p.get("hs_email_subject") or ""
    elif object_type == "calls":
        inbound, channel = (p.get("hs_call_direction") or "").upper() == "INBOUND", Channel.PHONE
        status = (p.get("hs_call_status") or "").upper()
        answered = True if status in ANSWERED_CALL else False if status in UNANSWERED_CALL else None
        body = p.get("hs_call_body") or p.get("hs_call_title") or ""
    elif object_type == "communications":
        kind = (p.get("hs_communication_channel_type") or "").upper()
        channel = COMMUNICATION_CHANNELS.get(kind, Channel.OTHER)
        body = p.get("hs_communication_body") or ""
    elif object_type == "meetings":
        body = p.get("hs_meeting_title") or ""
    elif object_type == "notes":
        public, body = False, p.get("hs_note_body") or ""
    else:
        raise MappingError(f"unknown engagement type {object_type}")
    return Message(source=source, external_id=eid, conversation_id=conversation,
                   direction=Direction.INBOUND if inbound else Direction.OUTBOUND, public=public,
                   author=(contact_id if inbound else owner),
                   author_role=AuthorRole.CUSTOMER if inbound else AuthorRole.AGENT,
                   channel=channel, created_at=when, body=body[:2000], answered_call=answered)


def company_touch(source: str, object_type: str, obj: Mapping[str, Any], company_id: str, when: datetime | None,
                  owner: str | None) -> Task | None:
    """An engagement logged on a company and nobody in it — a call made or taken, an email sent, a
    meeting — as a done task on the account (its touch: ``quiet_customer`` at account level); a
    missed or inbound-only contact, a note or a message of unknown direction is none."""
    p = _props(obj)
    if object_type == "calls":
        inbound = (p.get("hs_call_direction") or "").upper() == "INBOUND"
        if (p.get("hs_call_status") or "").upper() not in ANSWERED_CALL and inbound:
            return None
        kind, subject = "call", p.get("hs_call_title") or "Call"
    elif object_type == "emails":
        if (p.get("hs_email_direction") or "").upper() not in ("EMAIL", "FORWARDED_EMAIL"):
            return None
        kind, subject = "email", p.get("hs_email_subject") or "Email"
    elif object_type == "meetings":
        kind, subject = "meeting", p.get("hs_meeting_title") or "Meeting"
    else:
        return None
    return Task(source=source, external_id=f"{object_type}:{obj['id']}", subject=subject, owner=owner,
                account_id=company_id, type=kind, due_at=when, done=True, completed_at=when,
                created_at=parse_time(obj.get("createdAt"), "createdAt"),
                updated_at=parse_time(p.get("hs_lastmodifieddate") or obj.get("updatedAt"), "hs_lastmodifieddate"))


# --- conversations inbox --------------------------------------------------------------------------

THREAD_CHANNELS = {"1000": Channel.CHAT, "1001": Channel.SOCIAL, "1002": Channel.EMAIL, "1003": Channel.WEB_FORM,
                   "1007": Channel.SMS}


def thread_to_records(source: str, thread: Mapping[str, Any], messages: list[Mapping[str, Any]],
                      owner_by_user: Mapping[str, str]) -> list[Record]:
    if not thread.get("id"):
        raise MappingError("thread lacks id")
    tid = f"thread:{thread['id']}"
    contact = thread.get("associatedContactId") or None
    assigned = str(thread.get("assignedTo") or "")
    assignee = owner_by_user.get(assigned.removeprefix("A-")) if assigned else None
    channel = THREAD_CHANNELS.get(str(thread.get("originalChannelId")), Channel.CHAT)
    closed = (thread.get("status") or "").upper() == "CLOSED"
    out: list[Record] = [Conversation(
        source=source, external_id=tid, customer_id=str(contact) if contact else None, channel=channel,
        status=Status.CLOSED if closed else Status.OPEN, assignee=assignee,
        created_at=parse_time(thread.get("createdAt"), "createdAt"),
        updated_at=parse_time(thread.get("latestMessageTimestamp"), "latestMessageTimestamp"),
        solved_at=parse_time(thread.get("closedAt"), "closedAt"))]
    for m in messages:
        kind = (m.get("type") or "").upper()
        if kind not in ("MESSAGE", "COMMENT") or not m.get("id"):
            continue
        inbound = kind == "MESSAGE" and (m.get("direction") or "").upper() == "INCOMING"
        senders = m.get("senders") or [{}]
        actor = str((senders[0] or {}).get("actorId") or "")
        author = str(contact) if inbound and contact else owner_by_user.get(actor.removeprefix("A-"), actor or None)
        out.append(Message(source=source, external_id=f"{tid}:{m['id']}", conversation_id=tid,
                           direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                           public=kind == "MESSAGE", author=author,
                           author_role=AuthorRole.CUSTOMER if inbound else AuthorRole.AGENT,
                           channel=channel, created_at=parse_time(m.get("createdAt"), "createdAt"),
                           body=str(m.get("text") or "")[:2000]))
    return out
