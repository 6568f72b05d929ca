"""Commitment reading: accuracy on every labelled set, and what reading a sentence costs.

    python benchmarks/bench_promises.py                     # every set in tests/data
    python benchmarks/bench_promises.py new_set.jsonl -v    # a fresh hold-out, misses listed

For each set (one JSON object a line: text, sent_at, timezone, is_commitment, expected_due): precision
and recall of commitment detection, and the share of dated commitments whose first commitment's due
time is right to the hour — over all of them (the target of issue 3) and over those detected. Then
the reading cost: every message of the sets read again without the per-text memo, best of 7, in µs a
sentence. A hold-out is measured *before* anything is tuned for it (docs/rules.md, "Measured").
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from careplug import promises
from careplug.testing.promise_sets import measure

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def reading_cost(paths: list[Path]) -> float:
    texts = [json.loads(line)["text"] for p in paths for line in p.read_text().splitlines()]
    read = promises._committing.__wrapped__            # without the per-text memo
    sentences = sum(len(promises.split_sentences(promises.unquoted(t))) for t in texts)
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        for t in texts:
            read(t)
        best = min(best, time.perf_counter() - start)
    return best / sentences * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", type=Path, help="JSONL sets (default: tests/data/promise_*.jsonl)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    paths = args.sets or sorted(DATA.glob("promise_*.jsonl"))
    def show(kind: str, row: dict) -> None:
        extra = f" (read {row['read_due']} from {row['phrase']!r}, expected {row['expected_due']})" if "phrase" in row else ""
        print(f"  {kind}{extra}: {row['text']!r}")

    for path in paths:
        m = measure(path, show if args.verbose else None)
        print(f"{path.name:32} P {m.precision:.2f}  R {m.recall:.2f}  due {m.due_accuracy:.2f} "
              f"({m.right}/{m.dated}; of the detected {m.right}/{m.detected})")
    print(f"reading: {reading_cost(paths):.1f} µs a sentence")


if __name__ == "__main__":
    main()
