"""broken_promise: an agent promised to get back to the customer and nobody did by then.

Every public reply from a person is read for commitments (``careplug.promises``): "I'll get back to
you tomorrow", "we'll call you by Friday", "expect an update within 24 hours". The promise is due
at the time it names, read in the team's time zone (the agent's ``time_zone`` when known, else the
rule's calendar); a promise without a date is due ``undated_due`` of business time after it was
made. So is a promise whose words name a time already passed when it was made ("I'll update you
later today" sent at 17:30, "tonight" at 19:00): it is read as "soon", never as broken the instant it
is made. When a message makes several promises, the earliest dated one counts. It is kept by any
touch after the promise message: a public reply, a call, a completed task. Warnings come
``before`` the due time (wall time) or at a fraction of the time between promise and due. Pauses
(off by default: a promise stands while the customer is silent) push the due time and the warnings
back by the wall time paused before them; while such a pause is open the due time is on hold (a
warning already reached stays).

    [rules.broken_promise]
    undated_due = "8h"          # business time, with the rule's calendar
    end_of_day = "17:00"        # "tomorrow" is due at the end of tomorrow's business day
    stages = [{ name = "warning", before = "2h" }]
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

from pydantic import field_validator

import careplug

from ..finding import Severity
from ..history import History
from ..model import Status
from ..promises import Commitment, find_commitments
from .base import Assessment, CareRule, iso
from .clock import Clock, conversation_pauses
from .context import ALWAYS, calendar_of
from .options import Duration, PausableRuleOptions, in_scope
from .stages import StageOptions, Stages, StageTime
from .touches import conversation_touches, is_reply


class BrokenPromiseOptions(PausableRuleOptions):
    undated_due: Duration = timedelta(hours=8)
    end_of_day: str = "17:00"
    time_zone: str | None = None
    """Read promises in this zone instead of the agent's or the calendar's."""
    stages: Stages = [StageOptions(name="warning", before=timedelta(hours=2))]
    breach_severity: Severity = Severity.BREACH
    pause_on: list[Status] = []

    @field_validator("end_of_day")
    @classmethod
    def _clock(cls, v: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v.strip()):
            raise ValueError(f"end_of_day {v!r} must be a time 'HH:MM' such as '17:00'")
        return v.strip()

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except Exception:
                raise ValueError(f"unknown time zone {v!r}: use an IANA name such as 'Europe/Paris'") from None
        return v


@lru_cache(maxsize=65536)
def _commitments(body: str, sent_at: datetime, zone: str, calendar: object, eod: time) -> tuple[Commitment, ...]:
    return tuple(find_commitments(body, sent_at, tz=zone, calendar=calendar, end_of_day=eod))  # type: ignore[arg-type]


class BrokenPromise(CareRule):
    name = "broken_promise"
    Options = BrokenPromiseOptions
    subjects = ("conversation",)
    description = "A commitment an agent made to a customer with no follow-up by its due time."

    @cached_property
    def _end_of_day(self) -> time:
        hh, mm = (int(x) for x in self.options.end_of_day.split(":"))
        return time(hh, mm)

    def assess(self, history: History, now: datetime) -> Assessment:
        o: BrokenPromiseOptions = self.options  # type: ignore[assignment]
        out = Assessment()
        eod = self._end_of_day
        ts_now = now.timestamp()
        messages = history.grouped("messages")
        for conv in history.conversations:
            if not in_scope(o.scope, conv, history):
                continue
            key = (conv.source, conv.external_id)
            touches = conversation_touches(history, key)
            if not touches:
                continue                            # a reply is a touch: no touch, no reply
            last_touch = touches[-1]
            # a reply with a touch after it was kept; every reply is a touch, so only the replies
            # sent at the last touch can be open (newest first; undated messages are skipped)
            pending = []
            for m in reversed(messages.get(key, ())):
                if m.created_at is None:
                    continue
                sent = m.created_at.timestamp()
                if sent < last_touch:
                    break
                if m.body and is_reply(m):
                    pending.append((sent, m))
            wall = None
            cal = self.calendar_for(conv)           # business days and the undated default: the team's
            for sent, m in reversed(pending):
                if sent > ts_now:
                    continue                        # not yet made at ``now``
                zone = o.time_zone or self._agent_zone(history, conv, m.author) or cal.tz.key
                found = _commitments(m.body, m.created_at, zone, cal, eod)
                if not found:
                    continue
                if wall is None:
                    # wall time (a promise names an instant), minus the time spent paused
                    wall = Clock(calendar_of(None, ALWAYS), conversation_pauses(history, conv, o.pause_on))
                # a due time at or before the promise (the extractor already drops those) is undated
                dated = [c for c in found if c.due_at is not None and c.due_at.timestamp() > sent]
                promise = min(dated, key=lambda c: c.due_at) if dated else found[0]
                if dated:
                    promised = promise.due_at.timestamp()
                else:
                    promised = cal.add_seconds(sent, o.undated_due.total_seconds())
                span = timedelta(seconds=promised - sent)
                # each stage, and the due time, move back by the time paused before them; while a
                # pause that began before one is still open, that one has no time yet (None)
                times: list[tuple[StageTime, float | None]] = [
                    (st, wall.at(sent, st.offset.total_seconds()))
                    for st in self.stage_times(o.stages, span, o.breach_severity)]
                due = times[-1][1]
                self.staged_at(
                    out, history=history, occurrence=m.external_id, start=sent, target=span,
                    times=times, clock=wall, now=ts_now,
                    summary=lambda: (f'promise "{_short(promise.sentence)}" '
                                     + (f"due {iso(due)} not kept" if due is not None
                                        else "not kept; its due time is on hold while the conversation is paused")),
                    conversation=conv, owner=m.author or conv.assignee,
                    explain=lambda: {
                        "promise": promise.sentence,
                        "due_phrase": _due_phrase(promise, bool(dated), self.span(o.undated_due, cal)),
                        "read_in_zone": zone, "dates_calendar": cal.name or cal.tz.key,
                        "promised_at": iso(sent), "promised_due_at": iso(promised),
                        "due_at": iso(due),
                        "stage_clock": "wall time between the promise and its due time, less time paused"})
        return out

    def _agent_zone(self, history: History, conv, author: str | None) -> str | None:
        agent = history.agents.get(f"{conv.source}:{author}") if author else None
        return agent.time_zone if agent is not None and agent.time_zone else None


def _due_phrase(promise: Commitment, dated: bool, undated_due: str) -> str:
    if dated:
        return promise.phrase or ""
    default = f"undated: default {undated_due}"
    return f"{promise.phrase} (passed when promised): {default}" if promise.phrase else default


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@careplug.hookimpl
def careplug_register_rules(register):
    register(BrokenPromise)
