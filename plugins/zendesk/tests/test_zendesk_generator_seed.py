"""The synthetic history, loaded into the fake as Zendesk payloads and synced back, keeps what the
rules read: every conversation with its channel and status, every message with its visibility and direction."""

from __future__ import annotations

from datetime import datetime, timezone

from careplug.model import Conversation, Message
from careplug.store import Store
from careplug.sync import sync_source
from careplug.testing.generator import generate_for_source

from careplug_zendesk.harness import ZendeskHarness

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)


def test_generated_history_round_trips_through_the_fake_and_the_adapter(tmp_path):
    records = list(generate_for_source("zendesk", 120, seed=3, now=NOW))
    conversations = {r.external_id: r for r in records if isinstance(r, Conversation)}
    messages = [r for r in records if isinstance(r, Message)]
    with ZendeskHarness() as h:
        h.fake.load(records)
        store = Store(str(tmp_path / "s.db"))
        assert sync_source(store, h.make_source()).ok
        stored = {c.external_id: c for c in store.iter_records("conversation", "crm")}
        assert set(stored) == set(conversations)
        for cid, c in conversations.items():
            assert (stored[cid].channel, stored[cid].status) == (c.channel, c.status), cid
        stored_messages = [m for m in store.iter_records("message", "crm")]
        assert len(stored_messages) == len(messages)
        assert sorted((m.conversation_id, m.body, m.public, m.direction) for m in stored_messages) == \
            sorted((m.conversation_id, m.body, m.public, m.direction) for m in messages)
