"""``NudgePolicy``: the ``[nudges]`` table of careplug.toml — what is written for each finding stage,
for whom, where, and when.

Example (every key optional; without a ``[nudges]`` table a warning gives the owner a task due
when the target breaches, and a breach gives the owner's manager a task due an hour later)::

    [nudges]
    default_target = "outbox"              # where nudges go when the finding's source cannot take them

    [nudges.stages.warning]                # any stage name a rule reports
    actions = ["task"]                     # task, note, tag, notify (or tables, below)
    assign_to = "owner"                    # owner | manager | team:<name> | person:<id>

    [nudges.stages.breach]
    actions = [{ action = "task", due_in = "1h" }, { action = "notify", notifier = "slack" }]
    assign_to = "manager"

    [nudges.rules.broken_promise.breach]   # one rule's stage, instead of [nudges.stages.breach]
    actions = [{ action = "tag", tags = ["promise-broken"] }, "note"]

    [nudges.hierarchy]
    managers = { alice = "maria", "zendesk:101" = "zendesk:200" }
    [nudges.hierarchy.teams.billing]       # a finding's group names its team
    default_owner = "carol"
    lead = "maria"

    [nudges.people.maria]
    calendar = "emea"                      # quiet hours follow this person's business hours
    email = "maria@example.com"            # for the email notifier

    [nudges.limits]
    per_person_per_day = 20
    [nudges.quiet_hours]
    calendar = "support"                   # for people without their own calendar

People are named by the ids the CRM uses (``finding.owner``, a conversation's assignee); a key may
be written plain (``alice``) or qualified by source (``zendesk:101``); the qualified one wins.
"""

from __future__ import annotations

import difflib
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler, PrivateAttr, WithJsonSchema,
                      field_validator, model_validator)

from ..durations import DURATION_SCHEMA, parse_duration
from ..flags import Flag
from .model import Action

__all__ = ["NudgePolicy", "StagePolicy", "ActionSpec", "Hierarchy", "Team", "Person", "Limits",
           "QuietHours", "parse_duration"]

def _duration(value: Any) -> timedelta:
    """A duration as everywhere in careplug.toml (``careplug.durations``: ``"1h30m"``, ``"2 days"``,
    ``"PT2H"``), with a unit; zero is allowed (a task due at once)."""
    return parse_duration(value, bare_seconds=False)


