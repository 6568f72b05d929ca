"""The conformance-suite harness: careplug-salesforce against the loopback Salesforce fake.

The source logs in with username + password + security token (the SOAP login, served by the fake),
so an expired session is renewed exactly as against a real org. The fake is seeded from the
synthetic history generator (the ``salesforce`` share of it)."""

from __future__ import annotations

import os
import random
from datetime import datetime, timezone
from typing import Any

from careplug.nudges.model import Action, Nudge
from careplug.source import Source
from careplug.testing.fakes.salesforce import FakeSalesforce
from careplug.testing.generator import generate_for_source
from careplug.testing.harness import AdapterHarness

from .mapping import CUSTOMER_USER_TYPES, task_kind
from .source import SalesforceOptions, SalesforceSource

ENV = {"username": "CAREPLUG_TEST_SF_USERNAME", "password": "CAREPLUG_TEST_SF_PASSWORD",
       "token": "CAREPLUG_TEST_SF_TOKEN"}
HISTORY_END = datetime(2026, 1, 5, 8, tzinfo=timezone.utc)


class SalesforceHarness(AdapterHarness):
    source_kind = "salesforce"
    record_kinds = ("account", "agent", "customer", "conversation", "message")
    supports_faults = ("429", "500", "timeout")
    checkpoint_options = {"checkpoint_every": 3}

    def __init__(self, *, fake: FakeSalesforce | None = None) -> None:
        self.fake = fake or FakeSalesforce(password="s3cret-Pa55word!", security_token="Tok3nXYZsecret")
        self._rng = random.Random(11)

    def start(self) -> None:
        self.fake.start()
        os.environ[ENV["username"]] = self.fake.username
        os.environ[ENV["password"]] = self.fake.password
        os.environ[ENV["token"]] = self.fake.security_token

    def stop(self) -> None:
        self.fake.stop()
        for var in ENV.values():
            os.environ.pop(var, None)

    def options(self, **options: Any) -> dict[str, Any]:
        settings: dict[str, Any] = dict(
            auth="password", username_env=ENV["username"], password_env=ENV["password"],
            security_token_env=ENV["token"], instance_url=self.fake.url, timeout=1.0, backoff=0.05,
            max_retry_wait=5.0, max_attempts=4, bulk_threshold=None, bulk_poll_seconds=0.0,
            fields={"account_tier": "Tier__c"})
        settings.update(options)
        return settings

    def make_source(self, name: str = "crm", **options: Any) -> Source:
        return SalesforceSource(name, SalesforceOptions(**self.options(**options)))

    def secrets(self) -> list[str]:
        return [self.fake.password, self.fake.security_token, self.fake.password + self.fake.security_token]

    # --- data -------------------------------------------------------------------------------------

    def seed(self, conversations: int, *, seed: int = 0) -> None:
        """About ``conversations`` cases: the generator spreads its conversations over three CRMs."""
        self.fake.seed_from_records(generate_for_source("salesforce", conversations * 3, seed=seed,
                                                        now=HISTORY_END))

    def ids(self, kind: str) -> set[str]:
        f = self.fake
        if kind == "conversation":
            return set(f.live("Case"))
        if kind == "account":
            return set(f.live("Account"))
        if kind == "agent":
            return {i for i, u in f.live("User").items() if u.get("UserType") not in CUSTOMER_USER_TYPES}
        if kind == "customer":
            return set(f.live("Contact")) | {i for i, r in f.live("Lead").items() if not r.get("IsConverted")}
        if kind == "message":
            return (set(f.live("CaseComment")) | set(f.live("EmailMessage"))
                    | {i for i, t in f.live("Task").items() if task_kind(t) == "message"})
        if kind == "task":
            return {i for i, t in f.live("Task").items() if task_kind(t) == "task"}
        raise KeyError(kind)

    def add(self, conversations: int) -> set[str]:
        f = self.fake
        contacts = sorted(f.live("Contact"))
        users = sorted(i for i, u in f.live("User").items() if u.get("UserType") == "Standard")
        added = set()
        for _ in range(conversations):
            contact = self._rng.choice(contacts)
            case = f.insert("Case", {"Subject": "New question", "Origin": "Email", "OwnerId": self._rng.choice(users),
                                     "ContactId": contact, "AccountId": f.objects["Contact"][contact]["AccountId"]})
            f.insert("EmailMessage", {"ParentId": case, "Incoming": True, "TextBody": "Hello, can you help?",
                                      "MessageDate": f.clock})
            added.add(case)
        return added

    def touch(self, conversation_ids: set[str]) -> None:
        for cid in sorted(conversation_ids):
            status = self.fake.objects["Case"][cid]["Status"]
            self.fake.update("Case", cid, {"Status": "Working" if status != "Working" else "Waiting on Customer"})

    def delete(self, conversation_id: str) -> bool:
        self.fake.delete("Case", conversation_id)
        return True

    def merge(self, loser_id: str, winner_id: str) -> bool:
        self.fake.delete("Case", loser_id, master=winner_id)
        return True

    def corrupt(self, conversation_id: str) -> None:
        self.fake.update("Case", conversation_id, {"CreatedDate": "31/02/2026 25:61"}, history=False)

    # --- faults and accounting ------------------------------------------------------------------

    # --- write-back -------------------------------------------------------------------------------

    def nudge_for(self, conversation_id: str, key: str) -> Nudge:
        case = self.fake.objects["Case"][conversation_id]
        return Nudge(key=key, finding_key=f"unanswered|conversation:crm:{conversation_id}|x", stage="first",
                     action=Action.TASK, target="crm", title="Reply to the customer", body="Waiting for a reply.",
                     assignee=case.get("OwnerId"), conversation_id=conversation_id, customer_id=case.get("ContactId"),
                     due_at=self.fake.clock)

    def objects_with_marker(self, marker: str) -> list[Any]:
        f = self.fake
        tasks = [t for t in f.live("Task").values()
                 if marker in (t.get("Subject") or "") or marker in (t.get("Description") or "")
                 or t.get("Careplug_Key__c") == marker]
        comments = [c for c in f.live("CaseComment").values() if marker in (c.get("CommentBody") or "")]
        return tasks + comments
