"""Salesforce records (as the REST query API returns them) → careplug's normalized model.

Every function takes one record dict (``{"attributes": ..., "Id": ..., field: value}``) and returns
records, or raises ``MappingError`` with a reason (the source quarantines the payload). Deleted rows
(``IsDeleted: true``, seen through queryAll) become ``Deletion`` records, merged ones name their
``MasterRecordId``. Values may come from the REST API (JSON types) or from Bulk API 2.0 CSV (strings),
so readers accept both.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
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
    Event,
    EventKind,
    Message,
    Priority,
    Record,
    Status,
    Task,
)

#: Case.Origin → channel (the standard values, and common additions); override with ``origin_channels``
ORIGIN_CHANNELS: dict[str, Channel] = {
    "email": Channel.EMAIL, "email-to-case": Channel.EMAIL, "phone": Channel.PHONE, "web": Channel.WEB_FORM,
    "web-to-case": Channel.WEB_FORM, "chat": Channel.CHAT, "messaging": Channel.SMS, "sms": Channel.SMS,
    "whatsapp": Channel.SMS, "social": Channel.SOCIAL, "facebook": Channel.SOCIAL, "twitter": Channel.SOCIAL,
    "instagram": Channel.SOCIAL, "linkedin": Channel.SOCIAL, "api": Channel.API,
}
#: Case.Status → careplug status (standard values and common ones); override with ``case_statuses``
CASE_STATUSES: dict[str, Status] = {
    "new": Status.NEW, "working": Status.OPEN, "in progress": Status.OPEN, "escalated": Status.OPEN,
    "open": Status.OPEN, "waiting on customer": Status.PENDING, "pending": Status.PENDING,
    "awaiting customer": Status.PENDING, "on hold": Status.ON_HOLD, "waiting on third party": Status.ON_HOLD,
    "solved": Status.SOLVED, "resolved": Status.SOLVED, "closed": Status.CLOSED,
}
CASE_PRIORITIES: dict[str, Priority] = {"low": Priority.LOW, "medium": Priority.NORMAL, "normal": Priority.NORMAL,
                                        "high": Priority.HIGH, "critical": Priority.URGENT, "urgent": Priority.URGENT}
#: User.UserType values of customers (portal, community and site users), not agents
CUSTOMER_USER_TYPES = frozenset({"PowerCustomerSuccess", "CspLitePortal", "CustomerSuccess", "PowerPartner",
                                 "Guest", "SelfService"})


class MappingError(ValueError):
    """The payload cannot be normalized; the message is the quarantine reason."""


# --- values --------------------------------------------------------------------------------------


def parse_dt(value: Any, field: str, *, required: bool = False) -> datetime | None:
    """A Salesforce datetime (``2026-01-05T09:00:00.000+0000`` from REST, ``...000Z`` from Bulk)."""
    if value in (None, ""):
        if required:
            raise MappingError(f"{field} is missing")
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise MappingError(f"{field} is not a Salesforce datetime: {str(value)[:40]!r}") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def parse_date(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        d = date.fromisoformat(str(value)[:10])
    except ValueError:
        raise MappingError(f"{field} is not a date: {str(value)[:40]!r}") from None
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def soql_datetime(dt: datetime) -> str:
    """A SOQL datetime literal with milliseconds: ``2026-01-05T09:00:00.000Z`` (unquoted)."""
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def number(value: Any, field: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MappingError(f"{field} is not a number: {str(value)[:40]!r}") from None


def record_id(rec: dict[str, Any]) -> str:
    rid = rec.get("Id")
    if not rid or not isinstance(rid, str):
        raise MappingError("the record has no Id")
    return rid


def is_case_id(value: str | None) -> bool:
    return bool(value) and str(value).startswith("500")


def is_user_id(value: str | None) -> bool:
    return bool(value) and str(value).startswith("005")


def deletion(source: str, rec: dict[str, Any], kind: str) -> Deletion | None:
    """The Deletion for a row queryAll reports as deleted (merged: ``MasterRecordId``), else None."""
    if not flag(rec.get("IsDeleted")):
        return None
    return Deletion(source, record_id(rec), record_kind=kind, merged_into=text(rec.get("MasterRecordId")),
                    deleted_at=parse_dt(rec.get("SystemModstamp") or rec.get("CreatedDate"), "SystemModstamp"))


# --- objects -------------------------------------------------------------------------------------


def user_to_agent(source: str, rec: dict[str, Any]) -> Agent:
    role = AuthorRole.BOT if rec.get("UserType") in ("AutomatedProcess",) else AuthorRole.AGENT
    return Agent(source, record_id(rec), name=text(rec.get("Name")) or "", email=text(rec.get("Email")), role=role,
                 groups=[g for g in [text(rec.get("Department"))] if g], manager=text(rec.get("ManagerId")),
                 time_zone=text(rec.get("TimeZoneSidKey")),
                 updated_at=parse_dt(rec.get("SystemModstamp"), "SystemModstamp"))


def account_to_account(source: str, rec: dict[str, Any], fields: dict[str, str | None]) -> Account:
    website = text(rec.get("Website"))
    domain = website.split("//")[-1].split("/")[0].removeprefix("www.") if website else None
    get = lambda key: rec.get(fields[key]) if fields.get(key) else None  # noqa: E731
    return Account(source, record_id(rec), name=text(rec.get("Name")) or "", tier=text(get("account_tier")),
                   segment=text(get("account_segment")), value=number(get("account_value"), "account value"),
                   owner=text(rec.get("OwnerId")), domains=[domain] if domain else [],
                   created_at=parse_dt(rec.get("CreatedDate"), "CreatedDate"),
                   updated_at=parse_dt(rec.get("SystemModstamp"), "SystemModstamp"))


def person_to_customer(source: str, rec: dict[str, Any], fields: dict[str, str | None], *,
                       lead: bool) -> Customer:
    name = text(rec.get("Name")) or " ".join(p for p in (text(rec.get("FirstName")), text(rec.get("LastName"))) if p)
    tier_field = fields.get("customer_tier")
    return Customer(source, record_id(rec), name=name, emails=[e for e in [text(rec.get("Email"))] if e],
                    phones=[p for p in (text(rec.get("Phone")), text(rec.get("MobilePhone"))) if p],
                    account_id=None if lead else text(rec.get("AccountId")),
                    tier=text(rec.get(tier_field)) if tier_field else None, owner=text(rec.get("OwnerId")),
                    is_lead=lead, tags=["lead"] if lead else [],
                    created_at=parse_dt(rec.get("CreatedDate"), "CreatedDate", required=True),
                    updated_at=parse_dt(rec.get("SystemModstamp"), "SystemModstamp"))


def lead_to_records(source: str, rec: dict[str, Any], fields: dict[str, str | None]) -> list[Record]:
    """A lead is a customer with ``is_lead``; a converted lead leaves, merged into its contact."""
    if flag(rec.get("IsConverted")):
        return [Deletion(source, record_id(rec), record_kind="customer",
                         merged_into=text(rec.get("ConvertedContactId")))]
    return [person_to_customer(source, rec, fields, lead=True)]


def case_to_conversation(source: str, rec: dict[str, Any], *, statuses: dict[str, Status],
                         origins: dict[str, Channel], instance_url: str | None) -> Conversation:
    rid = record_id(rec)
    raw_status = text(rec.get("Status")) or "New"
    status = statuses.get(raw_status.lower())
    if status is None:
        status = Status.CLOSED if flag(rec.get("IsClosed")) else Status.OPEN
    origin = (text(rec.get("Origin")) or "").lower()
    priority = CASE_PRIORITIES.get((text(rec.get("Priority")) or "").lower(), Priority.NORMAL)
    owner = text(rec.get("OwnerId"))
    return Conversation(source, rid, customer_id=text(rec.get("ContactId")), account_id=text(rec.get("AccountId")),
                        channel=origins.get(origin, Channel.OTHER), status=status, priority=priority,
                        subject=text(rec.get("Subject")) or "",
                        assignee=owner if is_user_id(owner) else None,
                        group=owner if owner and owner.startswith("00G") else None,   # a queue
                        created_at=parse_dt(rec.get("CreatedDate"), "CreatedDate", required=True),
                        updated_at=parse_dt(rec.get("SystemModstamp"), "SystemModstamp"),
                        solved_at=parse_dt(rec.get("ClosedDate"), "ClosedDate") if status.is_done else None,
                        url=f"{instance_url.rstrip('/')}/lightning/r/Case/{rid}/view" if instance_url else None)


def comment_to_message(source: str, rec: dict[str, Any], customer_users: set[str]) -> Message:
    parent = text(rec.get("ParentId"))
    if not parent:
        raise MappingError("CaseComment without ParentId")
    author = text(rec.get("CreatedById"))
    customer = author in customer_users
    return Message(source, record_id(rec), conversation_id=parent,
                   direction=Direction.INBOUND if customer else Direction.OUTBOUND,
                   public=flag(rec.get("IsPublished")), author=author,
                   author_role=AuthorRole.CUSTOMER if customer else AuthorRole.AGENT, channel=Channel.OTHER,
                   created_at=parse_dt(rec.get("CreatedDate"), "CreatedDate", required=True),
                   body=text(rec.get("CommentBody")) or "")


#: ``EmailMessage.Status`` of an email an agent saved and has not sent
EMAIL_DRAFT = "5"


def email_to_record(source: str, rec: dict[str, Any]) -> Message | Deletion:
    """A sent or received email is a message; a draft (``Status = '5'``) is not one — nobody has
    been answered yet — so it becomes the ``Deletion`` of that message: nothing when it was never
    stored, and a draft an earlier version stored as a reply leaves the history. Sending the draft
    changes its ``Status`` (and ``SystemModstamp``): it is read again and stored then."""
    if text(rec.get("Status")) == EMAIL_DRAFT:
        return Deletion(source, record_id(rec), record_kind="message",
                        deleted_at=parse_dt(rec.get("SystemModstamp"), "SystemModstamp"))
    return email_to_message(source, rec)


def email_to_message(source: str, rec: dict[str, Any]) -> Message:
    parent = text(rec.get("ParentId"))
    if not parent:
        raise MappingError("EmailMessage without ParentId (not attached to a case)")
    incoming = flag(rec.get("Incoming"))
    return Message(source, record_id(rec), conversation_id=parent,
                   direction=Direction.INBOUND if incoming else Direction.OUTBOUND, public=True,
                   author=None if incoming else text(rec.get("CreatedById")),
                   author_role=AuthorRole.CUSTOMER if incoming else AuthorRole.AGENT, channel=Channel.EMAIL,
                   created_at=parse_dt(rec.get("MessageDate") or rec.get("CreatedDate"), "MessageDate",
                                       required=True),
                   body=text(rec.get("TextBody")) or text(rec.get("Subject")) or "")


def task_kind(rec: dict[str, Any]) -> str:
    """``message`` for a logged call or email on a case (a touch in the conversation), else ``task``."""
    subtype = (text(rec.get("TaskSubtype")) or "Task").lower()
    done = flag(rec.get("IsClosed")) or text(rec.get("Status")) == "Completed"
    return "message" if subtype in ("call", "email") and done and is_case_id(text(rec.get("WhatId"))) else "task"


def task_to_record(source: str, rec: dict[str, Any]) -> Message | Task:
    rid = record_id(rec)
    subtype = (text(rec.get("TaskSubtype")) or "Task").lower()
    what, who = text(rec.get("WhatId")), text(rec.get("WhoId"))
    created = parse_dt(rec.get("CreatedDate"), "CreatedDate", required=True)
    if task_kind(rec) == "message":
        inbound = (text(rec.get("CallType")) or "").lower() == "inbound"
        disposition = (text(rec.get("CallDisposition")) or "").lower()
        answered = None
        if subtype == "call":
            answered = not any(w in disposition for w in ("missed", "voicemail", "no answer", "unanswered"))
        return Message(source, rid, conversation_id=what or "",
                       direction=Direction.INBOUND if inbound else Direction.OUTBOUND, public=True,
                       author=None if inbound else text(rec.get("OwnerId")),
                       author_role=AuthorRole.CUSTOMER if inbound else AuthorRole.AGENT,
                       channel=Channel.PHONE if subtype == "call" else Channel.EMAIL,
                       created_at=parse_dt(rec.get("CompletedDateTime"), "CompletedDateTime") or created,
                       body=text(rec.get("Description")) or text(rec.get("Subject")) or "", answered_call=answered)
    done = flag(rec.get("IsClosed")) or text(rec.get("Status")) == "Completed"
    return Task(source, rid, subject=text(rec.get("Subject")) or "", owner=text(rec.get("OwnerId")),
                conversation_id=what if is_case_id(what) else None,
                customer_id=who if who and who.startswith(("003", "00Q")) else None,
                account_id=text(rec.get("AccountId")) or (what if what and what.startswith("001") else None),
                type=subtype if subtype in ("call", "email") else "todo",
                due_at=parse_date(rec.get("ActivityDate"), "ActivityDate"), done=done,
                completed_at=parse_dt(rec.get("CompletedDateTime"), "CompletedDateTime") if done else None,
                created_at=created, updated_at=parse_dt(rec.get("SystemModstamp"), "SystemModstamp"))


def history_to_event(source: str, rec: dict[str, Any], statuses: dict[str, Status]) -> Event | None:
    """Owner and Status changes of a case; None for other fields and for the name-valued twin row
    Salesforce writes beside the id-valued one for an owner change."""
    field = text(rec.get("Field")) or ""
    case = text(rec.get("CaseId"))
    if not case:
        raise MappingError("CaseHistory without CaseId")
    old, new = text(rec.get("OldValue")), text(rec.get("NewValue"))
    if field == "Owner":
        if (new and not new.startswith(("005", "00G"))) or (old and not old.startswith(("005", "00G"))):
            return None
        kind = EventKind.ASSIGNEE if (new or "").startswith("005") or new is None else EventKind.GROUP
    elif field == "Status":
        kind = EventKind.STATUS
        conv = lambda v: (statuses.get(v.lower()) or Status.OPEN).value if v else None  # noqa: E731
        old, new = conv(old), conv(new)
    else:
        return None
    return Event(source, record_id(rec), conversation_id=case, type=kind, from_value=old, to_value=new,
                 actor=text(rec.get("CreatedById")), created_at=parse_dt(rec.get("CreatedDate"), "CreatedDate",
                                                                         required=True))
