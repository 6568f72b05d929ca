"""quiet_customer: a key customer or account nobody has reached out to for too long.

Quiet means no touch — a public reply from a person, a call, a completed task — in any connected
source for ``after`` (wall time by default: ``calendar = "always"``). Filter who counts as key by
tier, tag, owner or value. The clock restarts at every touch, so each quiet spell is its own
finding.

    [rules.quiet_customer]
    level = "account"             # or "customer"
    after = "30d"
    tiers = ["enterprise", "key"]
    min_value = 50000
    stages = [{ name = "warning", at = 0.8 }]
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import field_validator, model_validator

import careplug

from ..finding import Severity
from ..history import History
from .base import Assessment, CareRule
from .options import (CareRuleOptions, Conflict, Duration, lower, lower_set, lowercase_list,
                      record_in_scope, subject_tags)
from .stages import StageOptions, Stages, before_within
from .touches import touch_times


class QuietCustomerOptions(CareRuleOptions):
    level: Literal["customer", "account"] = "customer"
    after: Duration = timedelta(days=30)
    tiers: list[str] = []
    tags: list[str] = []
    owners: list[str] = []
    min_value: float | None = None
    stages: Stages = [StageOptions(name="warning", at=0.8)]
    breach_severity: Severity = Severity.BREACH
    calendar: str | None = "always"

    @field_validator("tiers", "tags", "owners", mode="before")
    @classmethod
    def _any_case(cls, v: Any) -> Any:
        return lowercase_list(v)

    @model_validator(mode="after")
    def _customer_scope(self) -> "QuietCustomerOptions":
        if self.scope.needs_conversation:
            raise ValueError("scope.channels, scope.priorities and scope.groups do not apply to quiet_customer: "
                             "it watches customers and accounts, not conversations (use sources, tags, tiers)")
        return self

    def conflicts(self) -> list[Conflict]:
        return before_within(self.stages, {"after": self.after})


class QuietCustomer(CareRule):
    name = "quiet_customer"
    Options = QuietCustomerOptions
    subjects = ("customer", "account")
    description = "A key customer or account with no outbound touch for too long."
    default_calendar = "always"

    def __init__(self, options: QuietCustomerOptions, context: object | None = None):
        super().__init__(options, context)
        self.subjects = (options.level,)      # only the level it watches: the engine loads no other

    def assess(self, history: History, now: datetime) -> Assessment:
        o: QuietCustomerOptions = self.options  # type: ignore[assignment]
        out = Assessment()
        if not history.subject.startswith(o.level + ":"):
            return out
        account = history.account
        tier = history.tier()
        owner = (account.owner if account and account.owner else
                 next((c.owner for c in history.customers if c.owner), None))
        value = account.value if account else None
        if o.tiers and lower(tier) not in o.tiers:
            return out
        if o.tags and not lower_set(subject_tags(history)).intersection(o.tags):
            return out
        if o.owners and lower(owner) not in o.owners:
            return out
        if o.min_value is not None and (value is None or value < o.min_value):
            return out
        if not o.scope.is_everything:
            sources = [account.source] if o.level == "account" and account else [c.source for c in history.customers]
            if not any(record_in_scope(o.scope, source, history) for source in sources):
                return out
        ts_now = now.timestamp()
        touches = [t for t in touch_times(history) if t <= ts_now]
        if touches:
            start, since = touches[-1], "last touch"
        else:
            known = [r.created_at.timestamp() for r in [*history.customers, *history.conversations]
                     if r.created_at is not None and r.created_at.timestamp() <= ts_now]
            if account is not None and account.created_at is not None:
                known.append(account.created_at.timestamp())
            if not known:
                return out
            start, since = min(known), "first seen (never touched)"
        name = account.name if o.level == "account" and account else next(
            (c.name for c in history.customers if c.name), history.subject)
        f = self.staged(
            out, history=history, occurrence=f"quiet-since-{int(start)}", start=start, target=o.after,
            stages=self.stage_times(o.stages, o.after, o.breach_severity), clock=self.clock(), now=ts_now,
            summary=lambda: f"{name}: no touch since {self.moment(start)} ({since}; target {self.span(o.after)})",
            explain={"quiet_since": since, "tier": tier, "value": value}, owner=owner)
        if f is not None:
            first = history.customers[0] if history.customers else None
            f.source = account.source if account else (first.source if first else None)
            f.account_id = account.external_id if account else (first.account_id if first else None)
        return out


@careplug.hookimpl
def careplug_register_rules(register):
    register(QuietCustomer)
