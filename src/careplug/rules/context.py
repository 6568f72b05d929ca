"""What a built-in rule gets from the run besides its options: calendars and defaults.

``Rule.__init__(options, context)``: ``context`` may be a ``RuleContext``, the ``App`` itself, any
object with a ``calendar(name)`` method, or None (every clock then counts wall time, 24/7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..calendar import BusinessCalendar

__all__ = ["RuleContext", "ALWAYS", "calendar_of", "team_calendars_of"]

ALWAYS = "always"


@dataclass
class RuleContext:
    """Calendars by name and the name of the default one (None: 24/7)."""

    calendars: dict[str, BusinessCalendar] = field(default_factory=dict)
    default_calendar: str | None = None

    @classmethod
    def from_app(cls, app: Any) -> "RuleContext":
        """Calendars of an ``App``; ``[calendars.default]``, when configured, is the default
        (as ``App.calendar(None)``), else clocks count wall time."""
        calendars = dict(getattr(app, "calendars", {}) or {})
        return cls(calendars, "default" if "default" in calendars else None)

    def calendar(self, name: str | None = None) -> BusinessCalendar:
        if name is None:
            name = self.default_calendar
        if name is None or name == ALWAYS:
            return _always()
        try:
            return self.calendars[name]
        except KeyError:
            known = ", ".join(sorted(self.calendars)) or "none"
            raise KeyError(f"no calendar named {name!r} (configured: {known})") from None


_ALWAYS: BusinessCalendar | None = None


def _always() -> BusinessCalendar:
    global _ALWAYS
    if _ALWAYS is None:
        _ALWAYS = BusinessCalendar.always()
    return _ALWAYS


def calendar_of(context: Any, name: str | None) -> BusinessCalendar:
    """The calendar ``name`` (None: the default) from whatever context a rule was given."""
    if name == ALWAYS or context is None:
        return _always()
    getter = getattr(context, "calendar", None)
    if getter is None:
        return _always()
    cal = getter(name)
    return cal if cal is not None else _always()


def team_calendars_of(context: Any) -> dict[str, BusinessCalendar]:
    """Each team's calendar (``[calendars.NAME] groups``): lower-cased group -> calendar, from the
    ``calendars`` of whatever context a rule was given (empty when it has none)."""
    calendars = getattr(context, "calendars", None)
    if not isinstance(calendars, dict):
        return {}
    return {g: cal for cal in calendars.values() for g in getattr(cal, "groups", ())}
