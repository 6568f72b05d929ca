"""Care rules benchmark: full and incremental evaluation over a generated store.

    python benchmarks/bench_rules.py --sizes 10000 100000 1000000 --changed 1000

For each size: generate the synthetic history (``careplug.testing.generator``) into a SQLite store
(kept under ``--workdir`` and reused), then, each in a fresh subprocess so peak memory is the
evaluation's own:

- *full*: every subject, every built-in rule enabled with its defaults and a Mon-Fri 09-17 US
  calendar, findings written to the store: the ``careplug check --full`` path (``careplug.sweep``,
  ``--workers`` processes, default one per CPU); peak RSS is the parent's and the largest worker's;
- *incremental*: ``--changed`` conversations re-synced with a change (marked dirty by
  ``commit_batch``), then the normal run (dirty ∪ due subjects);
- *replies*: an agent's public reply, an hour after the full evaluation, in ``--changed``
  conversations with an open ``unanswered`` finding, then the run an hour later: each of those
  findings resolves, and the run finds when it cleared (``check._clearing_times``). Timed three
  ways in one process: a dry run without that search, a dry run with it (the ratio is its cost),
  then the run itself, which counts the findings resolved at the reply's instant.

Writes a table to ``docs/benchmarks-rules.md`` (``--out``). Timings are wall clock on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from pathlib import Path

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=timezone.utc)


def build_store(path: Path, conversations: int) -> dict:
    from careplug.store import Store
    from careplug.testing.generator import generate

    started = time.perf_counter()
    store = Store(str(path))
    batch: list = []
    n = 0
    for record in generate(conversations, seed=0, now=NOW):
        batch.append(record)
        if len(batch) >= 20000:
            store.commit_batch("bench", "all", batch, cursor=None)
            n += len(batch)
            batch = []
    if batch:
        store.commit_batch("bench", "all", batch, cursor=None)
        n += len(batch)
    store.close()
    return {"records": n, "load_seconds": time.perf_counter() - started}


def migrate_store(path: Path) -> None:
    import sqlite3

    from careplug.store import Store

    Store(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def rules():
    from careplug.calendar import BusinessCalendar, CalendarOptions
    from careplug.plugins import Plugins
    from careplug.rules.context import RuleContext

    plugins = Plugins(load_entry_points=False)
    cal = BusinessCalendar.from_options(CalendarOptions(timezone="America/New_York", country="US"), name="default")
    context = RuleContext({"default": cal}, "default")
    return [cls(cls.Options(), context) for cls in plugins.rules().values()], plugins


def run_full(path: str, workers: int | None = None) -> dict:
    from careplug.store import Store
    from careplug.sweep import sweep_store

    store = Store(path)
    rs, _plugins = rules()
    started = time.perf_counter()
    result = sweep_store(store, rs, NOW, workers=workers, keep_findings=False)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "evaluated": result.evaluated, "new": result.n_new, "workers": workers,
            "failures": len(result.failures), "peak_rss_mb": _peak_mb(),
            "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def run_incremental(path: str, changed: int) -> dict:
    from careplug.check import evaluate_store
    from careplug.store import Store

    store = Store(path)
    subjects = list(store.all_subjects("conversation"))
    pick = random.Random(1).sample(subjects, min(changed, len(subjects)))
    touched = []
    for key in pick:
        _kind, source, ext = key.split(":", 2)
        conv = store.get(source, "conversation", ext)
        conv.tags = [*conv.tags, "bench-touched"]      # a real change: the stored JSON differs
        touched.append(conv)
    store.commit_batch("bench", "changes", touched, cursor=None)
    dirty = len(store.dirty_subjects())
    rs, _plugins = rules()
    started = time.perf_counter()
    result = evaluate_store(store, rs, NOW, keep_findings=False)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "evaluated": result.evaluated, "dirty": dirty, "peak_rss_mb": _peak_mb()}


def run_replies(path: str, changed: int) -> dict:
    from careplug import check
    from careplug.model import AuthorRole, Direction, Message
    from careplug.store import Store
    from careplug.store import findings as store_findings

    store = Store(path)
    waiting = sorted({f.subject for f in store_findings.open_findings(store, rule="unanswered")})
    pick = random.Random(2).sample(waiting, min(changed, len(waiting)))
    replied, later = NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    replies = []
    for i, subject in enumerate(pick):
        _kind, source, ext = subject.split(":", 2)
        replies.append(Message(source=source, external_id=f"bench-reply-{i}", conversation_id=ext,
                               direction=Direction.OUTBOUND, public=True, author="bench-agent",
                               author_role=AuthorRole.AGENT, created_at=replied, body="Sorted: it works again."))
    store.commit_batch("bench", "replies", replies, cursor=None)
    rs, _plugins = rules()
    clearing = check._clearing_times

    def timed(**kw) -> tuple[float, Any]:
        started = time.perf_counter()
        result = check.evaluate_store(store, rs, later, **kw)
        return time.perf_counter() - started, result

    check._clearing_times = lambda *a, **k: None
    without, _ = timed(dry_run=True, keep_findings=False)
    check._clearing_times = clearing
    with_search, _ = timed(dry_run=True, keep_findings=False)
    seconds, result = timed(keep_findings=True)
    picked = set(pick)
    ours = [f for f in result.resolved if f.subject in picked and f.rule == "unanswered"]
    at_reply = sum(1 for f in ours if f.resolved_at == replied)
    return {"seconds": seconds, "evaluated": result.evaluated, "resolved": result.n_resolved,
            "resolved_at_reply": at_reply, "replied_resolved": len(ours), "dry_without_search": without,
            "dry_with_search": with_search, "peak_rss_mb": _peak_mb()}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--workdir", default="/tmp/careplug-bench")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "benchmarks-rules.md"))
    parser.add_argument("--workers", type=int, default=None, help="sweep processes (default: one per CPU)")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, path, *rest = args.child
        run = {"full": lambda: run_full(path, args.workers), "incremental": lambda: run_incremental(path, int(rest[0])),
               "replies": lambda: run_replies(path, int(rest[0]))}[kind]
        print(json.dumps(run()))
        return
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        path = Path(args.workdir) / f"store-{size}.db"
        fresh = Path(args.workdir) / f"store-{size}.fresh.db"
        if not fresh.exists():
            info = build_store(fresh, size)
            (Path(args.workdir) / f"store-{size}.json").write_text(json.dumps(info))
        info = json.loads((Path(args.workdir) / f"store-{size}.json").read_text())
        migrate_store(fresh)            # a store kept from an older careplug: its migration is not timed
        subprocess.run(["cp", str(fresh), str(path)], check=True)
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        full = _child(["--child", "full", str(path)] + (["--workers", str(args.workers)] if args.workers else []))
        incr = _child(["--child", "incremental", str(path), str(args.changed)])
        replies = _child(["--child", "replies", str(path), str(args.changed)])
        row = {"conversations": size, **info, "full": full, "incremental": incr, "replies": replies}
        print(json.dumps(row), flush=True)
        rows.append(row)
    write_report(Path(args.out), rows, args.changed)


def write_report(out: Path, rows: list[dict], changed: int) -> None:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = ["# Care rules benchmark", "",
             f"{when}: `python benchmarks/bench_rules.py --sizes {' '.join(str(r['conversations']) for r in rows)} "
             f"--changed {changed}` on {platform.machine()}, {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}, SQLite store; all seven built-in rules enabled with defaults. "
             "Load average before the run: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + ".",
             "", "| conversations | records | subjects | full evaluation | workers | findings | peak RSS parent / "
             f"largest worker | incremental ({changed} changed) | subjects evaluated | peak RSS |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        f, i = r["full"], r["incremental"]
        lines.append(f"| {r['conversations']:,} | {r['records']:,} | {f['evaluated']:,} | {f['seconds']:.1f} s | "
                     f"{f.get('workers') or 'auto'} | {f['new']:,} | {f['peak_rss_mb']:.0f} / "
                     f"{f.get('worker_peak_rss_mb', 0):.0f} MB | {i['seconds']:.2f} s | {i['evaluated']:,} | "
                     f"{i['peak_rss_mb']:.0f} MB |")
    lines += ["", f"Replies: an agent answers {changed} conversations with an open `unanswered` finding an hour "
              "after the full evaluation; the run an hour later resolves them at the reply's instant. "
              "Dry runs in the same process without / with the search for when each finding cleared:", "",
              "| conversations | run | subjects evaluated | resolved | their `unanswered` resolved at the reply | dry run without "
              "the search | with it | ratio |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        p = r["replies"]
        lines.append(f"| {r['conversations']:,} | {p['seconds']:.2f} s | {p['evaluated']:,} | {p['resolved']:,} | "
                     f"{p['resolved_at_reply']:,} of {p['replied_resolved']:,} | {p['dry_without_search']:.2f} s | "
                     f"{p['dry_with_search']:.2f} s | {p['dry_with_search'] / p['dry_without_search']:.2f}× |")
    lines += ["", "Store build (generate + `commit_batch`) is not part of the timings: "
              + ", ".join(f"{r['conversations']:,}: {r['load_seconds']:.0f} s" for r in rows) + ".", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
