"""The normalized model: one shape for customer relationships, whatever CRM they came from.

Adapters turn CRM payloads into these records; the store, the rules and the nudges read only these.
Every record carries ``source`` (the configured source *name*, e.g. ``"zendesk"``) and
``external_id`` (the id in that source); ``(source, external_id)`` is its identity, so syncing
the same record twice is an upsert, never a duplicate.

Timestamps are timezone-aware ``datetime`` in UTC. References between records use the *external*
id in the same source (``conversation_id`` of a message is the conversation's ``external_id``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class Channel(str, enum.Enum):
    EMAIL = "email"
    PHONE = "phone"          # calls, including missed calls and voicemail
    CHAT = "chat"
    SOCIAL = "social"        # Facebook, X/Twitter, Instagram, LinkedIn comments and DMs
    SMS = "sms"              # also WhatsApp and other messaging apps
    WEB_FORM = "web_form"
    API = "api"              # created by an integration
    OTHER = "other"


class Status(str, enum.Enum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"      # waiting on the customer: a pause for most rules
    ON_HOLD = "on_hold"      # waiting on a third party: a pause for most rules
    SOLVED = "solved"
    CLOSED = "closed"

    @property
    def is_paused(self) -> bool:
        return self in (Status.PENDING, Status.ON_HOLD)

    @property
    def is_done(self) -> bool:
        return self in (Status.SOLVED, Status.CLOSED)


class Priority(str, enum.Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Direction(str, enum.Enum):
    INBOUND = "inbound"      # from the customer
    OUTBOUND = "outbound"    # from the company (agent, bot, automation)


class AuthorRole(str, enum.Enum):
    CUSTOMER = "customer"
    AGENT = "agent"          # a person on the team
    BOT = "bot"              # automation, auto-responders, macros sent without a person
    SYSTEM = "system"


class EventKind(str, enum.Enum):
    ASSIGNEE = "assignee"    # from/to: agent ids
    GROUP = "group"          # from/to: group or team ids
    STATUS = "status"        # from/to: Status values
    PRIORITY = "priority"


class IdentityKind(str, enum.Enum):
    EMAIL = "email"
    PHONE = "phone"
    SOCIAL = "social"        # "twitter:@handle", "facebook:12345"
    EXTERNAL = "external"    # the customer's id in its source


def utc(dt: datetime) -> datetime:
    """Return ``dt`` as an aware UTC datetime; naive values are taken to be UTC."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def normalize_identity(kind: IdentityKind | str, value: str) -> str:
    """The comparable form of an identity: emails lower-cased, phones reduced to digits and '+'."""
    kind = IdentityKind(kind)
    value = value.strip()
    if kind is IdentityKind.EMAIL:
        return value.lower()
    if kind is IdentityKind.PHONE:
        return "".join(ch for ch in value if ch.isdigit() or ch == "+")
    if kind is IdentityKind.SOCIAL:
        return value.lower()
    return value


@dataclass(slots=True)
class Record:
    """Base of every normalized record."""

    source: str
    external_id: str

    @property
    def kind(self) -> str:
        return RECORD_KINDS_BY_TYPE[type(self)]


@dataclass(slots=True)
class Account(Record):
    """A company or organization that customers belong to."""

    name: str = ""
    tier: str | None = None          # e.g. "enterprise", "key"
    segment: str | None = None
    value: float | None = None       # ARR, deal size: whatever the admin maps
    owner: str | None = None         # account owner (agent id)
    domains: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(slots=True)
