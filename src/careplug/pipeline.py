"""``careplug run``: sync, then check, then nudge, under one run lock — what a scheduler calls.

A failure in one part (a source down or that cannot even be created, a rule raising, a CRM
refusing a write) is reported and the rest goes on: rules still see everything that did sync, nudges still go to the CRMs that answer.
``RunResult.failures`` are this run's own, each once (a plugin set serves many runs: an earlier
run's failures are not repeated), plus the register hooks that failed when the plugins loaded
(``Plugins.setup_failures``: what they would have registered is missing from every run).
The run's summary is stored in the ``runs`` table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .store import codec, schema


@dataclass
class RunResult:
    sync: Any = None
    check: Any = None
    nudges: Any = None
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "failures": self.failures,
            "sync": None if self.sync is None else self.sync.as_dict(),
            "check": None if self.check is None else self.check.as_dict(),
            "nudges": None if self.nudges is None else self.nudges.as_dict(),
        }


def run_pipeline(app: Any, *, dry_run: bool = False, progress_console: Any = None) -> RunResult:
    from .check import run_check
    from .nudges.delivery import run_nudges
    from .render import sync_progress
    from .sync import SyncResult, sync_source

    result = RunResult()
    started = time.monotonic()
    with app.store.run_lock() as lock:
        run_id = _start(app, dry_run)
        result.failures += [f.describe() for f in app.plugins.setup_failures]
        result.sync = SyncResult()
        enabled = progress_console is not None and progress_console.is_terminal
        with sync_progress(progress_console, enabled=enabled) as progress, app.plugins.recording() as hooks:
            for name, source in app.sources.items():
                result.sync.add(sync_source(app.store, source, plugins=app.plugins, progress=progress))
                lock.heartbeat()
        result.failures += [f"sync: {why}" for why in app.source_failures.values()]
        result.failures += [f"sync {s.source}:{s.stream}: {s.error}" for s in result.sync.streams if s.error]
        result.failures += [f"sync: {f.describe()}" for f in hooks]
        now = app.now()
        result.check = run_check(app, now, dry_run=dry_run)
        result.failures += [f"check: {f}" for f in result.check.failures]
        lock.heartbeat()
        result.nudges = run_nudges(app, now, dry_run=dry_run)
        result.failures += [f"nudges: {why}" for why in app.notifier_failures.values()]
        result.failures += [f"nudges: {f}" for f in result.nudges.failures]
        result.seconds = time.monotonic() - started
        _finish(app, run_id, result)
    return result


def _start(app: Any, dry_run: bool) -> int:
    with app.store.transaction() as conn:
        return conn.execute(schema.runs.insert().values(
            command="run --dry-run" if dry_run else "run", started_at=time.time(), status="running")
        ).inserted_primary_key[0]


def _finish(app: Any, run_id: int, result: RunResult) -> None:
    summary = {"failures": result.failures, "read": result.sync.read, "changed": result.sync.changed}
    with app.store.transaction() as conn:
        conn.execute(schema.runs.update().where(schema.runs.c.id == run_id).values(
            finished_at=time.time(), status="ok" if result.ok else "failed", summary=codec.dumps(summary)))
