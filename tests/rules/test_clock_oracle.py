"""The business calendar and the rule clock agree with a minute-by-minute oracle (``clock_oracle``).

Each case is a seeded random calendar in one zone, around one of the zone's offset changes, a
public holiday or a new year: weekly hours with several intervals a day, touching intervals, 24h
days and closed days; public holidays of the zone's country (and subdivision), company holidays and
open dates. Instants are drawn near transitions, midnights and opening and closing times, or
anywhere, to the minute or not. A failure prints what reproduces it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import pytest

from careplug.calendar import DAYS, BusinessCalendar, CalendarOptions
from careplug.rules.clock import Clock, Pause

from clock_oracle import MinuteOracle, OutsideWindow, offset_changes

UTC = timezone.utc
ZONES = {        # a zone and the country (subdivision) whose public holidays a calendar there may take
    "America/New_York": ("US", "NY"),
    "Europe/London": ("GB", "ENG"),            # DST at 01:00 UTC
    "Europe/Berlin": ("DE", "BE"),             # Berlin's own holidays (8 March)
    "Australia/Lord_Howe": ("AU", "NSW"),      # half-hour DST
    "Pacific/Chatham": ("NZ", "CIT"),          # +12:45 / +13:45
    "America/St_Johns": ("CA", "NL"),          # -03:30 / -02:30
    "Asia/Kathmandu": ("NP", None),            # +05:45, no DST
    "Africa/Casablanca": ("MA", None),         # an hour back for Ramadan
    "America/Santiago": ("CL", None),          # clocks change at midnight
    "America/Havana": ("CU", None),            # midnight to 01:00: a day without a midnight
}
SEEDS = (1, 2)
CASES = [pytest.param(seed, zone, id=f"{seed}-{zone}") for seed in SEEDS for zone in ZONES]
PAUSE_CASES = [pytest.param(*p.values, shape, id=f"{p.id}-{shape}")
               for p in CASES for shape in ("clean", "overlapping", "unordered", "open_ended")]
QUERIES = 40             # draws per test
SPAN = 7                 # queries fall within SPAN local days of the case's focus day
TOLERANCE = 1e-3         # seconds


# --- cases ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    seed: int
    options: dict                  # CalendarOptions keywords
    oracle: MinuteOracle
    lo: float                      # queries fall in [lo, hi]
    hi: float
    near: tuple[float, ...]        # instants worth asking about: transitions, midnights, openings

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.options["timezone"])

    def calendar(self) -> BusinessCalendar:
        """A new calendar (its tables start from the first query, as in a run)."""
        return BusinessCalendar.from_options(CalendarOptions(**self.options))

    def rng(self, test: str) -> random.Random:
        return random.Random(f"{self.seed}-{self.options['timezone']}-{test}")


@cache
def case(seed: int, zone: str) -> Case:
    r, tz = random.Random(f"{seed}-{zone}"), ZoneInfo(zone)
    year = 2025 + seed
    country, subdivision = ZONES[zone]
    public = sorted(holidays_lib.country_holidays(country, subdiv=subdivision, years=year))
    focus = _focus(r, tz, year, public)
    options, weekly = _hours(r, focus.weekday(), _walls_at_changes(tz, focus))
    options["timezone"] = zone
    if r.random() < 0.75:
        options["country"] = country
        if subdivision and r.random() < 0.8:
            options["subdivision"] = subdivision
    near_public = [d for d in public if abs((d - focus).days) <= SPAN] if "country" in options else []
    options["holidays"] = [focus + timedelta(days=r.randint(-SPAN, SPAN)) for _ in range(r.choice([0, 1, 3]))]
    options["open_dates"] = [focus + timedelta(days=r.randint(-SPAN, SPAN)) for _ in range(r.choice([0, 1]))]
    options["open_dates"] += r.sample(near_public, min(len(near_public), r.choice([0, 1])))
    oracle = MinuteOracle(zone, weekly, first=focus - timedelta(days=SPAN + 3), last=focus + timedelta(days=4 * SPAN),
                          country=options.get("country"), subdivision=options.get("subdivision"),
                          holidays=options["holidays"], open_dates=options["open_dates"])
    lo, hi = (_midnight(focus + timedelta(days=k), tz) for k in (-SPAN, SPAN))
    return Case(seed, options, oracle, lo, hi, tuple(_near(tz, weekly, focus, lo, hi)))


def _focus(r: random.Random, zone: ZoneInfo, year: int, public: list[date]) -> date:
    """A day with an offset change (most often), a public holiday, or the new year."""
    start, end = _midnight(date(year, 1, 1), zone), _midnight(date(year + 1, 1, 1), zone)
    changes = [datetime.fromtimestamp(t, zone).date() for t in offset_changes(zone, start, end)]
    k = r.random()
    if changes and k < 0.6:
        return r.choice(changes)
    if k < 0.9:
        return r.choice(public)
    return date(year, 12, 31)


def _midnight(day: date, zone: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def _walls_at_changes(zone: ZoneInfo, day: date) -> list[int]:
    """Wall-clock minutes at which the clocks change around ``day``: the reading they leave, the
    one they jump to, and the middle of the hour skipped or repeated."""
    out = set()
    for t in offset_changes(zone, _midnight(day - timedelta(days=1), zone), _midnight(day + timedelta(days=2), zone)):
        before, after = (datetime.fromtimestamp(x, zone) for x in (t - 60, t))
        leave, reach = before.hour * 60 + before.minute + 1, after.hour * 60 + after.minute
        out |= {leave, reach} | ({(leave + reach) // 2} if abs(leave - reach) <= 120 else set())
    return sorted(out)


BOUNDS = [0, 30, 60, 90, 120, 150, 180, 240, 360, 540, 600, 720, 780, 1020, 1080, 1320, 1380, 1410, 1440]


def _day(r: random.Random, kind: str, hot: list[int] = ()) -> tuple[str | list[str], list[tuple[int, int]]]:
    """Opening hours of one kind of day, as written in careplug.toml and as minutes; a ``split``
    day opens and closes at ``hot`` minutes more often than at others."""
    if kind == "closed":
        return r.choice(["closed", ""]), []
    if kind == "24h":
        return r.choice(["24h", "00:00-24:00"]), [(0, 1440)]
    points = sorted({_point(r, hot) for _ in range(2 * r.choice([1, 2, 3]))})
    if len(points) < 2:
        points = [540, 1020]
    spans: list[tuple[int, int]] = []
    i = 0
    while i + 1 < len(points):
        spans.append((points[i], points[i + 1]))
        i += 2 if r.random() < 0.7 else 1           # else the next interval starts where this one ends
    text = [f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in spans]
    return (", ".join(text) if r.random() < 0.7 else text), spans


def _point(r: random.Random, hot: list[int]) -> int:
    return r.choice(hot) if hot and r.random() < 0.6 else r.choice(BOUNDS + [r.randrange(0, 1441, 15)])


def _hours(r: random.Random, busy: int, hot: list[int]) -> tuple[dict, list[list[tuple[int, int]]]]:
    """``hours`` options, and the weekly intervals they mean (written here, not parsed by careplug).
    Weekday ``busy`` (the clocks change that day when ``hot`` lists when) most often opens or
    closes when they change."""
    if r.random() < 0.4:
        weekdays, spans = _day(r, "split")
        saturday, sat_spans = _day(r, r.choice(["closed", "24h", "split"]))
        hours, weekly = {"mon-fri": weekdays, "sat": saturday}, [spans] * 5 + [sat_spans, []]
    else:
        kinds = ["24h", "split", "split", "closed", *r.choices(["24h", "split", "closed"], k=3)]
        r.shuffle(kinds)
        days = [_day(r, kind) for kind in kinds]
        hours, weekly = {name: text for name, (text, _) in zip(DAYS, days)}, [spans for _, spans in days]
    if hot and r.random() < 0.8:
        hours[DAYS[busy]], weekly[busy] = _day(r, "split", hot)     # a later key overrides "mon-fri"
    return {"hours": hours}, weekly


def _near(zone: ZoneInfo, weekly, focus: date, lo: float, hi: float) -> list[float]:
    out = []
    for t in offset_changes(zone, lo, hi):
        out += [t + d for d in (0, -60, 60, -1800, 1800, -3600, 3600)]
    for k in range(-SPAN, SPAN + 1):
        day = focus + timedelta(days=k)
        out += [_midnight(day, zone) + d for d in (0, -60, 60)]
        for minute in {m for span in weekly[day.weekday()] for m in span if m < 1440}:
            wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
            out += [wall.timestamp(), wall.replace(fold=1).timestamp()]
    return sorted(t for t in set(out) if lo <= t <= hi)


def instant(r: random.Random, c: Case) -> float:
    """An instant near something that happens, or anywhere; on the minute or not."""
    k = r.random()
    if k < 0.55:
        t = r.choice(c.near)
    elif k < 0.9:
        t = r.randrange(int(c.lo), int(c.hi)) // 60 * 60
    else:
        t = r.uniform(c.lo, c.hi)
    if r.random() < 0.1:
        t += r.choice([-1, 1, 0.5, 30])
    return float(min(max(t, c.lo), c.hi))


def pauses(r: random.Random, c: Case, shape: str) -> list[Pause]:
    """Pauses around the queries: sorted and apart (``clean``, some touching), ``overlapping`` (one
    repeated), ``unordered``, or ``open_ended`` (the last one still paused, another inside it)."""
    ends = sorted(instant(r, c) + r.choice([-86400, 0, 0, 86400]) for _ in range(2 * r.randint(1, 4)))
    spans = [[ends[i], ends[i + 1]] for i in range(0, len(ends), 2)]
    for before, after in zip(spans, spans[1:]):
        if r.random() < 0.25:
            after[0] = before[1]
    if shape == "overlapping":
        start, end = r.choice(spans)
        spans += [[r.uniform(start, end), end + r.uniform(0, 86400)], [start, end]]
        spans.sort()
    elif shape == "unordered":
        r.shuffle(spans)
    elif shape == "open_ended":
        spans[-1][1] = None
        spans.append([spans[-1][0] + r.uniform(0, 86400), None if r.random() < 0.5 else spans[-1][0] + 86400 * 2])
        r.shuffle(spans)
    return [Pause(start, end, r.choice(["pending", "on_hold"])) for start, end in spans]


def spans_of(ps: list[Pause]) -> list[tuple[float, float | None]]:
    return [(p.start, p.end) for p in ps]


# --- checking -------------------------------------------------------------------------------------

def when(c: Case, ts: float | None) -> str:
    if ts is None:
        return "None"
    return f"{ts!r} ({datetime.fromtimestamp(ts, c.zone).isoformat()} {c.zone.key})"


def close(got, expected) -> bool:
    """Equal, or numbers a millisecond apart at most."""
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (got, expected)):
        return abs(got - expected) <= TOLERANCE
    return got == expected


class Checks:
    """One test's draws on one case: a new calendar, a random stream of the test's own, and the
    differences from the oracle, each with what reproduces it; the test fails at the end if any."""

    def __init__(self, seed: int, zone: str, test: str):
        self.case = case(seed, zone)
        self.r = self.case.rng(test)
        self.calendar = self.case.calendar()
        self.oracle = self.case.oracle
        self.problems: list[str] = []

    def __enter__(self) -> "Checks":
        return self

    def __exit__(self, *exc) -> None:
        if self.problems and exc[0] is None:
            pytest.fail(f"{len(self.problems)} answers of {QUERIES} draws differ; the first:\n{self.problems[0]}")

    def instant(self) -> float:
        return instant(self.r, self.case)

    def pauses(self, shape: str) -> list[Pause]:
        return pauses(self.r, self.case, shape)

    def same(self, call: str, got, expected, *, times: bool = False, **inputs: float) -> None:
        """Note a difference unless ``got`` is ``expected`` (to a millisecond); ``times``: both are instants."""
        if close(got, expected):
            return
        if times:
            got, expected = when(self.case, got), when(self.case, expected)
        lines = ["careplug and the minute-by-minute oracle differ. To reproduce:",
                 "    import datetime, zoneinfo",
                 "    from careplug.calendar import BusinessCalendar, CalendarOptions",
                 "    from careplug.rules.clock import Clock, Pause",
                 f"    calendar = BusinessCalendar.from_options(CalendarOptions(**{self.case.options!r}))",
                 f"    {call}",
                 *(f"  {name} = {when(self.case, ts)}" for name, ts in inputs.items()),
                 f"  got      {got!r}",
                 f"  expected {expected!r}"]
        self.problems.append("\n".join(lines))


def clock_call(ps: list[Pause], method: str, *args) -> str:
    return f"Clock(calendar, {ps!r}).{method}({', '.join(repr(a) for a in args)})"


def due_amount(check: Checks, a: float, ps: list[tuple[float, float | None]]) -> float:
    """Clock time to ask for from ``a``: round amounts, any amount, or exactly what runs until
    an instant near an opening or closing time (landing on it); within the oracle's window."""
    r, oracle = check.r, check.oracle
    k = r.random()
    if k < 0.4:
        amount = r.choice([60.0, 1800.0, 3600.0, 4 * 3600.0, 8 * 3600.0, 86400.0, 30 * 3600.0])
    elif k < 0.6:
        amount = r.choice([r.uniform(0, 40 * 3600), float(r.randrange(60, 40 * 3600, 60))])
    else:
        amount = oracle.active(a, max(a, check.instant()), ps)
    try:
        oracle.due(a, amount, ps)
    except OutsideWindow:
        amount = oracle.active(a, oracle.end, ps) * r.random()
    return amount


