"""Test support: a brute-force oracle for the business clock, open or closed one UTC minute at a time.

It states what docs/rules.md ("The clock") says a calendar and a clock do, in the most direct way
there is, so ``careplug.calendar.BusinessCalendar`` and ``careplug.rules.clock.Clock`` can be
checked against it. The semantics it encodes:

- Weekly hours are wall-clock intervals ``[a, b)`` in minutes after local midnight, per local
  weekday; ``b`` may be 1440, the end of the local day.
- A local date is closed all day when it is a holiday: a company holiday (``holidays``) or a public
  holiday of ``country`` and ``subdivision`` (the ``holidays`` package), unless it is one of
  ``open_dates``.
- On a local day ``d`` that is not a holiday, an interval ``[a, b)`` is open from ``T(a)`` to
  ``T(b)``: ``T(x)`` is the first instant of day ``d`` at which the wall clock reads ``x`` or later
  (``T(1440)`` is the end of the day). So an opening or closing time the spring-forward gap skips
  takes effect at the jump, and one in the repeated fall-back hour at its first occurrence.
- Business time is real seconds of open time.
- A pause ``(start, end)`` covers ``[start, end)``; ``end`` None means still paused. A clock runs in
  open time no pause covers; an instant several pauses cover is paused once.
- ``due(start, amount)`` is the earliest instant ``t >= start`` with ``amount`` of clock time in
  ``[start, t)``: ``start`` itself when ``amount <= 0``, None when a pause still open stops the
  clock before then.

How: every UTC offset of a modern zone is whole minutes and every opening time is whole local
minutes, so open or closed is the same all through each UTC minute. The oracle reads each UTC
minute's local date and wall-clock time, marks the minutes open, and integrates exactly. A due time
is found by bisecting clock time, not by walking the calendar the way careplug does.

Instants are epoch seconds (floats). The oracle covers local days ``first`` to ``last``; asking
about an instant outside raises ``OutsideWindow``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

import holidays as holidays_lib

__all__ = ["MinuteOracle", "OutsideWindow", "offset_changes"]

Weekly = Sequence[Sequence[tuple[int, int]]]       # Monday first: [(start minute, end minute), ...]
Pauses = Iterable[tuple[float, float | None]]

_PRECISION = 1e-5           # seconds: how closely a due time is bisected
_SLACK = 1e-6               # seconds of clock time rounding may lose in a sum of float spans


class OutsideWindow(ValueError):
    """An instant the oracle was not built to cover."""


def offset_changes(zone: ZoneInfo, start: float, end: float) -> list[float]:
    """Epoch seconds in ``[start, end)`` at which ``zone``'s UTC offset changes (whole minutes)."""
    out = []
    hour = int(start) // 3600 * 3600
    while hour < end:
        if _offset(zone, hour) != _offset(zone, hour + 3600):
            minute = next(m for m in range(hour + 60, hour + 3601, 60) if _offset(zone, m) != _offset(zone, hour))
            if start <= minute < end:
                out.append(float(minute))
        hour += 3600
    return out


def _offset(zone: ZoneInfo, ts: float) -> timedelta:
    return datetime.fromtimestamp(ts, zone).utcoffset()


