"""The run lock is taken over only from a run that is gone: on this host a holder whose process
still runs keeps it however long it runs; a holder on another host keeps it while its heartbeat,
refreshed in the background while the lock is held, is fresh."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import select, update

from careplug.errors import StoreLocked
from careplug.store import Store
from careplug.store.lock import RunLock, _Heartbeat
from careplug.store.schema import run_lock


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "careplug.db"))
    yield s
    s.close()


def holder_row(store: Store) -> dict:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(run_lock)).mappings().one())


def age_heartbeat(store: Store, **values) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(run_lock).values(heartbeat_at=0, **values))


HOLDER = textwrap.dedent("""
    import sys, time
    from careplug.store import Store
    lock = Store(sys.argv[1]).run_lock(beat_every=0)      # no heartbeat: only its pid says it runs
    lock.acquire()
    print("held", flush=True)
    time.sleep(120)
""")


def test_a_live_holder_on_this_host_is_never_taken_over_however_old_its_heartbeat(store, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "careplug.db")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        age_heartbeat(store)                                  # a run of many hours, no beat since
        with pytest.raises(StoreLocked, match=f"pid {holder.pid}"):
            store.run_lock(stale_after=1).acquire()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    lock = store.run_lock()                                   # gone: taken over at once
    lock.acquire()
    assert lock.held
    lock.release()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="process start times come from /proc")
def test_a_pid_reused_by_a_later_process_does_not_keep_the_lock(store):
    with store.run_lock(beat_every=0):
        age_heartbeat(store, pid=os.getpid(), acquired_at=time.time() - 10 * 365 * 86400)
    with store.engine.begin() as conn:                        # left behind, its pid now this process's
        conn.execute(run_lock.insert().values(name="run", owner="crashed", pid=os.getpid(), host=RunLock(
            store.engine).host, acquired_at=time.time() - 10 * 365 * 86400, heartbeat_at=time.time()))
    lock = store.run_lock()
    lock.acquire()
    assert holder_row(store)["owner"] == lock.owner
    lock.release()


def test_a_holder_on_another_host_keeps_the_lock_while_its_heartbeat_is_fresh(store):
    lock = store.run_lock(stale_after=0.6)                    # beats every 0.1 s
    lock.acquire()
    try:
        elsewhere = store.run_lock(stale_after=0.6)
        elsewhere.host = "another-host"
        first = holder_row(store)["heartbeat_at"]
        time.sleep(1.2)                                       # twice stale_after without an explicit beat
        assert holder_row(store)["heartbeat_at"] > first
        with pytest.raises(StoreLocked):
            elsewhere.acquire()
    finally:
        lock.release()
    assert not lock.held and not _Heartbeat._running


def test_a_holder_on_another_host_without_a_heartbeat_is_taken_over(store):
    gone = store.run_lock(beat_every=0)
    gone.acquire()
    gone.host = "another-host"
    age_heartbeat(store, host="another-host")
    lock = store.run_lock(stale_after=60)
    lock.acquire()
    assert holder_row(store)["owner"] == lock.owner
    lock.release()
    assert gone._beat(store.engine) is False                  # the old holder learns it lost the lock


def _child_heartbeats(queue, lock):
    queue.put((len(_Heartbeat._running), lock._heartbeat.stopping.is_set()))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_forked_worker_does_not_beat_for_the_parent(store):
    lock = store.run_lock(stale_after=0.3)
    lock.acquire()
    try:
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        store.settle()
        worker = ctx.Process(target=_child_heartbeats, args=(queue, lock))
        worker.start()
        assert queue.get(timeout=30) == (0, True)
        worker.join(timeout=30)
        before = holder_row(store)["heartbeat_at"]
        time.sleep(0.3)
        assert holder_row(store)["heartbeat_at"] > before     # the parent's heartbeat goes on
    finally:
        lock.release()


def test_an_in_memory_store_needs_no_heartbeat():
    """Nothing else can see its lock (and another thread would see another database)."""
    store = Store("sqlite://")
    with store.run_lock(stale_after=0.3) as lock:
        assert lock._heartbeat is None and holder_row(store)["owner"] == lock.owner