# --- the calendar ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed, zone", CASES)
def test_elapsed_business_time_matches_a_minute_by_minute_count(seed, zone):
    with Checks(seed, zone, "elapsed") as check:
        for _ in range(QUERIES):
            a, b = check.instant(), check.instant()
            check.same(f"calendar.elapsed_seconds({a!r}, {b!r})",
                       check.calendar.elapsed_seconds(a, b), check.oracle.elapsed(a, b), a=a, b=b)
            start, end = (datetime.fromtimestamp(t, check.r.choice([UTC, check.case.zone])) for t in (a, b))
            check.same(f"calendar.elapsed({start!r}, {end!r})", check.calendar.elapsed(start, end).total_seconds(),
                       check.oracle.elapsed(start.timestamp(), end.timestamp()))


@pytest.mark.parametrize("seed, zone", CASES)
def test_is_open_is_whether_the_minute_holding_the_instant_is_open(seed, zone):
    with Checks(seed, zone, "is_open") as check:
        for _ in range(QUERIES):
            at = datetime.fromtimestamp(check.instant(), check.r.choice([UTC, check.case.zone]))
            check.same(f"calendar.is_open({at!r})", check.calendar.is_open(at), check.oracle.is_open(at.timestamp()),
                       t=at.timestamp())


@pytest.mark.parametrize("seed, zone", CASES)
def test_next_open_is_the_instant_itself_when_open_else_the_next_opening(seed, zone):
    with Checks(seed, zone, "next_open") as check:
        for _ in range(QUERIES):
            at = datetime.fromtimestamp(check.instant(), check.r.choice([UTC, check.case.zone]))
            check.same(f"calendar.next_open({at!r})", check.calendar.next_open(at).timestamp(),
                       check.oracle.next_open(at.timestamp()), times=True, t=at.timestamp())


