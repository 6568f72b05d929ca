"""Durations as admins write them in careplug.toml and on the command line.

``"30m"``, ``"4h"``, ``"2d"``, ``"1w"``, ``"1h30m"``, ``"1d 12h"``, ``"2 days"``, ``"90 minutes"``,
or ISO 8601: ``"PT4H"``, ``"P1DT12H"``, ``"P1W"`` (weeks, days, hours, minutes and seconds, any
case; years and months are refused, having no fixed length); a ``timedelta`` passes through. The
one parser every option model and command uses (rule targets, stage ``before``, a nudge's
``due_in``, ``--since``), so a duration means the same everywhere; ``DURATION_SCHEMA`` describes
the same forms for editors. docs/rules.md ("Durations") is the admins' reference.

A bare number (``4``, ``"4"``) is seconds only for callers that ask for it (``bare_seconds=True``,
the default, kept for the API). Everything read from careplug.toml and ``--since`` pass
``bare_seconds=False``: an admin who writes ``next_reply = 4`` means hours or days, not four
seconds, so the unit must be written (``"4s"`` for seconds).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600,
          "hour": 3600, "d": 86400, "day": 86400, "w": 604800, "wk": 604800, "week": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_FORM = "write a number and a unit, e.g. '30m', '4h', '2d', '1h30m' or '1w' (or ISO 8601, e.g. 'PT4H')"
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_ISO = re.compile(rf"p(?=[0-9t])(?:({_NUMBER})w)?(?:({_NUMBER})d)?"
                  rf"(?:t(?=[0-9])(?:({_NUMBER})h)?(?:({_NUMBER})m)?(?:({_NUMBER})s)?)?")
_ISO_SECONDS = (604800, 86400, 3600, 60, 1)


def _any_case(text: str) -> str:
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in text)


_UNIT = "(?:" + "|".join(_any_case(u) for u in (
    "seconds", "second", "secs", "sec", "s", "minutes", "minute", "mins", "min", "m", "hours", "hour", "hrs", "hr",
    "h", "days", "day", "d", "weeks", "week", "wks", "wk", "w")) + ")"
_WITH_UNITS = rf"{_NUMBER}\s*{_UNIT}(?:(?:\s*,?\s*|\s+{_any_case('and')}\s+){_NUMBER}\s*{_UNIT})*"
_ISO_FORM = (rf"[Pp](?=[0-9Tt])(?:{_NUMBER}[Ww])?(?:{_NUMBER}[Dd])?"
             rf"(?:[Tt](?=[0-9])(?:{_NUMBER}[Hh])?(?:{_NUMBER}[Mm])?(?:{_NUMBER}[Ss])?)?")
DURATION_PATTERN = rf"^\s*(?:{_WITH_UNITS}|{_ISO_FORM})\s*$"
"""What ``parse_duration(..., bare_seconds=False)`` accepts, as a JSON Schema (ECMA-262) pattern:
numbers with units, or ISO 8601 without years and months; no bare number."""

DURATION_SCHEMA = {"type": "string", "pattern": DURATION_PATTERN,
                   "examples": ["30m", "4h", "2d", "1h30m", "1w", "PT4H"],
                   "description": "A duration with a unit: s, m, h, d or w, e.g. \"30m\", \"4h\", \"2d\", "
                                  "\"1h30m\", \"2 days\"; or ISO 8601, e.g. \"PT4H\", \"P1DT12H\"."}


def parse_duration(value: Any, *, bare_seconds: bool = True) -> timedelta:
    """Parse a duration; raise ValueError naming the text and the accepted form. A bare number is
    seconds with ``bare_seconds``, else refused with a message asking for a unit."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if bare_seconds:
            return timedelta(seconds=value)
        raise ValueError(_no_unit(str(value)))
    if not isinstance(value, str):
        raise ValueError(f"a duration is a string like '4h', not {type(value).__name__}: {_FORM}")
    text = value.strip().lower()
    if text.startswith("p"):
        return _iso(text, value)
    if re.fullmatch(r"\d+(\.\d+)?", text):
        if bare_seconds:
            return timedelta(seconds=float(text))
        raise ValueError(_no_unit(text))
    total, pos = 0.0, 0
    for m in _PART.finditer(text):
        if text[pos:m.start()].strip(" ,") not in ("", "and"):
            break
        unit = m.group(2)
        if unit not in _UNITS and unit.endswith("s") and len(unit) > 2:     # "mins", "hrs"; not "ms", "hs"
            unit = unit[:-1]
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {unit!r} in duration {value!r}: use s, m, h, d or w")
        total += float(m.group(1)) * _UNITS[unit]
        pos = m.end()
    if not text or pos == 0 or text[pos:].strip():
        raise ValueError(f"bad duration {value!r}: {_FORM}")
    return timedelta(seconds=total)


def _iso(text: str, value: str) -> timedelta:
    """An ISO 8601 duration (``text`` lowercased). Years and months are refused: a month is 28 to
    31 days, and a guess (pydantic reads ``P1M`` as 30 days) would move a due time silently."""
    m = _ISO.fullmatch(text)
    if m is None:
        if re.fullmatch(rf"p(?:{_NUMBER}[ymwd])+(?:t.*)?", text) and re.search(r"[ym]", text.partition("t")[0]):
            raise ValueError(f"duration {value!r} counts years or months, which have no fixed length: "
                             "write weeks or days, e.g. 'P30D' or '30d'")
        raise ValueError(f"bad duration {value!r}: {_FORM}")
    return timedelta(seconds=sum(float(n) * unit for n, unit in zip(m.groups(), _ISO_SECONDS) if n))


def _no_unit(number: str) -> str:
    n = number if number.strip("0.") else "4"
    return f"a duration needs a unit: {number} alone is ambiguous; write e.g. '{n}h', '30m' or '2d' ('{n}s' for seconds)"


def format_duration(delta: timedelta | float | None, *, days: bool = True) -> str:
    """``timedelta(hours=26, minutes=5)`` → ``"1d2h5m"``; seconds shown only under a minute.
    ``days=False`` → ``"26h5m"``: how business time is shown, where a day of 24 open hours would
    read as a working day."""
    if delta is None:
        return "-"
    seconds = int(round(delta.total_seconds() if isinstance(delta, timedelta) else delta))
    if seconds == 0:
        return "0m"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds}s"
    n_days, rest = divmod(seconds, 86400) if days else (0, seconds)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return (sign + (f"{n_days}d" if n_days else "") + (f"{hours}h" if hours else "")
            + (f"{minutes}m" if minutes else ""))
