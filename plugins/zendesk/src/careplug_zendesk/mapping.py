"""Zendesk payloads (the documented JSON) → careplug's normalized records.

Each function takes one payload and returns records, or raises ``MappingError`` naming what is
wrong; the source turns that into a ``Quarantined`` item and goes on.

- ticket → ``Conversation`` (``via.channel`` → ``Channel``; ``status`` → ``Status``); a ticket with
  ``status: "deleted"`` and a ticket closed by a merge (tagged ``closed_by_merge``: its
  conversation goes on in the target ticket) → ``Deletion``; a follow-up ticket careplug itself created (its
  ``external_id`` carries the marker) → ``Task`` instead, so careplug's own writes never look
  like customer conversations;
- ticket event (an audit with ``child_events``) → one ``Message`` per ``Comment``/``VoiceComment``
  child, one ``Event`` per status, priority, assignee or group ``Create``/``Change`` child;
- user → ``Agent`` (role agent or admin) or ``Customer`` (end-user);
- organization → ``Account``; satisfaction rating → ``Rating`` (``offered`` ones are skipped);
- a Talk call with no ticket → a phone ``Conversation`` and its ``Message``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timezone
from typing import Any

from careplug.model import (Account, Agent, AuthorRole, Channel, Conversation, Customer, Deletion, Direction,
                            Event, EventKind, Message, Priority, Rating, Record, Status, Task)
from careplug.nudges.model import MARKER_PREFIX


class MappingError(ValueError):
    """A payload careplug cannot normalize (the reason is the message)."""


#: ``via.channel`` values Zendesk documents → careplug channels
CHANNELS: dict[str, Channel] = {
    "email": Channel.EMAIL, "web": Channel.WEB_FORM, "web_form": Channel.WEB_FORM, "web_widget": Channel.WEB_FORM,
    "help_center": Channel.WEB_FORM, "mobile_sdk": Channel.CHAT, "mobile": Channel.OTHER, "api": Channel.API,
    "chat": Channel.CHAT, "chat_transcript": Channel.CHAT, "native_messaging": Channel.CHAT,
    "messaging": Channel.CHAT, "voice": Channel.PHONE, "phone_call_inbound": Channel.PHONE,
    "phone_call_outbound": Channel.PHONE, "voicemail": Channel.PHONE, "sms": Channel.SMS, "text": Channel.SMS,
    "whatsapp": Channel.SMS, "line": Channel.SMS, "wechat": Channel.SMS, "telegram": Channel.SMS,
    "viber": Channel.SMS, "facebook": Channel.SOCIAL, "facebook_messenger": Channel.SOCIAL,
    "twitter": Channel.SOCIAL, "twitter_dm": Channel.SOCIAL, "twitter_favorite": Channel.SOCIAL,
    "instagram_dm": Channel.SOCIAL, "instagram": Channel.SOCIAL, "linkedin": Channel.SOCIAL,
    "google_business_messages": Channel.CHAT, "apple_business_chat": Channel.CHAT,
}
#: the ``via`` *names* the ticket events export uses ("Mail", "Web form", ...) → channels
VIA_NAMES: dict[str, Channel] = {
    "mail": Channel.EMAIL, "web form": Channel.WEB_FORM, "web service": Channel.API, "voice": Channel.PHONE,
    "chat": Channel.CHAT, "text": Channel.SMS, "twitter": Channel.SOCIAL, "facebook": Channel.SOCIAL,
}
STATUSES: dict[str, Status] = {"new": Status.NEW, "open": Status.OPEN, "pending": Status.PENDING,
                               "hold": Status.ON_HOLD, "solved": Status.SOLVED, "closed": Status.CLOSED}
PRIORITIES: dict[str, Priority] = {"low": Priority.LOW, "normal": Priority.NORMAL, "high": Priority.HIGH,
                                   "urgent": Priority.URGENT}
FIELDS: dict[str, EventKind] = {"status": EventKind.STATUS, "priority": EventKind.PRIORITY,
                                "assignee_id": EventKind.ASSIGNEE, "group_id": EventKind.GROUP}
AGENT_ROLES = frozenset({"agent", "admin"})
SYSTEM_USER = -1
#: the tag Zendesk puts on a ticket it closed because it was merged into another
MERGED_TAG = "closed_by_merge"
#: ``via.channel`` of changes made by triggers and automations, not by a person
AUTOMATED = frozenset({"rule", "automation", "sla", "side_conversation"})


def parse_time(value: Any, field: str) -> datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if not isinstance(value, str) or not value:
        raise MappingError(f"{field} is missing or not a timestamp: {value!r}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        raise MappingError(f"{field} is not an ISO 8601 timestamp: {value!r}") from None


def _opt_time(value: Any, field: str) -> datetime | None:
    return None if value in (None, "") else parse_time(value, field)


def _id(value: Any) -> str | None:
    return None if value in (None, "", SYSTEM_USER) else str(value)


def _require_id(payload: dict[str, Any], what: str) -> str:
    value = payload.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise MappingError(f"{what} has no integer id: {value!r}")
    return str(value)


def channel_of(via: Any) -> Channel:
    """``via`` as a ticket carries it (``{"channel": ..., "source": {...}}``) or as the events
    export names it (``"Mail"``)."""
    if isinstance(via, dict):
        return CHANNELS.get(str(via.get("channel") or "").lower(), Channel.OTHER)
    if isinstance(via, str):
        return VIA_NAMES.get(via.lower(), CHANNELS.get(via.lower(), Channel.OTHER))
    return Channel.OTHER


def is_careplug_task(ticket: dict[str, Any]) -> bool:
    return str(ticket.get("external_id") or "").startswith(MARKER_PREFIX)


def ticket_to_records(source: str, t: dict[str, Any], *, base: str | None = None) -> list[Record]:
    tid = _require_id(t, "ticket")
    status = t.get("status")
    if status == "deleted":
        return [Deletion(source, tid, record_kind="conversation", deleted_at=_opt_time(t.get("updated_at"), "updated_at"))]
    if status not in STATUSES:
        raise MappingError(f"ticket {tid}: unknown status {status!r}")
    created = parse_time(t.get("created_at"), "created_at")
    updated = _opt_time(t.get("updated_at"), "updated_at")
    tags = t.get("tags") or []
    if not isinstance(tags, list):
        raise MappingError(f"ticket {tid}: tags is not a list")
    if status == "closed" and MERGED_TAG in tags:
        return [Deletion(source, tid, record_kind="conversation", deleted_at=updated)]
    if is_careplug_task(t):
        done = STATUSES[status].is_done
        return [Task(source, tid, subject=t.get("subject") or "", owner=_id(t.get("assignee_id")),
                     customer_id=_id(t.get("requester_id")), account_id=_id(t.get("organization_id")),
                     type="todo", due_at=_opt_time(t.get("due_at"), "due_at"), done=done,
                     completed_at=updated if done else None, created_at=created, updated_at=updated)]
    url = f"{base.rstrip('/')}/agent/tickets/{tid}" if base else None
    return [Conversation(
        source, tid, customer_id=_id(t.get("requester_id")), account_id=_id(t.get("organization_id")),
        channel=channel_of(t.get("via")), status=STATUSES[status],
        priority=PRIORITIES.get(str(t.get("priority") or "normal"), Priority.NORMAL),
        subject=t.get("subject") or t.get("raw_subject") or "", assignee=_id(t.get("assignee_id")),
        group=_id(t.get("group_id")), tags=[str(x) for x in tags], created_at=created, updated_at=updated,
        solved_at=updated if STATUSES[status].is_done else None, url=url)]


def author_role(author: str | None, *, agents: Collection[str], via_channel: str | None) -> AuthorRole:
    if author is None:
        return AuthorRole.SYSTEM
    if via_channel in AUTOMATED:
        return AuthorRole.BOT
    return AuthorRole.AGENT if author in agents else AuthorRole.CUSTOMER


def event_to_records(source: str, e: dict[str, Any], *, agents: Collection[str],
                     channels: dict[str, Channel] | None = None) -> list[Record]:
    """One ticket event (an audit) → its messages and field-change events.

    ``channels`` maps ticket ids to the ticket's channel (known from the tickets stream); a
    comment's channel is the ticket's, else the one the audit's ``via`` names."""
    eid = _require_id(e, "ticket event")
    ticket = e.get("ticket_id")
    if not isinstance(ticket, int):
        raise MappingError(f"ticket event {eid}: no ticket_id")
    conv = str(ticket)
    at = parse_time(e.get("created_at") or e.get("timestamp"), "created_at")
    via = e.get("via")
    via_channel = via.get("channel") if isinstance(via, dict) else str(via or "").lower() or None
    channel = (channels or {}).get(conv) or channel_of(via)
    updater = _id(e.get("updater_id"))
    out: list[Record] = []
    for child in e.get("child_events") or []:
        if not isinstance(child, dict):
            raise MappingError(f"ticket event {eid}: a child event is not an object")
        kind = child.get("event_type")
        if kind in ("Comment", "VoiceComment"):
            author = _id(child.get("author_id"))
            role = author_role(author, agents=agents, via_channel=via_channel)
            answered: bool | None = None
            if kind == "VoiceComment":
                data = child.get("data") or {}
                answered = bool(data.get("answered_by_id")) and bool(data.get("call_duration"))
            out.append(Message(
                source, str(child.get("id")), conversation_id=conv,
                direction=Direction.INBOUND if role is AuthorRole.CUSTOMER else Direction.OUTBOUND,
                public=bool(child.get("public", child.get("comment_public", True))), author=author,
                author_role=role, channel=Channel.PHONE if kind == "VoiceComment" else channel, created_at=at,
                body=str(child.get("body") or child.get("plain_body") or ""), answered_call=answered))
        elif kind in ("Create", "Change"):
            for field, etype in FIELDS.items():
                if field not in child:
                    continue
                to, frm = child.get(field), child.get("previous_value")
                if etype is EventKind.STATUS:
                    to = STATUSES[to].value if to in STATUSES else to
                    frm = STATUSES[frm].value if frm in STATUSES else frm
                out.append(Event(source, str(child.get("id")), conversation_id=conv, type=etype,
                                 from_value=None if frm is None else str(frm),
                                 to_value=None if to is None else str(to), actor=updater, created_at=at))
    return out


