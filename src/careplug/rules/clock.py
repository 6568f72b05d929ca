"""The rule clock: business time from a calendar, minus pauses.

A ``Clock`` answers two questions for a rule, in epoch seconds:

- ``active(start, now)``: how much clock time ran between ``start`` and ``now`` (open hours of the
  calendar, not counting pauses);
- ``at(start, amount)``: the instant the clock reaches ``amount`` since ``start``, or None when a
  pause that has not ended stops it first (the due time is unknown until the pause ends, and the
  status change that ends it marks the subject for evaluation).

Pauses come from the conversation's status events (``pauses_of``): time spent in a paused status
(by default pending or on-hold) does not count. A clock given pauses out of order, overlapping or
repeated (a rule of your own joining several conversations' pauses) counts each paused instant
once: they are sorted and merged when the clock is made.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from ..calendar import BusinessCalendar
from ..model import Conversation, EventKind, Status

__all__ = ["Pause", "Clock", "merged", "pauses_of", "conversation_pauses"]


@dataclass(frozen=True, slots=True)
class Pause:
    start: float
    end: float | None       # None: still paused
    status: str


@dataclass(slots=True)
class Clock:
    calendar: BusinessCalendar
    pauses: list[Pause] = field(default_factory=list)

    def __post_init__(self) -> None:
        pauses = self.pauses
        if len(pauses) > 1 and not all(a.end is not None and a.end < b.start for a, b in zip(pauses, pauses[1:])):
            self.pauses = merged(pauses)        # ``pauses_of``'s are in order and apart already

    def active(self, start: float, now: float) -> float:
        total = self.calendar.elapsed_seconds(start, now)
        for _p, seconds in self.pause_seconds(start, now):
            total -= seconds
        return max(total, 0.0)

    def pause_seconds(self, start: float, now: float) -> list[tuple[Pause, float]]:
        """Each pause with the clock time it took between ``start`` and ``now`` (often zero)."""
        out = []
        elapsed = self.calendar.elapsed_seconds
        for p in self.pauses:
            out.append((p, elapsed(max(p.start, start), now if p.end is None else min(p.end, now))))
        return out

    def paused(self, start: float, now: float) -> float:
        """Clock time the pauses took between ``start`` and ``now``."""
        return self.calendar.elapsed_seconds(start, now) - self.active(start, now) if now > start else 0.0

    def at(self, start: float, amount: float) -> float | None:
        if amount <= 0:
            return start                  # no clock time has to run: due at once, paused or not
        t, remaining = start, amount
        for p in self.pauses:
            if p.end is not None and p.end <= t:
                continue
            if p.start > t:
                available = self.calendar.elapsed_seconds(t, p.start)
                if available >= remaining:
                    return self.calendar.add_seconds(t, remaining)
                remaining -= available
            if p.end is None:
                return None
            t = max(t, p.end)
        return self.calendar.add_seconds(t, remaining)


def merged(pauses: list[Pause]) -> list[Pause]:
    """``pauses`` sorted by start, overlapping or touching ones joined (the first one's status
    names the joined pause; an open-ended pause swallows every later one)."""
    ordered = sorted(pauses, key=lambda p: p.start)
    out = [ordered[0]]
    for p in ordered[1:]:
        last = out[-1]
        if last.end is not None and p.start > last.end:
            out.append(p)
        elif last.end is not None and (p.end is None or p.end > last.end):
            out[-1] = Pause(last.start, p.end, last.status)
    return out


def pauses_of(conversation: Conversation, events: list, paused: Collection[Status]) -> list[Pause]:
    """Pauses of one conversation from its status events (sorted by time), reconciled with its
    current status: a conversation paused now without an event is paused since ``updated_at``."""
    if not paused:
        return []
    out: list[Pause] = []
    since: float | None = None
    status_name = ""
    last = None
    for e in events:
        if e.type is not EventKind.STATUS or e.created_at is None:
            continue
        last = e.created_at.timestamp()
        try:
            to = Status(e.to_value)
        except ValueError:
            continue
        if to in paused and since is None:
            since, status_name = last, to.value
        elif to not in paused and since is not None:
            out.append(Pause(since, last, status_name))
            since = None
    current_paused = conversation.status in paused
    if since is not None and not current_paused:
        end = conversation.updated_at.timestamp() if conversation.updated_at else last
        out.append(Pause(since, max(end or since, since), status_name))
    elif since is not None:
        out.append(Pause(since, None, status_name))
    elif current_paused:
        at = conversation.updated_at or conversation.created_at
        if at is not None and (last is None or at.timestamp() >= last):
            out.append(Pause(at.timestamp(), None, conversation.status.value))
    return out


def conversation_pauses(history, conversation: Conversation, paused: Collection[Status]) -> list[Pause]:
    """``pauses_of`` the conversation in ``history``, computed once per history and set of paused
    statuses (the list is shared: do not modify it)."""
    key = ("pauses", conversation.source, conversation.external_id, frozenset(paused))
    return history.memoized(key, lambda: pauses_of(
        conversation, history.grouped("events").get((conversation.source, conversation.external_id), []), paused))
