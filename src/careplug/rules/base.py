"""The base of the built-in rules: a clock that runs from an occurrence to a target, in stages.

Built-in rules implement ``assess(history, now) -> Assessment``: the findings that hold now *and*
when the subject should be looked at again even though no finding is open yet (a clock that is
running toward its first warning). ``evaluate`` (the ``careplug.rule.Rule`` contract) returns the
findings only. The check engine indexes ``next_check_at`` per subject, so a subject is evaluated
again exactly when its next stage falls due and not before. Third-party rules may implement
``assess`` too; without it, a subject is revisited at its open findings' ``next_check_at``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, ClassVar

from ..calendar import BusinessCalendar
from ..finding import Finding, Severity
from ..history import History
from ..model import Conversation
from ..rule import Rule
from .clock import Clock
from .context import calendar_of, team_calendars_of
from .options import format_duration
from .stages import BREACH, StageTime, stage_offsets

__all__ = ["Assessment", "CareRule", "iso"]

_UTC = timezone.utc


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, _UTC).isoformat()


@lru_cache(maxsize=4096)
def _format_delta(delta: timedelta, days: bool = True) -> str:
    """``format_duration`` of a target or a stage offset: the same few values over and over."""
    return format_duration(delta, days=days)


_NOW: tuple[float | None, str | None] = (None, None)


def _iso_now(ts: float) -> str | None:
    """``iso`` of the evaluation time, which a run passes to every rule and subject (one tuple,
    replaced whole: threads never see half of it)."""
    global _NOW
    last = _NOW
    if last[0] != ts:
        last = _NOW = (ts, iso(ts))
    return last[1]


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, _UTC)


@dataclass(slots=True)
class Assessment:
    findings: list[Finding] = field(default_factory=list)
    next_check_at: datetime | None = None

    def wake(self, ts: float | None) -> None:
        if ts is None:
            return
        dt = _dt(ts)
        if self.next_check_at is None or dt < self.next_check_at:  # type: ignore[operator]
            self.next_check_at = dt

    def extend(self, other: "Assessment") -> None:
        self.findings.extend(other.findings)
        if other.next_check_at is not None:
            self.wake(other.next_check_at.timestamp())


class CareRule(Rule):
    """A rule with a calendar from its options and the staged-clock helper.

    ``calendar`` is the rule's own (its ``calendar`` option, else the class's ``default_calendar``,
    else the ``default`` calendar, else 24/7); ``calendar_for(conversation)`` the one a
    conversation's clock counts on: its team's (``[calendars.NAME] groups``) unless the rule names
    its own."""

    default_calendar: ClassVar[str | None] = None

    def __init__(self, options: Any, context: object | None = None):
        super().__init__(options, context)
        name = getattr(options, "calendar", None) or self.default_calendar
        self.calendar: BusinessCalendar = calendar_of(context, name)
        self._teams: dict[str, BusinessCalendar] = {} if name else team_calendars_of(context)

    def calendar_for(self, conversation: Conversation | None) -> BusinessCalendar:
        """The calendar ``conversation``'s clock counts on: its group's team calendar, when the rule
        names no calendar of its own and a ``[calendars.NAME]`` lists that group; else the rule's."""
        if self._teams and conversation is not None and conversation.group:
            return self._teams.get(conversation.group.lower(), self.calendar)
        return self.calendar

    def evaluate(self, history: History, now: datetime) -> list[Finding]:
        return self.assess(history, now).findings

    def assess(self, history: History, now: datetime) -> Assessment:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- helpers ------------------------------------------------------------------------------

    def stage_times(self, stages: list, target: timedelta, breach_severity: Severity = Severity.BREACH
                    ) -> list[StageTime]:
        """``stage_offsets(stages, target, breach_severity)``, computed once per rule and target
        (the list is shared: do not modify it)."""
        key = (id(stages), target, breach_severity)
        cache = self.__dict__.setdefault("_stage_cache", {})
        hit = cache.get(key)
        if hit is None or hit[0] is not stages:
            if len(cache) > 4096:
                cache.clear()
            hit = cache[key] = (stages, stage_offsets(stages, target, breach_severity))
        return hit[1]

    def clock(self, pauses: list | None = None, conversation: Conversation | None = None) -> Clock:
        """A clock on ``conversation``'s calendar (``calendar_for``), stopped during ``pauses``."""
        return Clock(self.calendar_for(conversation), pauses or [])

    def span(self, duration: timedelta | float, calendar: BusinessCalendar | None = None) -> str:
        """A duration counted on ``calendar`` (the rule's by default), for people: ``"2d4h"`` on the
        round-the-clock calendar, ``"52h"`` on a business one (52 open hours: six and a half 8-hour
        days, not two)."""
        days = (calendar or self.calendar).counts_wall_time
        if isinstance(duration, timedelta):
            return _format_delta(duration, days)
        return format_duration(duration, days=days)

    def moment(self, ts: float, calendar: BusinessCalendar | None = None) -> str:
        """An instant for people, in ``calendar``'s zone (the rule's by default): ``"Mon 2 Mar 09:00
        EST"``. Summaries name when a clock started and its target, never the time elapsed: a stored
        finding, a nudge's title and a CRM task keep their summary, and an elapsed time in it would
        go stale (``--explain`` and the listing's "waiting" column count it when asked)."""
        local = datetime.fromtimestamp(ts, (calendar or self.calendar).tz)
        return f"{local:%a} {local.day} {local:%b %H:%M %Z}"

    def staged(self, out: Assessment, *, history: History, occurrence: str, start: float,
               target: timedelta, stages: list[StageTime], clock: Clock, now: float,
               summary: str | Callable[[], str], conversation: Conversation | None = None,
               explain: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
               owner: str | None = None) -> Finding | None:
        """Add the finding of a clock started at ``start`` toward ``target`` to ``out`` when a
        stage is reached, and wake the subject at the next stage. Returns the finding or None.
        ``summary`` and ``explain`` may be functions that return them: they are called only when
        there is a finding (most clocks checked have not reached a stage yet)."""
        times = [(st, clock.at(start, st.offset.total_seconds())) for st in stages]
        return self.staged_at(out, history=history, occurrence=occurrence, start=start, target=target,
                              times=times, clock=clock, now=now, summary=summary, conversation=conversation,
                              explain=explain, owner=owner)

    def staged_at(self, out: Assessment, *, history: History, occurrence: str, start: float,
                  target: timedelta, times: list[tuple[StageTime, float | None]], clock: Clock, now: float,
                  summary: str | Callable[[], str], conversation: Conversation | None = None,
                  explain: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
                  owner: str | None = None) -> Finding | None:
        """``staged`` with the stage instants already computed (the breach last)."""
        reached = [(st, t) for st, t in times if t is not None and t <= now]
        upcoming = [t for _st, t in times if t is not None and t > now]
        next_at = min(upcoming) if upcoming else None
        out.wake(next_at)
        if not reached:
            return None
        stage, _t = reached[-1]
        due = times[-1][1]
        detail = self.clock_math(start, target, clock, now, due, times)
        if callable(explain):
            explain = explain()
        if explain:
            detail.update(explain)
        if callable(summary):
            summary = summary()
        finding = Finding(
            rule=self.name, subject=history.subject, occurrence=occurrence, stage=stage.name,
            severity=stage.severity, summary=summary, started_at=_dt(start),  # type: ignore[arg-type]
            due_at=_dt(due), detected_at=_dt(now), next_check_at=_dt(next_at),
            customer_uid=history.customer_uid, explain=detail, owner=owner)
        if conversation is not None:
            finding.source = conversation.source
            finding.conversation_id = conversation.external_id
            finding.account_id = conversation.account_id
            finding.owner = owner or conversation.assignee
            finding.group = conversation.group
            finding.channel = conversation.channel.value
        out.findings.append(finding)
        return finding

    def clock_math(self, start: float, target: timedelta, clock: Clock, now: float, due: float | None,
                   times: list[tuple[StageTime, float | None]]) -> dict[str, Any]:
        cal = clock.calendar
        days = cal.counts_wall_time                    # business time is shown in hours
        business = cal.elapsed_seconds(start, now)
        pauses: list[dict[str, Any]] = []
        paused = 0.0
        for p, seconds in clock.pause_seconds(start, now) if clock.pauses else ():
            paused += seconds
            if (p.end is None or p.end > start) and p.start < now:
                pauses.append({"status": p.status, "from": iso(p.start), "to": iso(p.end),
                               "clock_time": format_duration(seconds, days=days)})
        active = max(business - paused, 0.0)           # = clock.active(start, now)
        return {
            "target": _format_delta(target, days),
            "calendar": cal.name or cal.tz.key,
            "time_zone": cal.tz.key,
            "started_at": iso(start),
            "evaluated_at": _iso_now(now),
            "wall_time_elapsed": format_duration(max(now - start, 0)),
            "business_time_elapsed": format_duration(business, days=days),
            "paused": format_duration(business - active if now > start else 0.0, days=days),   # = clock.paused
            "clock_elapsed": format_duration(active, days=days),
            "remaining": format_duration(target.total_seconds() - active, days=days),
            "due_at": iso(due),
            "pauses": pauses,
            "stages": [{"stage": st.name, "severity": getattr(st.severity, "value", st.severity),
                        "after": _format_delta(st.offset, days), "at": iso(t)} for st, t in times],
        }


BREACH_STAGE = BREACH
