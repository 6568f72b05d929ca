"""A second deliberately broken TinyDesk adapter, with the bugs ``broken_adapter.py`` lacks, so
that every test of the suite is shown to fail for some adapter.

It checkpoints after its records, paces nothing but honours Retry-After, quarantines malformed
tickets and keeps its token to itself, but:

1. it asks for ``since`` one second early "to be safe", on every request (re-reads the boundary
   ticket of each page and of the cursor: repeats);
2. it reads up to the server time of its first request and then saves the server time of its
   *last* request as the cursor (changes made during the sync are skipped for good);
3. it lets HTTP errors and timeouts escape unretried, as raw ``requests`` exceptions;
4. it ignores deleted tickets;
5. it never finds its own markers (``find_delivered`` returns nothing), so it writes twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from careplug.model import Checkpoint, Conversation, Customer, Message, Quarantined
from careplug.nudges.model import Nudge, Receipt
from careplug.source import Item, Source, SourceOptions
from tiny_crm import TinyDeskHarness


class SloppyOptions(SourceOptions):
    base_url: str
    token_env: str = "TINYDESK_TOKEN"
    page_size: int = 50
    timeout: float = 0.5


class SloppyTinyDeskSource(Source):
    kind = "tinydesk-sloppy"
    Options = SloppyOptions
    streams = ("tickets",)

    def _request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        token = os.environ[self.options.token_env]
        while True:
            response = requests.request(method, self.options.base_url + path,                # bug 3
                                        headers={"Authorization": f"Bearer {token}"},
                                        timeout=self.options.timeout, **kw)
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            response.raise_for_status()
            return response.json()

    def fetch(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        since = _earlier(cursor) if cursor else ""                                               # bug 1
        until = None
        while True:
            params = {"since": since, "limit": self.options.page_size}
            if until:
                params["until"] = until
            page = self._request("GET", "/api/tickets", params=params)
            until = until or page["server_time"]
            for t in page["tickets"]:
                yield from self._records(stream, t)
            if page["tickets"]:
                since = _earlier(page["tickets"][-1]["updated_at"])                              # bug 1
            if not page["has_more"]:
                yield Checkpoint(stream, page["server_time"])                                    # bug 2
                return
            yield Checkpoint(stream, page["tickets"][-1]["updated_at"])

    def _records(self, stream: str, t: dict[str, Any]) -> Iterator[Item]:
        if t.get("deleted"):
            return                                                                                # bug 4
        tid = str(t["id"])
        if not isinstance(t.get("subject"), str) or not isinstance(t.get("status"), str):
            yield Quarantined(stream, "ticket without a subject or with an unknown status", t, tid)
            return
        r = t["requester"]
        yield Customer(self.name, str(r["id"]), name=r["name"], emails=[r["email"]])
        yield Conversation(self.name, tid, customer_id=str(r["id"]), subject=t["subject"],
                           created_at=_dt(t["created_at"]), updated_at=_dt(t["updated_at"]))
        for c in t["comments"]:
            yield Message(self.name, str(c["id"]), conversation_id=tid, body=c["body"],
                          author=str(c["author_id"]), created_at=_dt(c["created_at"]))

    def find_delivered(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        return {}                                                                                 # bug 5

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        found = self.find_delivered(nudges)
        receipts = []
        for n in nudges:
            if n.key in found:
                receipts.append(found[n.key])
                continue
            note = self._request("POST", f"/api/tickets/{n.conversation_id}/notes",
                                 json={"body": f"{n.title}\n{n.marker}"})["note"]
            receipts.append(Receipt(n.key, str(note["id"]), datetime.now(timezone.utc)))
        return receipts


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _earlier(cursor: str) -> str:
    return (datetime.fromisoformat(cursor) - timedelta(seconds=1)).isoformat()


class SloppyHarness(TinyDeskHarness):
    def make_source(self, name: str = "crm", **options: Any) -> Source:
        opts = {"base_url": self.fake.url, "token_env": self.token_env, **options}
        return SloppyTinyDeskSource(name, SloppyOptions(**opts))
