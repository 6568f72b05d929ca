"""The store's promises: idempotent syncs, cursors in the same transaction as their records,
explainable identity resolution, and a run lock that survives a killed holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from careplug import StoreLocked
from careplug.model import Customer
from careplug.sources.files import FilesOptions, FilesSource
from careplug.store import Store, identities, schema
from careplug.sync import sync_source
from careplug.testing.generator import generate, write_files

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=timezone.utc)
SOURCES = ("zendesk", "salesforce", "hubspot")


def state(store: Store) -> dict[str, list]:
    """Everything a sync writes, comparable between stores."""
    out = {"records": store.snapshot()}
    with store.engine.connect() as conn:
        for table, order in ((schema.customer_links, "external_id"), (schema.identities, "value"),
                             (schema.cursors, "stream"), (schema.subjects, "key"), (schema.quarantine, "reason")):
            cols = [c for c in table.c if c.name not in ("updated_at", "at", "id")]
            out[table.name] = [tuple(r) for r in conn.execute(select(*cols).order_by(*cols))]
    return out


def sync_export(store: Store, root, **options) -> int:
    changed = 0
    for name in SOURCES:
        result = sync_source(store, FilesSource(name, FilesOptions(path=str(root / name), **options)))
        assert result.ok, [s.error for s in result.streams if s.error]
        changed += result.changed
    return changed


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "store.db"))
    yield s
    s.close()


# --- idempotence -----------------------------------------------------------------------------


def test_syncing_the_same_files_twice_leaves_the_store_identical(tmp_path, store):
    write_files(tmp_path / "export", 300, seed=11, now=NOW)
    assert sync_export(store, tmp_path / "export") > 0
    first = state(store)
    with store.engine.begin() as conn:              # forget the cursors: every file is read again
        conn.execute(schema.cursors.delete())
    assert sync_export(store, tmp_path / "export") == 0, "nothing changed"
    assert state(store) == first


def test_a_second_sync_with_cursors_reads_nothing(tmp_path, store):
    write_files(tmp_path / "export", 100, seed=11, now=NOW)
    sync_export(store, tmp_path / "export")
    again = sync_source(store, FilesSource("zendesk", FilesOptions(path=str(tmp_path / "export" / "zendesk"))))
    assert again.read == 0 and again.changed == 0


def test_only_changed_records_count_and_mark_their_subjects_dirty(store):
    records = list(generate(20, seed=1, now=NOW, sources=("desk",)))
    store.commit_batch("desk", "all", records, cursor="c1")
    store.mark_evaluated({s: None for s in store.dirty_subjects()}, NOW)
    assert store.dirty_subjects() == []
    conv = next(r for r in records if r.kind == "conversation")
    conv.subject = "changed"
    result = store.commit_batch("desk", "all", records, cursor="c2")
    assert result.counts == {"conversation": 1}
    assert f"conversation:desk:{conv.external_id}" in store.dirty_subjects()
    assert store.get_cursor("desk", "all") == "c2"


# --- cursors and transactions -----------------------------------------------------------------


def test_the_cursor_is_committed_in_the_same_transaction_as_its_records(store, monkeypatch):
    records = list(generate(5, seed=1, now=NOW, sources=("desk",)))

    def crash(*_args, **_kw):
        raise RuntimeError("power cut while writing the cursor")

    monkeypatch.setattr(store, "_set_cursor", crash)
    with pytest.raises(RuntimeError):
        store.commit_batch("desk", "all", records, cursor={"offset": 123})
    assert store.count() == 0 and store.get_cursor("desk", "all") is None, "neither the records nor the cursor"
    monkeypatch.undo()
    store.commit_batch("desk", "all", records, cursor={"offset": 123})
    assert store.count() == len(records) and store.get_cursor("desk", "all") == {"offset": 123}


def test_a_failure_while_storing_records_keeps_the_old_cursor_and_the_old_records(store, monkeypatch):
    store.commit_batch("desk", "all", list(generate(3, seed=1, now=NOW, sources=("desk",))), cursor="c1")
    before = store.snapshot()

    def disk_full(*_args, **_kw):
        raise OSError("disk full")

    monkeypatch.setattr(store, "_mark_dirty", disk_full)
    with pytest.raises(OSError):
        store.commit_batch("desk", "all", list(generate(6, seed=2, now=NOW, sources=("desk",))), cursor="c2")
    assert store.get_cursor("desk", "all") == "c1" and store.snapshot() == before


# --- identity resolution ----------------------------------------------------------------------


def customer(source, xid, *, emails=(), phones=()):
    return Customer(source, xid, name=xid, emails=list(emails), phones=list(phones))


def test_the_same_email_in_another_case_in_two_sources_is_one_customer_with_an_explained_link(store):
    store.commit_batch("zendesk", "users", [customer("zendesk", "1", emails=["Ada.Lovelace@Example.com"])])
    store.commit_batch("hubspot", "contacts", [customer("hubspot", "901", emails=["ada.lovelace@EXAMPLE.COM"])])
    uid = store.customer_uid("zendesk", "1")
    assert uid == store.customer_uid("hubspot", "901") == "zendesk/1"
    links = {link["source"]: link["reason"] for link in store.customer_links(uid)}
    assert links == {"zendesk": "first seen here",
                     "hubspot": "same email ada.lovelace@example.com as zendesk/1"}
    assert store.find_customer("ADA.LOVELACE@example.com") == uid


def test_a_shared_phone_links_too_and_a_bridging_record_merges_two_customers(store):
    store.commit_batch("zendesk", "users", [customer("zendesk", "1", emails=["ada@example.com"])])
    store.commit_batch("salesforce", "contacts", [customer("salesforce", "003A", phones=["+1 (555) 000-1234"])])
    assert store.customer_uid("zendesk", "1") != store.customer_uid("salesforce", "003A")
    bridge = customer("hubspot", "7", emails=["ADA@example.com"], phones=["+15550001234"])
    result = store.commit_batch("hubspot", "contacts", [bridge])
    uids = {store.customer_uid(s, x) for s, x in (("zendesk", "1"), ("salesforce", "003A"), ("hubspot", "7"))}
    assert uids == {"salesforce/003A"}, "the smaller uid wins"
    assert "customer:zendesk/1" in result.subjects, "the merged-away customer is re-evaluated"
    reasons = {link["source"]: link["reason"] for link in store.customer_links("salesforce/003A")}
    assert reasons["hubspot"] == "same email ada@example.com, phone +15550001234 as salesforce/003A"
    assert reasons["zendesk"] == "first seen here"


def test_batched_identity_resolution_gives_the_same_links_as_one_customer_at_a_time(tmp_path):
    people = [r for r in generate(900, seed=4, now=NOW) if r.kind == "customer"]
    assert len(people) > 250
    one_by_one, batched = Store(str(tmp_path / "a.db")), Store(str(tmp_path / "b.db"))
    with one_by_one.transaction() as conn:
        for c in people:
            identities.resolve(conn, c)
    with batched.transaction() as conn:
        for i in range(0, len(people), 97):
            identities.resolve_many(conn, people[i:i + 97])
    assert state(one_by_one)["customer_links"] == state(batched)["customer_links"]
    assert state(one_by_one)["identities"] == state(batched)["identities"]


def test_generated_overlapping_people_resolve_to_fewer_customers_than_records(tmp_path, store):
    write_files(tmp_path / "export", 200, seed=3, now=NOW)
    sync_export(store, tmp_path / "export")
    with store.engine.connect() as conn:
        rows = conn.execute(select(schema.customer_links.c.uid)).scalars().all()
    assert len(set(rows)) < len(rows)


# --- the run lock -----------------------------------------------------------------------------


def test_a_second_run_lock_on_the_same_store_fails_while_the_first_is_held(store):
    with store.run_lock():
        with pytest.raises(StoreLocked, match="another careplug run holds this store"):
            store.run_lock().acquire()
        other = Store(store.url)
        with pytest.raises(StoreLocked):
            other.run_lock().acquire()
        other.close()
    with store.run_lock():    # released: the next run proceeds
        pass


HOLDER = textwrap.dedent("""
    import sys, time
    from careplug.store import Store
    lock = Store(sys.argv[1]).run_lock()
    lock.acquire()
    print("held", flush=True)
    time.sleep(120)
""")


def test_a_lock_left_by_a_killed_process_is_taken_over(store):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, store.url.removeprefix("sqlite:///")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLocked, match=f"pid {holder.pid}"):
            store.run_lock().acquire()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    lock = store.run_lock()
    lock.acquire()
    assert lock.held
    lock.release()
