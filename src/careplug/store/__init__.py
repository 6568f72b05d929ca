"""The store: SQLite by default, any SQLAlchemy database (PostgreSQL) by URL.

Callers use ``Store`` methods only; the SQL stays behind this seam.

The central write is ``commit_batch``: a batch of records from one stream, the quarantined
payloads beside them, and the cursor that covers them, in one transaction. Upserts compare the
stored JSON, so syncing the same records twice changes nothing, and only records that really
changed mark their subjects for the rules.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, and_, bindparam, cast, create_engine, delete, event, func, literal_column, or_, select,
                        true, type_coerce)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from ..finding import subject_key
from ..history import History
from ..model import RECORD_KINDS_BY_TYPE, Deletion, Quarantined, Record
from . import codec, driver_sql, identities, migrations, schema
from .agents import agent_refs, attach
from .idlist import ids_param, in_ids
from .pairs import pairs_in
from .lock import RunLock

__all__ = ["Store", "open_store", "BatchResult"]

CHILD_KINDS = ("message", "event", "rating", "task")
UPSERT_CHUNK = 2000
LOOKUP_CHUNK = 400
SAMPLE = 16       # ids of a batch looked up to choose between inserting first and reading first
RECORD_COLUMNS = ("source", "kind", "external_id", "parent_id", "customer_id", "account_id", "created_at",
                  "updated_at", "data")


_r, _l = schema.records.c, schema.customer_links.c


# Stored conversations (one source, by id): their customer id and account
Q_CONVERSATION_REFS = (
    select(_r.customer_id, _r.account_id)
    .where(_r.source == bindparam("src"), _r.kind == "conversation", in_ids(_r.external_id)))
# customer ids (one source): their uids
Q_UIDS_OF_CUSTOMERS = select(_l.uid).distinct().where(_l.source == bindparam("src"), in_ids(_l.external_id))
# uids: every customer record linked to them
Q_LINKS_OF_UIDS = select(_l.source, _l.external_id).where(in_ids(_l.uid))
# customer ids (one source): their conversations (``kind || ''`` keeps SQLite on the customer index)
Q_CONVERSATIONS_OF_CUSTOMERS = select(_r.external_id).where(
    _r.source == bindparam("src"), (_r.kind + literal_column("''")) == "conversation", in_ids(_r.customer_id))
# account ids (one source): the records of a kind stamped with them
Q_BY_ACCOUNT_ID = select(_r.external_id).where(
    _r.source == bindparam("src"), (_r.kind + literal_column("''")) == bindparam("kind"), in_ids(_r.account_id))


def _conversations_of_agents(dialect: str) -> Any:
    """Agent ids (one source): the conversations they are assigned, and those they wrote in as
    agents. Read from the JSON (PostgreSQL needs the text cast to ``json``; SQLite reads it as it
    is, and a CAST there would make it a number): a scan of the source's conversations and
    messages, run only when an agent's time zone changed."""
    data = cast(_r.data, JSON) if dialect == "postgresql" else type_coerce(_r.data, JSON)
    return (select(_r.external_id)
            .where(_r.source == bindparam("src"), _r.kind == "conversation", in_ids(data["assignee"].as_string()))
            .union(select(_r.parent_id).where(
                _r.source == bindparam("src"), _r.kind == "message", _r.parent_id.is_not(None),
                data["author_role"].as_string() == "agent", in_ids(data["author"].as_string()))))


# uids: the accounts of every customer record linked to them
Q_ACCOUNTS_OF_UIDS = (
    select(_r.source, _r.account_id).distinct()
    .select_from(schema.customer_links.join(
        schema.records, and_(_r.source == _l.source, _r.kind == "customer", _r.external_id == _l.external_id)))
    .where(in_ids(_l.uid), _r.account_id.is_not(None)))


# a subject already dirty is left alone (no rewrite of its row and index entry); ``WHERE true``
# tells SQLite's parser the ON CONFLICT belongs to the INSERT, not to the SELECT's join
_MARK_DIRTY_SQLITE = ("INSERT INTO subjects (key, kind, dirty) SELECT value, ?, 1 FROM json_each(?) WHERE true "
                      "ON CONFLICT (key) DO UPDATE SET dirty = excluded.dirty WHERE subjects.dirty IS NOT 1")


class _Touched:
    """What the changed records of one ``commit_batch`` touch, as far as the batch tells:
    conversations (changed, or the parent of a changed child), customer ids, uids of the batch's
    customers, accounts; and the customer and account id of each conversation in the batch."""

    __slots__ = ("conversations", "customer_refs", "uids", "accounts", "known", "account_profiles", "agent_zones")

    def __init__(self) -> None:
        self.conversations: set[tuple[str, str]] = set()
        self.customer_refs: set[tuple[str, str]] = set()
        self.uids: set[str] = set()
        self.accounts: set[tuple[str, str]] = set()
        self.known: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        # account records that changed (a tier, tags, an owner): every conversation history holds
        # its customer's account, and scope reads it (new or changed customer records are in
        # ``uids``, resolved with the batch)
        self.account_profiles: set[tuple[str, str]] = set()
        # agents whose time zone changed: a promise is read in its author's zone
        self.agent_zones: set[tuple[str, str]] = set()