class MinuteOracle:
    def __init__(self, zone: str, weekly: Weekly, *, first: date, last: date, country: str | None = None,
                 subdivision: str | None = None, holidays: Iterable[date] = (),
                 open_dates: Iterable[date] = ()):
        self.zone = ZoneInfo(zone)
        self.weekly = weekly
        self.closed_dates = self._public_holidays(country, subdivision, first, last) | set(holidays)
        self.open_dates = set(open_dates)
        self.start = datetime(first.year, first.month, first.day, tzinfo=self.zone).timestamp()
        self.end = datetime(last.year, last.month, last.day, tzinfo=self.zone).timestamp() + 86400
        self.m0 = int(self.start) // 60 - 2 * 1440        # two days more either side: every day inside is whole
        minutes = range(self.m0, int(self.end) // 60 + 2 * 1440)
        self.open = self._open_minutes([_wall(self.zone, m) for m in minutes])
        self.before = [0, *accumulate(self.open)]     # before[i]: open minutes among the first i

    @staticmethod
    def _public_holidays(country: str | None, subdivision: str | None, first: date, last: date) -> set[date]:
        """Public holidays around the window (a neighbouring year's list may hold a day observed in this one)."""
        if not country:
            return set()
        years = range(first.year - 1, last.year + 2)
        return set(holidays_lib.country_holidays(country, subdiv=subdivision, years=years))

    def is_holiday(self, day: date) -> bool:
        return day not in self.open_dates and day in self.closed_dates

    def _open_minutes(self, local: list[tuple[date, int]]) -> list[int]:
        """1 for each UTC minute (from ``m0``) that is open, else 0: local = (date, wall minute) of each."""
        open_ = [0] * len(local)
        for day, minutes in _days(local):
            if self.is_holiday(day):
                continue
            for a, b in self.weekly[day.weekday()]:
                for i in range(_first_reading(local, minutes, a), _first_reading(local, minutes, b)):
                    open_[i] = 1
        return open_

    # --- the calendar ---------------------------------------------------------------------------

    def _minute(self, ts: float) -> int:
        if not self.start <= ts <= self.end:
            raise OutsideWindow(f"{ts} is outside the oracle's window [{self.start}, {self.end}]")
        return int(ts // 60) - self.m0

    def is_open(self, ts: float) -> bool:
        return bool(self.open[self._minute(ts)])

    def _open_until(self, ts: float) -> float:
        """Open seconds from the oracle's first minute to ``ts``."""
        i = self._minute(ts)
        return 60 * self.before[i] + self.open[i] * (ts - (self.m0 + i) * 60)

    def elapsed(self, a: float, b: float) -> float:
        """Open seconds in ``[a, b)``."""
        return self._open_until(b) - self._open_until(a) if b > a else 0.0

    def next_open(self, ts: float) -> float:
        """``ts`` when open, else the start of the first open minute after it."""
        i = self._minute(ts)
        if self.open[i]:
            return ts
        j = next((j for j in range(i, len(self.open)) if self.open[j]), len(self.open))
        opening = float((self.m0 + j) * 60)
        if opening > self.end:
            raise OutsideWindow(f"no opening after {ts} in the oracle's window")
        return opening

    def add(self, a: float, seconds: float) -> float:
        return self.due(a, seconds)

    # --- the clock ------------------------------------------------------------------------------

    def active(self, a: float, b: float, pauses: Pauses = ()) -> float:
        """Open seconds in ``[a, b)`` that no pause covers."""
        return sum(self.elapsed(x, y) for x, y in _unpaused(a, b, list(pauses)))

    def paused(self, a: float, b: float, pauses: Pauses) -> float:
        """Open seconds in ``[a, b)`` that a pause covers."""
        return self.elapsed(a, b) - self.active(a, b, pauses)

    def due(self, a: float, amount: float, pauses: Pauses = ()) -> float | None:
        """The earliest ``t >= a`` with ``amount`` of clock time in ``[a, t)`` (see the module)."""
        if amount <= 0:
            return a
        pauses = list(pauses)
        stop = min((s for s, e in pauses if e is None), default=None)    # the clock stops for good
        hi = self.end if stop is None else max(a, min(stop, self.end))
        if not self._reached(a, hi, amount, pauses):
            if stop is not None and stop <= self.end:
                return None
            raise OutsideWindow(f"{amount}s of clock time from {a} run past the oracle's window")
        lo = a
        while hi - lo > _PRECISION:
            mid = (lo + hi) / 2
            if self._reached(a, mid, amount, pauses):
                hi = mid
            else:
                lo = mid
        return hi

    def _reached(self, a: float, t: float, amount: float, pauses: list) -> bool:
        return self.active(a, t, pauses) >= amount - _SLACK


def _wall(zone: ZoneInfo, minute: int) -> tuple[date, int]:
    """The local date and wall-clock minute of the day at UTC ``minute`` (minutes since the epoch)."""
    t = datetime.fromtimestamp(minute * 60, zone)
    return t.date(), t.hour * 60 + t.minute


def _days(local: list[tuple[date, int]]):
    """(local date, indexes of its minutes) of each whole local day (the first and last are cut)."""
    runs: list[tuple[date, range]] = []
    start = 0
    for i in range(1, len(local) + 1):
        if i == len(local) or local[i][0] != local[start][0]:
            runs.append((local[start][0], range(start, i)))
            start = i
    assert len({day for day, _ in runs}) == len(runs), "a local day is one run of minutes"
    return runs[1:-1]


def _first_reading(local: list[tuple[date, int]], minutes: range, wall: int) -> int:
    """Index of the first minute of a day whose wall clock reads ``wall`` or later (the day's end if none)."""
    return next((i for i in minutes if local[i][1] >= wall), minutes.stop)


def _unpaused(a: float, b: float, pauses: list[tuple[float, float | None]]) -> list[tuple[float, float]]:
    """``[a, b)`` cut at every pause's ends, without the pieces a pause covers."""
    if b <= a:
        return []
    cuts = sorted({a, b, *(x for p in pauses for x in p if x is not None and a < x < b)})
    pieces = zip(cuts, cuts[1:])
    return [(x, y) for x, y in pieces if not any(_covers(p, (x + y) / 2) for p in pauses)]


def _covers(pause: tuple[float, float | None], ts: float) -> bool:
    start, end = pause
    return start <= ts and (end is None or ts < end)
