"""The exactly-once ledger: every nudge's state, durable in the store.

::

    planned ──► pending ──► delivered ──► cancelled (closed in the CRM: the finding cleared)
       │           │  ▲
       │           ▼  │ (retried next run)
       │         failed
       └───────────┴──────────────────► cancelled (the finding cleared before delivery)

- ``record``: a planned nudge is inserted once; re-planning the same finding and stage gives the
  same key, and an existing key (in any state) is left alone — so a finding never gets a second
  nudge for the same stage, action and target in one episode (a finding that cleared and came
  back is re-keyed by the delivery run: ``model.comeback_key``).
- ``refresh``: a nudge not yet written (planned, or failed) whose conversation was reassigned
  meanwhile is re-addressed as the planner now makes it (assignee, escalation, title, body,
  extra); its key and due time stay.
- ``begin``: rows go to *pending* in a committed transaction **before** the CRM write. A row found
  pending by a later run may or may not have reached the CRM; its delivery is retried, and the
  adapter's marker lookup (``find_delivered``) turns the retry into "already there".
- ``delivered``: *after* the CRM answered, with the CRM object's id.
- ``failed``: the write raised; the error and attempt count are kept and the next run retries.
- ``cancel``: the finding cleared (or moved to another stage) before delivery — nothing is written.
- ``close``: a delivered nudge whose finding cleared, after the adapter closed its CRM object;
  the outcome (time to action) is recorded.

Every move is compare-and-set on the current state (see ``careplug.store.ledger``), in its own
committed transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..store import ledger as rows_
from ..store.ledger import LedgerRow
from .model import Nudge, NudgeState, Receipt

if TYPE_CHECKING:  # pragma: no cover
    from ..store import Store

__all__ = ["Ledger", "LedgerRow"]

S = NudgeState
UNDELIVERED = (S.PLANNED, S.PENDING, S.FAILED)


class Ledger:
    def __init__(self, store: "Store"):
        self.store = store

    # --- reading ------------------------------------------------------------------------------

    def rows(self, *, keys: Iterable[str] | None = None, finding_keys: Iterable[str] | None = None,
             states: Iterable[NudgeState] | None = None) -> list[LedgerRow]:
        with self.store.engine.connect() as conn:
            return rows_.rows(conn, keys=keys, finding_keys=finding_keys, states=states)

    def existing(self, keys: Iterable[str]) -> dict[str, LedgerRow]:
        return {r.key: r for r in self.rows(keys=keys)}

    def deliverable(self, max_attempts: int) -> list[LedgerRow]:
        with self.store.engine.connect() as conn:
            return rows_.deliverable(conn, max_attempts)

    def stale(self) -> list[tuple[LedgerRow, str, float | None]]:
        with self.store.engine.connect() as conn:
            return rows_.stale(conn)

    def count_for(self, assignee: str, since: datetime, exclude: Iterable[str] = ()) -> int:
        """Nudges delivered to ``assignee`` since ``since``, plus pending ones started since then
        and not in ``exclude``."""
        with self.store.engine.connect() as conn:
            return rows_.count_for_assignee(conn, assignee, since.timestamp(), exclude)

    # --- moving -------------------------------------------------------------------------------

    def record(self, nudges: Sequence[Nudge], now: datetime,
               not_before: dict[str, datetime | None] | None = None) -> list[str]:
        """Insert new nudges as planned; returns the keys that were new."""
        if not nudges:
            return []
        with self.store.transaction() as conn:
            return rows_.insert_new(self.store, conn, nudges, now, not_before)

    def refresh(self, nudges: Sequence[Nudge], now: datetime) -> list[str]:
        """planned/failed rows re-addressed (assignee and data), state kept; returns the keys
        rewritten (a row pending, delivered or cancelled meanwhile is left alone)."""
        if not nudges:
            return []
        with self.store.transaction() as conn:
            return rows_.refresh(conn, nudges, (S.PLANNED, S.FAILED), now)

    def defer(self, until: dict[str, datetime]) -> None:
        """Quiet hours: note when each of these nudges may be delivered."""
        if until:
            with self.store.transaction() as conn:
                rows_.set_not_before(conn, until)

    def begin(self, keys: Iterable[str], now: datetime) -> list[str]:
        """planned/pending/failed → pending, counting an attempt. Committed before the CRM write."""
        with self.store.transaction() as conn:
            return rows_.transition(conn, keys, UNDELIVERED, S.PENDING, now, attempt=True)

    def delivered(self, nudges: Sequence[Nudge], receipts: Sequence[Receipt], now: datetime) -> list[str]:
        """pending → delivered, with each CRM object's id; returns the keys moved."""
        per_key: dict[str, dict[str, Any]] = {}
        for nudge, receipt in zip(nudges, receipts):
            nudge.external_ref = receipt.external_ref
            nudge.state = S.DELIVERED
            if receipt.url:
                nudge.extra["url"] = receipt.url
            per_key[nudge.key] = {"external_ref": receipt.external_ref, "data": rows_.encode(nudge)}
        with self.store.transaction() as conn:
            return rows_.transition(conn, list(per_key), (S.PENDING,), S.DELIVERED, now, per_key=per_key)

    def failed(self, keys: Iterable[str], error: str, now: datetime) -> list[str]:
        """pending → failed, keeping the error for the report; the next run retries."""
        with self.store.transaction() as conn:
            return rows_.transition(conn, keys, (S.PENDING,), S.FAILED, now, error=error[:2000])

    def cancel(self, keys: Iterable[str], now: datetime, reason: str) -> list[str]:
        """Undelivered → cancelled: nothing is (or will be) in the CRM for these."""
        with self.store.transaction() as conn:
            return rows_.transition(conn, keys, UNDELIVERED, S.CANCELLED, now, error=reason)

    def close(self, closed: Sequence[tuple[LedgerRow, dict[str, Any]]], now: datetime) -> list[str]:
        """Nudges whose CRM objects were closed (delivered ones, or pending/failed ones found in
        the CRM), each with its outcome: → cancelled, in one transaction. Returns the keys moved
        (a row no longer open is left alone). A pending/failed row found in the CRM keeps the
        ``delivered_at`` set from its receipt."""
        per_key = {row.key: {"data": rows_.encode(row.nudge, outcome), "delivered_at": row.delivered_at}
                   for row, outcome in closed}
        with self.store.transaction() as conn:
            return rows_.transition(conn, list(per_key), (S.DELIVERED, S.PENDING, S.FAILED), S.CANCELLED, now,
                                    per_key=per_key)

    def note_error(self, keys: Iterable[str], error: str, now: datetime) -> None:
        """Keep an error on delivered rows (closing them failed) without changing their state."""
        with self.store.transaction() as conn:
            rows_.set_error(conn, keys, error[:2000], now)
