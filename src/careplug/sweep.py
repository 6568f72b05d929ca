"""The full evaluation (``careplug check --full``): every subject, a customer family at a time, on
every core.

1. Every subject is flagged dirty (one UPDATE). A sweep that is killed part-way leaves the rest
   flagged, and the next run, full or not, evaluates them: nothing is skipped.
2. Customer subjects are taken ``chunk`` at a time, in key order, and loaded *with all their
   conversations as subjects of their own* (``store.families.load_families``): the customer's history
   and each conversation's history are built from the same decoded records, so every record is
   decoded once. ``workers`` processes (forked; each with its own store connection) take the
   chunks in turn, each the next one nobody has taken (a shared counter), commit their chunk's
   findings, and their subjects' due times at the end (``store.due_buffer``).
3. What is still dirty afterwards (conversations with no known customer, accounts, subjects whose
   records are gone) goes through the incremental run (``check.evaluate_store``).

``finding_resolved`` hooks run in this process, after the worker that resolved the finding committed.
The result is the same as evaluating every subject one by one: ``tests/test_sweep.py`` compares them.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import time as _time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import event

from .check import CheckResult, _Evaluator, _run_batch, evaluate_store, family_batch, notify_resolved
from .errors import CareplugError
from .store import bulk
from .store.due_buffer import DueBuffer

log = logging.getLogger(__name__)

__all__ = ["sweep_store", "default_workers", "CHUNK", "PARALLEL_MIN_CUSTOMERS"]

CHUNK = 500                       # customers per batch (with their ~3 conversations each)
PARALLEL_MIN_CUSTOMERS = 5000     # below this, forking costs more than it saves
WORKERS_ENV = "CAREPLUG_WORKERS"


def default_workers(store: Any, customers: int) -> int:
    """Processes for a sweep: ``CAREPLUG_WORKERS`` if set, else one per CPU (at most 4) for a store
    with at least ``PARALLEL_MIN_CUSTOMERS`` customers that other processes can open, else 1."""
    env = os.environ.get(WORKERS_ENV, "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise CareplugError(f"{WORKERS_ENV}={env!r} is not a number of processes (e.g. 2)") from None
    if customers < PARALLEL_MIN_CUSTOMERS or not _shareable(store):
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def _shareable(store: Any) -> bool:
    url = str(store.url)
    in_memory = url.startswith("sqlite") and (":memory:" in url or url.rstrip("/") == "sqlite:")
    return "fork" in multiprocessing.get_all_start_methods() and not in_memory


def _chunks(keys: Iterator[str], size: int) -> Iterator[list[str]]:
    while True:
        chunk = list(islice(keys, size))
        if not chunk:
            return
        yield chunk


def sweep_store(store: Any, rules: list[Any], now: datetime, *, plugins: Any | None = None,
                workers: int | None = None, chunk: int = CHUNK, keep_findings: bool = True) -> CheckResult:
    """Evaluate every subject of ``store`` with ``rules`` (and ``plugins``' ``detect_neglect``),
    writing findings and due times; see the module docstring. ``workers=None`` picks
    ``default_workers``."""
    started = _time.perf_counter()
    bulk.mark_all_dirty(store)
    customers = sum(1 for _ in bulk.iter_subjects(store, "customer"))
    if workers is None:
        workers = default_workers(store, customers)
    elif workers > 1 and not _shareable(store):
        log.info("this store cannot be opened by other processes (in memory, or no fork here): one process")
        workers = 1
    workers = max(1, min(workers, -(-customers // chunk) or 1))
    if workers == 1:
        parts = [_families(store, rules, plugins, now, _Claims(None), chunk, keep_findings)]
    else:
        parts = _in_processes(store, rules, plugins, now, workers, chunk, keep_findings)
    result = CheckResult(now=now)
    for part in parts:
        _merge(result, part)
    if plugins is not None:
        notify_resolved(plugins, result.resolved, result)   # committed by the worker that resolved it
    rest = evaluate_store(store, rules, now, plugins=plugins, keep_findings=keep_findings)
    _merge(result, rest)
    result.seconds = _time.perf_counter() - started
    return result


def _merge(into: CheckResult, part: CheckResult) -> None:
    into.evaluated += part.evaluated
    into.n_new += part.n_new
    into.n_updated += part.n_updated
    into.n_resolved += part.n_resolved
    into.new += part.new
    into.updated += part.updated
    into.resolved += part.resolved
    into.findings += part.findings
    into.failures += part.failures


class _Claims:
    """Which chunks this process takes: with a shared counter, the next one no process has taken
    yet (a process that is ahead takes more: none waits for a slow one); without, every one."""

    def __init__(self, counter: Any | None):
        self.counter = counter
        self.next = 0                           # this process's next claim (chunks are numbered in key order)

    def take(self, i: int) -> bool:
        if self.counter is None:
            return True
        if i < self.next:
            return False
        with self.counter.get_lock():
            self.next = self.counter.value
            if self.next == i:
                self.counter.value = i + 1
        return self.next == i


def _families(store: Any, rules: list[Any], plugins: Any | None, now: datetime, claims: _Claims,
              chunk: int, keep_findings: bool) -> CheckResult:
    """Evaluate the chunks of customers with their conversations that ``claims`` gives this
    process, committing findings chunk by chunk and the subjects' due times at the end
    (``DueBuffer``). ``finding_resolved`` is left to the caller (``result.resolved``)."""
    result = CheckResult(now=now)
    ev = _Evaluator(rules, plugins, result)
    due = DueBuffer(store)
    agents: dict = {}                       # read once per process, shared by every chunk
    with _few_collections():
        for i, uids in enumerate(_chunks(bulk.iter_subjects(store, "customer"), chunk)):
            if not claims.take(i):
                continue
            batch, histories = family_batch(store, uids, agents=agents)
            evaluated: dict[str, datetime | None] = {}
            resolved = _run_batch(store, ev, batch, now, result, False, keep_findings, histories, evaluated)
            due.add(evaluated)
            if not keep_findings:           # kept anyway: the caller runs finding_resolved for each
                result.resolved += resolved
    due.flush(now)
    return result


@contextmanager
def _few_collections(threshold: int = 200_000) -> Iterator[None]:
    """Histories are loaded, read and dropped a chunk at a time, and hold no reference cycles:
    reference counting frees them. The cyclic collector, left at its default, would walk every
    live object hundreds of times per chunk (a quarter of the loading time), so it runs rarely."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()                         # what existed before the sweep is never re-examined
    gc.set_threshold(threshold, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def _in_processes(store: Any, rules: list[Any], plugins: Any | None, now: datetime, workers: int,
                  chunk: int, keep_findings: bool) -> list[CheckResult]:
    ctx = multiprocessing.get_context("fork")
    store.settle()                         # no open connection or running checkpoint crosses the fork
    counter = ctx.Value("q", 0)            # the next chunk nobody has taken
    procs = []
    for w in range(workers):
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(send, store.url, rules, plugins, now, w, counter, chunk,
                                                 keep_findings), name=f"careplug-sweep-{w}", daemon=True)
        proc.start()
        send.close()
        procs.append((proc, recv))
    parts: list[CheckResult] = []
    errors: list[str] = []
    for w, (proc, recv) in enumerate(procs):
        try:
            ok, payload = recv.recv()
        except EOFError:
            ok, payload = False, "the worker process died without a result"
        proc.join()
        if ok:
            parts.append(payload)
        else:
            errors.append(f"worker {w}: {payload}")
    if errors:
        raise CareplugError("full evaluation failed (subjects not evaluated stay flagged for the next run): "
                            + "; ".join(errors))
    return parts


def _child(send: Any, url: str, rules: list[Any], plugins: Any | None, now: datetime, worker: int, counter: Any,
           chunk: int, keep_findings: bool) -> None:
    from .store import Store

    try:
        store = Store(url)
        if store.dialect == "sqlite":
            # checkpoint every ~400 MiB instead of ~40: a page rewritten by many chunks is copied
            # to the database once per window, not once per chunk
            event.listen(store.engine, "connect", _long_checkpoint_window)
        try:
            part = _families(store, rules, plugins, now, _Claims(counter), chunk, keep_findings)
        finally:
            store.close()
        send.send((True, part))
    except BaseException as exc:  # reported to the parent, which raises it
        log.debug("sweep worker %s failed", worker, exc_info=True)
        send.send((False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"))
    finally:
        send.close()


def _long_checkpoint_window(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=100000")
    cur.close()
