"""The conformance-suite harness: careplug-hubspot against the loopback HubSpot fake."""

from __future__ import annotations

import os
import random
from typing import Any

from careplug.nudges.model import Action, Nudge
from careplug.source import Source
from careplug.testing.fakes.hubspot import ENGAGEMENT_TYPES, FakeHubSpot
from careplug.testing.harness import AdapterHarness

from .source import HubSpotOptions, HubSpotSource

TOKEN_ENV = "CAREPLUG_TEST_HUBSPOT_TOKEN"


class HubSpotHarness(AdapterHarness):
    source_kind = "hubspot"
    record_kinds = ("account", "agent", "customer", "conversation", "message")
    supports_faults = ("429", "500", "timeout")
    checkpoint_options = {"page_size": 3, "association_batch": 3}

    def __init__(self, *, token: str = "pat-na1-11111111-2222-3333-4444-555555555555") -> None:
        self.fake = FakeHubSpot(token=token)
        self._rng = random.Random(7)

    def start(self) -> None:
        self.fake.start()
        os.environ[TOKEN_ENV] = self.fake.token

    def stop(self) -> None:
        self.fake.stop()
        os.environ.pop(TOKEN_ENV, None)

    def make_source(self, name: str = "crm", **options: Any) -> Source:
        settings: dict[str, Any] = dict(token_env=TOKEN_ENV, host=self.fake.url, timeout=1.0, backoff=0.05,
                                        max_retry_wait=5.0, max_attempts=4, burst_limit=40, burst_seconds=1.0,
                                        search_per_second=20, properties={"account_tier": "careplug_tier"})
        settings.update(options)
        return HubSpotSource(name, HubSpotOptions(**settings))

    def secrets(self) -> list[str]:
        return [self.fake.token]

    # --- data -------------------------------------------------------------------------------------

    def seed(self, conversations: int, *, seed: int = 0) -> None:
        self.fake.seed(conversations, engagements_per_ticket=3, seed=seed, owners=3)

    def ids(self, kind: str) -> set[str]:
        f = self.fake
        live = lambda t: {i for i, o in f.objects[t].items() if not o["archived"]}  # noqa: E731
        if kind == "conversation":
            return live("tickets")
        if kind == "customer":
            return live("contacts")
        if kind == "account":
            return live("companies")
        if kind == "agent":
            return set(f.owners)
        if kind == "message":
            # on a live ticket, or on no ticket but a contact; a deleted ticket takes its messages along
            tickets = live("tickets")
            return {f"{t}:{i}" for t in ENGAGEMENT_TYPES if t != "tasks" for i in live(t)
                    if any(x in tickets for x in f.associated(t, i, "tickets"))
                    or (not f.associated(t, i, "tickets") and f.associated(t, i, "contacts"))}
        if kind == "task":
            return live("tasks")
        raise KeyError(kind)

    def add(self, conversations: int) -> set[str]:
        f = self.fake
        owners, contacts = sorted(f.owners), sorted(f.objects["contacts"])
        return {f._seed_ticket(self._rng, owners, contacts, 2, f.tick) for _ in range(conversations)}

    def touch(self, conversation_ids: set[str]) -> None:
        for tid in sorted(conversation_ids):
            stage = self.fake.objects["tickets"][tid]["properties"].get("hs_pipeline_stage")
            self.fake.put("tickets", {"hs_pipeline_stage": "3" if stage != "3" else "1"}, id=tid)

    def delete(self, conversation_id: str) -> bool:
        self.fake.delete("tickets", conversation_id)
        return True

    def merge(self, loser_id: str, winner_id: str) -> bool:
        self.fake.merge("tickets", loser_id, winner_id)
        return True

    def corrupt(self, conversation_id: str) -> None:
        self.fake.corrupt("tickets", conversation_id)

    # --- faults and accounting ------------------------------------------------------------------

    def enforce_rate_limit(self) -> None:
        self.fake.enforce_limits(burst=50, per_seconds=1.0, search_per_second=25)

    # --- write-back -------------------------------------------------------------------------------

    def nudge_for(self, conversation_id: str, key: str) -> Nudge:
        contact = (self.fake.associated("tickets", conversation_id, "contacts") or [None])[0]
        owner = self.fake.objects["tickets"][conversation_id]["properties"].get("hubspot_owner_id")
        return Nudge(key=key, finding_key=f"unanswered|conversation:crm:{conversation_id}|x", stage="first",
                     action=Action.TASK, target="crm", title="Reply to the customer", body="Waiting for a reply.",
                     assignee=owner, conversation_id=conversation_id, customer_id=contact)

    def objects_with_marker(self, marker: str) -> list[Any]:
        return [o for t in ("tasks", "notes") for o in self.fake.objects[t].values()
                if marker in (o["properties"].get("hs_task_body") or o["properties"].get("hs_note_body") or "")]
