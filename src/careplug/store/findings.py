"""Findings persistence: the ``findings`` table, read and written as ``careplug.finding.Finding``.

A row per finding key (``rule|subject|occurrence``). ``status`` is ``"open"`` until the condition
clears, then ``"resolved"`` with ``resolved_at``; the full Finding lives as JSON in ``data`` and the
columns beside it are what queries filter on. ``save`` is an upsert: saving the same key again
replaces the row (the check engine keeps the first ``detected_at``).

Every function takes the ``Store``; ``conn`` joins an open transaction (``store.transaction()``)
so findings and the subjects' due times are written together.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import bindparam, func, literal_column, select, update
from sqlalchemy.engine import Connection

from ..finding import Finding, Severity
from . import codec, driver_sql, schema
from .idlist import ids_param, in_ids

if TYPE_CHECKING:  # pragma: no cover
    from . import Store

__all__ = ["save", "get", "open_findings", "open_by_subject", "resolved_since", "mark_resolved",
           "encode", "decode"]

_DATETIMES = ("started_at", "due_at", "detected_at", "resolved_at", "next_check_at")
CHUNK = 500
IDS_CHUNK = 5000
_t = schema.findings.c
_BY_SUBJECT = select(_t.data).where(in_ids(_t.subject))
# ``status || ''``: the subject index, not a walk through every open finding of (status, rule)
_STATUS = (_t.status + literal_column("''")) == bindparam("status")
_BY_SUBJECT_STATUS = _BY_SUBJECT.where(_STATUS)
_OPEN_BY_KEY = select(_t.data).where(in_ids(_t.key), _STATUS)


def encode(finding: Finding) -> str:
    """The JSON text of a finding (datetimes as ISO 8601, severity as its value)."""
    if not isinstance(finding.severity, Severity):
        finding = replace(finding, severity=Severity(finding.severity))
    return orjson.dumps(finding, default=_plain).decode()


def _plain(value: Any) -> Any:
    """What orjson cannot encode by itself, in a finding's ``explain``."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def decode(text: str) -> Finding:
    raw = json.loads(text)
    for name in _DATETIMES:
        if raw.get(name) is not None:
            raw[name] = datetime.fromisoformat(raw[name])
    raw["severity"] = Severity(raw["severity"])
    known = set(Finding.__slots__)  # type: ignore[attr-defined]
    return Finding(**{k: v for k, v in raw.items() if k in known})


_COLUMNS = ("key", "rule", "subject", "occurrence", "stage", "severity", "status", "started_at", "due_at",
            "detected_at", "resolved_at", "data")
_REPLACED = ("stage", "severity", "status", "started_at", "due_at", "detected_at", "resolved_at", "data")


def _row(f: Finding) -> tuple:
    """The values of ``_COLUMNS`` for ``f``."""
    return (f.key, f.rule, f.subject, f.occurrence, f.stage, Severity(f.severity).value,
            "open" if f.resolved_at is None else "resolved", f.started_at.timestamp(), codec.epoch(f.due_at),
            (f.detected_at or f.started_at).timestamp(), codec.epoch(f.resolved_at), encode(f))


def _upsert_sql(mark: str) -> str:
    """``INSERT ... ON CONFLICT (key) DO UPDATE``, the same text on SQLite and PostgreSQL, run with
    plain tuples (a full evaluation writes hundreds of thousands of findings)."""
    return (f"INSERT INTO findings ({', '.join(_COLUMNS)}) VALUES ({', '.join([mark] * len(_COLUMNS))}) "
            f"ON CONFLICT (key) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _REPLACED)}")


@contextmanager
def _begin(store: "Store", conn: Connection | None) -> Iterator[Connection]:
    if conn is not None:
        yield conn
    else:
        with store.engine.begin() as c:
            yield c


@contextmanager
def _read(store: "Store", conn: Connection | None) -> Iterator[Connection]:
    if conn is not None:
        yield conn
    else:
        with store.engine.connect() as c:
            yield c


def save(store: "Store", findings: Iterable[Finding], *, conn: Connection | None = None) -> int:
    """Insert or replace findings by key; returns how many were written."""
    rows = [_row(f) for f in findings]
    if not rows:
        return 0
    with _begin(store, conn) as c:
        sql = _upsert_sql(driver_sql.mark(c))
        for i in range(0, len(rows), CHUNK):
            c.exec_driver_sql(sql, rows[i:i + CHUNK])
    return len(rows)


