"""Findings: what a care rule reports about a subject, with a stable key.

A *subject* is what a rule looks at, named by a string key:

- ``conversation:<source>:<external_id>`` — one ticket, case or thread;
- ``customer:<uid>`` — one person across every source (``uid`` from identity resolution);
- ``account:<source>:<external_id>`` — one company.

A finding's key is ``<rule>|<subject>|<occurrence>``: ``occurrence`` names what started the clock
(the inbound message id, the promise message id, the rating id...), so re-running a rule over the
same history produces the same key, and a new occurrence on the same subject a new finding.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    BREACH = "breach"
    CRITICAL = "critical"


def subject_key(kind: str, *parts: str) -> str:
    """``subject_key("conversation", "zendesk", "42") == "conversation:zendesk:42"``."""
    return ":".join((kind, *parts))


def subject_kind(key: str) -> str:
    return key.partition(":")[0]


_TIMES = ("started_at", "due_at", "detected_at", "resolved_at", "next_check_at")


@dataclass(slots=True)
class Finding:
    """One instance of neglect (or of neglect about to happen).

    ``stage`` is the name of the reached stage (``"warning"``, ``"breach"``, or any configured
    name); ``due_at`` is when the target is (or was) breached; ``next_check_at`` is when the rule
    wants to look at the subject again even if nothing changes (the next stage), or None.
    ``resolved_at`` is set when the condition cleared (the agent replied, the promise was kept).
    ``explain`` holds the clock math: target, business time elapsed, pauses, due time. Times
    without a zone are taken to be UTC.
    """

    rule: str
    subject: str
    occurrence: str
    stage: str
    severity: Severity
    summary: str
    started_at: datetime
    due_at: datetime | None = None
    detected_at: datetime | None = None
    resolved_at: datetime | None = None
    next_check_at: datetime | None = None
    customer_uid: str | None = None
    source: str | None = None              # where the subject lives, for write-back
    conversation_id: str | None = None     # external id in ``source``
    account_id: str | None = None
    owner: str | None = None               # who should act (assignee, account owner)
    group: str | None = None
    channel: str | None = None
    explain: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a time without a zone (a plugin's datetime(2026, 3, 2, 9)) is read as UTC, as records'
        # times are: it is stored, compared and nudged on like any other
        for name in _TIMES:
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                setattr(self, name, value.replace(tzinfo=timezone.utc))

    @property
    def key(self) -> str:
        return f"{self.rule}|{self.subject}|{self.occurrence}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
