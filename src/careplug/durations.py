"""Durations as admins write them in careplug.toml and on the command line.

``"30m"``, ``"4h"``, ``"2d"``, ``"1w"``, ``"1h30m"``, ``"1d 12h"``, ``"2 days"``, ``"90 minutes"``;
a ``timedelta`` passes through. The one parser every option model and command uses, so a duration
means the same everywhere.

A bare number (``4``, ``"4"``) is seconds only for callers that ask for it (``bare_seconds=True``,
the default, kept for the API and the nudge policy's documented ``due_in`` seconds). Rule options
and ``--since`` pass ``bare_seconds=False``: an admin who writes ``next_reply = 4`` means hours or
days, not four seconds, so the unit must be written (``"4s"`` for seconds).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600,
          "hour": 3600, "d": 86400, "day": 86400, "w": 604800, "wk": 604800, "week": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_FORM = "write a number and a unit, e.g. '30m', '4h', '2d', '1h30m' or '1w'"


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
