"""Due times: when the words of a committing clause say it falls due, read relative to when it was
sent, in the team's time zone and business calendar."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import dateparser

from ..calendar import BusinessCalendar
from .sentences import norm

_NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
        "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "couple of": 2, "a couple of": 2, "few": 3,
        "a few": 3, "the": 1, "next": 1, "half an": 0.5, "half a": 0.5}
_NUMBER = r"(\d+(?:\.\d+)?|half an?|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|(?:a )?couple of|(?:a )?few)"
_DURATION = re.compile(
    r"\b(?:within|in|inside|under|give me)\s+(?:the\s+)?(?:next\s+)?" + _NUMBER + r"?\s*"
    r"(minutes?|mins?|hours?|hrs?|h|business days?|working days?|days?|weeks?)\b")
_WITHIN_THE = re.compile(r"\bwithin\s+the\s+(?:next\s+)?(hour|day|week)\b")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = re.compile(r"\b(next\s+|this\s+|on\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
                      r"(\s+next\s+week)?\b"
                      # an abbreviation ("by weds", "back thurs"); a short one only after a word that makes
                      # it a day ("sat" or "wed" alone is not)
                      r"|\b(next\s+|this\s+|on\s+|by\s+|until\s+|till\s+|before\s+)?(tues|weds|thurs?|fri)\.?"
                      r"(\s+next\s+week)?(?!\w)"
                      r"|\b(next\s+|this\s+|on\s+|by\s+|until\s+|till\s+|before\s+)(mon|tue|wed|thu|sat|sun)\.?"
                      r"(\s+next\s+week)?(?!\w)")
_ABBREVIATED = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4,
                "sat": 5, "sun": 6}
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DATE = re.compile(rf"\b(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday),?\s+)?"
                   rf"(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTHS})\b(?<!may)|(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?may\b"
                   rf"(?!\s+(?:take|be|have|need|not|arrive|come|get|also|still|require|vary|differ|change|want|"
                   rf"see|find|experience|notice|receive|apply))|({_MONTHS})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b)")
# a time of day after "at", "by", ... ("at 3pm", "by 10:30", "before noon"), or one with am/pm after a
# day ("tomorrow 11 am", "friday 2pm")
# a day of the month without its month ("on the 16th", "by the 3rd"): its next occurrence
_ORDINAL_DAY = re.compile(r"\b(?:on|by|before|until|till)\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b"
                          # a date, not "the 2nd floor": nothing but a boundary or a linking word after it
                          r"(?=\s*(?:$|[.,;!?)]|\s(?:at|by|of|before|in|when|and|so|then|with|to|or)\b))")
_CLOCK = re.compile(r"\b(?:(?:at|by|before|around|until)\s+|(?:tomorrow|today|tonight|monday|tuesday|wednesday|"
                    r"thursday|friday|saturday|sunday|mon|tues?|weds?|thur?s?|fri|sat|sun),?\s+(?=\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|noon\b|"
                    r"midday\b|12\s*nn\b|12 noon\b))"
                    # "9.30am"; "at 2.30" (not a price or a count: "at 2.99 each")
                    r"(\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d{2}|"
                    r"\d{1,2}\.[0-5]\d(?![\d%])(?!\s*(?:each|per|a\b|an\b|%|pounds?|dollars?|euros?|rand|rupees?))|"
                    r"12\s*nn|12 noon|noon|midday|half (?:past )?\d{1,2}\b"      # "at half 8": 8:30
                    # a bare hour where nothing else can follow it ("tomorrow at 10.", "at 4 on friday")
                    r"|\d{1,2}(?=\s*(?:o'clock\b|$|[.,;!)](?!\d)|\s(?:tomorrow|today|tonight|on|this|sharp|to|before|for|and|so)\b)))\b")
_TODAY = re.compile(r"\b(later today|today(?!'s)|end of (?:the |to)?day|eod|close of business|cob|end of business|"
                    r"end of play|close of play|eop|"
                    r"this afternoon|this arvo|this morning|tonight|this evening|log off)\b")
_TOMORROW = re.compile(r"\b(?:tomorrow|tomorow|tommorow|tommorrow|tmrw|tmrow|tmw|tmr|2moro|2morrow|the morra|the morrow)\b"
                       r"(?!'s)")                             # not "tomorrow's delivery"
_THIS_WEEK = re.compile(r"\b(end of (?:the |this )?week|this week|before the weekend|by the weekend)\b")
_NEXT_WEEK = re.compile(r"\b(early|end of|later|first thing)?\s*(?:the\s+)?next week\b")
_MORNING = re.compile(r"\bmorning\b")
_FIRST_THING = re.compile(r"\bfirst thing\b")
_AFTERNOON = re.compile(r"\b(afternoon|arvo)\b")
_EVENING = re.compile(r"\b(evening|tonight)\b")
_NIGHT = re.compile(r"\b(evening|tonight|night)\b")     # a bare hour then is in the afternoon or evening


def _count(word: str | None) -> float:
    if not word:
        return 1
    word = word.strip()
    if word in _NUM:
        return _NUM[word]
    try:
        return float(word)
    except ValueError:
        return 1


def _is_business_day(day: date, calendar: BusinessCalendar | None) -> bool:
    if calendar is None or calendar.name == "always":
        return day.weekday() < 5
    return bool(calendar.weekly[day.weekday()]) and not calendar.is_holiday(day)


@lru_cache(maxsize=4096)
def _parse_date(phrase: str, base: date) -> date | None:
    """The next ``phrase`` ("march 2") on or after ``base``: a date already passed this year is next
    year's. dateparser's "future" excludes the base day itself, so it is given the day before."""
    eve = base - timedelta(days=1)
    when = dateparser.parse(phrase, languages=["en"], settings={
        "RELATIVE_BASE": datetime(eve.year, eve.month, eve.day, 12), "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False})
    return when.date() if when else None


_WINDOW = re.compile(r"\bbetween\s+(\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)?)\s*(?:and|-|–|to)\s*"
                     r"(\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)?)(?![\d:])"
                     # hours of the day, not amounts ("between 5 and 10 dollars", "between 3 and 5 days")
                     r"(?!\s*(?:dollars?|pounds?|euros?|rand|rupees?|%|percent|items?|days?|hours?|hrs?|minutes?|mins?|"
                     r"weeks?|months?|units?|people|pieces?|boxes|working|business|gb|mb|kg|lbs?)\b)")
_DEADLINE = re.compile(r"\b(?:by|no later than)\s+(?:(?:the\s+)?(?:end|close) of\s+)?(?:\S+\s+)?$")
_END_OF_DAY = re.compile(r"end of (?:the |to)?day|eod|close of business|cob|end of business|end of play|close of play|eop")
_DESCRIBES = re.compile(r"\b(?:your|every|each|his|her|their)\s+$")      # "your sunday subscription"
_DUE_BY = re.compile(r"\b(?:by|on|before|until|till|than)\s+(?:the\s+)?$")


def _clock_words(phrase: str) -> str:
    """A time of day as ``_parse_clock`` reads it: "9.30am" is 9:30am, "p.m." is pm."""
    phrase = re.sub(r"^half (?:past )?(\d{1,2})$", r"\1:30", phrase)
    return re.sub(r"(\d)\.(\d\d)", r"\1:\2", phrase).replace(".", "")


_BARE_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")


def _next_day_of_month(n: int, base: date) -> date | None:
    """The next date on or after ``base`` whose day of the month is ``n`` (a month without one is skipped)."""
    if not 1 <= n <= 31:
        return None
    year, month = base.year, base.month
    for _ in range(13):
        try:
            day = date(year, month, n)
        except ValueError:
            day = None
        if day is not None and day >= base:
            return day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


@lru_cache(maxsize=1024)
def _parse_clock(phrase: str, evening: bool = False) -> time | None:
    """A time of day. One without am/pm is read as people at work mean it: 1 to 6 in the afternoon
    ("at 2:30" is 14:30), 7 to 12 as written — 7 to 11 too in the ``evening`` ("tonight at 8") — 13
    to 23 on the 24-hour clock."""
    if phrase in ("noon", "midday", "12 noon") or phrase.replace(" ", "") == "12nn":
        return time(12)
    bare = _BARE_TIME.match(phrase.strip())
    if bare:
        hour, minute = int(bare.group(1)), int(bare.group(2) or 0)
        if 1 <= hour <= 6 or (evening and 7 <= hour <= 11):
            hour += 12
        return time(hour, minute) if hour < 24 and minute < 60 else None
    when = dateparser.parse(phrase, languages=["en"], settings={
        "RELATIVE_BASE": datetime(2000, 1, 3), "RETURN_AS_TIMEZONE_AWARE": False})
    return when.time() if when else None


def _exact(sent_at: datetime, seconds: float, zone: ZoneInfo) -> datetime:
    """``sent_at`` plus real seconds (in UTC: aware arithmetic in one zone is wall-clock arithmetic)."""
    return (sent_at.astimezone(timezone.utc) + timedelta(seconds=seconds)).astimezone(zone)


def due_time(clause: str, sent_at: datetime, *, tz: ZoneInfo | str = "UTC",
             calendar: BusinessCalendar | None = None, end_of_day: time = time(17)) -> tuple[datetime | None, str | None]:
    """The due time a commitment ``clause`` names, and the words it was read from; (None, None)
    when it names none. ``sent_at`` must be aware."""
    due, phrase, _ = read_due(clause or "", sent_at, tz=tz, calendar=calendar, end_of_day=end_of_day)
    return due, phrase


def read_due(clause: str, sent_at: datetime, *, tz: ZoneInfo | str, calendar: BusinessCalendar | None,
         end_of_day: time) -> tuple[datetime | None, str | None, str | None]:
    """``due_time``, and what kind of phrase it was read from: "exact" (hours and minutes from now),
    "clock" (a time of day alone: "at 3pm"), "day" (a day, with or without a time), None."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    local = sent_at.astimezone(zone)
    today = local.date()
    s = norm(clause)

    def at(day: date, t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=zone)

    def window_end() -> tuple[time, str] | None:
        """The end of a window of time ("between 2 and 4 this afternoon": 16:00), the latest it is due."""
        w = _WINDOW.search(s) if "between" in s else None
        if w is None:
            return None
        end = w.group(2).strip()
        if not re.search(r"[ap]\.?m", end) and re.search(r"[ap]\.?m", w.group(1)):
            end += " " + re.search(r"[ap]\.?m\.?", w.group(1)).group(0)     # "between 9 and 11am"
        t = _parse_clock(_clock_words(end), bool(_NIGHT.search(s)))
        return (t, w.group(0)) if t is not None else None

    def time_of_day(default: time) -> time:
        window = window_end()
        if window:
            return window[0]
        m = _CLOCK.search(s)
        if m:
            parsed = _parse_clock(_clock_words(m.group(1)), bool(_NIGHT.search(s)))
            if parsed:
                return parsed
        if _FIRST_THING.search(s):
            return time(10)
        if _MORNING.search(s):
            return time(12)
        if _EVENING.search(s):
            return time(18)
        if _AFTERNOON.search(s):
            return end_of_day
        return default

    def within_the(m: re.Match):
        unit = m.group(1)
        if unit == "hour":
            return _exact(sent_at, 3600, zone), m.group(0), "exact"
        return at(today + timedelta(days=1 if unit == "day" else 7), end_of_day), m.group(0), "day"

    def duration(m: re.Match):
        n, unit = _count(m.group(1)), m.group(2)
        if n > 3660 or (n > 366 and not unit.startswith(("min", "h"))):
            return None, None, None         # "in 99999999 days" names no time anyone means
        if unit.startswith(("min", "h")):
            seconds = n * (60 if unit.startswith("min") else 3600)
            return _exact(sent_at, seconds, zone), m.group(0), "exact"
        if unit.startswith(("business", "working")):
            day, left = today, int(n)
            while left > 0:
                day += timedelta(days=1)
                if _is_business_day(day, calendar):
                    left -= 1
            return at(day, end_of_day), m.group(0), "day"
        days = round(n * (7 if unit.startswith("week") else 1))
        return at(today + timedelta(days=days), end_of_day), m.group(0), "day"

    def calendar_date(m: re.Match):
        phrase = (f"{m.group(1)} {m.group(2)}" if m.group(1) else f"{m.group(3)} may" if m.group(3)
                  else f"{m.group(4)} {m.group(5)}")
        day = _parse_date(phrase, today)
        return (at(day, time_of_day(end_of_day)), m.group(0), "day") if day is not None else None

    def day_of_month(m: re.Match):
        day = _next_day_of_month(int(m.group(1)), today)
        return (at(day, time_of_day(end_of_day)), m.group(0), "day") if day is not None else None

    def tomorrow(m: re.Match):
        return at(today + timedelta(days=1), time_of_day(end_of_day)), "tomorrow", "day"

    def weekday(m: re.Match):
        if m.group(2):
            lead, target, next_week = m.group(1), _WEEKDAYS.index(m.group(2)), m.group(3)
        elif m.group(5):
            lead, target, next_week = m.group(4), _ABBREVIATED[m.group(5)], m.group(6)
        else:
            lead, target, next_week = m.group(7), _ABBREVIATED[m.group(8)], m.group(9)
        if (lead or "").strip() == "next" or next_week:
            day = today + timedelta(days=7 - today.weekday()) + timedelta(days=target)
        else:
            day = today + timedelta(days=(target - today.weekday()) % 7 or 7)
        return at(day, time_of_day(end_of_day)), m.group(0).strip(), "day"

    def next_week(m: re.Match):
        monday_next = today + timedelta(days=7 - today.weekday())
        qualifier = (m.group(1) or "").strip()
        if qualifier == "early":
            return at(monday_next + timedelta(days=1), end_of_day), m.group(0).strip(), "day"
        if qualifier == "first thing":
            return at(monday_next, time(10)), m.group(0).strip(), "day"
        return at(monday_next + timedelta(days=4), end_of_day), m.group(0).strip(), "day"

    def this_week(m: re.Match):
        return at(today + timedelta(days=(4 - today.weekday()) % 7), end_of_day), m.group(0), "day"

    def today_(m: re.Match):
        return at(today, time_of_day(end_of_day)), m.group(0), "day"

    # every day the clause names, each kind's first (a date after "by" first; a weekday that names a
    # deadline before one that describes: "tuesday's call", "your sunday subscription"), in the order
    # of precedence when two overlap ("monday, 10 march")
    dates = list(_DATE.finditer(s))
    days = [w for w in _WEEKDAY.finditer(s) if w.group(1) or w.group(4) or w.group(7)
            or not _DESCRIBES.search(s, max(0, w.start() - 8), w.start())]
    found = [
        (_WITHIN_THE.search(s), within_the),
        # "in next week's release" is next week and "later in the week" no time at all, not a week
        # from now: a duration without a number needs "the next" ("in the next hour")
        (next((d for d in _DURATION.finditer(s) if d.group(1) or {"the", "next"} <= set(d.group(0).split())), None),
         duration),
        (next((d for d in dates if _DUE_BY.search(s, 0, d.start())), dates[0] if dates else None), calendar_date),
        (_ORDINAL_DAY.search(s), day_of_month),
        (_TOMORROW.search(s), tomorrow),
        (next((w for w in days if not s.startswith("'s", w.end())), days[0] if days else None), weekday),
        (_NEXT_WEEK.search(s), next_week),
        (_THIS_WEEK.search(s), this_week),
        (_TODAY.search(s), today_),
    ]
    found = [(m, read) for m, read in found if m is not None]
    # "by end of day tomorrow", "EOD Monday": the end of *that* day, not of today
    found = [(m, read) for m, read in found if read is not today_ or not _END_OF_DAY.fullmatch(m.group(0))
             or not any(o is not m and 0 <= o.start() - m.end() <= 4 for o, _r in found)]
    # the day named first is the promise's ("I'll email you today with the times for Thursday": today);
    # one that overlaps it and comes earlier in precedence wins
    if found:
        # a day the promise is due *by* before the first named ("re-run it for Saturday and Sunday by
        # tomorrow morning": tomorrow)
        deadlines = [f for f in found if f[0].group(0).startswith("by ")
                     or _DEADLINE.search(s, max(0, f[0].start() - 24), f[0].start())]
        first = min(deadlines or found, key=lambda f: f[0].start())
        m, read = next(f for f in found if f[0].start() < first[0].end() and f[0].end() > first[0].start())
        result = read(m)
        if result is not None:
            return result
    window = window_end()
    m = _CLOCK.search(s)
    t, words = window if window else ((_parse_clock(_clock_words(m.group(1)), bool(_NIGHT.search(s))), m.group(0))
                                      if m else (None, None))
    if t is not None:
        due = at(today, t)
        if due <= local:
            due = at(today + timedelta(days=1), t)
        return due, words, "clock"
    return None, None, None
