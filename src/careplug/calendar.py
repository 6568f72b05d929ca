"""Business calendars: when a team is open, and how much open time lies between two instants.

A calendar is weekly opening hours in one time zone (any number of intervals per day), minus
holidays (the ``holidays`` package by country and subdivision, plus custom dates). Times are
wall-clock times in the calendar's zone, so an interval 09:00-17:00 is 8 real hours every day,
and an interval 00:00-24:00 is 23 or 25 real hours on a DST change day: ``elapsed`` counts real
seconds of open time, exactly.

Speed: each local day's open intervals are computed once (as UTC epoch seconds) and a running
total of open seconds per day is kept, so ``elapsed`` is two lookups and a subtraction and ``add``
a binary search, whatever the span.

Configured as ``[calendars.NAME]`` in careplug.toml::

    [calendars.support]
    timezone = "America/New_York"
    hours = { mon-fri = "09:00-12:00, 13:00-17:00", sat = "10:00-14:00" }
    country = "US"
    subdivision = "NY"
    holidays = ["2026-12-24"]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from bisect import bisect_left
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
from typing import Annotated, Any

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator,
                      model_validator)

__all__ = ["CalendarOptions", "BusinessCalendar", "DAYS"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DAY_SPAN = 400           # days of running totals computed at once
_UTC = timezone.utc
NAMED_DAYS = {"weekdays": "mon-fri", "weekend": "sat-sun", "daily": "mon-sun", "everyday": "mon-sun"}
"""The ``hours`` keys that name several days, besides a day (``mon``) and a range (``mon-fri``)."""
CLOSED = ("", "closed", "off")
"""Opening hours that mean closed all day."""
ALL_DAY = ("24h", "all day", "open")
"""Opening hours that mean open all day (00:00-24:00)."""


def _parse_day_key(key: str) -> list[int]:
    """``"mon"`` -> [0]; ``"mon-fri"`` -> [0..4]; ``"weekdays"``/``"weekend"``/``"daily"``."""
    k = key.strip().lower()
    k = NAMED_DAYS.get(k, k)
    if "-" in k:
        a, _, b = k.partition("-")
        if a not in DAYS or b not in DAYS:
            raise ValueError(f"unknown day range {key!r}: use mon..sun, e.g. 'mon-fri'")
        i, j = DAYS.index(a), DAYS.index(b)
        if j < i:
            raise ValueError(f"day range {key!r} runs backwards")
        return list(range(i, j + 1))
    if k not in DAYS:
        raise ValueError(f"unknown day {key!r}: use mon, tue, wed, thu, fri, sat, sun, a range 'mon-fri', "
                         "'weekdays', 'weekend' or 'daily'")
    return [DAYS.index(k)]


def _parse_intervals(value: str | list[str]) -> list[tuple[int, int]]:
    """``"09:00-12:00, 13:00-17:00"`` -> [(540, 720), (780, 1020)] (minutes); "closed" -> []."""
    parts = value if isinstance(value, list) else [p for p in value.split(",")]
    out: list[tuple[int, int]] = []
    for part in parts:
        p = part.strip().lower()
        if p in CLOSED:
            continue
        if p in ALL_DAY:
            out.append((0, 1440))
            continue
        m = _INTERVAL.match(p)
        if not m:
            raise ValueError(f"bad opening hours {part!r}: write 'HH:MM-HH:MM' (e.g. '09:00-17:00'), "
                             "several separated by commas, '24h' or 'closed'")
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 1440 or h2 > 24:
            raise ValueError(f"bad time in {part!r}: hours 00-24, minutes 00-59, at most 24:00")
        if end <= start:
            raise ValueError(f"interval {part!r} ends before it starts (overnight hours: split at 24:00)")
        out.append((start, end))
    out.sort()
    for (a1, b1), (a2, _b2) in zip(out, out[1:]):
        if a2 < b1:
            raise ValueError(f"opening hours {value!r} overlap")
    return out


def _day_key(key: str) -> str:
    _parse_day_key(key)
    return key


def _intervals(value: str | list[str]) -> str | list[str]:
    _parse_intervals(value)
    return value


def _intervals_shape(value: Any) -> Any:
    """Opening hours are a string or a list of strings; anything else is one problem saying so
    (not one per member of ``str | list[str]``)."""
    if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return value
    got = next((v for v in value if not isinstance(v, str)), None) if isinstance(value, list) else value
    where = " in the list" if isinstance(value, list) else ""
    raise ValueError(f'opening hours are a string like "09:00-17:00" (several: "09:00-12:00, 13:00-17:00") '
                     f'or a list of them like ["09:00-12:00", "13:00-17:00"]; got {got!r}{where}')


DayKey = Annotated[str, AfterValidator(_day_key)]
Intervals = Annotated[str | list[str], BeforeValidator(_intervals_shape), AfterValidator(_intervals)]


def _close(value: str, options: list[str]) -> str:
    import difflib

    upper = [o for o in options if o.upper() == value.upper()]
    close = upper or difflib.get_close_matches(value.upper(), options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _subdivision_aliases(country: str) -> list[str]:
    """The names the ``holidays`` package also takes for a country's subdivisions ("England" for GB)."""
    try:
        return list(getattr(holidays_lib.country_holidays(country, years=2000), "subdivisions_aliases", None) or ())
    except Exception:  # an unknown country is reported on its own key
        return []