def get(store: "Store", key: str, *, conn: Connection | None = None) -> Finding | None:
    """The finding with this key (open or resolved), or None."""
    t = schema.findings.c
    with _read(store, conn) as c:
        data = c.execute(select(t.data).where(t.key == key)).scalar()
    return None if data is None else decode(data)


def keys_starting(store: "Store", prefix: str, *, limit: int = 6) -> list[str]:
    """Up to ``limit`` finding keys that start with ``prefix`` (case counts, as in keys), in key
    order."""
    t = schema.findings.c
    with _read(store, None) as c:
        return list(c.execute(select(t.key).where(func.substr(t.key, 1, len(prefix)) == prefix)
                              .order_by(t.key).limit(limit)).scalars())


def open_findings(store: "Store", *, rule: str | None = None, subject: str | None = None,
                  conn: Connection | None = None) -> list[Finding]:
    """Open findings, optionally of one rule and/or one subject, ordered by due time then key."""
    t = schema.findings.c
    q = select(t.data).where(t.status == "open")
    if rule is not None:
        q = q.where(t.rule == rule)
    if subject is not None:
        q = q.where(t.subject == subject)
    q = q.order_by(t.due_at, t.key)
    with _read(store, conn) as c:
        return [decode(d) for d in c.execute(q).scalars()]


def by_subject(store: "Store", subjects: Iterable[str] | None = None, *, status: str | None = "open",
               conn: Connection | None = None) -> dict[str, list[Finding]]:
    """Findings grouped by subject: of the given subjects (every subject when None), with this
    ``status`` ("open", "resolved", or None for both)."""
    t = schema.findings.c
    out: dict[str, list[Finding]] = {}
    with _read(store, conn) as c:
        if subjects is None:
            base = select(t.data) if status is None else select(t.data).where(t.status == status)
            batches: Iterable[Any] = [c.execute(base)]
        else:
            keys = sorted(set(subjects))
            batches = (c.execute(_BY_SUBJECT if status is None else _BY_SUBJECT_STATUS,
                                 {"ids": ids_param(c.dialect.name, keys[i:i + IDS_CHUNK]), "status": status})
                       for i in range(0, len(keys), IDS_CHUNK))
        for result in batches:
            for data in result.scalars():
                f = decode(data)
                out.setdefault(f.subject, []).append(f)
    return out


def open_by_subject(store: "Store", subjects: Iterable[str] | None = None, *,
                    conn: Connection | None = None) -> dict[str, list[Finding]]:
    """Open findings grouped by subject: of the given subjects, or of every subject when None."""
    return by_subject(store, subjects, status="open", conn=conn)


def resolved_since(store: "Store", since: datetime, *, conn: Connection | None = None) -> list[Finding]:
    """Findings resolved at or after ``since``. ``resolved_at`` is when the condition cleared, which
    may be before the check that saw it clear (a reply synced late): what one run resolved is in its
    ``CheckResult.resolved``, not necessarily here."""
    t = schema.findings.c
    q = (select(t.data).where(t.status == "resolved", t.resolved_at >= since.timestamp())
         .order_by(t.resolved_at, t.key))
    with _read(store, conn) as c:
        return [decode(d) for d in c.execute(q).scalars()]


def mark_resolved(store: "Store", keys: Iterable[str] | Mapping[str, datetime], at: datetime | None = None, *,
                  conn: Connection | None = None) -> list[Finding]:
    """Mark open findings resolved: every key in ``keys`` at ``at``, or, when ``keys`` maps each key
    to its own time (when its condition cleared, as the check engine finds it), each at that time.
    Returns the findings that were open and now are not. Keys that are unknown or already resolved
    are ignored."""
    times: Mapping[str, datetime | None] = keys if isinstance(keys, Mapping) else dict.fromkeys(keys, at)
    if any(t is None for t in times.values()):
        raise TypeError("mark_resolved needs a time: `at`, or a mapping of keys to times")
    ordered = sorted(times)
    if not ordered:
        return []
    done: list[Finding] = []
    with _begin(store, conn) as c:
        for i in range(0, len(ordered), IDS_CHUNK):
            ids = ids_param(c.dialect.name, ordered[i:i + IDS_CHUNK])
            for data in c.execute(_OPEN_BY_KEY, {"ids": ids, "status": "open"}).scalars():
                f = decode(data)
                f.resolved_at = times[f.key]
                f.next_check_at = None
                done.append(f)
        if done:
            stmt = update(schema.findings).where(schema.findings.c.key == bindparam("k")).values(
                status="resolved", resolved_at=bindparam("at"), data=bindparam("d"))
            c.execute(stmt, [{"k": f.key, "at": f.resolved_at.timestamp(), "d": encode(f)} for f in done])
    return done
