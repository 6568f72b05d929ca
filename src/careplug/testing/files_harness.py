"""The conformance harness of the built-in ``files`` source (``careplug.sources.files``).

The "CRM" is a temporary folder of JSON Lines exports (``customers``, ``conversations``,
``messages``, ``deletions``) that the harness writes the way an export job would: new and changed
rows are appended; a corrupted row is rewritten in place. ``CsvFilesHarness`` writes the same
exports as CSV (a header line, lists joined with ``;``). Every change takes a new, strictly
increasing ``updated_at`` from a logical clock. Nudges go to the source's outbox file, where
``objects_with_marker`` reads them back.

A file source makes no requests, so it has no faults, rate limits or credentials:
``supports_faults = ()``, ``enforce_rate_limit`` stays the no-op default and ``secrets()`` is
empty; the suite skips those tests with the reason.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from typing import Any

from ..nudges.model import Action, Nudge
from ..source import Source
from .harness import AdapterHarness

EPOCH = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
STREAM_FILES = ("customers", "conversations", "messages", "deletions")


class FilesHarness(AdapterHarness):
    source_kind = "files"
    format = "jsonl"
    record_kinds = ("customer", "conversation", "message")
    supports_faults = ()
    checkpoint_options = {"checkpoint_every": 2}

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.path = tempfile.mkdtemp(prefix="careplug-files-harness-")
        self.rows: dict[str, list[dict[str, Any]]] = {s: [] for s in STREAM_FILES}
        self.conversations: dict[str, dict[str, Any]] = {}   # live conversations: their latest row
        self.messages: dict[str, str] = {}                    # message id -> conversation id
        self.customers: set[str] = set()
        self.clock = EPOCH
        self.next_id = 0

    def stop(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def make_source(self, name: str = "crm", **options: Any) -> Source:
        from ..sources.files import FilesOptions, FilesSource

        return FilesSource(name, FilesOptions(path=self.path, format=self.format, **options))

    def secrets(self) -> list[str]:
        return []

    # --- writing the export -------------------------------------------------------------------

    def _tick(self) -> str:
        self.clock += timedelta(minutes=1)
        return self.clock.isoformat()

    def _id(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}{self.next_id}"

    def _file(self, stream: str) -> str:
        return os.path.join(self.path, f"{stream}.{self.format}")

    def _line(self, stream: str, row: dict[str, Any]) -> str:
        return json.dumps(row) + "\n"

    def _header(self, stream: str) -> str:
        return ""

    def _append(self, stream: str, row: dict[str, Any]) -> None:
        self.rows[stream].append(row)
        new = not os.path.exists(self._file(stream))
        with open(self._file(stream), "a", encoding="utf-8", newline="") as f:
            f.write((self._header(stream) if new else "") + self._line(stream, row))

    def _rewrite(self, stream: str) -> None:
        with open(self._file(stream), "w", encoding="utf-8", newline="") as f:
            f.write(self._header(stream) + "".join(self._line(stream, row) for row in self.rows[stream]))

    def _message(self, conversation_id: str, customer_id: str, body: str) -> None:
        mid = self._id("m")
        self._append("messages", {"id": mid, "conversation_id": conversation_id, "author": customer_id,
                                  "created_at": self._tick(), "body": body})
        self.messages[mid] = conversation_id

    def _conversation(self, subject: str) -> str:
        customer = self._id("c")
        self._append("customers", {"id": customer, "name": f"Customer {customer}",
                                   "emails": [f"{customer}@example.com"], "updated_at": self._tick()})
        self.customers.add(customer)
        cid = self._id("t")
        at = self._tick()
        row = {"id": cid, "customer_id": customer, "subject": subject, "status": "open",
               "created_at": at, "updated_at": at}
        self._append("conversations", row)
        self.conversations[cid] = row
        for i in range(2):
            self._message(cid, customer, f"message {i} about {subject}")
        return cid

    # --- data ---------------------------------------------------------------------------------

    def seed(self, conversations: int, *, seed: int = 0) -> None:
        for i in range(conversations):
            self._conversation(f"seeded {seed}-{i}")

    def ids(self, kind: str) -> set[str]:
        if kind == "conversation":
            return set(self.conversations)
        if kind == "message":
            return {m for m, c in self.messages.items() if c in self.conversations}
        if kind == "customer":
            return set(self.customers)
        raise ValueError(f"the files harness writes no {kind} records")

    def add(self, conversations: int) -> set[str]:
        return {self._conversation(f"added {i}") for i in range(conversations)}

    def touch(self, conversation_ids: set[str]) -> None:
        for cid in sorted(conversation_ids):
            row = {**self.conversations[cid], "status": "pending", "updated_at": self._tick()}
            self._append("conversations", row)
            self.conversations[cid] = row
            self._message(cid, row["customer_id"], "a follow-up")

    def delete(self, conversation_id: str) -> bool:
        self._append("deletions", {"id": conversation_id, "record_kind": "conversation",
                                   "deleted_at": self._tick()})
        del self.conversations[conversation_id]
        return True

    def merge(self, loser_id: str, winner_id: str) -> bool:
        """The loser's messages move to the winner; the loser is deleted as merged into it."""
        for row in [r for r in self.rows["messages"] if r["conversation_id"] == loser_id]:
            self._append("messages", {**row, "conversation_id": winner_id})
            self.messages[row["id"]] = winner_id
        self.touch({winner_id})
        self._append("deletions", {"id": loser_id, "record_kind": "conversation", "merged_into": winner_id,
                                   "deleted_at": self._tick()})
        del self.conversations[loser_id]
        return True

    def corrupt(self, conversation_id: str) -> None:
        """Rewrite the conversation's rows with an ill-typed status and no created_at."""
        for row in self.rows["conversations"]:
            if row["id"] == conversation_id:
                row["status"] = 42
                row.pop("created_at", None)
        self._rewrite("conversations")

    # --- faults and accounting: a folder has none ---------------------------------------------

    def inject(self, fault: str, *, times: int = 1, retry_after: float | None = None,
               endpoint: str | None = None) -> None:
        raise NotImplementedError("a files source makes no requests: there is nothing to fault")

    def calls(self) -> dict[str, int]:
        return {}

    def reset_calls(self) -> None:
        pass

    # --- write-back ---------------------------------------------------------------------------

    def nudge_for(self, conversation_id: str, key: str) -> Nudge:
        return Nudge(key=key, finding_key=f"conformance-{key}", stage="first", action=Action.NOTE,
                     target="crm", title="Reply to the customer", body="They are waiting.",
                     conversation_id=conversation_id)

    def objects_with_marker(self, marker: str) -> list[Any]:
        outbox = os.path.join(self.path, "outbox.jsonl")
        if not os.path.exists(outbox):
            return []
        with open(outbox, encoding="utf-8") as f:
            entries = [json.loads(line) for line in f if line.strip()]
        return [e for e in entries if e.get("type") == "nudge" and e.get("marker") == marker]


class CsvFilesHarness(FilesHarness):
    """The same exports as CSV: one header line per file, list cells joined with ``;``."""

    format = "csv"
    COLUMNS = {
        "customers": ("id", "name", "emails", "updated_at"),
        "conversations": ("id", "customer_id", "subject", "status", "created_at", "updated_at"),
        "messages": ("id", "conversation_id", "author", "created_at", "body"),
        "deletions": ("id", "record_kind", "merged_into", "deleted_at"),
    }

    def _csv(self, values: list[Any]) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(values)
        return out.getvalue()

    def _header(self, stream: str) -> str:
        return self._csv(list(self.COLUMNS[stream]))

    def _line(self, stream: str, row: dict[str, Any]) -> str:
        cells = []
        for column in self.COLUMNS[stream]:
            value = row.get(column)
            cells.append(";".join(value) if isinstance(value, list) else "" if value is None else value)
        return self._csv(cells)
