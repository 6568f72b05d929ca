"""API efficiency of careplug-hubspot: a full sync of 10,000 tickets with 50,000 engagements, and
delivering 1,000 nudges, against the loopback HubSpot fake through the real hubspot-api-client.

    .venv/bin/python benchmarks/bench_hubspot.py [--tickets 10000] [--engagements-per-ticket 5]
                                                 [--nudges 1000] [--out docs/benchmarks-hubspot.md]

Counts requests per endpoint and compares them with the minimum that HubSpot's documented page
and batch sizes make necessary (search: 200 per page; owners: 500 per page; associations v4 batch
read: 1,000 ids per call; batch create: 100 inputs), and with a naive per-record approach (list
endpoints at 100 a page, one association read per record and association kind, one create per
nudge). Fails (exit 1) when the sync takes more than 1.2x the minimum or the delivery more than 12
calls. Pacing is off (the benchmark counts calls, not seconds against HubSpot's limits).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from math import ceil
from pathlib import Path

from careplug.nudges.model import Action, Nudge, nudge_key
from careplug.store import Store
from careplug.sync import sync_source
from careplug.testing.fakes.hubspot import FakeHubSpot

from careplug_hubspot.source import HubSpotOptions, HubSpotSource

SEARCH_PAGE, OWNERS_PAGE, ASSOC_BATCH, CREATE_BATCH, NAIVE_PAGE = 200, 500, 1000, 100, 100
TOKEN_ENV = "CAREPLUG_BENCH_HUBSPOT_TOKEN"
ENGAGEMENT_STREAMS = ("emails", "calls", "meetings", "notes", "communications", "tasks")


def minimum_sync_calls(fake: FakeHubSpot) -> tuple[int, int]:
    """(minimum, naive) request counts for a full sync of what ``fake`` holds."""
    n = {t: len(objs) for t, objs in fake.objects.items()}
    minimum = ceil(max(1, len(fake.owners)) / OWNERS_PAGE) + 1            # owners; ticket pipelines
    naive = ceil(max(1, len(fake.owners)) / NAIVE_PAGE) + 1
    for stream in ("companies", "contacts"):
        minimum += max(1, ceil(n[stream] / SEARCH_PAGE))
        naive += max(1, ceil(n[stream] / NAIVE_PAGE))
    for stream in ("tickets", *ENGAGEMENT_STREAMS):                        # + 2 association kinds each
        minimum += max(1, ceil(n[stream] / SEARCH_PAGE)) + 2 * ceil(n[stream] / ASSOC_BATCH)
        naive += max(1, ceil(n[stream] / NAIVE_PAGE)) + 2 * n[stream]
    minimum += 1 + len(fake.threads)                                       # inbox threads (+ their messages)
    naive += 1 + len(fake.threads)
    archived = sum(1 for o in fake.objects["tickets"].values() if o["archived"])
    minimum += max(1, ceil(archived / NAIVE_PAGE))                         # deleted tickets: the list, 100 a page
    naive += max(1, ceil(archived / NAIVE_PAGE))
    return minimum, naive


def make_source(fake: FakeHubSpot) -> HubSpotSource:
    return HubSpotSource("hubspot", HubSpotOptions(token_env=TOKEN_ENV, host=fake.url, burst_limit=1_000_000,
                                                   search_per_second=1_000_000))


def bench_sync(tickets: int, per_ticket: int) -> dict:
    fake = FakeHubSpot()
    started = time.perf_counter()
    fake.seed(tickets, engagements_per_ticket=per_ticket)
    seeded = time.perf_counter() - started
    with fake:
        os.environ[TOKEN_ENV] = fake.token
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(str(Path(tmp) / "bench.db"))
            started = time.perf_counter()
            result = sync_source(store, make_source(fake))
            seconds = time.perf_counter() - started
            if not result.ok:
                raise SystemExit(f"sync failed: {[s.error for s in result.streams if s.error]}")
            counts = store.counts()
            store.close()
        calls = dict(fake.calls)
    minimum, naive = minimum_sync_calls(fake)
    engagements = sum(len(fake.objects[t]) for t in ENGAGEMENT_STREAMS)
    return {"tickets": len(fake.objects["tickets"]), "engagements": engagements,
            "contacts": len(fake.objects["contacts"]), "companies": len(fake.objects["companies"]),
            "calls": calls, "total": sum(calls.values()), "minimum": minimum, "naive": naive,
            "ratio": sum(calls.values()) / minimum, "seconds": seconds, "seed_seconds": seeded,
            "stored": counts}


def bench_delivery(nudges: int) -> dict:
    fake = FakeHubSpot()
    fake.seed(50, engagements_per_ticket=0)
    tickets = sorted(fake.objects["tickets"])
    batch = []
    for i in range(nudges):
        t = tickets[i % len(tickets)]
        batch.append(Nudge(key=nudge_key(f"bench|{i}", "breach", "task", "hubspot"), finding_key=f"bench|{i}",
                           stage="breach", action=Action.TASK, target="hubspot", title="Reply", assignee="100",
                           conversation_id=t, customer_id=fake.associated("tickets", t, "contacts")[0]))
    with fake:
        os.environ[TOKEN_ENV] = fake.token
        fake.reset_calls()
        receipts = make_source(fake).deliver(batch)
        first = dict(fake.calls)
        fake.reset_calls()
        again = make_source(fake).deliver(batch)       # a retry of the whole batch: lookups only
        second = dict(fake.calls)
    assert len(receipts) == nudges and all(r.existed for r in again)
    return {"nudges": nudges, "calls": first, "total": sum(first.values()), "retry_calls": second,
            "retry_total": sum(second.values()), "naive": 2 * nudges, "minimum": ceil(nudges / CREATE_BATCH)}


def report(sync: dict, delivery: dict, command: str) -> str:
    rows = "\n".join(f"| `{k}` | {v} |" for k, v in sorted(sync["calls"].items()))
    drows = "\n".join(f"| `{k}` | {v} |" for k, v in sorted(delivery["calls"].items()))
    return f"""# careplug-hubspot API efficiency

- Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}
- Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs
- Command: `{command}`
- Client: hubspot-api-client (real library) against the loopback fake `careplug.testing.fakes.hubspot`

## Full sync: {sync['tickets']:,} tickets, {sync['engagements']:,} engagements

{sync['contacts']:,} contacts and {sync['companies']:,} companies beside them; every engagement is
associated with its ticket and contact.

| endpoint | requests |
|---|---|
{rows}
| **total** | **{sync['total']}** |

- Minimum the documented sizes make necessary (search 200/page, owners 500/page, associations
  v4 batch read 1,000 ids/call, 2 association kinds per ticket and engagement stream, one pipelines
  read, one inbox listing, the deleted-tickets list at 100 a page): **{sync['minimum']}** → careplug makes **{sync['ratio']:.3f}x** (target <= 1.2x).
- Naive per-record approach (lists at 100/page, one association read per record and kind):
  **{sync['naive']:,}** requests ({sync['naive'] / sync['total']:.0f}x more).
- Wall time of the sync: {sync['seconds']:.1f} s, loopback, pacing off (seeding the fake: {sync['seed_seconds']:.1f} s).
  Against HubSpot, the search limit (4/s by default) bounds a full sync of this size to about
  {ceil(sync['calls'].get('search', 0) / 4)} s of search pacing.
- Stored: {', '.join(f"{k} {v:,}" for k, v in sorted(sync['stored'].items()))}

## Delivering {delivery['nudges']:,} nudges (tasks)

| endpoint | requests |
|---|---|
{drows}
| **total** | **{delivery['total']}** (target <= 12; naive: {delivery['naive']:,}, one lookup and one create per nudge) |

Marker lookups search `careplug_marker IN (...)`, 5 filter groups x 100 values = 500 markers a
call; creates are 100 a call. Retrying the whole batch (all already written) costs
{delivery['retry_total']} requests (lookups only) and writes nothing.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--engagements-per-ticket", type=int, default=5)
    parser.add_argument("--nudges", type=int, default=1000)
    parser.add_argument("--out", default="docs/benchmarks-hubspot.md")
    args = parser.parse_args(argv)
    sync = bench_sync(args.tickets, args.engagements_per_ticket)
    delivery = bench_delivery(args.nudges)
    command = "python benchmarks/bench_hubspot.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(sync, delivery, command.strip())
    Path(args.out).write_text(text)
    print(text)
    ok = sync["ratio"] <= 1.2 and delivery["total"] <= 12
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
