"""Durations as admins write them in careplug.toml and on the command line: ``"4h"``, ``"2d"``,
``"1d 12h"``, ``"90m"``, ``"1w"``; a bare number is seconds."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", re.IGNORECASE)


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse a duration; raise ValueError naming the text and the accepted form."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return timedelta(seconds=float(text))
    raw = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        return timedelta(seconds=float(raw))
    pos, seconds = 0, 0.0
    while pos < len(raw):
        m = _PART.match(raw, pos)
        if not m:
            raise ValueError(f"{text!r} is not a duration: write e.g. '30m', '4h', '2d', '1d 12h' or '1w'")
        seconds += float(m.group(1)) * _UNITS[m.group(2).lower()]
        pos = m.end()
    if not raw:
        raise ValueError("empty duration: write e.g. '30m', '4h', '2d'")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """``timedelta(hours=26, minutes=5)`` → ``"1d 2h 5m"`` (minutes resolution, for people)."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return sign + (" ".join(p for p in parts if p) or "0m")
