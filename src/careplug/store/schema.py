"""The store's tables (SQLAlchemy Core): the current shape. Migrations bring old stores here.

Timestamps are stored as UTC epoch seconds (floats): portable, sortable and cheap to compare.
Records keep their full normalized form as JSON in ``data``; the columns beside it are what
queries filter on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

meta = Table(
    "careplug_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("parent_id", String(255)),        # conversation external id of messages, events, ...
    Column("customer_id", String(255)),      # customer external id (same source)
    Column("account_id", String(255)),
    Column("created_at", Float),
    Column("updated_at", Float),
    Column("data", Text, nullable=False),
    UniqueConstraint("source", "kind", "external_id", name="uq_records_identity"),
)


def partial_index(name: str, *columns: Any, where: Any) -> Index:
    """An index over the rows that match ``where`` only (on SQLite and PostgreSQL)."""
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


def _partial(name: str, column: str) -> Index:
    """An index on (source, column) over the rows that have the column: most records leave
    customer_id/account_id empty, and indexing their NULLs would slow every insert."""
    return partial_index(name, records.c.source, records.c[column], where=records.c[column].isnot(None))


RECORD_INDEXES = (
    _partial("ix_records_parent", "parent_id"),
    _partial("ix_records_customer", "customer_id"),
    _partial("ix_records_account", "account_id"),
)

customer_links = Table(
    "customer_links",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column("uid", String(300), nullable=False, index=True),
    Column("reason", Text, nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("value", String(320), primary_key=True),
    Column("uid", String(300), nullable=False, index=True),
)

cursors = Table(
    "cursors",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("stream", String(64), nullable=False),
    Column("external_id", String(255)),
    Column("reason", Text, nullable=False),
    Column("payload", Text),
    Column("at", Float, nullable=False),
    UniqueConstraint("source", "stream", "external_id", "reason", name="uq_quarantine"),
)

subjects = Table(
    "subjects",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("dirty", Boolean, nullable=False, default=True),
    Column("next_due_at", Float),
    Column("evaluated_at", Float),
)


# Partial: only the subjects waiting to be evaluated, only those with something pending. A full run
# clears a million dirty flags, and most subjects have no due time: neither is an index entry.
# The conditions are written as the queries write them (``dirty IS 1``, ``next_due_at IS NOT NULL``),
# which is what lets SQLite use the index.
SUBJECT_INDEXES = (
    partial_index("ix_subjects_dirty", subjects.c.dirty, where=subjects.c.dirty.is_(True)),
    partial_index("ix_subjects_due", subjects.c.next_due_at, where=subjects.c.next_due_at.isnot(None)),
)

findings = Table(
    "findings",
    metadata,
    Column("key", String(600), primary_key=True),
    Column("rule", String(64), nullable=False),
    Column("subject", String(400), nullable=False, index=True),
    Column("occurrence", String(255), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),       # "open" or "resolved"
    Column("started_at", Float, nullable=False),
    Column("due_at", Float),
    Column("detected_at", Float, nullable=False),
    Column("resolved_at", Float),
    Column("data", Text, nullable=False),
    Index("ix_findings_status", "status", "rule"),
)

nudges = Table(
    "nudges",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("finding_key", String(600), nullable=False, index=True),
    Column("stage", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("target", String(64), nullable=False),
    Column("assignee", String(255)),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("external_ref", String(255)),
    Column("error", Text),
    Column("planned_at", Float, nullable=False),
    Column("not_before", Float),                          # quiet hours: deliver after this
    Column("updated_at", Float, nullable=False),
    Column("delivered_at", Float),
    Column("cancelled_at", Float),
    Column("data", Text, nullable=False),
    Index("ix_nudges_state", "state", "target"),
)

run_lock = Table(
    "run_lock",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("command", String(32), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("status", String(16), nullable=False),
    Column("summary", Text),
)