class CalendarOptions(BaseModel):
    """``[calendars.NAME]``: opening hours, time zone and holidays of one team."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    hours: dict[DayKey, Intervals] = {"mon-fri": "09:00-17:00"}
    """Day (``mon``), range (``mon-fri``), ``weekdays``, ``weekend`` or ``daily`` -> intervals.
    A day not named is closed; a later key overrides an earlier one for the days it names."""
    country: str | None = None
    """Public holidays of this country (ISO code, as the ``holidays`` package names it)."""
    subdivision: str | None = None
    """State, province or region for regional holidays (``holidays`` ``subdiv``)."""
    holidays: list[date] = []
    """Extra closed dates (company holidays)."""
    open_dates: list[date] = []
    """Dates open despite a public holiday (weekly hours apply)."""
    groups: list[str] = []
    """Teams whose conversations count on this calendar: conversation groups as the sources name
    them (``billing``, a Zendesk group id), matched in any case. A rule that names its own
    ``calendar`` counts every conversation on that one; a conversation of no listed group counts on
    the ``default`` calendar."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}: use an IANA name such as 'Europe/Berlin'") from None
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        """Every entry is checked on its own (all bad entries are reported at once); then the week
        must have some open time, or every clock on this calendar could never run."""
        week: list[list[tuple[int, int]]] = [[] for _ in DAYS]
        for key, value in v.items():
            for day in _parse_day_key(key):
                week[day] = _parse_intervals(value)
        if not any(week):
            raise ValueError("this calendar is never open, so no target on it could ever fall due: give "
                             "opening hours, e.g. hours = { mon-fri = \"09:00-17:00\" }, or use "
                             "calendar = \"always\" in the rule for round-the-clock time")
        return v

    @field_validator("country")
    @classmethod
    def _known_country(cls, v: str | None) -> str | None:
        if v is None:
            return v
        supported = holidays_lib.list_supported_countries()
        if v not in supported:
            raise ValueError(f"the holidays package knows no country {v!r}{_close(v, sorted(supported))}: "
                             "use an ISO 3166 code such as 'US' or 'DE'")
        return v

    @field_validator("subdivision")
    @classmethod
    def _known_subdivision(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and "country" in info.data and not info.data["country"]:
            raise ValueError(f"subdivision {v!r} needs a country (e.g. country = \"US\" for subdivision = \"NY\")")
        country = info.data.get("country")
        if v is None or not country:          # no country, or a bad one already reported
            return v
        subdivisions = list(holidays_lib.list_supported_countries().get(country, []))
        if v not in subdivisions and v not in _subdivision_aliases(country):     # "England" for GB: an alias
            listed = ", ".join(subdivisions) if subdivisions else "none"
            raise ValueError(f"the holidays package knows no subdivision {v!r} of {country}"
                             f"{_close(v, subdivisions)}; {country}'s subdivisions: {listed}")
        return v

    @model_validator(mode="after")
    def _country(self) -> "CalendarOptions":
        if self.country:
            try:
                holidays_lib.country_holidays(self.country, subdiv=self.subdivision, years=2000)
            except Exception as exc:  # what the checks above did not foresee
                raise ValueError(f"holidays for {self.country!r}/{self.subdivision!r}: {exc}") from None
        return self

    def weekly(self) -> list[list[tuple[int, int]]]:
        """Opening intervals in minutes after local midnight, Monday first."""
        week: list[list[tuple[int, int]]] = [[] for _ in DAYS]
        for key, value in self.hours.items():
            intervals = _parse_intervals(value)
            for day in _parse_day_key(key):
                week[day] = intervals
        return week


class BusinessCalendar:
    """Open time of one team. All datetimes in and out are aware; results are in UTC.

    ``elapsed(a, b)`` is the open time between two instants (zero when ``b <= a``);
    ``add(a, d)`` the earliest instant with ``d`` of open time since ``a`` (``a`` itself for zero);
    ``is_open(t)``; ``next_open(t)`` (``t`` when open, else the next opening).
    """

    def __init__(self, tz: ZoneInfo | str = "UTC", weekly: list[list[tuple[int, int]]] | None = None,
                 *, country: str | None = None, subdivision: str | None = None,
                 closed_dates: list[date] = (), open_dates: list[date] = (), always: bool = False,
                 name: str | None = None, groups: Iterable[str] = ()):
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self.name = name
        self.groups = frozenset(g.lower() for g in groups)     # the teams it counts for (``groups``)
        self.weekly = weekly if weekly is not None else [[(540, 1020)]] * 5 + [[], []]
        self.country = country
        self.subdivision = subdivision
        self._closed = {d.toordinal() for d in closed_dates}
        self._open = {d.toordinal() for d in open_dates}
        self._always = always
        self._holiday_years: dict[int, set[int]] = {}
        self._base = 0                    # ordinal of the first day with a running total
        self._cum: list[float] = []       # _cum[i]: open seconds in days [_base, _base + i)
        self._days: list[tuple[tuple[float, float], ...]] = []   # intervals of day _base + i
        self._starts: list[float] = []    # UTC epoch of local midnight of day _base + i

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def from_options(cls, opts: CalendarOptions, name: str | None = None) -> "BusinessCalendar":
        return cls(opts.timezone, opts.weekly(), country=opts.country, subdivision=opts.subdivision,
                   closed_dates=opts.holidays, open_dates=opts.open_dates, name=name, groups=opts.groups)

    @classmethod
    def always(cls) -> "BusinessCalendar":
        """Open 24/7 in UTC: business time is wall time."""
        return cls("UTC", [[(0, 1440)]] * 7, always=True, name="always")

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.name or self.tz.key!r})"

    # --- days ---------------------------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        o = day.toordinal()
        if o in self._open:
            return False
        if o in self._closed:
            return True
        if not self.country:
            return False
        year = self._holiday_years.get(day.year)
        if year is None:
            hol = holidays_lib.country_holidays(self.country, subdiv=self.subdivision, years=day.year)
            year = self._holiday_years[day.year] = {d.toordinal() for d in hol if d.year == day.year}
        return o in year

    def _midnight(self, ordinal: int) -> float:
        d = date.fromordinal(ordinal)
        return datetime(d.year, d.month, d.day, tzinfo=self.tz).timestamp()

    def _day_intervals(self, ordinal: int, midnight: float) -> tuple[tuple[float, float], ...]:
        d = date.fromordinal(ordinal)
        spans = self.weekly[d.weekday()]
        if not spans or self.is_holiday(d):
            return ()
        out = []
        for a, b in spans:
            start = self._at(d, a, midnight)
            end = self._at(d, b, midnight)
            if end > start:
                out.append((start, end))
        return tuple(out)

    def _at(self, d: date, minute: int, midnight: float) -> float:
        if minute == 0:
            return midnight
        if minute >= 1440:
            return self._midnight(d.toordinal() + 1)
        wall = datetime(d.year, d.month, d.day, minute // 60, minute % 60, tzinfo=self.tz)
        ts = wall.timestamp()
        if datetime.fromtimestamp(ts, self.tz).replace(tzinfo=None) != wall.replace(tzinfo=None):
            return self._jump(wall)
        return ts

    def _jump(self, wall: datetime) -> float:
        """The instant the clocks jump over ``wall``, a time the spring-forward gap skips: the first
        instant the wall clock reads ``wall`` or later (an opening or closing time in the gap takes
        effect then; Python's ``fold=0`` would put it up to the gap's length later)."""
        lo, hi = wall.replace(fold=1).timestamp(), wall.timestamp()   # before / after the jump
        after = datetime.fromtimestamp(hi, self.tz).utcoffset()
        while hi - lo > 0.5:
            mid = (lo + hi) / 2
            if datetime.fromtimestamp(mid, self.tz).utcoffset() == after:
                hi = mid
            else:
                lo = mid
        return float(round(hi))

    def _ensure(self, ordinal: int) -> int:
        """Make running totals cover ``ordinal``; return its index."""
        if not self._cum:
            self._base = ordinal - 31
            self._cum = [0.0]
            self._starts = [self._midnight(self._base)]
            self._days = []
        if ordinal < self._base:
            old_end = self._base + len(self._days)
            self._base, self._cum, self._days, self._starts = ordinal - _DAY_SPAN, [0.0], [], []
            self._starts = [self._midnight(self._base)]
            self._extend(old_end)
        if ordinal >= self._base + len(self._days):
            self._extend(ordinal + _DAY_SPAN)
        return ordinal - self._base

    def _extend(self, until: int) -> None:
        o = self._base + len(self._days)
        total = self._cum[-1]
        midnight = self._starts[-1]
        while o <= until:
            nxt = self._midnight(o + 1)
            intervals = self._day_intervals(o, midnight)
            self._days.append(intervals)
            total += sum(b - a for a, b in intervals)
            self._cum.append(total)
            self._starts.append(nxt)
            midnight = nxt
            o += 1

    def _index(self, ts: float) -> int:
        """Index of the local day holding epoch ``ts``."""
        ordinal = datetime.fromtimestamp(ts, self.tz).toordinal()
        return self._ensure(ordinal)

    def _position(self, ts: float) -> float:
        """Open seconds from the start of the table to ``ts``."""
        i = self._index(ts)
        pos = self._cum[i]
        for a, b in self._days[i]:
            if ts <= a:
                break
            pos += (b if ts >= b else ts) - a
        return pos

    # --- the API ------------------------------------------------------------------------------

    @property
    def counts_wall_time(self) -> bool:
        """Whether this is the round-the-clock calendar (``calendar = "always"``): its durations
        are wall time, and a day is a day."""
        return self._always

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Open time between ``start`` and ``end`` (zero when ``end <= start``)."""
        a, b = start.timestamp(), end.timestamp()
        if b <= a:
            return timedelta(0)
        if self._always:
            return timedelta(seconds=b - a)
        return timedelta(seconds=self.elapsed_seconds(a, b))

    def elapsed_seconds(self, a: float, b: float) -> float:
        """``elapsed`` on epoch seconds (the rules' hot path)."""
        if b <= a:
            return 0.0
        if self._always:
            return b - a
        start = self._position(a)      # first: reaching back before the table rebuilds it, which
        return self._position(b) - start   # would make an earlier-computed position meaningless

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant with ``duration`` of open time since ``start``."""
        return datetime.fromtimestamp(self.add_seconds(start.timestamp(), duration.total_seconds()), _UTC)

    def add_seconds(self, a: float, seconds: float) -> float:
        """``add`` on epoch seconds."""
        if seconds <= 0:
            return a
        if self._always:
            return a + seconds
        target = self._position(a) + seconds
        # the first day whose running total at its end reaches the target
        while target > self._cum[-1]:
            self._extend(self._base + len(self._days) + _DAY_SPAN)
            if len(self._days) > 366 * 200:
                raise ValueError(f"{self!r} is never open: cannot add business time")
        i = bisect_left(self._cum, target) - 1
        i = max(i, 0)
        remaining = target - self._cum[i]
        for s, e in self._days[i]:
            if remaining <= e - s:
                return s + remaining
            remaining -= e - s
        # rounding: the target sits at the very end of day i
        return self._days[i][-1][1] if self._days[i] else self._starts[i + 1]

    def is_open(self, dt: datetime) -> bool:
        if self._always:
            return True
        ts = dt.timestamp()
        i = self._index(ts)
        return any(a <= ts < b for a, b in self._days[i])

    def next_open(self, dt: datetime) -> datetime:
        """``dt`` when open, else the next opening."""
        if self._always:
            return dt.astimezone(_UTC)
        ts = dt.timestamp()
        i = self._index(ts)
        for _ in range(366 * 10):
            for a, b in self._days[i]:
                if ts < b:
                    return datetime.fromtimestamp(max(a, ts), _UTC)
            i += 1
            if i >= len(self._days):
                self._extend(self._base + i + _DAY_SPAN)
        raise ValueError(f"{self!r} is never open")

    def local(self, dt: datetime) -> datetime:
        """``dt`` in the calendar's zone."""
        return dt.astimezone(self.tz)

    def end_of_day(self, dt: datetime) -> datetime:
        """The close of the last open interval on ``dt``'s local day (or the next open day's)."""
        ts = dt.timestamp()
        i = self._index(ts)
        for _ in range(366 * 10):
            if self._days[i]:
                return datetime.fromtimestamp(self._days[i][-1][1], _UTC)
            i += 1
            if i >= len(self._days):
                self._extend(self._base + i + _DAY_SPAN)
        raise ValueError(f"{self!r} is never open")
