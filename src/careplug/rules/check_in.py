"""check_in: after a conversation is solved, check in to confirm all is well.

``after`` a conversation is solved (wall time by default) the check-in is *due* (an ``info``
finding: time to reach out); if nobody has reached out ``within`` more, it is breached. A touch
from a person at least ``counts_after`` after solving — a public reply, a call, a completed task —
is the check-in. Only conversations still solved count (a reopened one is live again), and only
for ``max_age`` after solving. Choose the segments with ``scope`` (tiers, tags, channels,
priorities, groups, sources).

    [rules.check_in]
    after = "3d"
    within = "2d"
    max_age = "14d"
    scope = { tiers = ["enterprise"], priorities = ["high", "urgent"] }
"""

from __future__ import annotations

from datetime import datetime, timedelta

import careplug

from ..finding import Severity
from ..history import History
from ..model import EventKind, Status
from .base import Assessment, CareRule
from .options import CareRuleOptions, Duration, in_scope
from .stages import StageTime
from .touches import conversation_touches


class CheckInOptions(CareRuleOptions):
    after: Duration = timedelta(days=3)
    within: Duration = timedelta(days=2)
    counts_after: Duration = timedelta(hours=1)
    max_age: Duration | None = timedelta(days=14)
    """Conversations solved longer ago than this are no longer followed: the moment to check in
    has passed and an open finding expires (is resolved). None: never."""
    due_severity: Severity = Severity.INFO
    breach_severity: Severity = Severity.WARNING
    calendar: str | None = "always"
    pause_on: list[Status] = []


class CheckIn(CareRule):
    name = "check_in"
    Options = CheckInOptions
    subjects = ("conversation",)
    description = "No follow-up some days after a conversation was solved."
    default_calendar = "always"

    def assess(self, history: History, now: datetime) -> Assessment:
        o: CheckInOptions = self.options  # type: ignore[assignment]
        out = Assessment()
        ts_now = now.timestamp()
        for conv in history.conversations:
            if not conv.status.is_done or not in_scope(o.scope, conv, history):
                continue
            solved = conv.solved_at or _solved_event(history, conv)
            if solved is None or solved > now:
                continue
            if o.max_age is not None and now - solved > o.max_age:
                continue
            start = solved.timestamp()
            touches = conversation_touches(history, (conv.source, conv.external_id))
            if any(t >= start + o.counts_after.total_seconds() for t in touches):
                continue
            target = o.after + o.within
            stages = [StageTime("due", o.due_severity, o.after), StageTime("breach", o.breach_severity, target)]
            self.staged(out, history=history, occurrence=f"solved-{int(start)}", start=start, target=target,
                        stages=stages, clock=self.clock(), now=ts_now, conversation=conv,
                        summary=lambda: f'check in on "{conv.subject}" (solved {solved:%Y-%m-%d})',
                        explain=lambda: {"solved_at": solved.isoformat()})
        return out


def _solved_event(history: History, conv) -> datetime | None:
    done = [e.created_at for e in history.events_of(conv)
            if e.type is EventKind.STATUS and e.to_value in (Status.SOLVED.value, Status.CLOSED.value) and e.created_at]
    return max(done) if done else None


@careplug.hookimpl
def careplug_register_rules(register):
    register(CheckIn)