def _by_source(refs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for source, ext in refs:
        out.setdefault(source, set()).add(ext)
    return {source: sorted(ids) for source, ids in out.items()}


def _note_moves(rows: list[tuple], previous: dict[int, Any], touched: _Touched) -> None:
    """A stored record that moved — a conversation or customer to another customer or account, a
    message, event, rating or task to another conversation, customer or account (HubSpot files an
    engagement on the contact until it is associated with a ticket) — leaves the old ones'
    histories: they are noted in ``touched`` as well."""
    for i, data in previous.items():
        row = rows[i]
        source, kind = row[0], row[1]
        if kind == "account" or kind == "agent":
            continue
        old = json.loads(data)
        old_parent, old_customer, old_account = old.get("conversation_id"), old.get("customer_id"), old.get("account_id")
        if kind in CHILD_KINDS:
            if old_parent and old_parent != row[3]:
                touched.conversations.add((source, old_parent))
            elif not old_parent:
                if old_customer and (row[3] or old_customer != row[4]):
                    touched.customer_refs.add((source, old_customer))  # was the customer's own
                if old_account and row[3]:
                    touched.accounts.add((source, old_account))        # was the account's own
        elif kind == "conversation" and old_customer and old_customer != row[4]:
            touched.customer_refs.add((source, old_customer))
        if old_account and old_account != row[5]:
            touched.accounts.add((source, old_account))


def _url(path_or_url: str) -> str:
    if "://" in path_or_url:
        return path_or_url
    path = os.path.abspath(os.path.expanduser(path_or_url))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return f"sqlite:///{path}"


class BatchResult:
    """What one committed batch changed: counts per kind, and subjects marked dirty."""

    __slots__ = ("counts", "subjects", "quarantined")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.subjects: set[str] = set()
        self.quarantined = 0

    @property
    def changed(self) -> int:
        return sum(self.counts.values())


class Store:
    def __init__(self, url: str, *, echo: bool = False):
        self.url = _url(url)
        self.engine: Engine = create_engine(self.url, echo=echo, future=True)
        self.dialect = self.engine.dialect.name
        self._compiled: dict[str, tuple[str | None, list[int] | None, Any]] = {}
        self._sqlite = self.dialect == "sqlite"
        self._checkpointer: _Checkpointer | None = None
        if self._sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            database = self.engine.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                self._checkpointer = _Checkpointer(database)
        migrations.migrate(self.engine)

    # --- plumbing -----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def run_lock(self, **kw: Any) -> RunLock:
        return RunLock(self.engine, **kw)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()

    def settle(self) -> None:
        """Wait for background work (a running WAL checkpoint) and close pooled connections:
        call before ``fork`` so the child inherits no thread mid-call and no open connection."""
        if self._checkpointer is not None:
            self._checkpointer.wait()
        self.engine.dispose()

    def _insert(self, table):
        return (sqlite.insert if self.dialect == "sqlite" else postgresql.insert)(table)

    # --- cursors ------------------------------------------------------------------------------

    def get_cursor(self, source: str, stream: str) -> Any | None:
        with self.engine.connect() as conn:
            raw = conn.execute(select(schema.cursors.c.cursor).where(
                schema.cursors.c.source == source, schema.cursors.c.stream == stream)).scalar()
        return None if raw is None else json.loads(raw)

    def cursors(self, source: str | None = None) -> dict[tuple[str, str], Any]:
        query = select(schema.cursors)
        if source:
            query = query.where(schema.cursors.c.source == source)
        with self.engine.connect() as conn:
            return {(r.source, r.stream): json.loads(r.cursor) for r in conn.execute(query)}

    def _set_cursor(self, conn: Connection, source: str, stream: str, cursor: Any) -> None:
        stmt = self._insert(schema.cursors).values(source=source, stream=stream, cursor=codec.dumps(cursor),
                                                   updated_at=time.time())
        conn.execute(stmt.on_conflict_do_update(index_elements=["source", "stream"],
                                                set_={"cursor": stmt.excluded.cursor,
                                                      "updated_at": stmt.excluded.updated_at}))

    # --- the central write --------------------------------------------------------------------

    def commit_batch(self, source: str, stream: str, records: Iterable[Record],
                     quarantined: Iterable[Quarantined] = (), cursor: Any = None,
                     *, set_cursor: bool = True) -> BatchResult:
        """Store ``records`` and ``quarantined`` and advance ``(source, stream)`` to ``cursor``,
        all in one transaction. Returns what changed."""
        result = BatchResult()
        touched = _Touched()
        records = list(records)
        with self.engine.begin() as conn:
            upserts = [r for r in records if not isinstance(r, Deletion)]
            for i in range(0, len(upserts), UPSERT_CHUNK):
                self._upsert(conn, upserts[i:i + UPSERT_CHUNK], result, touched)
            for deletion in (r for r in records if isinstance(r, Deletion)):
                self._delete(conn, deletion, result, touched)
            for q in quarantined:
                self._quarantine(conn, source, stream, q)
                result.quarantined += 1
            self._mark_related(conn, touched, result)
            self._mark_dirty(conn, result.subjects)
            if set_cursor and cursor is not None:
                self._set_cursor(conn, source, stream, cursor)
        if self._checkpointer is not None:
            self._checkpointer.poke()
        return result

    def _upsert(self, conn: Connection, batch: list[Record], result: BatchResult, touched: _Touched) -> None:
        """Write the new and changed records of ``batch``; count them, mark the subjects of their
        own (a changed conversation or child: its conversation; a changed account: its account),
        and note in ``touched`` what their customers and accounts are, as far as the batch tells
        (``_mark_related`` looks up the rest once per batch)."""
        rows = [_row_builder(type(r))(r) for r in batch]                # in RECORD_COLUMNS order
        if not rows:
            return
        if len({row[2] for row in rows}) < len(rows):
            # the same record twice in a batch (changed twice during one page): the last one wins,
            # at the place of the first
            keep = list({row[:3]: i for i, row in enumerate(rows)}.values())
            rows, batch = [rows[i] for i in keep], [batch[i] for i in keep]
        # the customer and account of every conversation in the batch, changed or not: a child
        # synced with its conversation needs no lookup of them
        known = touched.known
        for row in rows:
            if row[1] == "conversation":
                known[(row[0], row[2])] = (row[4], row[5])
        previous: dict[int, Any] = {}           # the stored JSON of changed records that existed
        if self._sqlite and self._looks_new(conn, rows):
            changed = self._write_new_or_changed(conn, rows, previous)
        else:
            # Read the stored JSON of these records first (one indexed query per few hundred ids),
            # and write only the new or changed ones with one executemany: much faster than an
            # upsert with RETURNING, and the same outcome (unchanged rows are not touched).
            stored = self._stored_data(conn, rows)
            changed = []
            for i, row in enumerate(rows):
                data = stored.get(row[:3], (None, None))[1]
                if data != row[8]:
                    changed.append(i)
                    if data is not None:
                        previous[i] = data
            if changed:
                self._write_rows(conn, [rows[i] for i in changed])
        if not changed:
            return
        _note_moves(rows, previous, touched)
        counts = result.counts
        conversations, customer_refs, accounts = touched.conversations, touched.customer_refs, touched.accounts
        customers: list[Record] = []
        for i in changed:  # in batch order: identity resolution must not depend on set order
            source, kind, external_id, parent, customer_id, account_id = rows[i][:6]
            counts[kind] = counts.get(kind, 0) + 1
            if kind in CHILD_KINDS:
                # a child of a conversation is in the history of its conversation's customer; one
                # of none (a customer-level rating or task), in its own customer's, and one stamped
                # with an account (a task logged on the account) in that account's too
                if parent:
                    conversations.add((source, parent))
                else:
                    if customer_id:
                        customer_refs.add((source, customer_id))
                    if account_id:
                        accounts.add((source, account_id))
            elif kind == "conversation":
                conversations.add((source, external_id))
            elif kind == "customer":
                customers.append(batch[i])
                if account_id:
                    accounts.add((source, account_id))
            elif kind == "account":
                accounts.add((source, external_id))
                if i in previous:
                    touched.account_profiles.add((source, external_id))
            elif kind == "agent" and i in previous:
                if json.loads(previous[i]).get("time_zone") != getattr(batch[i], "time_zone", None):
                    touched.agent_zones.add((source, external_id))
        for uid, merged in identities.resolve_many(conn, customers):  # type: ignore[arg-type]
            touched.uids.add(uid)
            result.subjects.update(subject_key("customer", m) for m in merged)

    def _mark_related(self, conn: Connection, touched: _Touched, result: BatchResult) -> None:
        """Mark the subjects whose history holds the batch's changes: each touched conversation,
        its customer (by uid: one customer across every source) and its account, the accounts of
        every customer record linked to an affected uid (an account's history holds its customers,
        their linked records in other sources, and all their conversations), and the accounts
        noted by ``_upsert`` (a rating or task on no conversation stamped with an account).

        What the batch does not tell is read with one query per source and kind of lookup, each id
        list bound as one parameter (``idlist``), every join on an index: the stored conversations
        whose children came without them (their customer and account), the uids of the customer
        ids, and once per batch the accounts of every customer record linked to those uids."""
        known, accounts = touched.known, touched.accounts
        uids: set[str] = set()
        refs = touched.customer_refs
        unknown: list[tuple[str, str]] = []
        for key in touched.conversations:
            ref = known.get(key)
            if ref is None:
                unknown.append(key)
                continue
            customer_id, account_id = ref
            if customer_id:
                refs.add((key[0], customer_id))
            if account_id:
                accounts.add((key[0], account_id))
        for source, ids in _by_source(unknown).items():
            for customer_id, account_id in self._rows(conn, Q_CONVERSATION_REFS, src=source, ids=ids):
                if customer_id:
                    refs.add((source, customer_id))
                if account_id:
                    accounts.add((source, account_id))
        for source, ids in _by_source(refs).items():
            uids.update(row[0] for row in self._rows(conn, Q_UIDS_OF_CUSTOMERS, src=source, ids=ids))
        uids |= touched.uids
        if uids:
            # once per batch, linear in the families' sizes (a join per customer id would repeat a
            # large merged family — a shared switchboard number — for every id of it in the batch)
            accounts.update(self._rows(conn, Q_ACCOUNTS_OF_UIDS, ids=sorted(uids)))
        subjects = result.subjects
        for source, ids in _by_source(touched.agent_zones).items():
            touched.conversations.update((source, row[0]) for row in
                                         self._rows(conn, _conversations_of_agents(self.dialect), src=source,
                                                    ids=ids))
        subjects.update([f"conversation:{source}:{external_id}" for source, external_id in touched.conversations])
        if touched.uids or touched.account_profiles:
            subjects.update(f"conversation:{source}:{external_id}"
                            for source, external_id in self._conversations_of_profiles(conn, touched))
        subjects.update([f"customer:{uid}" for uid in uids])
        subjects.update([f"account:{source}:{external_id}" for source, external_id in accounts])

    def _conversations_of_profiles(self, conn: Connection, touched: _Touched) -> set[tuple[str, str]]:
        """The conversations whose histories hold a new or changed customer record or a changed
        account record: every conversation of every customer record linked to those customers (and
        to the customers of the changed accounts), and the conversations stamped with a changed
        account. A few indexed queries per batch of customers; none for other batches."""
        out: set[tuple[str, str]] = set()
        customers: set[tuple[str, str]] = set()          # of the changed accounts
        for source, ids in _by_source(touched.account_profiles).items():
            for column in ("customer", "conversation"):
                for (external_id,) in self._rows(conn, Q_BY_ACCOUNT_ID, src=source, kind=column, ids=ids):
                    (customers if column == "customer" else out).add((source, external_id))
        uids = set(touched.uids)                         # the batch's own customers, resolved already
        for source, ids in _by_source(customers).items():
            uids.update(row[0] for row in self._rows(conn, Q_UIDS_OF_CUSTOMERS, src=source, ids=ids))
        links = self._rows(conn, Q_LINKS_OF_UIDS, ids=sorted(uids)) if uids else []
        for source, ids in _by_source(links).items():
            out.update((source, row[0]) for row in self._rows(conn, Q_CONVERSATIONS_OF_CUSTOMERS, src=source, ids=ids))
        return out

    def _rows(self, conn: Connection, query: Any, *, ids: list[str], **params: Any) -> list[tuple]:
        """``query``'s rows as plain tuples, ``ids`` bound as one list."""
        result = conn.execute(query, {"ids": ids_param(self.dialect, ids), **params})
        try:
            return result.cursor.fetchall()
        finally:
            result.close()

    def _looks_new(self, conn: Connection, rows: list[tuple]) -> bool:
        """None of a sample of the batch is stored yet: most likely none of it is (a first sync).
        Either answer gives the same outcome; it only picks the faster way to get there."""
        return not self._stored_data(conn, rows[::max(1, len(rows) // SAMPLE)])

    def _write_new_or_changed(self, conn: Connection, rows: list[tuple], previous: dict[int, Any]) -> list[int]:
        """SQLite, for a batch that looks new: write the new and the changed rows; return their
        indices, in batch order.

        The rows are inserted first with ``ON CONFLICT DO NOTHING`` (one executemany, in batch
        order), which writes the new ones and leaves every stored one untouched. When all were
        new (a first sync, the usual case for most of a big history) nothing else runs: no read
        of the stored JSON. Otherwise the batch's stored rows are read back; the ones this insert
        created are the ``inserted`` highest ids (SQLite gives a new row a rowid above every
        existing one), and a stored row whose JSON differs is overwritten by the upsert.
        """
        inserted = self._executemany(conn, "insert_new", RECORD_COLUMNS, rows)
        if inserted == len(rows):
            return list(range(len(rows)))
        stored = self._stored_data(conn, rows)
        new_ids = set(sorted(rid for rid, _ in stored.values())[len(stored) - inserted:]) if inserted else set()
        changed, updates = [], []
        for i, row in enumerate(rows):
            rid, data = stored[row[:3]]
            if rid in new_ids:
                changed.append(i)
            elif data != row[8]:
                changed.append(i)
                updates.append(row)
                previous[i] = data
        if updates:
            self._write_rows(conn, updates)
        return changed

    def _write_rows(self, conn: Connection, rows: list[tuple]) -> None:
        """Insert or overwrite records (tuples in ``RECORD_COLUMNS`` order) with one executemany."""
        self._executemany(conn, "upsert", RECORD_COLUMNS, rows)

    def _statement(self, name: str) -> Any:
        """The write statements of ``commit_batch``, by name."""
        if name in ("upsert", "insert_new"):
            stmt = self._insert(schema.records)
            if name == "insert_new":
                return stmt.on_conflict_do_nothing(index_elements=["source", "kind", "external_id"])
            return stmt.on_conflict_do_update(index_elements=["source", "kind", "external_id"],
                                              set_={c: stmt.excluded[c] for c in RECORD_COLUMNS[3:]})
        if name == "dirty":
            # a subject already dirty is left alone (no rewrite of its row and index entry)
            stmt = self._insert(schema.subjects)
            return stmt.on_conflict_do_update(index_elements=["key"], set_={"dirty": stmt.excluded.dirty},
                                              where=schema.subjects.c.dirty.is_not(true()))
        raise KeyError(name)

    def _executemany(self, conn: Connection, name: str, columns: tuple[str, ...], rows: list[tuple]) -> int:
        """Run statement ``name`` once per row (tuples in ``columns`` order); the rows it changed.

        The statement is compiled once per store; on positional DB-API drivers (sqlite3) the rows
        go to the driver as tuples, skipping SQLAlchemy's per-row parameter processing."""
        compiled = self._compiled.get(name)
        if compiled is None:
            stmt = self._statement(name)
            c = stmt.compile(dialect=self.engine.dialect, column_keys=list(columns))
            order = list(c.positiontup or []) if c.positional else None
            if order is not None and sorted(order) == sorted(columns):
                compiled = (str(c), [columns.index(n) for n in order], stmt)
            else:
                compiled = (None, None, stmt)
            self._compiled[name] = compiled
        sql, order, stmt = compiled
        if sql is not None and order is not None:
            if order != list(range(len(columns))):
                rows = [tuple(row[i] for i in order) for row in rows]
            return conn.exec_driver_sql(sql, rows).rowcount
        return conn.execute(stmt, [dict(zip(columns, row)) for row in rows]).rowcount

    def _stored_data(self, conn: Connection, rows: list[tuple]) -> dict[tuple[str, str, str], tuple[int, str]]:
        """``(id, data)`` of the rows' records that are stored, by (source, kind, external_id)."""
        r = schema.records.c
        groups: dict[tuple[str, str], list[str]] = {}
        for row in rows:
            groups.setdefault((row[0], row[1]), []).append(row[2])
        out: dict[tuple[str, str, str], tuple[int, str]] = {}
        query = select(r.external_id, r.id, r.data).where(r.source == bindparam("s"), r.kind == bindparam("k"),
                                                          r.external_id.in_(bindparam("ids", expanding=True)))
        for (source, kind), ids in groups.items():
            for i in range(0, len(ids), LOOKUP_CHUNK):
                chunk = ids[i:i + LOOKUP_CHUNK]
                if self._sqlite:   # sqlite3: plain SQL, no per-query compile of the expanded IN
                    found = conn.exec_driver_sql(
                        "SELECT external_id, id, data FROM records WHERE source = ? AND kind = ? AND external_id IN ("
                        + ",".join("?" * len(chunk)) + ")", (source, kind, *chunk))
                else:
                    found = conn.execute(query, {"s": source, "k": kind, "ids": chunk})
                for ext, rid, data in found:
                    out[(source, kind, ext)] = (rid, data)
        return out

    def _delete(self, conn: Connection, d: Deletion, result: BatchResult, touched: _Touched) -> None:
        """Delete a record (a conversation with its children) and note in ``touched`` whose
        history it was in: its conversation, customer and account (``_mark_related`` marks them),
        so that what the record held up — a reply that answered, a touch that kept a promise — is
        evaluated again without it."""
        r = schema.records.c
        gone = conn.execute(delete(schema.records).where(
            r.source == d.source, r.kind == d.record_kind, r.external_id == d.external_id)
            .returning(r.parent_id, r.customer_id, r.account_id)).all()
        source = d.source
        for parent, customer_id, account_id in gone:
            if parent:
                touched.conversations.add((source, parent))
            elif customer_id:
                touched.customer_refs.add((source, customer_id))
            if account_id:
                touched.accounts.add((source, account_id))
        if d.record_kind == "conversation":
            conn.execute(delete(schema.records).where(r.source == d.source, r.parent_id == d.external_id,
                                                      r.kind.in_(CHILD_KINDS)))
            # gone from the store: the conversation subject itself (its findings resolve), and its
            # customer, known from the deleted row rather than looked up
            result.subjects.add(subject_key("conversation", source, d.external_id))
        elif d.record_kind == "customer":
            touched.customer_refs.update((source, d.external_id) for _ in gone)
        elif d.record_kind == "account":
            touched.accounts.update((source, d.external_id) for _ in gone)
        if gone:
            result.counts["deletion"] = result.counts.get("deletion", 0) + 1

    def _quarantine(self, conn: Connection, source: str, stream: str, q: Quarantined) -> None:
        payload = q.payload if isinstance(q.payload, str) else codec.dumps(q.payload)
        stmt = self._insert(schema.quarantine).values(source=source, stream=q.stream or stream,
                                                      external_id=q.external_id, reason=q.reason,
                                                      payload=payload, at=time.time())
        conn.execute(stmt.on_conflict_do_update(index_elements=["source", "stream", "external_id", "reason"],
                                                set_={"payload": stmt.excluded.payload, "at": stmt.excluded.at}))

    def _mark_dirty(self, conn: Connection, subjects: set[str]) -> None:
        if not subjects:
            return
        if not self._sqlite:
            self._executemany(conn, "dirty", ("key", "kind", "dirty"),
                              [(s, s.split(":", 1)[0], True) for s in sorted(subjects)])
            return
        # SQLite: one statement per subject kind, the keys bound as one JSON array (a few times
        # faster than one upsert per key: a batch marks thousands of subjects, most already dirty)
        by_kind: dict[str, list[str]] = {}
        for key in sorted(subjects):
            by_kind.setdefault(key.partition(":")[0], []).append(key)
        for kind, keys in by_kind.items():
            conn.exec_driver_sql(_MARK_DIRTY_SQLITE, (kind, ids_param("sqlite", keys)))

    # --- reading records ----------------------------------------------------------------------

    def iter_records(self, kind: str, source: str | None = None, *, chunk: int = 5000) -> Iterator[Record]:
        r = schema.records.c
        query = select(r.source, r.kind, r.external_id, r.data).where(r.kind == kind).order_by(r.id)
        if source:
            query = query.where(r.source == source)
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=chunk).execute(query)
            for row in result:
                yield codec.decode(row.kind, row.source, row.external_id, row.data)

    def get(self, source: str, kind: str, external_id: str) -> Record | None:
        r = schema.records.c
        with self.engine.connect() as conn:
            row = conn.execute(select(r.data).where(r.source == source, r.kind == kind,
                                                    r.external_id == external_id)).first()
        return None if row is None else codec.decode(kind, source, external_id, row.data)

    def count(self, kind: str | None = None) -> int:
        query = select(func.count()).select_from(schema.records)
        if kind:
            query = query.where(schema.records.c.kind == kind)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def counts(self) -> dict[str, int]:
        r = schema.records.c
        with self.engine.connect() as conn:
            return {k: n for k, n in conn.execute(select(r.kind, func.count()).group_by(r.kind))}

    def quarantined(self, source: str | None = None) -> list[dict[str, Any]]:
        q = select(schema.quarantine).order_by(schema.quarantine.c.id)
        if source:
            q = q.where(schema.quarantine.c.source == source)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(q).mappings()]

    def snapshot(self) -> list[tuple[str, str, str, str]]:
        """Every record, sorted: two stores with equal snapshots hold the same data."""
        r = schema.records.c
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(
                select(r.source, r.kind, r.external_id, r.data).order_by(r.source, r.kind, r.external_id))]

    # --- customers ----------------------------------------------------------------------------

    def customer_uid(self, source: str, external_id: str) -> str | None:
        c = schema.customer_links.c
        with self.engine.connect() as conn:
            return conn.execute(select(c.uid).where(c.source == source, c.external_id == external_id)).scalar()

    def find_customer(self, query: str) -> str | None:
        """A uid from an email, phone, handle, uid or ``source/external_id``."""
        from ..model import IdentityKind, normalize_identity

        c = schema.customer_links.c
        i = schema.identities.c
        with self.engine.connect() as conn:
            if conn.execute(select(c.uid).where(c.uid == query).limit(1)).scalar():
                return query
            if "/" in query:
                src, _, ext = query.partition("/")
                uid = conn.execute(select(c.uid).where(c.source == src, c.external_id == ext)).scalar()
                if uid:
                    return uid
            for kind in (IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.SOCIAL):
                uid = conn.execute(select(i.uid).where(i.kind == kind.value,
                                                       i.value == normalize_identity(kind, query))).scalar()
                if uid:
                    return uid
        return None

    def customer_label(self, uid: str) -> str:
        """A short person-readable name for a customer: the name, else an email or phone, else the uid."""
        c = schema.customer_links.c
        r = schema.records.c
        with self.engine.connect() as conn:
            links = [tuple(x) for x in conn.execute(select(c.source, c.external_id).where(c.uid == uid))]
            for rec in self._records(conn, and_(r.kind == "customer", pairs_in(r.source, r.external_id, links))):
                if rec.label:
                    return rec.label
        return uid

    def customer_links(self, uid: str) -> list[dict[str, str]]:
        c = schema.customer_links.c
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                select(c.source, c.external_id, c.reason).where(c.uid == uid).order_by(c.source, c.external_id)
            ).mappings()]

    # --- subjects and histories ---------------------------------------------------------------

    def dirty_subjects(self, limit: int | None = None) -> list[str]:
        s = schema.subjects.c
        q = select(s.key).where(s.dirty.is_(True)).order_by(s.key)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    def due_subjects(self, now: datetime) -> list[str]:
        s = schema.subjects.c
        with self.engine.connect() as conn:
            # ``IS NOT NULL`` lets SQLite seek the due-time index instead of walking every key in
            # order (most subjects have nothing pending: a full scan of a million rows)
            return list(conn.execute(select(s.key).where(s.next_due_at.isnot(None), s.next_due_at <= now.timestamp())
                                     .order_by(s.key)).scalars())

    def all_subjects(self, kind: str | None = None) -> list[str]:
        s = schema.subjects.c
        q = select(s.key).order_by(s.key)
        if kind:
            q = q.where(s.kind == kind)
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    def mark_evaluated(self, evaluated: dict[str, datetime | None], now: datetime,
                       conn: Connection | None = None) -> None:
        """Clear the dirty flag and index the next due time of each evaluated subject."""
        if not evaluated:
            return
        at = now.timestamp()
        rows = [(None if v is None else v.timestamp(), at, k) for k, v in evaluated.items()]
        with (nullcontext(conn) if conn is not None else self.engine.begin()) as c:
            mark = driver_sql.mark(c)
            # one plain statement, the same on SQLite and PostgreSQL, run with tuples
            c.exec_driver_sql(f"UPDATE subjects SET dirty = {driver_sql.false(c)}, "
                              f"next_due_at = {mark}, evaluated_at = {mark} WHERE key = {mark}", rows)

    def load_history(self, subject: str) -> History | None:
        """The history of one subject, or None when the subject no longer exists."""
        kind, _, rest = subject.partition(":")
        with self.engine.connect() as conn:
            if kind == "conversation":
                source, _, ext = rest.partition(":")
                return self._conversation_history(conn, subject, [(source, ext)])
            if kind == "customer":
                c = schema.customer_links.c
                links = [tuple(r) for r in conn.execute(select(c.source, c.external_id).where(c.uid == rest))]
                if not links:
                    return None
                r = schema.records.c
                convs = [tuple(x) for x in conn.execute(select(r.source, r.external_id).where(
                    r.kind == "conversation", pairs_in(r.source, r.customer_id, links)))]
                hist = self._conversation_history(conn, subject, convs, customer_links_=links, uid=rest)
                return hist
            if kind == "account":
                source, _, ext = rest.partition(":")
                return self._account_history(conn, subject, source, ext)
        raise ValueError(f"unknown subject kind in {subject!r}")

    def _account_history(self, conn: Connection, subject: str, source: str, ext: str) -> History | None:
        """The account, its customers (the records with its account_id, and every record linked
        to the same uids in any source), all their conversations in every source and those
        stamped with the account, with every child, the customers' customer-level ratings and
        tasks, and the account's own: those on no conversation stamped with the account (a call
        logged on the account, naming no contact): a customer history merged over the account's
        customers, with what was logged on the account itself."""
        r, c = schema.records.c, schema.customer_links.c
        found = self._records(conn, and_(r.kind == "account", r.source == source, r.external_id == ext))
        if not found:
            return None
        own = [tuple(x) for x in conn.execute(select(r.source, r.external_id).where(
            r.kind == "customer", r.source == source, r.account_id == ext))]
        links = set(own)
        if own:
            uids = sorted(set(conn.execute(select(c.uid).where(pairs_in(c.source, c.external_id, own))).scalars()))
            if uids:
                links |= {tuple(x) for x in conn.execute(select(c.source, c.external_id).where(c.uid.in_(uids)))}
        convs = [tuple(x) for x in conn.execute(select(r.source, r.external_id).where(
            r.kind == "conversation",
            or_(pairs_in(r.source, r.customer_id, links), and_(r.source == source, r.account_id == ext))))]
        return self._conversation_history(conn, subject, convs, customer_links_=sorted(links), account=found[0],
                                          account_ref=(source, ext))

    def _records(self, conn: Connection, where) -> list[Record]:
        """Records in the store's time order: undated first (on every database), then by
        ``created_at``, ties by row id."""
        r = schema.records.c
        return [codec.decode(row.kind, row.source, row.external_id, row.data)
                for row in conn.execute(select(r.source, r.kind, r.external_id, r.data).where(where)
                                        .order_by(r.created_at.is_not(None), r.created_at, r.id))]

    def _conversation_history(self, conn: Connection, subject: str, convs: list[tuple[str, str]],
                              customer_links_: list[tuple[str, str]] | None = None,
                              uid: str | None = None, account: Any = None,
                              account_ref: tuple[str, str] | None = None) -> History | None:
        """The conversations ``convs`` with their children, agents, customer and account. For a
        customer or account subject, ``customer_links_`` are its customer records, whose
        customer-level ratings and tasks belong to it too; for a conversation subject (None),
        the customer is its conversation's. For an account subject, ``account_ref`` is the
        account: the ratings and tasks on no conversation stamped with it belong to it too."""
        r = schema.records.c
        hist = History(subject=subject, customer_uid=uid, account=account)
        whole = customer_links_ is not None and not subject.startswith("conversation:")
        # the ratings and tasks attached to no conversation that belong to the subject: its
        # customers' and, for an account, those stamped with it (one query, in time order, each once)
        extra = []
        if whole and customer_links_:
            extra.append(pairs_in(r.source, r.customer_id, customer_links_))
        if account_ref is not None:
            extra.append(and_(r.source == account_ref[0], r.account_id == account_ref[1]))
        own = and_(r.kind.in_(("rating", "task")), r.parent_id.is_(None), or_(*extra)) if extra else None
        if convs:
            hist.conversations = self._records(conn, and_(r.kind == "conversation",
                                                          pairs_in(r.source, r.external_id, convs)))
            where = and_(r.kind.in_(CHILD_KINDS), pairs_in(r.source, r.parent_id, convs))
            if own is not None:
                where = or_(where, own)
            for rec in self._records(conn, where):
                getattr(hist, rec.kind + "s").append(rec)
        elif own is not None:
            # no conversations: only the ratings and tasks attached to no conversation
            for rec in self._records(conn, own):
                getattr(hist, rec.kind + "s").append(rec)
        if subject.startswith("conversation:") and not hist.conversations:
            return None
        if customer_links_ is None:
            conv = hist.conversation
            if conv is not None and conv.customer_id:
                c = schema.customer_links.c
                uid = conn.execute(select(c.uid).where(c.source == conv.source,
                                                       c.external_id == conv.customer_id)).scalar()
                hist.customer_uid = uid
                if uid:
                    customer_links_ = [tuple(x) for x in conn.execute(
                        select(c.source, c.external_id).where(c.uid == uid))]
        if customer_links_:
            hist.customers = self._records(conn, and_(r.kind == "customer",
                                                      pairs_in(r.source, r.external_id, customer_links_)))
        accounts = {(c.source, c.account_id) for c in hist.customers if c.account_id}
        accounts |= {(c.source, c.account_id) for c in hist.conversations if c.account_id}
        if accounts and hist.account is None:
            found = self._records(conn, and_(r.kind == "account", pairs_in(r.source, r.external_id, accounts)))
            hist.account = found[0] if found else None  # type: ignore[assignment]
        agent_ids = agent_refs(hist.conversations, hist.messages)
        if agent_ids:
            found = self._records(conn, and_(r.kind == "agent", pairs_in(r.source, r.external_id, agent_ids)))
            attach(hist, agent_ids, {(a.source, a.external_id): a for a in found})
        return hist