def user_to_record(source: str, u: dict[str, Any]) -> Record:
    uid = _require_id(u, "user")
    updated = _opt_time(u.get("updated_at"), "updated_at")
    role = u.get("role")
    if role in AGENT_ROLES:
        group = u.get("default_group_id")
        return Agent(source, uid, name=u.get("name") or "", email=u.get("email"), role=AuthorRole.AGENT,
                     groups=[str(group)] if group else [], time_zone=u.get("time_zone"), updated_at=updated)
    if role not in (None, "end-user"):
        raise MappingError(f"user {uid}: unknown role {role!r}")
    fields = u.get("user_fields") or {}
    return Customer(source, uid, name=u.get("name") or "", emails=[u["email"]] if u.get("email") else [],
                    phones=[u["phone"]] if u.get("phone") else [], account_id=_id(u.get("organization_id")),
                    tier=fields.get("tier") if isinstance(fields, dict) else None,
                    tags=[str(x) for x in u.get("tags") or []],
                    created_at=_opt_time(u.get("created_at"), "created_at"), updated_at=updated)


def organization_to_account(source: str, o: dict[str, Any], *, tier_field: str | None = "tier",
                            segment_field: str | None = "segment") -> Account:
    oid = _require_id(o, "organization")
    fields = o.get("organization_fields") or {}
    return Account(source, oid, name=o.get("name") or "",
                   tier=fields.get(tier_field) if tier_field else None,
                   segment=fields.get(segment_field) if segment_field else None,
                   domains=[str(d) for d in o.get("domain_names") or []], tags=[str(t) for t in o.get("tags") or []],
                   created_at=_opt_time(o.get("created_at"), "created_at"),
                   updated_at=_opt_time(o.get("updated_at"), "updated_at"))


