"""Where a search stream resumes: keyset paging on the modification time, with an overlap window.

HubSpot's search index trails writes: a record modified at ``t1`` can become searchable after a
record modified at ``t2 > t1`` was read. A cursor that resumed strictly after ``t2`` would skip it
for good. So every run starts ``overlap`` milliseconds before the newest modification time read
(``ts``) and reads that window again; what it already read there — the same id at the same
modification time — is not emitted twice. A record indexed later than ``overlap`` after its
change is still missed: the window must be longer than the index's lag (HubSpot: seconds).

The cursor is ``{"ts": <epoch ms>, "read": {id: modified ms}}``, ``read`` holding what was read
in ``[ts - overlap, ts]``, at most ``READ_MAX`` entries (the newest; one dropped is emitted again
if it is read again, which the store ignores as unchanged). A cursor of earlier versions,
``{"ts", "ids": [ids at exactly ts]}``, is read as ``read = {id: ts}``.

Within one run the walk is the keyset of ``source._pages``: ``ts`` (where the walk is) and
``seen`` (the ids read at exactly ``ts``), which only move forward, so a run never loops.
"""

from __future__ import annotations

from typing import Any

#: the most (id, modified) pairs a cursor keeps for the overlap window
READ_MAX = 20_000


class SearchWindow:
    """The walk of one search stream in one run, and the cursor it leaves."""

    def __init__(self, cursor: dict[str, Any] | None, *, start_ms: int, overlap_ms: int):
        self.overlap = max(0, int(overlap_ms))
        if cursor:
            high = int(cursor["ts"])
            read = {str(k): int(v) for k, v in (cursor.get("read") or {}).items()}
            read.update({str(i): high for i in cursor.get("ids") or []})
            self.ts = max(0, high - self.overlap)
        else:
            high, read, self.ts = start_ms, {}, start_ms
        self.high = high                # the newest modification time read: the cursor's ts
        self.read = read                # id -> modified ms, for what was read in the overlap window
        self.seen: set[str] = set()     # ids read at exactly self.ts in this walk

    def take(self, oid: str, ms: int) -> tuple[bool, bool]:
        """Account for a search result: (does it move the walk on, is it new to emit)."""
        if ms < self.ts or (ms == self.ts and oid in self.seen):
            return False, False
        if ms > self.ts:
            self.ts, self.seen = ms, set()
        self.seen.add(oid)
        if self.read.get(oid) == ms:
            return True, False          # read by an earlier run, unchanged since
        self.read[oid] = ms
        self.high = max(self.high, ms)
        return True, True

    def cursor(self) -> dict[str, Any]:
        """The cursor covering everything walked so far (the overlap window's reads pruned)."""
        floor = self.high - self.overlap
        read = {i: ms for i, ms in self.read.items() if ms >= floor}
        if len(read) > READ_MAX:
            read = dict(sorted(read.items(), key=lambda kv: kv[1])[-READ_MAX:])
        self.read = read
        return {"ts": self.high, "read": dict(read)}      # a copy: the walk goes on adding to its own
