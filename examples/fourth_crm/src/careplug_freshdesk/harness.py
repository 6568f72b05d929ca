"""What the conformance suite needs to drive the Freshdesk source against ``FakeFreshdesk``."""

from __future__ import annotations

import os
from typing import Any

from careplug.nudges.model import Action, Nudge
from careplug.testing.harness import AdapterHarness

from .fake import FakeFreshdesk
from .source import FreshdeskOptions, FreshdeskSource

KEY_ENV = "CAREPLUG_TEST_FRESHDESK_KEY"


class FreshdeskHarness(AdapterHarness):
    source_kind = "freshdesk"
    record_kinds = ("customer", "conversation", "message")
    supports_faults = ("429", "500", "timeout")
    checkpoint_options = {"page_size": 2}
    timeout_fault_delay = 1.0           # the source's timeout is 0.5 s

    def start(self) -> None:
        self.fake = FakeFreshdesk(api_key="fd-test-key-0b7e41c9").start()
        self.limited = False
        os.environ[KEY_ENV] = self.fake.api_key

    def stop(self) -> None:
        self.fake.stop()
        os.environ.pop(KEY_ENV, None)

    def make_source(self, name: str = "crm", **options: Any) -> FreshdeskSource:
        settings: dict[str, Any] = {"url": self.fake.url, "api_key_env": KEY_ENV, "timeout": 0.5,
                                    "backoff": 0.05, "max_retry_wait": 5.0, "max_attempts": 4,
                                    # test speed: effectively unpaced unless the fake's limit is on
                                    "requests_per_window": 5 if self.limited else 10_000, "window_seconds": 1.0}
        settings.update(options)
        return FreshdeskSource(name, FreshdeskOptions(**settings))

    def secrets(self) -> list[str]:
        return [self.fake.api_key]

    # --- data ---------------------------------------------------------------------------------

    def seed(self, conversations: int, *, seed: int = 0) -> None:
        for i in range(conversations):
            self.fake.create_ticket(f"seeded {seed}-{i}")

    def ids(self, kind: str) -> set[str]:
        with self.fake.lock:
            live = [tid for tid, t in self.fake.tickets.items() if not t["deleted"]]
            if kind == "conversation":
                return {str(t) for t in live}
            if kind == "message":
                return {str(c["id"]) for t in live for c in self.fake.conversations[t]}
            if kind == "customer":
                return {str(c) for c in self.fake.contacts}
        raise ValueError(kind)

    def add(self, conversations: int) -> set[str]:
        return {str(self.fake.create_ticket(f"added {i}")) for i in range(conversations)}

    def touch(self, conversation_ids: set[str]) -> None:
        for tid in sorted(conversation_ids):
            self.fake.add_conversation(int(tid), "Any news?", incoming=True)

    def delete(self, conversation_id: str) -> bool:
        with self.fake.lock:
            self.fake.tickets[int(conversation_id)].update(deleted=True, updated_at=self.fake.tick())
        return True

    def corrupt(self, conversation_id: str) -> None:
        with self.fake.lock:
            self.fake.tickets[int(conversation_id)].update(status="Open?", subject=None,
                                                          updated_at=self.fake.tick())

    # --- faults and accounting ----------------------------------------------------------------

    def enforce_rate_limit(self) -> None:
        self.limited = True
        self.fake.rate_limit("api", 6, 1.0)

    # --- write-back ---------------------------------------------------------------------------

    def nudge_for(self, conversation_id: str, key: str) -> Nudge:
        return Nudge(key=key, finding_key=f"conformance-{key}", stage="first", action=Action.NOTE,
                     target="crm", title="Reply to the customer", body="They have been waiting.",
                     conversation_id=conversation_id)

    def objects_with_marker(self, marker: str) -> list[Any]:
        with self.fake.lock:
            return [c for convs in self.fake.conversations.values() for c in convs
                    if c["private"] and marker in c["body_text"]]
