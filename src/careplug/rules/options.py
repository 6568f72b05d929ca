"""Shared rule options: durations, scope filters, and the option base every built-in rule uses.

Durations are written ``"30m"``, ``"4h"``, ``"2d"``, ``"1w"``, ``"1h30m"``, ``"90s"`` or ISO 8601
``"PT4H"`` (``careplug.durations``, the one parser of every duration in careplug.toml). Whether a
duration is business time or wall time depends on the rule's ``calendar`` (see ``rules.clock``):
with a 9-to-5 calendar a ``"4h"`` target is four open hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any

from pydantic import (BaseModel, BeforeValidator, ConfigDict, PlainSerializer, ValidationError, WithJsonSchema,
                      field_validator, model_validator)

from ..durations import DURATION_SCHEMA, format_duration, parse_duration
from ..model import Channel, Priority, Status
from ..rule import RuleOptions

__all__ = ["parse_duration", "format_duration", "Duration", "Scope", "CareRuleOptions", "PausableRuleOptions",
           "Conflict", "refuse", "value_error", "quoted", "in_scope", "record_in_scope", "subject_tags", "lowercase_list", "lower",
           "lower_set"]

def _positive(v: Any) -> timedelta:
    """A rule's duration: written with a unit (a bare ``4`` is refused, not read as seconds)."""
    td = parse_duration(v, bare_seconds=False)
    if td <= timedelta(0):
        raise ValueError(f"duration {v!r} must be longer than zero")
    return td


Duration = Annotated[timedelta, BeforeValidator(_positive), PlainSerializer(format_duration),
                     WithJsonSchema(DURATION_SCHEMA)]


def lowercase_list(v: Any) -> Any:
    """A value or a list of values, as a list, strings lowercased: CRM tiers, tags and groups
    come in any case ("Enterprise", "VIP"), and scope matches them in any case."""
    if isinstance(v, str):
        v = [v]
    if isinstance(v, list):
        v = [x.lower() if isinstance(x, str) else x for x in v]
    return v


def lower(value: str | None) -> str:
    return value.lower() if value else ""


def lower_set(values: Iterable[str]) -> set[str]:
    return {v.lower() for v in values if v}


