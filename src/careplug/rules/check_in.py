"""check_in: after a conversation is solved, check in to confirm all is well.

``after`` a conversation is solved (wall time by default) the check-in is *due* (an ``info``
finding: time to reach out); if nobody has reached out ``within`` more, it is breached. A touch
from a person at least ``counts_after`` after solving — a public reply, a call, a completed task —
is the check-in. Only conversations still solved count (a reopened one is live again), and only
for ``max_age`` after solving: then an open finding expires. Solving is timed from the status
events (the start of the current solved spell: closing a solved conversation later does not restart
the clock), else from the conversation's ``solved_at``. Choose the segments with ``scope`` (tiers, tags, channels,
priorities, groups, sources). A ``max_age`` not longer than ``after`` + ``within``, or a
``counts_after`` longer than ``after``, is refused: the check-in would expire unseen, or a timely
one would not count.

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
from .options import CareRuleOptions, Conflict, Duration, in_scope, quoted
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

    def conflicts(self) -> list[Conflict]:
        out: list[Conflict] = []
        if self.counts_after > self.after:
            out.append((("counts_after",),
                        f"counts_after = {quoted(self.counts_after)} is longer than after = {quoted(self.after)}: a "
                        f"check-in made when it falls due would not count; write a counts_after shorter than after "
                        f"(it only keeps the reply sent with the solve from counting), e.g. "
                        f"{quoted(min(timedelta(hours=1), self.after / 2))}"))
        end = self.after + self.within
        if self.max_age is not None and self.max_age <= end:
            never = ("falls due, so the rule never fires" if self.max_age <= self.after else
                     "is breached, so it is never reported breached")
            out.append((("max_age",),
                        f"max_age = {quoted(self.max_age)} is not longer than after + within = {quoted(end)}: a "
                        f"conversation is no longer followed before its check-in {never}; write a max_age longer "
                        f"than {quoted(end)}, e.g. '14d', or leave it out"))
        return out


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
            solved = _solved_event(history, conv) or conv.solved_at
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
            f = self.staged(out, history=history, occurrence=f"solved-{int(start)}", start=start, target=target,
                            stages=stages, clock=self.clock(None, conv), now=ts_now, conversation=conv,
                            summary=lambda: f'check in on "{conv.subject}" (solved {solved:%Y-%m-%d})',
                            explain=lambda: {"solved_at": solved.isoformat()})
            if f is not None and o.max_age is not None:
                out.wake(start + o.max_age.total_seconds() + 1)      # when the finding expires
        return out


_DONE = (Status.SOLVED.value, Status.CLOSED.value)


def _solved_event(history: History, conv) -> datetime | None:
    """When the conversation was last solved, from its status events: the start of its current
    solved spell (a later *closed*, or the CRM touching the solved ticket, does not move it; a
    reopen starts over). None without such an event: the conversation's ``solved_at`` is used."""
    since = None
    for e in history.grouped("events").get((conv.source, conv.external_id), ()):
        if e.type is not EventKind.STATUS or e.created_at is None:
            continue
        if e.to_value in _DONE:
            if since is None:
                since = e.created_at
        else:
            since = None
    return since


@careplug.hookimpl
def careplug_register_rules(register):
    register(CheckIn)
