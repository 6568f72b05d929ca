"""Test support: the parts of a careplug App the nudge engine uses, built directly, and findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from careplug.calendar import BusinessCalendar
from careplug.finding import Finding, Severity
from careplug.nudges.policy import NudgePolicy
from careplug.nudges.routing import Router
from careplug.plugins import Plugins
from careplug.store import Store
from careplug.store import findings as findings_store

from nudge_taskcrm import TaskCrmOptions, TaskCrmSource

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)   # a Monday, 10:00 UTC


@dataclass
class NudgeApp:
    store: Store
    plugins: Plugins
    sources: dict[str, Any]
    notifiers: dict[str, Any]
    policy: NudgePolicy
    calendars: dict[str, Any] = field(default_factory=dict)

    def calendar(self, name: str | None = None) -> Any:
        if name:
            return self.calendars[name]
        return self.calendars.get("default") or BusinessCalendar.always()


def make_app(store_path: str, crm_url: str | None = None, *, policy: dict | None = None, chunk: int = 100,
             notifiers: dict[str, Any] | None = None, calendars: dict[str, Any] | None = None,
             sources: dict[str, Any] | None = None) -> NudgeApp:
    plugins = Plugins(builtins=("careplug.nudges.planner",), load_entry_points=False)
    sources = dict(sources or {})
    if crm_url:
        sources["crm"] = TaskCrmSource("crm", TaskCrmOptions(url=crm_url, chunk=chunk))
    notifiers = dict(notifiers or {})
    plugins.register(Router(sources, notifiers), name="careplug.nudges.routing", origin="built-in")
    return NudgeApp(Store(store_path), plugins, sources, notifiers, NudgePolicy.model_validate(policy or {}),
                    dict(calendars or {}))


def finding(n: int, *, stage: str = "warning", owner: str | None = "alice", group: str | None = None,
            rule: str = "unanswered", source: str = "crm", due_at: datetime | None = None) -> Finding:
    severity = {"warning": Severity.WARNING, "info": Severity.INFO, "critical": Severity.CRITICAL}.get(
        stage, Severity.BREACH)
    return Finding(rule=rule, subject=f"conversation:{source}:{n}", occurrence=f"m{n}", stage=stage,
                   severity=severity, summary=f"Ticket {n} has waited for a reply",
                   started_at=T0 - timedelta(hours=3), due_at=due_at or T0 + timedelta(hours=1),
                   detected_at=T0 - timedelta(minutes=5), source=source, conversation_id=str(n),
                   owner=owner, group=group)


def save(store: Store, *findings: Finding) -> None:
    findings_store.save(store, findings)


def resolve(store: Store, f: Finding, at: datetime) -> None:
    findings_store.mark_resolved(store, [f.key], at)
