"""Where a full evaluation's time goes: one sweep in one process, with timers around each step.

    python benchmarks/bench_sweep_phases.py /tmp/careplug-bench/store-100000.db

Runs ``careplug check --full``'s sweep (``careplug.sweep``) over a store built by
``bench_rules.py`` (the same rules and calendar), on one process so that every step is timed in
this process, and prints the seconds spent in each:

- ``load``: reading and building the histories (``check.family_batch``);
- ``rules``: the rules, creating their findings included (``check._Evaluator.evaluate``);
- ``open_findings`` / ``save_findings``: reading the subjects' open findings, writing the changes;
- ``rest_of_batch``: the rest of ``check._run_batch`` (diffing findings, the transaction, commit);
- ``due_times``: collecting and applying the subjects' next due times (``store.due_buffer``);
- ``other``: everything else (flagging, counting, key pages, the leftover subjects).

The store is changed like any full run (findings written): use a copy to compare code versions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def timed(totals: dict[str, float], owner: object, name: str, label: str) -> None:
    """Wrap ``owner.name`` so the seconds spent in it add up under ``label``."""
    fn = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[label] = totals.get(label, 0.0) + time.perf_counter() - started

    setattr(owner, name, wrapper)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="a SQLite store built by bench_rules.py")
    args = parser.parse_args(argv)

    from bench_rules import run_full

    from careplug import check, sweep
    from careplug.store import due_buffer
    from careplug.store import findings as store_findings

    totals: dict[str, float] = {}
    timed(totals, sweep, "family_batch", "load")
    timed(totals, sweep, "_run_batch", "batch")
    timed(totals, check._Evaluator, "evaluate", "rules")
    timed(totals, store_findings, "open_by_subject", "open_findings")
    timed(totals, store_findings, "save", "save_findings")
    timed(totals, due_buffer.DueBuffer, "add", "due_add")
    timed(totals, due_buffer.DueBuffer, "flush", "due_flush")
    result = run_full(args.store, 1)
    batch = totals.pop("batch", 0.0)
    phases = {
        "load": totals.get("load", 0.0),
        "rules": totals.get("rules", 0.0),
        "open_findings": totals.get("open_findings", 0.0),
        "save_findings": totals.get("save_findings", 0.0),
        "rest_of_batch": batch - sum(totals.get(k, 0.0) for k in ("rules", "open_findings", "save_findings")),
        "due_times": totals.get("due_add", 0.0) + totals.get("due_flush", 0.0),
    }
    phases["other"] = result["seconds"] - phases["load"] - batch - phases["due_times"]
    out = {"seconds": round(result["seconds"], 2), "evaluated": result["evaluated"], "findings": result["new"],
           "phases": {k: round(v, 2) for k, v in phases.items()},
           "us_per_subject": {k: round(v / max(result["evaluated"], 1) * 1e6, 1) for k, v in phases.items()}}
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