class _Checkpointer:
    """SQLite WAL checkpoints in a background thread, after ``commit_batch``.

    In WAL mode a commit appends its pages to the ``-wal`` file; a checkpoint copies them into
    the database file and syncs it. SQLite runs one inside the commit that takes the WAL past
    ``wal_autocheckpoint`` pages, so every few dozen batches one commit waited for copying and
    syncing ~40 MiB (~0.3 s here: most of the commit time of a big ingest). Instead, after each
    batch a short-lived thread opens its own connection and runs a PASSIVE checkpoint: that
    blocks neither writers nor readers, SQLite releases the GIL while it copies and syncs, and it
    usually ends before the next batch writes, so the WAL restarts small. Batches committed
    while one runs ask for one more run after it. The automatic checkpoint stays as the backstop
    when the thread falls behind or fails.

    Durability is what ``synchronous=NORMAL`` gives either way: a commit survives a crash of the
    process once it is in the WAL, and the WAL is synced to disk at each checkpoint (now after
    every batch instead of every ~40 MiB). No connection is kept open between checkpoints.
    """

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self._closed = False

    def poke(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._thread is not None and self._thread.is_alive():   # (not alive: forked)
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name="careplug-checkpoint", daemon=True)
            self._thread.start()

    def wait(self) -> None:
        """Wait for a running checkpoint (more may start later)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def close(self) -> None:
        """Wait for a running checkpoint; start no more."""
        with self._lock:
            self._closed, thread = True, self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                finally:
                    conn.close()
            except sqlite3.Error:
                pass    # the commits' automatic checkpoint still runs
            with self._lock:
                if self._closed or not self._again:
                    self._thread = None
                    return
                self._again = False


def _none(_record: Record) -> None:
    return None


@functools.cache
def _row_builder(cls: type) -> Callable[[Record], tuple]:
    """The ``records`` row (``RECORD_COLUMNS`` order) of a record of type ``cls``: the columns the
    type does not have are None, timestamps are epoch seconds, ``data`` is ``codec.encode``."""
    names = {f.name for f in dataclasses.fields(cls)}
    parent, customer, account, created, updated = (
        operator.attrgetter(name) if name in names else _none
        for name in ("conversation_id", "customer_id", "account_id", "created_at", "updated_at"))
    kind, encode = RECORD_KINDS_BY_TYPE[cls], codec.encoder(cls)

    def row(r: Any) -> tuple:
        c, u = created(r), updated(r)
        return (r.source, kind, r.external_id, parent(r), customer(r), account(r),
                None if c is None else c.timestamp(), None if u is None else u.timestamp(), encode(r))
    return row


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA cache_size=-65536")    # 64 MiB of page cache: keeps the indexes hot during big syncs
    cur.execute("PRAGMA wal_autocheckpoint=10000")  # checkpoint every ~40 MiB of WAL, not 4 MiB: fewer syncs
    cur.close()


def open_store(path_or_url: str) -> Store:
    return Store(path_or_url)