class Scope(BaseModel):
    """Which conversations a rule looks at. Empty lists mean "all"; every non-empty list must match.

    ``tags`` matches a conversation (or its customer) carrying any of them; ``exclude_tags`` any of
    them excludes it; ``tiers`` matches the customer's or account's tier. Values match in any case.
    """

    model_config = ConfigDict(extra="forbid")

    sources: list[str] = []
    channels: list[Channel] = []
    priorities: list[Priority] = []
    groups: list[str] = []
    tags: list[str] = []
    exclude_tags: list[str] = []
    tiers: list[str] = []

    @field_validator("sources", "groups", "tags", "exclude_tags", "tiers", "channels", "priorities",
                     mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return lowercase_list(v)

    @cached_property
    def is_everything(self) -> bool:
        """No filter set (read once: rule options do not change after validation)."""
        return not any((self.sources, self.channels, self.priorities, self.groups, self.tags,
                        self.exclude_tags, self.tiers))

    def matches(self, conversation: Any, tier: str | None = None, customer_tags: list[str] = ()) -> bool:
        """Whether ``conversation`` (a ``Conversation``) is in scope; ``tier``/``customer_tags``
        come from its customer or account."""
        if self.channels and conversation.channel not in self.channels:
            return False
        if self.priorities and conversation.priority not in self.priorities:
            return False
        if self.groups and lower(conversation.group) not in self.groups:
            return False
        return self._matches(conversation.source, tier, lower_set(conversation.tags) | lower_set(customer_tags))

    @cached_property
    def needs_conversation(self) -> bool:
        """A channel, priority or group filter is set: only conversations can match it."""
        return bool(self.channels or self.priorities or self.groups)

    def matches_record(self, source: str, tier: str | None = None, tags: Iterable[str] = ()) -> bool:
        """Whether something that is not a conversation (a lead record, a rating given to the
        customer, the customer or account itself) from ``source`` is in scope: ``sources``,
        ``tags``/``exclude_tags`` (``tags`` of its customer and account), ``tiers``. With a
        channel, priority or group filter set it is not: it has none of those."""
        return not self.needs_conversation and self._matches(source, tier, lower_set(tags))

    def _matches(self, source: str, tier: str | None, tags: set[str]) -> bool:
        """The filters anything in scope must pass: ``sources``, ``tags``, ``exclude_tags``, ``tiers``."""
        if self.sources and lower(source) not in self.sources:
            return False
        if self.tags and not tags.intersection(self.tags):
            return False
        if self.exclude_tags and tags.intersection(self.exclude_tags):
            return False
        if self.tiers and lower(tier) not in self.tiers:
            return False
        return True


def subject_tags(history: Any) -> list[str]:
    """Tags of the subject's customers and account (scope ``tags`` match these too)."""
    tags: list[str] = []
    for c in history.customers:
        tags.extend(c.tags)
    if history.account is not None:
        tags.extend(history.account.tags)
    return tags


def in_scope(scope: Scope, conversation: Any, history: Any) -> bool:
    """``scope.matches`` with the tier and tags of the history's customer and account."""
    if scope.is_everything:
        return True
    return scope.matches(conversation, history.tier(), subject_tags(history))


def record_in_scope(scope: Scope, source: str, history: Any) -> bool:
    """``scope.matches_record`` with the tier and tags of the history's customer and account."""
    if scope.is_everything:
        return True
    return scope.matches_record(source, history.tier(), subject_tags(history))


Conflict = tuple[tuple, str]
"""A combination of options that cannot work: the key path to report it on (inside the rule's
table, e.g. ``("stages", 1, "before")``) and why, with what to write instead."""


def value_error(loc: tuple, value: Any, message: str) -> dict[str, Any]:
    """One error of a ``ValidationError`` raised by a validator, at ``loc`` inside what it validates."""
    return {"type": "value_error", "loc": loc, "input": value, "ctx": {"error": ValueError(message)}}


def refuse(title: str, conflicts: list[Conflict]) -> None:
    """Raise one ``ValidationError`` holding every conflict, each at its own key: the config
    reports each with its key path and line, like any bad value."""
    if conflicts:
        raise ValidationError.from_exception_data(title, [value_error(loc, None, message)
                                                          for loc, message in conflicts])


def quoted(delta: timedelta) -> str:
    """A duration as an admin writes it in careplug.toml: ``'4h'``."""
    return repr(format_duration(delta))


class CareRuleOptions(RuleOptions):
    """Options every built-in rule shares: scope and calendar. A rule whose options can be set
    so that it never fires (or one of them never acts) says so in ``conflicts``."""

    scope: Scope = Scope()
    calendar: str | None = None
    """A ``[calendars.NAME]`` to count business time in; ``"always"`` counts wall time (24/7);
    unset uses the default calendar."""

    def conflicts(self) -> list[Conflict]:
        """Options that cannot work together; none here."""
        return []

    @model_validator(mode="after")
    def _consistent(self) -> "CareRuleOptions":
        refuse(type(self).__name__, self.conflicts())
        return self


class PausableRuleOptions(CareRuleOptions):
    """Options of a rule whose clock runs in a conversation, which a paused status stops: scope,
    calendar and ``pause_on``. Only rules that apply ``pause_on`` (``conversation_pauses``) take
    it; for the others it is an unknown key, not an option that does nothing."""

    pause_on: list[Status] = [Status.PENDING, Status.ON_HOLD]
    """Conversation statuses that stop the clock (waiting on the customer or a third party)."""

    @field_validator("pause_on", mode="before")
    @classmethod
    def _pauses(cls, v: Any) -> Any:
        v = lowercase_list(v)
        for s in v:
            if s not in {st.value for st in Status} and not isinstance(s, Status):
                raise ValueError(f"unknown status {s!r} in pause_on: use pending, on_hold")
        return v
