"""Freshdesk payloads → careplug records. A payload that cannot be mapped raises ``MappingError``
with the reason; the source turns it into ``Quarantined``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careplug.model import AuthorRole, Channel, Conversation, Customer, Direction, Message, Priority, Status

STATUS = {2: Status.OPEN, 3: Status.PENDING, 4: Status.SOLVED, 5: Status.CLOSED}
PRIORITY = {1: Priority.LOW, 2: Priority.NORMAL, 3: Priority.HIGH, 4: Priority.URGENT}
CHANNEL = {1: Channel.EMAIL, 2: Channel.WEB_FORM, 3: Channel.PHONE, 7: Channel.CHAT, 9: Channel.WEB_FORM,
           10: Channel.EMAIL}


class MappingError(ValueError):
    """The payload lacks or mistypes a field careplug needs."""


def when(payload: dict[str, Any], field: str) -> datetime:
    value = payload.get(field)
    if not isinstance(value, str):
        raise MappingError(f"{field} is missing or not a string ({value!r})")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(f"{field} is not an ISO 8601 time ({value!r})") from None


def ticket(source: str, t: dict[str, Any]) -> tuple[Customer | None, Conversation]:
    """The ticket as a conversation, and its requester (from ``include=requester``) as a customer."""
    if t.get("status") not in STATUS:
        raise MappingError(f"unknown status {t.get('status')!r}")
    if not isinstance(t.get("subject"), str):
        raise MappingError("subject is missing")
    requester = t.get("requester")
    customer = None
    if isinstance(requester, dict) and requester.get("id") is not None:
        customer = Customer(source, str(requester["id"]), name=requester.get("name") or "",
                            emails=[requester["email"]] if requester.get("email") else [],
                            phones=[p for p in (requester.get("phone"), requester.get("mobile")) if p])
    conversation = Conversation(
        source, str(t["id"]), customer_id=str(t["requester_id"]) if t.get("requester_id") else None,
        channel=CHANNEL.get(t.get("source"), Channel.OTHER), status=STATUS[t["status"]],
        priority=PRIORITY.get(t.get("priority"), Priority.NORMAL), subject=t["subject"],
        assignee=str(t["responder_id"]) if t.get("responder_id") else None,
        group=str(t["group_id"]) if t.get("group_id") else None, tags=list(t.get("tags") or []),
        created_at=when(t, "created_at"), updated_at=when(t, "updated_at"))
    return customer, conversation


def message(source: str, ticket_id: str, c: dict[str, Any]) -> Message:
    incoming = bool(c.get("incoming"))
    return Message(source, str(c["id"]), conversation_id=ticket_id,
                   direction=Direction.INBOUND if incoming else Direction.OUTBOUND,
                   public=not c.get("private", False), author=str(c.get("user_id")) if c.get("user_id") else None,
                   author_role=AuthorRole.CUSTOMER if incoming else AuthorRole.AGENT,
                   created_at=when(c, "created_at"), body=c.get("body_text") or "")
