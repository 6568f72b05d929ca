"""neglected_lead: a new potential customer nobody responded to.

A lead is a customer record marked ``is_lead`` (a CRM lead or new contact) — its clock starts when
it was created — or, with ``first_inquiry``, a customer's first inquiry ever (no earlier
conversation, no earlier touch). The response is the first touch in *any* connected source: a
lead created in Salesforce that an agent emailed from Zendesk was answered. Leads older than
``lookback`` are left alone, so switching the rule on does not flood the team with history; a
lead's open finding expires when it leaves the lookback (a later first inquiry then takes its place).
A first inquiry's clock stops while its conversation is in a ``pause_on`` status (as ``unanswered``'s).

    [rules.neglected_lead]
    target = "2h"
    first_inquiry = true
    lookback = "30d"
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import field_validator

import careplug

from ..finding import Severity
from ..flags import Flag
from ..history import History
from .base import Assessment, CareRule
from .clock import conversation_pauses
from .options import (Conflict, Duration, PausableRuleOptions, in_scope, lower, lowercase_list, quoted,
                      record_in_scope)
from .stages import StageOptions, Stages, before_within
from .touches import is_inquiry, touch_times


class NeglectedLeadOptions(PausableRuleOptions):
    target: Duration = timedelta(hours=2)
    first_inquiry: Flag = True
    lookback: Duration = timedelta(days=30)
    stages: Stages = [StageOptions(name="warning", at=0.5)]
    breach_severity: Severity = Severity.BREACH
    tiers: list[str] = []
    """Only leads of these tiers (empty: all; any case)."""

    @field_validator("tiers", mode="before")
    @classmethod
    def _any_case(cls, v: Any) -> Any:
        return lowercase_list(v)

    def conflicts(self) -> list[Conflict]:
        out = before_within(self.stages, {"target": self.target})
        if self.lookback <= self.target:
            out.append((("lookback",),
                        f"lookback = {quoted(self.lookback)} is not longer than target = {quoted(self.target)}: a "
                        f"lead leaves the lookback before its target runs out, so it is warned about, then dropped, "
                        f"and never breached; write a lookback of days (it is wall time, the target business "
                        f"time), e.g. '30d'"))
        if not self.first_inquiry and self.scope.needs_conversation:
            out.append((("first_inquiry",),
                        "first_inquiry = false leaves only lead records, and scope.channels, scope.priorities and "
                        "scope.groups leave every lead record out (it has no channel, priority or group): the rule "
                        "would never fire; set first_inquiry = true, or choose leads with scope.sources, tags or tiers"))
        return out


class NeglectedLead(CareRule):
    name = "neglected_lead"
    Options = NeglectedLeadOptions
    subjects = ("customer",)
    description = "A new lead or first inquiry without a response within target."

    def assess(self, history: History, now: datetime) -> Assessment:
        o: NeglectedLeadOptions = self.options  # type: ignore[assignment]
        out = Assessment()
        if o.tiers and lower(history.tier()) not in o.tiers:
            return out
        ts_now = now.timestamp()
        oldest = ts_now - o.lookback.total_seconds()
        scope = o.scope
        # (start, occurrence, the conversation it waits in: None for a lead record, what it is: told
        # only for the one still waiting)
        candidates: list[tuple[float, str, tuple[str, str] | None, Callable[[], str]]] = []
        for c in history.customers:
            if c.is_lead and c.created_at is not None and record_in_scope(scope, c.source, history):
                candidates.append((c.created_at.timestamp(), f"lead:{c.source}:{c.external_id}", None,
                                   lambda c=c: f"new lead {c.label or c.external_id} ({c.source})"))
        touches = touch_times(history)
        if o.first_inquiry:
            convs = None if scope.is_everything else {(c.source, c.external_id): c for c in history.conversations}
            inquiries = sorted((m for m in history.messages if m.created_at is not None and is_inquiry(m)
                                and (convs is None or _conversation_in_scope(scope, convs, m, history))),
                               key=lambda m: m.created_at)
            if inquiries:
                first = inquiries[0]
                at = first.created_at.timestamp()
                if not any(t <= at for t in touches):
                    candidates.append((at, f"first-inquiry:{first.source}:{first.external_id}",
                                       (first.source, first.conversation_id), lambda: _inquiry(history, first)))
        # the earliest lead within ``lookback`` (an old lead nobody answered does not hide a new
        # first inquiry: it is left alone, the inquiry is not)
        candidates = [c for c in candidates if oldest <= c[0] <= ts_now]
        if not candidates:
            return out
        start, occurrence, waits_in, describe = min(candidates)
        if any(t >= start for t in touches):
            return out
        what = describe()
        # a first inquiry waits in its conversation: time it spends in a paused status (pending on
        # the prospect, on hold) does not count, as for ``unanswered``, and its team's calendar
        # counts; a lead record has no status
        conv = next((c for c in history.conversations if (c.source, c.external_id) == waits_in), None)
        clock = self.clock(conversation_pauses(history, conv, o.pause_on) if conv is not None else None, conv)
        owner = next((c.owner for c in history.customers if c.owner), None)
        f = self.staged(out, history=history, occurrence=occurrence, start=start, target=o.target,
                        stages=self.stage_times(o.stages, o.target, o.breach_severity), clock=clock, now=ts_now,
                        summary=lambda: (f"{what}: no response since {self.moment(start, clock.calendar)} "
                                         f"(target {self.span(o.target, clock.calendar)})"),
                        explain={"lead": what}, owner=owner)
        if f is not None:
            f.source = occurrence.split(":")[1]
        out.wake(start + o.lookback.total_seconds() + 1)   # it leaves the lookback: another lead, or none
        return out


def _inquiry(history: History, inquiry) -> str:
    """What ``inquiry`` is, naming who sent it: the label of the customer record its conversation
    names, else of any of the customer's records (none when none has a name, email or phone). A
    customer subject has no conversation a nudge could sit on, so its title must say who waits."""
    conv = next((c for c in history.conversations
                 if (c.source, c.external_id) == (inquiry.source, inquiry.conversation_id)), None)
    own = [c for c in history.customers if conv is not None and (c.source, c.external_id) == (conv.source, conv.customer_id)]
    who = next((c.label for c in [*own, *history.customers] if c.label), "")
    return f"first inquiry{f' from {who}' if who else ''} ({inquiry.channel.value}, {inquiry.source})"


def _conversation_in_scope(scope, convs: dict, m, history: History) -> bool:
    conv = convs.get((m.source, m.conversation_id))
    return conv is not None and in_scope(scope, conv, history)


@careplug.hookimpl
def careplug_register_rules(register):
    register(NeglectedLead)
