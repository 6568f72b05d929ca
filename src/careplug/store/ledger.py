"""The nudge ledger's rows: the ``nudges`` table, read and written as ``careplug.nudges.model.Nudge``.

One row per nudge key. Columns are what queries filter on; ``data`` holds the Nudge as JSON plus
its ``outcome`` (set when the finding cleared after delivery). State changes are compare-and-set
(``transition`` names the states a row may be in), so a row moves through each state at most once
even if two runs overlap. The state machine itself is ``careplug.nudges.ledger``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.engine import Connection

from ..nudges.model import Action, Nudge, NudgeState
from . import codec, schema

if TYPE_CHECKING:  # pragma: no cover
    from . import Store

__all__ = ["LedgerRow", "encode", "decode", "insert_new", "rows", "transition", "deliverable",
           "stale", "refresh", "count_for_assignee", "set_outcome", "set_error", "set_not_before", "customer_ids", "finding_keys_of"]

CHUNK = 500
_DATETIMES = ("due_at",)
_N = schema.nudges.c
_F = schema.findings.c


def encode(nudge: Nudge, outcome: dict[str, Any] | None = None) -> str:
    data: dict[str, Any] = {}
    for f in fields(Nudge):
        value = getattr(nudge, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif hasattr(value, "value"):
            value = value.value
        data[f.name] = value
    if outcome:
        data["outcome"] = outcome
    return codec.dumps(data)


def decode(text: str) -> tuple[Nudge, dict[str, Any]]:
    raw = json.loads(text)
    outcome = raw.pop("outcome", None) or {}
    for name in _DATETIMES:
        if raw.get(name):
            raw[name] = datetime.fromisoformat(raw[name])
    raw["action"] = Action(raw["action"])
    raw["state"] = NudgeState(raw["state"])
    known = {f.name for f in fields(Nudge)}
    return Nudge(**{k: v for k, v in raw.items() if k in known}), outcome


@dataclass(slots=True)
class LedgerRow:
    """A nudge with its ledger columns. Times are UTC epoch seconds."""

    nudge: Nudge
    state: NudgeState
    attempts: int
    error: str | None
    planned_at: float
    not_before: float | None
    updated_at: float
    delivered_at: float | None
    cancelled_at: float | None
    outcome: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.nudge.key


def _row(r: Any) -> LedgerRow:
    nudge, outcome = decode(r.data)
    state = NudgeState(r.state)
    nudge.state = state
    nudge.external_ref = r.external_ref or nudge.external_ref
    return LedgerRow(nudge, state, r.attempts, r.error, r.planned_at, r.not_before, r.updated_at,
                     r.delivered_at, r.cancelled_at, outcome)


def insert_new(store: "Store", conn: Connection, nudges: Sequence[Nudge], now: datetime,
               not_before: dict[str, datetime | None] | None = None) -> list[str]:
    """Insert ``nudges`` as *planned*; keys already in the ledger (in any state) are left as they
    are. Returns the keys inserted."""
    not_before = not_before or {}
    rows = [{
        "key": n.key, "finding_key": n.finding_key, "stage": n.stage, "action": n.action.value,
        "target": n.target, "assignee": n.assignee, "state": NudgeState.PLANNED.value, "attempts": 0,
        "external_ref": None, "error": None, "planned_at": now.timestamp(),
        "not_before": codec.epoch(not_before.get(n.key)), "updated_at": now.timestamp(),
        "delivered_at": None, "cancelled_at": None, "data": encode(n),
    } for n in {n.key: n for n in nudges}.values()]
    inserted: list[str] = []
    stmt = store._insert(schema.nudges).on_conflict_do_nothing(index_elements=["key"]).returning(_N.key)
    for i in range(0, len(rows), CHUNK):
        # executemany with RETURNING: SQLAlchemy 2 "insertmanyvalues" (SQLite and PostgreSQL)
        inserted.extend(conn.execute(stmt, rows[i:i + CHUNK]).scalars())
    return inserted


def rows(conn: Connection, *, keys: Iterable[str] | None = None, finding_keys: Iterable[str] | None = None,
         states: Iterable[NudgeState] | None = None) -> list[LedgerRow]:
    """Ledger rows filtered by key, finding key and/or state, in planning order."""
    q = select(schema.nudges).order_by(_N.planned_at, _N.key)
    if states is not None:
        q = q.where(_N.state.in_([s.value for s in states]))
    out: list[LedgerRow] = []
    for column, values in ((_N.key, keys), (_N.finding_key, finding_keys)):
        if values is not None:
            values = sorted(set(values))
            for i in range(0, len(values), CHUNK):
                out.extend(_row(r) for r in conn.execute(q.where(column.in_(values[i:i + CHUNK]))))
            return sorted(out, key=lambda r: (r.planned_at, r.key))
    return [_row(r) for r in conn.execute(q)]


def transition(conn: Connection, keys: Iterable[str], from_states: Iterable[NudgeState], to: NudgeState,
               now: datetime, *, error: str | None = None, attempt: bool = False,
               per_key: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Move the rows of ``keys`` that are in one of ``from_states`` to ``to``; returns the keys
    moved (compare-and-set: a row in another state is left alone). ``attempt`` counts a delivery
    attempt; ``per_key`` sets ``external_ref``/``data`` per row."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return []
    allowed = [s.value for s in from_states]
    values: dict[str, Any] = {"state": to.value, "updated_at": now.timestamp()}
    if to is NudgeState.DELIVERED:
        values["delivered_at"] = now.timestamp()
        values["error"] = None
    if to is NudgeState.CANCELLED:
        values["cancelled_at"] = now.timestamp()
    if to is NudgeState.FAILED or error is not None:
        values["error"] = error
    if attempt:
        values["attempts"] = _N.attempts + 1
    per_key = per_key or {}
    moved: list[str] = []
    plain = [k for k in keys if k not in per_key]
    for i in range(0, len(plain), CHUNK):
        stmt = (update(schema.nudges).where(_N.key.in_(plain[i:i + CHUNK]), _N.state.in_(allowed))
                .values(**values).returning(_N.key))
        moved.extend(conn.execute(stmt).scalars())
    keyed = [k for k in keys if k in per_key]
    if keyed:
        # one statement for all rows (executemany), so the same compare-and-set is written without
        # an expanding IN: state = a OR state = b
        in_state = or_(*[_N.state == v for v in allowed])
        ready = set()
        for i in range(0, len(keyed), CHUNK):
            ready.update(conn.execute(select(_N.key).where(_N.key.in_(keyed[i:i + CHUNK]), in_state)).scalars())
        columns = sorted({c for k in keyed for c in per_key[k]})
        stmt = update(schema.nudges).where(_N.key == bindparam("_k"), in_state).values(
            **values, **{c: bindparam(f"_{c}") for c in columns})
        params = [{"_k": k, **{f"_{c}": per_key[k].get(c) for c in columns}} for k in keyed if k in ready]
        if params:
            conn.execute(stmt, params)
        moved.extend(k for k in keyed if k in ready)
    return moved


def refresh(conn: Connection, nudges: Sequence[Nudge], from_states: Iterable[NudgeState],
            now: datetime) -> list[str]:
    """Rewrite the ``assignee`` column and ``data`` of the rows of ``nudges`` that are in one of
    ``from_states`` (compare-and-set: a row that moved on meanwhile is left alone); the state,
    attempts and times are kept. Returns the keys rewritten."""
    allowed = [s.value for s in from_states]
    out: list[str] = []
    for nudge in nudges:
        stmt = (update(schema.nudges).where(_N.key == nudge.key, _N.state.in_(allowed))
                .values(assignee=nudge.assignee, data=encode(nudge), updated_at=now.timestamp())
                .returning(_N.key))
        out.extend(conn.execute(stmt).scalars())
    return out


def set_not_before(conn: Connection, until: dict[str, datetime]) -> None:
    if until:
        conn.execute(update(schema.nudges).where(_N.key == bindparam("k")).values(not_before=bindparam("nb")),
                     [{"k": k, "nb": v.timestamp()} for k, v in until.items()])


def set_error(conn: Connection, keys: Iterable[str], error: str, now: datetime) -> None:
    """Keep ``error`` on rows without changing their state (closing a delivered nudge failed)."""
    keys = list(keys)
    if keys:
        conn.execute(update(schema.nudges).where(_N.key.in_(keys)).values(error=error, updated_at=now.timestamp()))


def set_outcome(conn: Connection, key: str, nudge: Nudge, outcome: dict[str, Any]) -> None:
    conn.execute(update(schema.nudges).where(_N.key == key).values(data=encode(nudge, outcome)))


def deliverable(conn: Connection, max_attempts: int) -> list[LedgerRow]:
    """Rows to (re)deliver: planned, pending (a run stopped mid-delivery) or failed fewer than
    ``max_attempts`` times, whose finding is still open at the nudge's stage."""
    q = (select(schema.nudges).join(schema.findings, _F.key == _N.finding_key)
         .where(_F.status == "open", _F.stage == _N.stage,
                or_(_N.state.in_([NudgeState.PLANNED.value, NudgeState.PENDING.value]),
                    and_(_N.state == NudgeState.FAILED.value, _N.attempts < max_attempts)))
         .order_by(_N.target, _N.planned_at, _N.key))
    return [_row(r) for r in conn.execute(q)]


