"""The run lock: two overlapping runs on one store cannot both proceed.

A row in ``run_lock`` names the holder (pid, host, time). A second run finds it and stops with
``StoreLocked``, unless the holder is gone. On this host that is known for sure: the holder is gone
when its pid no longer exists (a crashed or killed run) or now belongs to a process started after
the lock was taken (the pid was reused); a live holder is never taken over, however long it runs.
A holder on another host is gone when its heartbeat is older than ``stale_after`` seconds: while
the lock is held a background thread refreshes the heartbeat every ``stale_after / 6`` seconds (at
most every minute), so a long sync, check or nudge is never taken over mid-run. The primary key
makes taking the lock atomic on every database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from datetime import datetime, timezone

from sqlalchemy import create_engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from ..errors import StoreLocked
from .schema import run_lock

log = logging.getLogger(__name__)

DEFAULT_STALE_AFTER = 30 * 60
MAX_BEAT_INTERVAL = 60.0
PID_REUSE_SLACK = 2.0     # seconds: /proc/stat gives the boot time in whole seconds


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _started_at(pid: int) -> float | None:
    """When process ``pid`` started (Unix time), where the system tells (Linux ``/proc``); else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/stat", encoding="ascii") as f:
            boot = next(float(line.split()[1]) for line in f if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _holder_alive(pid: int, acquired_at: float) -> bool:
    """Whether the process that took a lock at ``acquired_at`` as ``pid`` on this host still runs."""
    if not _pid_alive(pid):
        return False
    started = _started_at(pid)
    return started is None or started <= acquired_at + PID_REUSE_SLACK


def _in_memory(url) -> bool:
    """An in-memory SQLite store: one process, one connection per thread; nothing else can see
    its lock, so nothing needs a heartbeat."""
    database = url.database or ""
    return url.get_backend_name() == "sqlite" and (database in ("", ":memory:") or "mode=memory" in database)


class _Heartbeat:
    """Refreshes a held lock's heartbeat every ``interval`` seconds in a daemon thread, through an
    engine of its own (no pooled connection shared with the run). Around ``fork`` (``check
    --workers``) no beat is in flight; a forked child has no heartbeat."""

    _running: "weakref.WeakSet[_Heartbeat]" = weakref.WeakSet()

    def __init__(self, lock: "RunLock", interval: float):
        self.lock = lock
        self.interval = interval
        self.busy = threading.Lock()
        self.stopping = threading.Event()
        url = lock.engine.url
        connect_args = {"timeout": 30} if url.get_backend_name() == "sqlite" else {}
        self.engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
        self.thread = threading.Thread(target=self._run, name=f"careplug-heartbeat-{lock.name}", daemon=True)

    def start(self) -> None:
        self._running.add(self)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=60)
        self._running.discard(self)
        self.engine.dispose()

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            with self.busy:
                if self.stopping.is_set():
                    return
                try:
                    if not self.lock._beat(self.engine):
                        log.warning("the run lock %r was taken over by another run", self.lock.name)
                        return
                except Exception as exc:  # a missed beat is retried; the run goes on
                    log.warning("could not refresh the run lock's heartbeat: %s", exc)

    @classmethod
    def _before_fork(cls) -> None:
        for beat in list(cls._running):
            beat.busy.acquire()

    @classmethod
    def _after_fork_in_parent(cls) -> None:
        for beat in list(cls._running):
            if beat.busy.locked():
                beat.busy.release()

    @classmethod
    def _after_fork_in_child(cls) -> None:
        for beat in list(cls._running):
            beat.stopping.set()
            if beat.busy.locked():
                beat.busy.release()
        cls._running = weakref.WeakSet()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_Heartbeat._before_fork, after_in_parent=_Heartbeat._after_fork_in_parent,
                        after_in_child=_Heartbeat._after_fork_in_child)


class RunLock:
    def __init__(self, engine, name: str = "run", stale_after: float = DEFAULT_STALE_AFTER,
                 beat_every: float | None = None):
        self.engine = engine
        self.name = name
        self.stale_after = stale_after
        self.beat_every = beat_every if beat_every is not None else min(MAX_BEAT_INTERVAL, stale_after / 6)
        self.owner = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.held = False
        self._heartbeat: _Heartbeat | None = None

    def acquire(self) -> None:
        now = time.time()
        row = dict(name=self.name, owner=self.owner, pid=os.getpid(), host=self.host,
                   acquired_at=now, heartbeat_at=now)
        for _attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    conn.execute(run_lock.insert().values(**row))
                self.held = True
                if self.beat_every > 0 and not _in_memory(self.engine.url):
                    self._heartbeat = _Heartbeat(self, self.beat_every)
                    self._heartbeat.start()
                return
            except IntegrityError:
                with self.engine.begin() as conn:
                    holder = conn.execute(select(run_lock).where(run_lock.c.name == self.name)).mappings().first()
                    if holder is None:
                        continue
                    if not self._stale(holder, now):
                        since = datetime.fromtimestamp(holder["acquired_at"], tz=timezone.utc)
                        raise StoreLocked(
                            f"another careplug run holds this store (pid {holder['pid']} on {holder['host']}, "
                            f"since {since:%Y-%m-%d %H:%M:%S} UTC); this run stops. If that run is gone, "
                            f"the lock is taken over: at once on its host, else after "
                            f"{int(self.stale_after)} s without a heartbeat.")
                    conn.execute(delete(run_lock).where(run_lock.c.name == self.name,
                                                        run_lock.c.owner == holder["owner"]))
        raise StoreLocked("could not take the run lock: it kept changing hands")

    def _stale(self, holder, now: float) -> bool:
        if holder["host"] == self.host:
            return not _holder_alive(holder["pid"], holder["acquired_at"])
        return now - holder["heartbeat_at"] > self.stale_after

    def heartbeat(self) -> None:
        """Refresh the heartbeat now (the background thread also does, every ``beat_every`` s)."""
        if self.held:
            self._beat(self.engine)

    def _beat(self, engine) -> bool:
        """Refresh the heartbeat through ``engine``; False when this run no longer holds the lock."""
        with engine.begin() as conn:
            done = conn.execute(update(run_lock).where(run_lock.c.name == self.name, run_lock.c.owner == self.owner)
                                .values(heartbeat_at=time.time()))
        return done.rowcount != 0

    def release(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        if self.held:
            with self.engine.begin() as conn:
                conn.execute(delete(run_lock).where(run_lock.c.name == self.name, run_lock.c.owner == self.owner))
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
