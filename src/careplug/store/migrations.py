"""Versioned schema migrations.

Each migration is ``(version, description, function(connection))``, applied in order inside one
transaction each, and the store's version recorded in ``careplug_meta``. A store newer than this
code is refused rather than silently misread. To change the schema: change ``schema.py`` *and*
append a migration that brings an existing store to the same shape (e.g. ``add_column``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Column, inspect, select, text
from sqlalchemy.engine import Connection

from ..errors import CareplugError
from . import schema

Migration = tuple[int, str, Callable[[Connection], None]]


def _initial(conn: Connection) -> None:
    schema.metadata.create_all(conn)


def add_column(conn: Connection, table: str, column: Column) -> None:
    """Add ``column`` to ``table`` unless it is already there (stores created by a newer v1)."""
    if column.name in {c["name"] for c in inspect(conn).get_columns(table)}:
        return
    ddl = column.type.compile(dialect=conn.dialect)
    conn.execute(text(f'ALTER TABLE {table} ADD COLUMN "{column.name}" {ddl}'))


def _partial_record_indexes(conn: Connection) -> None:
    """v2: the (source, parent/customer/account) indexes cover only rows that have the column."""
    for index in schema.RECORD_INDEXES:
        conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
        index.create(conn)


def _partial_subject_indexes(conn: Connection) -> None:
    """v3: the dirty and due-time indexes of subjects cover only dirty subjects, and subjects with a
    due time."""
    for index in schema.SUBJECT_INDEXES:
        conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
        index.create(conn)


def _identity_in_data(conn: Connection) -> None:
    """v4: each record's JSON starts with its identity (``codec.encode``), so the rules' loader
    decodes it as it is stored. Rows already in that form are left alone; the rest are rewritten
    in SQL (an id with characters JSON escapes may come out escaped differently from careplug's
    encoder: that record is then rewritten once more by its next sync, nothing else)."""
    quote = "json_quote({})" if conn.dialect.name == "sqlite" else "to_json({}::text)::text"
    conn.execute(text(
        "UPDATE records SET data = '{\"source\":' || " + quote.format("source") + " || ',\"external_id\":' || "
        + quote.format("external_id") + " || CASE WHEN data = '{}' THEN '}' ELSE ',' || substr(data, 2) END "
        "WHERE substr(data, 1, 10) <> '{\"source\":'"))


MIGRATIONS: list[Migration] = [
    (1, "initial schema", _initial),
    (2, "partial indexes on records", _partial_record_indexes),
    (3, "partial indexes on subjects", _partial_subject_indexes),
    (4, "record JSON with its identity", _identity_in_data),
]

LATEST = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(schema.meta.name):
        return 0
    row = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).first()
    return int(row[0]) if row else 0


def migrate(engine) -> int:
    """Bring the store to the latest version; return the version it was at."""
    with engine.begin() as conn:
        start = current_version(conn)
    if start > LATEST:
        raise CareplugError(
            f"the store is at schema version {start}, newer than this careplug knows ({LATEST}): upgrade careplug")
    for version, _description, apply in MIGRATIONS:
        if version <= start:
            continue
        with engine.begin() as conn:
            apply(conn)
            schema.metadata.tables[schema.meta.name].create(conn, checkfirst=True)
            conn.execute(schema.meta.delete().where(schema.meta.c.key == "schema_version"))
            conn.execute(schema.meta.insert().values(key="schema_version", value=str(version)))
    if start and start < LATEST and engine.dialect.name == "sqlite":
        _give_back_the_log(engine)
    return start


def _give_back_the_log(engine, seconds: float = 5.0) -> None:
    """After a migration that rewrote rows (v4: every record) the write-ahead log is as big as what
    it rewrote: fold it into the database and truncate it. Tried for ``seconds`` at most, without
    the connections' busy timeout (30 s a try): another process reading the store keeps the log
    busy, and then the space comes back at a later checkpoint instead of opening the store late."""
    deadline = time.monotonic() + seconds
    while True:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout=0")
            try:
                busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()[0][0]
            finally:
                conn.exec_driver_sql("PRAGMA busy_timeout=30000")     # the pool's setting, for the next user
        if not busy or time.monotonic() >= deadline:
            return
        time.sleep(0.05)
