"""Nudges: what careplug writes back into a CRM (or sends) so a person acts on a finding."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Action(str, enum.Enum):
    TASK = "task"        # a CRM task / follow-up assigned to ``assignee`` with ``due_at``
    NOTE = "note"        # an internal note on the conversation
    TAG = "tag"          # a tag on the conversation
    NOTIFY = "notify"    # a message through a notifier (webhook, email)


class NudgeState(str, enum.Enum):
    PLANNED = "planned"
    PENDING = "pending"        # recorded before the CRM write; may or may not have reached it
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"    # the finding cleared before delivery, or the CRM object was closed


MARKER_PREFIX = "careplug:"


def nudge_key(finding_key: str, stage: str, action: str, target: str) -> str:
    """The deterministic idempotency key of a nudge: the same finding, stage, action and target
    always give the same key. Short enough to fit a CRM subject line or tag."""
    digest = hashlib.blake2b(f"{finding_key}\x1f{stage}\x1f{action}\x1f{target}".encode(), digest_size=10)
    return digest.hexdigest()


def comeback_key(key: str, detected_at: datetime) -> str:
    """The key of ``key``'s nudge for a finding that cleared and came back (re-detected at
    ``detected_at``): another episode of neglect, so another nudge — the same for every re-planning
    of that episode, as ``detected_at`` stays while the finding stays open."""
    return nudge_key(key, "again", detected_at.isoformat(), "")


def marker(key: str) -> str:
    """The text an adapter writes into the CRM object so a retry can find it: ``careplug:<key>``."""
    return f"{MARKER_PREFIX}{key}"


@dataclass(slots=True)
class Nudge:
    """One thing to write or send. ``target`` is the source (or notifier) name that delivers it;
    ``conversation_id``/``customer_id``/``account_id`` are external ids in that source."""

    key: str
    finding_key: str
    stage: str
    action: Action
    target: str
    title: str
    body: str = ""
    assignee: str | None = None
    escalation: bool = False
    due_at: datetime | None = None
    conversation_id: str | None = None
    customer_id: str | None = None
    account_id: str | None = None
    tags: list[str] = field(default_factory=list)
    state: NudgeState = NudgeState.PLANNED
    external_ref: str | None = None      # the CRM object's id once delivered
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def marker(self) -> str:
        return marker(self.key)


@dataclass(slots=True)
class Receipt:
    """What the CRM answered for one nudge. ``existed`` is True when a retry found the marker
    already there and wrote nothing."""

    key: str
    external_ref: str | None
    delivered_at: datetime
    existed: bool = False
    url: str | None = None
