"""The run lock: two overlapping runs on one store cannot both proceed.

A row in ``run_lock`` names the holder (pid, host, time). A second run finds it and stops with
``StoreLocked``, unless the holder is gone: a pid that no longer exists on this host (a crashed or
killed run), or a heartbeat older than ``stale_after`` seconds (a holder on another host that died).
The primary key makes taking the lock atomic on every database.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import datetime, timezone

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import StoreLocked
from .schema import run_lock

DEFAULT_STALE_AFTER = 30 * 60


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    def __init__(self, engine, name: str = "run", stale_after: float = DEFAULT_STALE_AFTER):
        self.engine = engine
        self.name = name
        self.stale_after = stale_after
        self.owner = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.held = False

    def acquire(self) -> None:
        now = time.time()
        row = dict(name=self.name, owner=self.owner, pid=os.getpid(), host=self.host,
                   acquired_at=now, heartbeat_at=now)
        for _attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    conn.execute(run_lock.insert().values(**row))
                self.held = True
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
                            f"the lock is taken over after {int(self.stale_after)} s without a heartbeat.")
                    conn.execute(delete(run_lock).where(run_lock.c.name == self.name,
                                                        run_lock.c.owner == holder["owner"]))
        raise StoreLocked("could not take the run lock: it kept changing hands")

    def _stale(self, holder, now: float) -> bool:
        if holder["host"] == self.host and not _pid_alive(holder["pid"]):
            return True
        return now - holder["heartbeat_at"] > self.stale_after

    def heartbeat(self) -> None:
        if self.held:
            with self.engine.begin() as conn:
                conn.execute(update(run_lock).where(run_lock.c.name == self.name, run_lock.c.owner == self.owner)
                             .values(heartbeat_at=time.time()))

    def release(self) -> None:
        if self.held:
            with self.engine.begin() as conn:
                conn.execute(delete(run_lock).where(run_lock.c.name == self.name, run_lock.c.owner == self.owner))
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