def rating_to_record(source: str, r: dict[str, Any]) -> Rating | None:
    rid = _require_id(r, "satisfaction rating")
    score = r.get("score")
    if score in ("offered", "unoffered", None):
        return None
    if score not in ("good", "bad"):
        raise MappingError(f"satisfaction rating {rid}: unknown score {score!r}")
    return Rating(source, rid, conversation_id=_id(r.get("ticket_id")), customer_id=_id(r.get("requester_id")),
                  score=1.0 if score == "good" else 0.0, bad=score == "bad", comment=r.get("comment") or "",
                  created_at=parse_time(r.get("created_at"), "created_at"))


#: Talk ``completion_status`` values of a call a person took
ANSWERED_CALL = frozenset({"completed"})


def call_to_records(source: str, c: dict[str, Any]) -> list[Record]:
    """A Talk call Zendesk made no ticket for (a missed or abandoned call, usually) → a phone
    conversation of its own with one message. Calls with a ticket are skipped: their voice comment
    already reaches careplug through the ticket events."""
    cid = _require_id(c, "call")
    if c.get("ticket_id"):
        return []
    at = parse_time(c.get("created_at"), "created_at")
    answered = c.get("completion_status") in ANSWERED_CALL and bool(c.get("agent_id"))
    inbound = c.get("direction", "inbound") == "inbound"
    conv = f"call-{cid}"
    customer, agent = _id(c.get("customer_id")), _id(c.get("agent_id"))
    status = Status.SOLVED if answered or not inbound else Status.OPEN
    return [Conversation(source, conv, customer_id=customer, channel=Channel.PHONE, status=status,
                         subject=f"{'Missed' if not answered else 'Phone'} call from {c.get('phone_number') or 'unknown'}",
                         assignee=agent, created_at=at, updated_at=_opt_time(c.get("updated_at"), "updated_at"),
                         solved_at=at if status.is_done else None),
            Message(source, conv, conversation_id=conv, direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                    public=True, author=customer if inbound else agent,
                    author_role=AuthorRole.CUSTOMER if inbound else AuthorRole.AGENT, channel=Channel.PHONE,
                    created_at=at, body=f"Call ({c.get('completion_status') or 'unknown'})", answered_call=answered)]