class Customer(Record):
    """A person the company serves: a contact, end user or lead.

    ``emails``, ``phones`` and ``handles`` are identities; the same email (case-insensitive) or phone
    seen in two sources makes the two records one customer (see the store's identity links).
    """

    name: str = ""
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)   # "twitter:@ada"
    account_id: str | None = None
    tier: str | None = None
    segment: str | None = None
    owner: str | None = None
    is_lead: bool = False
    tags: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def label(self) -> str:
        """How people name this customer: the name, else an email, else a phone ("" when none)."""
        return self.name or next((e for e in self.emails if e), "") or next((p for p in self.phones if p), "")

    def identities(self) -> list[tuple[IdentityKind, str]]:
        out = [(IdentityKind.EMAIL, normalize_identity(IdentityKind.EMAIL, e)) for e in self.emails if e]
        out += [(IdentityKind.PHONE, normalize_identity(IdentityKind.PHONE, p)) for p in self.phones if p]
        out += [(IdentityKind.SOCIAL, normalize_identity(IdentityKind.SOCIAL, h)) for h in self.handles if h]
        return out


@dataclass(slots=True)
class Agent(Record):
    """A person on the team (or a bot account); ``manager`` drives escalation."""

    name: str = ""
    email: str | None = None
    role: AuthorRole = AuthorRole.AGENT
    groups: list[str] = field(default_factory=list)
    manager: str | None = None
    time_zone: str | None = None
    updated_at: datetime | None = None


@dataclass(slots=True)
class Conversation(Record):
    """A ticket, case, thread or call: one exchange with a customer on one channel."""

    customer_id: str | None = None
    account_id: str | None = None
    channel: Channel = Channel.EMAIL
    status: Status = Status.OPEN
    priority: Priority = Priority.NORMAL
    subject: str = ""
    assignee: str | None = None
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    solved_at: datetime | None = None
    url: str | None = None


@dataclass(slots=True)
class Message(Record):
    """One message, comment, call or note inside a conversation."""

    conversation_id: str = ""
    direction: Direction = Direction.INBOUND
    public: bool = True
    author: str | None = None
    author_role: AuthorRole = AuthorRole.CUSTOMER
    channel: Channel = Channel.EMAIL
    created_at: datetime | None = None
    body: str = ""
    answered_call: bool | None = None   # phone only: False for a missed call or voicemail


@dataclass(slots=True)
class Event(Record):
    """A change on a conversation: assignment, group, status or priority, with from/to."""

    conversation_id: str = ""
    type: EventKind = EventKind.STATUS
    from_value: str | None = None
    to_value: str | None = None
    actor: str | None = None
    created_at: datetime | None = None


@dataclass(slots=True)
class Rating(Record):
    """A satisfaction rating. ``score`` is normalized to 0..1; ``bad`` is what the CRM says."""

    conversation_id: str | None = None
    customer_id: str | None = None
    score: float | None = None
    bad: bool = False
    comment: str = ""
    created_at: datetime | None = None


@dataclass(slots=True)
class Task(Record):
    """A to-do in the CRM: a logged call or email (done), or an open follow-up with a due date."""

    subject: str = ""
    owner: str | None = None
    conversation_id: str | None = None
    customer_id: str | None = None
    account_id: str | None = None
    type: str = "todo"               # "call", "email", "meeting", "todo"
    due_at: datetime | None = None
    done: bool = False
    completed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(slots=True)
class Deletion(Record):
    """A record of kind ``record_kind`` was deleted in its source (or merged into ``merged_into``)."""

    record_kind: str = "conversation"
    merged_into: str | None = None
    deleted_at: datetime | None = None


@dataclass(slots=True)
class Checkpoint:
    """Yielded by a source between records: everything yielded so far is covered by ``cursor``.

    The sync engine stores the preceding records and the cursor in one transaction, so the cursor
    is never ahead of what is durable. ``cursor`` is any JSON-serializable value.
    """

    stream: str
    cursor: Any


@dataclass(slots=True)
class Quarantined:
    """Yielded by a source for a payload it could not normalize; kept in the store with the reason."""

    stream: str
    reason: str
    payload: Any = None
    external_id: str | None = None


RECORD_TYPES: dict[str, type[Record]] = {
    "account": Account,
    "customer": Customer,
    "agent": Agent,
    "conversation": Conversation,
    "message": Message,
    "event": Event,
    "rating": Rating,
    "task": Task,
    "deletion": Deletion,
}
RECORD_KINDS_BY_TYPE: dict[type, str] = {v: k for k, v in RECORD_TYPES.items()}
