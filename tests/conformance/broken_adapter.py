"""A deliberately broken TinyDesk adapter: the conformance suite must catch each of its bugs.

It reads and writes TinyDesk (``tiny_crm.py``) correctly in the ordinary case (first and
incremental syncs, 5xx and timeout retries with backoff, deletions, find_delivered), but:

1. it checkpoints a page *before* yielding the page's records (the cursor runs ahead of the data);
2. it retries a 429 at once, ignoring Retry-After, and never paces itself;
3. it writes nudges without looking their markers up first;
4. it logs its token at DEBUG;
5. it crashes on a malformed ticket instead of quarantining it.

``test_broken_adapter.py`` asserts the suite fails exactly the tests these bugs break.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import requests

from careplug.errors import RetriableError
from careplug.model import Checkpoint, Conversation, Customer, Deletion, Message
from careplug.nudges.model import Nudge, Receipt
from careplug.source import Item, Source, SourceOptions
from tiny_crm import TinyDeskHarness

log = logging.getLogger(__name__)


class BrokenOptions(SourceOptions):
    base_url: str
    token_env: str = "TINYDESK_TOKEN"
    page_size: int = 50
    max_retries: int = 4
    backoff: float = 0.05
    timeout: float = 0.5


class BrokenTinyDeskSource(Source):
    kind = "tinydesk-broken"
    Options = BrokenOptions
    streams = ("tickets",)

    def _request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        token = os.environ[self.options.token_env]
        url = self.options.base_url + path
        log.debug("%s %s with token %s", method, url, token)                    # bug 4
        for attempt in range(self.options.max_retries + 1):
            try:
                response = requests.request(method, url, headers={"Authorization": f"Bearer {token}"},
                                            timeout=self.options.timeout, **kw)
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}"
            else:
                if response.status_code == 429:
                    problem = "429"
                    continue                                                      # bug 2: no wait
                if response.status_code < 500:
                    response.raise_for_status()
                    return response.json()
                problem = f"HTTP {response.status_code}"
            time.sleep(self.options.backoff * 2 ** attempt)
        raise RetriableError(f"{method} {path} failed: {problem}", source=self.name)

    def fetch(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        since = cursor or ""
        while True:
            page = self._request("GET", "/api/tickets", params={"since": since, "limit": self.options.page_size})
            tickets = page["tickets"]
            if tickets:
                since = tickets[-1]["updated_at"]
                yield Checkpoint(stream, since)                                   # bug 1: too early
            for t in tickets:
                yield from self._records(t)
            if not page["has_more"]:
                return

    def _records(self, t: dict[str, Any]) -> Iterator[Item]:
        tid = str(t["id"])
        if t.get("deleted"):
            yield Deletion(self.name, tid, record_kind="conversation")
            return
        r = t["requester"]
        yield Customer(self.name, str(r["id"]), name=r["name"], emails=[r["email"]])
        yield Conversation(self.name, tid, customer_id=str(r["id"]), subject=t["subject"],   # bug 5
                           created_at=_dt(t["created_at"]), updated_at=_dt(t["updated_at"]))
        for c in t["comments"]:
            yield Message(self.name, str(c["id"]), conversation_id=tid, body=c["body"],
                          author=str(c["author_id"]), created_at=_dt(c["created_at"]))

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        receipts = []
        for n in nudges:                                                          # bug 3: no lookup
            note = self._request("POST", f"/api/tickets/{n.conversation_id}/notes",
                                 json={"body": f"{n.title}\n{n.body}\n{n.marker}"})["note"]
            receipts.append(Receipt(n.key, str(note["id"]), datetime.now(timezone.utc)))
        return receipts

    def find_delivered(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        found = {}
        for n in nudges:
            notes = self._request("GET", "/api/notes", params={"marker": n.marker})["notes"]
            if notes:
                found[n.key] = Receipt(n.key, str(notes[0]["id"]), datetime.now(timezone.utc), existed=True)
        return found


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


class BrokenHarness(TinyDeskHarness):
    def make_source(self, name: str = "crm", **options: Any) -> Source:
        opts = {"base_url": self.fake.url, "token_env": self.token_env, **options}
        return BrokenTinyDeskSource(name, BrokenOptions(**opts))
