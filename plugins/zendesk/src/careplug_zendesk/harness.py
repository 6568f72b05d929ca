"""The conformance-suite harness: careplug-zendesk against the loopback Zendesk fake, seeded from the
synthetic history generator."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from careplug.model import Conversation, Record
from careplug.nudges.model import MARKER_PREFIX, Action, Nudge
from careplug.source import Source
from careplug.testing.fakes.zendesk import FakeZendesk
from careplug.testing.generator import generate_for_source
from careplug.testing.harness import AdapterHarness

from .source import ZendeskOptions, ZendeskSource

EMAIL_ENV = "CAREPLUG_TEST_ZENDESK_EMAIL"
TOKEN_ENV = "CAREPLUG_TEST_ZENDESK_TOKEN"
OAUTH_ENV = "CAREPLUG_TEST_ZENDESK_OAUTH"


def first_conversations(records: Iterator[Record], n: int) -> Iterator[Record]:
    """The generator's records with only its first ``n`` conversations (and their children)."""
    kept, current = 0, False
    for r in records:
        if isinstance(r, Conversation):
            current = kept < n
            kept += current
            if current:
                yield r
        elif hasattr(r, "conversation_id") and r.kind in ("message", "event", "rating", "task"):
            if current and r.kind != "task":
                yield r
        else:
            yield r


class ZendeskHarness(AdapterHarness):
    source_kind = "zendesk"
    record_kinds = ("account", "agent", "customer", "conversation", "message")
    supports_faults = ("429", "500", "timeout")
    checkpoint_options = {"page_size": 3}

    def __init__(self, *, token: str = "zd-0123456789abcdefTOKENsecret", email: str = "careplug@acme.example"):
        self.fake = FakeZendesk(email=email, token=token)
        self._counter = itertools.count(1)

    def start(self) -> None:
        self.fake.start()
        os.environ[EMAIL_ENV] = self.fake.email
        os.environ[TOKEN_ENV] = self.fake.token
        os.environ.pop(OAUTH_ENV, None)

    def stop(self) -> None:
        self.fake.stop()
        for name in (EMAIL_ENV, TOKEN_ENV):
            os.environ.pop(name, None)

    def options(self, **options: Any) -> dict[str, Any]:
        settings: dict[str, Any] = dict(
            subdomain=self.fake.subdomain, base_url=self.fake.url, email_env=EMAIL_ENV, token_env=TOKEN_ENV,
            oauth_token_env=OAUTH_ENV, timeout=1.0, backoff=0.05, max_retry_wait=5.0, max_attempts=4,
            incremental_per_minute=20, requests_per_minute=40, window_seconds=1.0, job_poll_interval=0.0)
        settings.update(options)
        return settings

    def make_source(self, name: str = "crm", **options: Any) -> Source:
        return ZendeskSource(name, ZendeskOptions(**self.options(**options)))

    def secrets(self) -> list[str]:
        return [self.fake.token]

    # --- data ---------------------------------------------------------------------------------------

    def seed(self, conversations: int, *, seed: int = 0) -> None:
        now = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
        self.fake.load(first_conversations(generate_for_source("zendesk", conversations * 8 + 20, seed=seed, now=now),
                                           conversations))

    def _live(self) -> list[dict[str, Any]]:
        return [t for t in self.fake.tickets.values()
                if t["status"] != "deleted" and "closed_by_merge" not in t["tags"]
                and not str(t.get("external_id") or "").startswith(MARKER_PREFIX)]

    def ids(self, kind: str) -> set[str]:
        f = self.fake
        if kind == "conversation":
            return {str(t["id"]) for t in self._live()}
        if kind == "message":
            return {str(c["id"]) for t in self._live() for c in f.comments[t["id"]]}
        if kind == "customer":
            return {str(u["id"]) for u in f.users.values() if u["role"] == "end-user"}
        if kind == "agent":
            return {str(u["id"]) for u in f.users.values() if u["role"] in ("agent", "admin")}
        if kind == "account":
            return {str(o) for o in f.organizations}
        raise KeyError(kind)

    def _people(self) -> tuple[list[int], list[int]]:
        users = self.fake.users.values()
        return ([u["id"] for u in users if u["role"] == "end-user"],
                [u["id"] for u in users if u["role"] in ("agent", "admin")])

    def add(self, conversations: int) -> set[str]:
        customers, agents = self._people()
        out = set()
        for _ in range(conversations):
            n = next(self._counter)
            requester = customers[n % len(customers)]
            t = self.fake.add_ticket(requester_id=requester, subject=f"New question {n}", channel="email",
                                     status="new", comment={"body": f"Hello, question {n}", "author_id": requester})
            self.fake.add_comment(t["id"], body="We are on it.", author_id=agents[n % len(agents)], status="open")
            out.add(str(t["id"]))
        return out

    def touch(self, conversation_ids: set[str]) -> None:
        for tid in sorted(conversation_ids):
            ticket = self.fake.tickets[int(tid)]
            self.fake.add_comment(int(tid), body="Any news?", author_id=ticket["requester_id"],
                                  status="open" if ticket["status"] != "open" else None)

    def delete(self, conversation_id: str) -> bool:
        self.fake.delete_ticket(int(conversation_id))
        return True

    def merge(self, loser_id: str, winner_id: str) -> bool:
        self.fake.merge([int(loser_id)], int(winner_id))
        return True

    def corrupt(self, conversation_id: str) -> None:
        ticket = self.fake.tickets[int(conversation_id)]
        ticket["created_at"] = "not a date"

    # --- faults and accounting --------------------------------------------------------------------

    def enforce_rate_limit(self) -> None:
        self.fake.enforce_limits(incremental=25, api=50, per_seconds=1.0)

    # --- write-back -------------------------------------------------------------------------------

    def nudge_for(self, conversation_id: str, key: str, action: Action = Action.TASK) -> Nudge:
        ticket = self.fake.tickets[int(conversation_id)]
        assignee = ticket.get("assignee_id")
        return Nudge(key=key, finding_key=f"unanswered|conversation:crm:{conversation_id}|x", stage="first",
                     action=action, target="crm", title="Reply to the customer", body="Waiting for a reply.",
                     assignee=str(assignee) if assignee else None, conversation_id=conversation_id,
                     customer_id=str(ticket["requester_id"]),
                     due_at=datetime.now(timezone.utc) + timedelta(hours=1))

    def objects_with_marker(self, marker: str) -> list[Any]:
        """Follow-up tickets carrying the marker as external id, and notes (comments) carrying it on
        tickets tagged with the marker tag."""
        key = marker.removeprefix(MARKER_PREFIX)
        followups = [t for t in self.fake.tickets.values() if t.get("external_id") == marker]
        notes = [c for t in self.fake.tickets.values() if f"careplug_{key}" in t["tags"]
                 for c in self.fake.comments[t["id"]] if marker in c["body"] and not c["public"]]
        return followups + notes