@pytest.mark.parametrize("seed, zone", CASES)
def test_adding_business_time_lands_on_the_first_instant_that_much_has_run(seed, zone):
    with Checks(seed, zone, "add") as check:
        for _ in range(QUERIES):
            a = check.instant()
            amount = due_amount(check, a, [])
            check.same(f"calendar.add_seconds({a!r}, {amount!r})", check.calendar.add_seconds(a, amount),
                       check.oracle.add(a, amount), times=True, a=a)
            # whole seconds: an amount rounded to microseconds may pass a closing time by less than one
            start = datetime.fromtimestamp(round(a), check.r.choice([UTC, check.case.zone]))
            duration = timedelta(seconds=round(amount))
            check.same(f"calendar.add({start!r}, {duration!r})", check.calendar.add(start, duration).timestamp(),
                       check.oracle.add(start.timestamp(), duration.total_seconds()), times=True)


# --- the clock ------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed, zone, shape", PAUSE_CASES)
def test_clock_time_is_business_time_no_pause_covers(seed, zone, shape):
    with Checks(seed, zone, f"active-{shape}") as check:
        for _ in range(QUERIES):
            ps = check.pauses(shape)
            clock, spans = Clock(check.calendar, list(ps)), spans_of(ps)
            a, b = check.instant(), check.instant()
            check.same(clock_call(ps, "active", a, b), clock.active(a, b), check.oracle.active(a, b, spans), a=a, b=b)
            check.same(clock_call(ps, "paused", a, b), clock.paused(a, b), check.oracle.paused(a, b, spans), a=a, b=b)


@pytest.mark.parametrize("seed, zone, shape", PAUSE_CASES)
def test_clock_is_due_at_the_first_instant_enough_unpaused_business_time_has_run(seed, zone, shape):
    with Checks(seed, zone, f"at-{shape}") as check:
        for _ in range(QUERIES):
            ps = check.pauses(shape)
            spans, a = spans_of(ps), check.instant()
            amount = due_amount(check, a, spans)
            check.same(clock_call(ps, "at", a, amount), Clock(check.calendar, list(ps)).at(a, amount),
                       check.oracle.due(a, amount, spans), times=True, a=a)


@pytest.mark.parametrize("seed, zone, shape", PAUSE_CASES)
def test_no_clock_time_to_run_is_due_at_the_start_paused_or_not(seed, zone, shape):
    with Checks(seed, zone, f"at0-{shape}") as check:
        for _ in range(QUERIES):
            ps, a = check.pauses(shape), check.instant()
            check.same(clock_call(ps, "at", a, 0.0), Clock(check.calendar, list(ps)).at(a, 0.0),
                       check.oracle.due(a, 0.0, spans_of(ps)), times=True, a=a)
