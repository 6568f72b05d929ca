"""The fake can be seeded from careplug's synthetic history, and a sync gives that history back."""

from __future__ import annotations

from datetime import datetime, timezone

from careplug.store import Store
from careplug.sync import sync_source
from careplug.testing.fakes.hubspot import FakeHubSpot
from careplug.testing.generator import generate_for_source


def test_a_fake_seeded_from_the_generator_syncs_back_its_conversations_customers_and_messages(
        fake: FakeHubSpot, make_source, tmp_path):
    records = list(generate_for_source("hubspot", 60, seed=3, now=datetime(2026, 11, 23, tzinfo=timezone.utc)))
    made = fake.load(records)
    store = Store(str(tmp_path / "s.db"))
    result = sync_source(store, make_source())
    assert result.ok, [s.error for s in result.streams if s.error]
    want = {k: {r.external_id for r in records if r.kind == k} for k in ("conversation", "customer", "account")}
    for kind, ids in want.items():
        assert {r.external_id for r in store.iter_records(kind, "hubspot")} >= ids
    messages = sum(1 for r in records if r.kind == "message")
    assert store.count("message") == messages == sum(made.get(t, 0) for t in ("emails", "calls", "notes", "communications"))
