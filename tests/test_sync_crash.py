"""A sync killed with SIGKILL at random points and re-run ends with exactly the store of a sync
that was never interrupted: cursors never run ahead of the data, upserts make re-reads harmless,
and the run lock of a killed run is taken over."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone

import pytest

from sqlalchemy import select

from careplug.store import Store, schema
from careplug.testing.generator import write_files

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=timezone.utc)
SOURCES = ("zendesk", "salesforce", "hubspot")
RUN_TIMEOUT = 180

SYNC = textwrap.dedent("""
    import sys
    from careplug.sources.files import FilesOptions, FilesSource
    from careplug.store import Store
    from careplug.sync import sync_source

    store_path, root = sys.argv[1], sys.argv[2]
    store = Store(store_path)
    with store.run_lock():
        for name in ("zendesk", "salesforce", "hubspot"):
            source = FilesSource(name, FilesOptions(path=f"{root}/{name}", checkpoint_every=97))
            result = sync_source(store, source, max_buffer=400)
            assert result.ok, [s.error for s in result.streams if s.error]
    print("synced", flush=True)
""")


def state(store: Store) -> dict[str, list]:
    """Everything a sync writes (records, customer links, identities, cursors, subjects, quarantine)."""
    out = {"records": store.snapshot()}
    with store.engine.connect() as conn:
        for table in (schema.customer_links, schema.identities, schema.cursors, schema.subjects, schema.quarantine):
            cols = [c for c in table.c if c.name not in ("updated_at", "at", "id")]
            out[table.name] = [tuple(r) for r in conn.execute(select(*cols).order_by(*cols))]
    return out


def start_sync(store_path: str, root: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SYNC, store_path, root], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> None:
    out, err = proc.communicate(timeout=RUN_TIMEOUT)
    assert proc.returncode == 0 and "synced" in out, err


def stored_records(store_path: str) -> int:
    if not os.path.exists(store_path):
        return 0
    with sqlite3.connect(store_path, timeout=30) as conn:
        try:
            return conn.execute("SELECT count(*) FROM records").fetchone()[0]
        except sqlite3.OperationalError:       # killed before the schema was created
            return 0


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    write_files(root, 1500, seed=21, now=NOW)
    with open(root / "zendesk" / "messages.jsonl", "a") as f:       # bad rows are quarantined, once
        f.write('{"id": "bad-1", "channel": "fax"}\n{not json}\n')
    return root


@pytest.mark.slow
def test_a_sync_killed_at_random_points_and_rerun_ends_with_the_records_of_an_uninterrupted_sync(export, tmp_path):
    reference = str(tmp_path / "reference.db")
    started = time.monotonic()
    finish(start_sync(reference, str(export)))
    duration = time.monotonic() - started
    total = stored_records(reference)
    assert total > 10_000

    crashed = str(tmp_path / "crashed.db")
    rng = random.Random(os.environ.get("CAREPLUG_CRASH_SEED", "careplug"))
    deadline = time.monotonic() + 8 * RUN_TIMEOUT
    partial_counts = []
    kills = 0
    while kills < 6 and time.monotonic() < deadline:
        proc = start_sync(crashed, str(export))
        time.sleep(rng.uniform(0.2, 0.9) * duration)
        if proc.poll() is not None:             # it finished before the kill: the store is complete
            finish(proc)
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=RUN_TIMEOUT)
        kills += 1
        partial_counts.append(stored_records(crashed))
    finish(start_sync(crashed, str(export)))    # and once more to completion

    assert kills >= 1
    assert any(0 < n < total for n in partial_counts), f"no kill landed mid-sync: {partial_counts} of {total}"
    reference_store, crashed_store = Store(reference), Store(crashed)
    try:
        assert state(crashed_store) == state(reference_store)
        assert len(crashed_store.quarantined()) == 2
    finally:
        reference_store.close()
        crashed_store.close()
