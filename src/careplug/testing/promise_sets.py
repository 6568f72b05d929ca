"""Measure the commitment reader on a labelled set, as the tests and ``benchmarks/bench_promises.py`` do.

A set is JSON Lines, one agent message a line::

    {"text": "...", "sent_at": "2026-03-02T09:40:00-06:00", "timezone": "America/Chicago",
     "is_commitment": true, "expected_due": "2026-03-04T17:00:00-06:00"}

``expected_due`` is the due time of the message's *first* commitment, null when it names none (and for
non-commitments). A due time is right when it is within the hour of the expected one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..promises import find_commitments

__all__ = ["SetScore", "measure"]


@dataclass(frozen=True)
class SetScore:
    sentences: int
    true_positives: int
    false_positives: int
    false_negatives: int
    dated: int              # dated commitments
    detected: int           # of those, detected
    right: int              # of those, due right to the hour

    @property
    def precision(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_positives, 1)

    @property
    def recall(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_negatives, 1)

    @property
    def due_accuracy(self) -> float:
        """Right due times over *all* dated commitments: a commitment missed counts as wrong."""
        return self.right / max(self.dated, 1)


def measure(path: Path | str, on_miss: Callable[[str, dict], None] | None = None) -> SetScore:
    """Score ``find_commitments`` on the set at ``path``; ``on_miss(kind, row)`` is called for each
    "false alarm", "missed" and "wrong due" row."""
    tp = fp = fn = dated = detected = right = n = 0
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        n += 1
        found = find_commitments(row["text"], datetime.fromisoformat(row["sent_at"]), tz=row["timezone"])
        if found and row["is_commitment"]:
            tp += 1
        elif found:
            fp += 1
            if on_miss:
                on_miss("false alarm", row)
        elif row["is_commitment"]:
            fn += 1
            if on_miss:
                on_miss("missed", row)
        if row["is_commitment"] and row["expected_due"]:
            dated += 1
            detected += bool(found)
            expected = datetime.fromisoformat(row["expected_due"])
            if found and found[0].due_at and abs((found[0].due_at - expected).total_seconds()) < 3600:
                right += 1
            elif found and on_miss:
                on_miss("wrong due", {**row, "read_due": found[0].due_at and found[0].due_at.isoformat(),
                                      "phrase": found[0].phrase})
    return SetScore(n, tp, fp, fn, dated, detected, right)
