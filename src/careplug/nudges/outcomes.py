"""Outcomes: do nudges work? When a finding clears after its nudge was delivered, the time from
delivery to the clearing (*time to action*) is recorded on the nudge's ledger row.

``summary(store)`` aggregates them (for the CLI's run summary and ``careplug nudge``);
``timeline(store, finding_keys)`` gives ``careplug history`` one line per nudge, and
``careplug_relationship_history`` contributes a customer's nudges to their timeline like any plugin
(load this module as a plugin: it is one).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import careplug

from ..finding import subject_key
from ..history import TimelineItem
from ..store import ledger as rows_
from ..store.ledger import LedgerRow
from .model import NudgeState

if TYPE_CHECKING:  # pragma: no cover
    from ..store import Store

__all__ = ["outcome_of", "OutcomeSummary", "summary", "timeline"]


def outcome_of(row: LedgerRow, why: str, resolved_at: float | None) -> dict[str, Any]:
    """The outcome recorded when an open nudge is closed: why, and the time to action when its
    finding cleared after the nudge was delivered."""
    out: dict[str, Any] = {"why": why}
    if resolved_at is not None:
        out["resolved_at"] = datetime.fromtimestamp(resolved_at, tz=timezone.utc).isoformat()
        if row.delivered_at is not None and resolved_at >= row.delivered_at:
            out["time_to_action_s"] = round(resolved_at - row.delivered_at, 3)
    return out


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


@dataclass
class OutcomeSummary:
    """``delivered``: nudges delivered (in the window); ``acted_on``: of those, how many had their
    finding clear afterwards; ``open``: still delivered and open; time to action in seconds."""

    delivered: int = 0
    acted_on: int = 0
    open: int = 0
    median_s: float | None = None
    p90_s: float | None = None
    by_rule: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "acted_on": self.acted_on, "open": self.open,
                "median_time_to_action_s": self.median_s, "p90_time_to_action_s": self.p90_s,
                "by_rule": self.by_rule}

    def render(self) -> str:
        if not self.delivered:
            return "nudge outcomes: no nudge delivered yet"
        lines = [f"nudge outcomes: {self.delivered} delivered, {self.acted_on} acted on "
                 f"(median time to action {_hours(self.median_s)}, p90 {_hours(self.p90_s)}), {self.open} open"]
        for rule, s in sorted(self.by_rule.items()):
            lines.append(f"  {rule}: {s['delivered']} delivered, {s['acted_on']} acted on, "
                         f"median {_hours(s['median_time_to_action_s'])}")
        return "\n".join(lines)


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(store: "Store", *, since: datetime | None = None) -> OutcomeSummary:
    """Outcomes of the nudges delivered at or after ``since`` (all when None)."""
    with store.engine.connect() as conn:
        delivered = [r for r in rows_.rows(conn, states=(NudgeState.DELIVERED, NudgeState.CANCELLED))
                     if r.delivered_at is not None and (since is None or r.delivered_at >= since.timestamp())]
    out = OutcomeSummary()
    times: list[float] = []
    per_rule: dict[str, list[LedgerRow]] = defaultdict(list)
    for r in delivered:
        per_rule[r.nudge.extra.get("rule") or r.nudge.finding_key.split("|", 1)[0]].append(r)
        out.delivered += 1
        if r.state is NudgeState.DELIVERED:
            out.open += 1
        if "time_to_action_s" in r.outcome:
            out.acted_on += 1
            times.append(r.outcome["time_to_action_s"])
    out.median_s = statistics.median(times) if times else None
    out.p90_s = _p(times, 0.9)
    for rule, rs in per_rule.items():
        ts = [r.outcome["time_to_action_s"] for r in rs if "time_to_action_s" in r.outcome]
        out.by_rule[rule] = {"delivered": len(rs), "acted_on": len(ts),
                             "median_time_to_action_s": statistics.median(ts) if ts else None}
    return out


def timeline(store: "Store", finding_keys: list[str]) -> list[TimelineItem]:
    """One timeline item per nudge of these findings (``kind="nudge"``), at its delivery time
    (its planning time when not delivered), for ``careplug history``."""
    with store.engine.connect() as conn:
        found = rows_.rows(conn, finding_keys=finding_keys)
    items = []
    for r in found:
        n = r.nudge
        at = r.delivered_at or r.planned_at
        who = f" for {n.assignee}" if n.assignee else ""
        state = r.state.value
        if r.delivered_at is not None and r.state is NudgeState.CANCELLED:
            state = "closed"
        tta = r.outcome.get("time_to_action_s")
        acted = f", acted on after {_hours(tta)}" if tta is not None else ""
        items.append(TimelineItem(
            at=datetime.fromtimestamp(at, tz=timezone.utc), source=n.target, kind="nudge",
            summary=f"{n.action.value}{who} ({state}{acted}): {n.title}",
            conversation_id=n.conversation_id,
            data={"key": n.key, "finding": n.finding_key, "stage": n.stage, "state": r.state.value,
                  "external_ref": n.external_ref, "time_to_action_s": tta}))
    return items


def for_customer(store: "Store", customer_uid: str) -> list[TimelineItem]:
    """The nudges of every finding about this customer or one of their conversations."""
    history = store.load_history(subject_key("customer", customer_uid))
    subjects = {subject_key("customer", customer_uid)}
    if history is not None:
        subjects |= {subject_key("conversation", c.source, c.external_id) for c in history.conversations}
    with store.engine.connect() as conn:
        keys = rows_.finding_keys_of(conn, subjects)
    return timeline(store, keys) if keys else []


@careplug.hookimpl
def careplug_relationship_history(customer_uid: str, store: "Store") -> list[TimelineItem] | None:
    return for_customer(store, customer_uid) or None