def stale(conn: Connection) -> list[tuple[LedgerRow, str, float | None]]:
    """Open rows (not yet delivered, or delivered and not closed) whose finding cleared, moved to
    another stage, or is gone: ``(row, why, resolved_at)`` with ``why`` one of ``"resolved"``,
    ``"superseded"``, ``"gone"``."""
    open_states = [s.value for s in (NudgeState.PLANNED, NudgeState.PENDING, NudgeState.FAILED,
                                     NudgeState.DELIVERED)]
    q = (select(schema.nudges, _F.status.label("f_status"), _F.stage.label("f_stage"),
                _F.resolved_at.label("f_resolved_at"))
         .select_from(schema.nudges.outerjoin(schema.findings, _F.key == _N.finding_key))
         .where(_N.state.in_(open_states),
                or_(_F.key.is_(None), _F.status != "open", _F.stage != _N.stage))
         .order_by(_N.target, _N.planned_at, _N.key))
    out = []
    for r in conn.execute(q):
        why = "gone" if r.f_status is None else ("resolved" if r.f_status != "open" else "superseded")
        out.append((_row(r), why, r.f_resolved_at))
    return out


def count_for_assignee(conn: Connection, assignee: str, since: float, exclude: Iterable[str] = ()) -> int:
    """Nudges delivered to ``assignee`` since ``since`` (epoch), plus those in flight (pending)
    that were started since then. Pending rows in ``exclude`` (the rows this run considers
    itself) are not counted: a pending row left by a crash must not fill its own slot, and one
    started on an earlier day belongs to that day's count."""
    delivered = conn.execute(select(func.count()).select_from(schema.nudges).where(
        _N.assignee == assignee, _N.delivered_at >= since)).scalar() or 0
    pending = set(conn.execute(select(_N.key).where(
        _N.assignee == assignee, _N.state == NudgeState.PENDING.value, _N.updated_at >= since)).scalars())
    return int(delivered) + len(pending - set(exclude))


def customer_ids(conn: Connection, uids: Iterable[str]) -> dict[str, dict[str, str]]:
    """For each customer uid, its external id per source (so a nudge names the customer in the
    CRM it is written to)."""
    c = schema.customer_links.c
    uids = sorted(set(uids))
    out: dict[str, dict[str, str]] = {}
    for i in range(0, len(uids), CHUNK):
        for uid, source, external_id in conn.execute(
                select(c.uid, c.source, c.external_id).where(c.uid.in_(uids[i:i + CHUNK]))):
            out.setdefault(uid, {})[source] = external_id
    return out


def finding_keys_of(conn: Connection, subjects: Iterable[str]) -> list[str]:
    """Keys of every finding (open or resolved) about these subjects."""
    subjects = sorted(set(subjects))
    out: list[str] = []
    for i in range(0, len(subjects), CHUNK):
        out.extend(conn.execute(select(_F.key).where(_F.subject.in_(subjects[i:i + CHUNK]))).scalars())
    return out