Duration = Annotated[timedelta, BeforeValidator(_duration), WithJsonSchema(DURATION_SCHEMA)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActionSpec(_Strict):
    """One thing to do at a stage. Written as a string (``"task"``) or a table."""

    action: Action
    target: str | None = None
    """task/note/tag: the source to write into; default the finding's own source (or
    ``default_target`` when that source cannot take nudges)."""
    notifier: str | None = None
    """notify: the ``[notifiers.NAME]`` to send through (required)."""
    due_in: Duration | None = None
    """task: due this long after ``due_from`` (default: 0 for a warning, 1h for other stages)."""
    due_from: Literal["finding_due", "detected"] = "finding_due"
    """task: count ``due_in`` from the finding's due (breach) time, or from when it was detected."""
    tags: list[str] = Field(default_factory=list)
    """tag: the tags to add (default ``careplug_<rule>_<stage>``)."""

    @model_validator(mode="after")
    def _fits_action(self) -> "ActionSpec":
        if self.action is Action.NOTIFY and not self.notifier:
            raise ValueError("a notify action needs notifier = \"<name of a [notifiers.NAME] table>\"")
        if self.action is not Action.NOTIFY and self.notifier:
            raise ValueError(f"notifier is only for notify actions, not {self.action.value}")
        if self.action is Action.NOTIFY and self.target:
            raise ValueError("a notify action is sent through its notifier; remove target")
        if self.action is not Action.TASK and self.due_in is not None:
            raise ValueError(f"due_in is only for task actions, not {self.action.value}")
        if self.action is not Action.TAG and self.tags:
            raise ValueError(f"tags are only for tag actions, not {self.action.value}")
        if self.due_in is not None and self.due_in < timedelta(0):
            raise ValueError("due_in cannot be negative")
        return self


def _action_list(value: Any) -> Any:
    if isinstance(value, (str, dict)):
        value = [value]
    if isinstance(value, list):
        return [{"action": v} if isinstance(v, str) else v for v in value]
    return value


class _ActionsSchema:
    """``actions`` in the JSON Schema as validation reads it: a list whose items are an action's
    name (``"task"``) or a table, or one such item alone."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        listed = handler(core_schema)
        one = {"anyOf": [{"type": "string", "enum": [a.value for a in Action]}, listed.get("items", {})]}
        return {"anyOf": [{"type": "array", "items": one}, *one["anyOf"]]}


class StagePolicy(_Strict):
    """What happens when a finding reaches one stage."""

    actions: Annotated[list[ActionSpec], BeforeValidator(_action_list), _ActionsSchema()] = Field(default_factory=list)
    assign_to: str = "owner"
    """``owner`` (assignee → account owner → team default), ``manager`` (the owner's manager, else
    the team lead), ``team:<name>`` (that team's lead) or ``person:<id>``."""

    @field_validator("assign_to")
    @classmethod
    def _assign_to(cls, v: str) -> str:
        if v in ("owner", "manager"):
            return v
        kind, _, name = v.partition(":")
        if kind in ("team", "person") and name.strip():
            return v
        raise ValueError(f"assign_to {v!r} is not one of: owner, manager, team:<name>, person:<id>")

    @model_validator(mode="after")
    def _one_per_target(self) -> "StagePolicy":
        seen: set[tuple[str, str | None]] = set()
        for spec in self.actions:
            where = (spec.action.value, spec.notifier or spec.target)
            if where in seen:
                raise ValueError(f"action {spec.action.value!r} is listed twice for the same target: "
                                 "a finding gets at most one nudge per action and target")
            seen.add(where)
        return self


class Team(_Strict):
    default_owner: str | None = None
    """Who owns a finding of this team (its ``group``) when nobody is assigned."""
    lead: str | None = None
    """Who gets escalations when the owner has no manager in ``managers``."""


class Hierarchy(_Strict):
    managers: dict[str, str] = Field(default_factory=dict)
    """person → their manager."""
    teams: dict[str, Team] = Field(default_factory=dict)

    @field_validator("managers")
    @classmethod
    def _no_self(cls, v: dict[str, str]) -> dict[str, str]:
        for person, manager in v.items():
            if person == manager:
                raise ValueError(f"{person!r} is listed as their own manager")
        return v


class Person(_Strict):
    calendar: str | None = None
    email: str | None = None


class Limits(_Strict):
    per_person_per_day: int | None = Field(default=None, ge=1)
    """At most this many nudges delivered to one person per day (their calendar's day); the rest
    wait for the next day. None: no cap."""
    escalations_exempt: Flag = True
    """Escalations (to a manager or team lead) are delivered even past the cap."""
    batch_size: int = Field(default=100, ge=1, le=10000)
    """Nudges handed to one target in one delivery call."""
    max_attempts: int = Field(default=8, ge=1)
    """A nudge that failed this often is no longer retried (it stays ``failed`` and is reported)."""


class QuietHours(_Strict):
    enabled: Flag = True
    """Deliver only within the assignee's business hours; the due time never moves."""
    calendar: str | None = None
    """The calendar of people without their own (``[nudges.people.X] calendar``); None: the
    ``default`` calendar (24/7 when there is none)."""


DEFAULT_STAGES: dict[str, dict[str, Any]] = {
    "warning": {"actions": ["task"], "assign_to": "owner"},
    "breach": {"actions": ["task"], "assign_to": "manager"},
    "critical": {"actions": ["task"], "assign_to": "manager"},
}


class NudgePolicy(_Strict):
    """The validated ``[nudges]`` table. ``stage_policy`` says what to do at a stage; the
    ``*_of``/``*_for`` helpers resolve people through the hierarchy."""

    enabled: Flag = True
    default_target: str | None = None
    default_owner: str | None = None
    """Owner of findings with no assignee, no account owner and no team default."""
    stages: dict[str, StagePolicy] = Field(default_factory=dict, validate_default=True)
    rules: dict[str, dict[str, StagePolicy]] = Field(default_factory=dict)
    hierarchy: Hierarchy = Field(default_factory=Hierarchy)
    people: dict[str, Person] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)

    _deliverable: frozenset[str] | None = PrivateAttr(default=None)

    @field_validator("stages", mode="before")
    @classmethod
    def _with_defaults(cls, v: Any) -> Any:
        if v is None:
            v = {}
        if isinstance(v, dict):
            return {**DEFAULT_STAGES, **v}
        return v

    # --- stages -------------------------------------------------------------------------------

    def stage_policy(self, rule: str, stage: str, severity: str | None = None) -> StagePolicy | None:
        """The policy of ``rule`` at ``stage``: ``[nudges.rules.RULE.STAGE]``, else
        ``[nudges.stages.STAGE]``, else the stage named like the severity; None: do nothing."""
        own = self.rules.get(rule, {})
        if stage in own:
            return own[stage]
        if stage in self.stages:
            return self.stages[stage]
        if severity is not None and str(severity) in self.stages:
            return self.stages[str(severity)]
        return None

    # --- people -------------------------------------------------------------------------------

    @staticmethod
    def _lookup(mapping: dict[str, Any], person: str, source: str | None) -> Any:
        if source and f"{source}:{person}" in mapping:
            return mapping[f"{source}:{person}"]
        return mapping.get(person)

    def manager_of(self, person: str | None, source: str | None = None) -> str | None:
        if not person:
            return None
        return self._lookup(self.hierarchy.managers, person, source)

    def team(self, name: str | None) -> Team | None:
        return self.hierarchy.teams.get(name) if name else None

    def person(self, person: str | None, source: str | None = None) -> Person | None:
        return self._lookup(self.people, person, source) if person else None

    def calendar_for(self, person: str | None, source: str | None = None) -> str | None:
        """The calendar name quiet hours use for ``person`` (None: the default calendar)."""
        p = self.person(person, source)
        return (p.calendar if p and p.calendar else None) or self.quiet_hours.calendar

    # --- run-time binding ---------------------------------------------------------------------

    def bind(self, *, deliverable: set[str] | frozenset[str] | None = None,
             managers: dict[str, str] | None = None) -> "NudgePolicy":
        """A copy for one run: ``deliverable`` names the targets that can take nudges (the planner
        sends the rest to ``default_target``); ``managers`` adds managers known from the CRMs'
        agent records, below the configured ones."""
        copy = self.model_copy(deep=True)
        if managers:
            configured = self.hierarchy.managers  # the config wins, plain or source-qualified
            known = {k: v for k, v in managers.items()
                     if k not in configured and k.partition(":")[2] not in configured}
            copy.hierarchy.managers = {**known, **configured}
        copy._deliverable = frozenset(deliverable) if deliverable is not None else self._deliverable
        return copy

    @property
    def deliverable(self) -> frozenset[str] | None:
        return self._deliverable

    # --- cross-checks -------------------------------------------------------------------------

    def check_references(self, *, sources: set[str], notifiers: set[str], calendars: set[str],
                         rules: set[str] | None = None) -> list[str]:
        """Problems with names this table uses that the rest of the config does not define, as
        ``"nudges.stages.breach.actions[0].notifier: no [notifiers.slack]"``."""
        return [f"{_dotted(path)}: {message}" for path, message, _hint in
                self.reference_problems(sources=sources, notifiers=notifiers, calendars=calendars, rules=rules)]

    def reference_problems(self, *, sources: set[str], notifiers: set[str], calendars: set[str],
                           rules: set[str] | None = None) -> list[tuple[tuple, str, str | None]]:
        """Each name this table uses that the rest of the config does not define, as (key path,
        message, hint): the path is the key that names it (``("nudges", "people", "maria",
        "calendar")``), the hint the closest defined name. ``rules`` (the installed rules): a
        ``[nudges.rules.RULE]`` naming none of them is a typo that would never apply."""
        problems: list[tuple[tuple, str, str | None]] = []
        targets = sources | notifiers
        if self.default_target and self.default_target not in targets:
            problems.append((("nudges", "default_target"), f"no source or notifier named {self.default_target!r}",
                             _closest(self.default_target, targets, what="sources and notifiers")))
        if rules is not None:
            for rule in self.rules:
                if rule not in rules:
                    problems.append((("nudges", "rules", rule), f"no rule named {rule!r}",
                                     _closest(rule, rules, what="installed rules")))
        every = [(("nudges", "stages", s), p) for s, p in self.stages.items()]
        every += [(("nudges", "rules", r, s), p) for r, st in self.rules.items() for s, p in st.items()]
        for where, policy in every:
            for i, spec in enumerate(policy.actions):
                if spec.notifier and spec.notifier not in notifiers:
                    problems.append(((*where, "actions", i, "notifier"), f"no [notifiers.{spec.notifier}]",
                                     _closest(spec.notifier, notifiers, what="notifiers")))
                if spec.target and spec.target not in sources:
                    problems.append(((*where, "actions", i, "target"), f"no [sources.{spec.target}]",
                                     _closest(spec.target, sources, what="sources")))
            if policy.assign_to.startswith("team:") and policy.assign_to[5:] not in self.hierarchy.teams:
                problems.append(((*where, "assign_to"), f"no [nudges.hierarchy.teams.{policy.assign_to[5:]}]",
                                 _closest(policy.assign_to[5:], set(self.hierarchy.teams), what="teams")))
        uses = [(("nudges", "people", name, "calendar"), p.calendar) for name, p in self.people.items()]
        uses.append((("nudges", "quiet_hours", "calendar"), self.quiet_hours.calendar))
        for where, name in uses:
            if name and name not in calendars and name != "always":
                problems.append((where, f"no [calendars.{name}]",
                                 _closest(name, calendars | {"always"}, what="calendars")))
        return problems


def _dotted(path: tuple) -> str:
    """``("nudges", "stages", "breach", "actions", 0)`` as ``nudges.stages.breach.actions[0]``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _closest(name: str, defined: set[str], *, what: str) -> str:
    close = difflib.get_close_matches(name, sorted(defined), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    if not defined:
        return "define it, or fix the name"
    return f"define it, or use one of the {what}: {', '.join(sorted(defined))}"
