"""The Freshdesk source: tickets (with requesters and conversations) and deleted tickets, read
incrementally; nudges written back as private notes carrying their marker.

Cursor of each stream: ``{"since": ISO time, "seen": [ticket ids changed at exactly that time]}``.
Freshdesk's ``updated_since`` is inclusive and has second precision, so every request starts at
``since`` and skips the tickets already seen there: no gaps, no repeats. Each request asks for
page 1 from the new ``since`` (keyset paging), which also steps around Freshdesk's 300-page cap.
A checkpoint follows each page, after the page's records.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from pydantic import Field

from careplug.errors import AuthError, FatalSourceError
from careplug.model import Checkpoint, Deletion, Quarantined
from careplug.nudges.model import Nudge, Receipt
from careplug.source import Item, Source, SourceOptions

from . import mapping
from .client import FreshdeskClient
from .pacing import shared_pacer

BEGINNING = "1970-01-01T00:00:00Z"   # without updated_since Freshdesk lists only the last 30 days


class FreshdeskOptions(SourceOptions):
    """``[sources.NAME]`` with ``type = "freshdesk"``."""

    url: str = Field(description="Your helpdesk, e.g. https://acme.freshdesk.com")
    api_key_env: str = Field("FRESHDESK_API_KEY", description="Environment variable holding the API key.")
    page_size: int = Field(100, ge=1, le=100, description="Tickets per request (Freshdesk allows 100).")
    requests_per_window: int = Field(200, ge=1, description="Your plan's request allowance per window.")
    window_seconds: float = Field(60.0, gt=0, description="The allowance window (Freshdesk: a minute).")
    timeout: float = Field(30.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    backoff: float = Field(1.0, ge=0, description="First retry delay; doubles each attempt.")
    max_retry_wait: float = Field(120.0, ge=0, description="Longest Retry-After careplug waits out.")


class FreshdeskSource(Source):
    kind = "freshdesk"
    Options = FreshdeskOptions
    streams = ("tickets", "deleted_tickets")
    description = "Freshdesk tickets, requesters and conversations; nudges as private notes."

    options: FreshdeskOptions

    def __init__(self, name: str, options: FreshdeskOptions, *, base_dir: str | None = None):
        super().__init__(name, options, base_dir=base_dir)
        self._client: FreshdeskClient | None = None

    @property
    def client(self) -> FreshdeskClient:
        if self._client is None:
            key = os.environ.get(self.options.api_key_env)
            if not key:
                raise AuthError(f"environment variable {self.options.api_key_env} is not set", source=self.name)
            o = self.options
            self._client = FreshdeskClient(o.url, key, source=self.name, timeout=o.timeout,
                                           max_attempts=o.max_attempts, backoff=o.backoff,
                                           max_retry_wait=o.max_retry_wait,
                                           pacer=shared_pacer(o.url, o.requests_per_window, o.window_seconds))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- reading ------------------------------------------------------------------------------

    def fetch(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        deleted = stream == "deleted_tickets"
        since = (cursor or {}).get("since", BEGINNING)
        seen = set((cursor or {}).get("seen", []))
        while True:
            params = {"updated_since": since, "order_by": "updated_at", "order_type": "asc",
                      "per_page": self.options.page_size}
            params.update({"filter": "deleted"} if deleted else {"include": "requester"})
            page = self.client.request("GET", "/api/v2/tickets", params=params, stream=stream).json()
            fresh = [t for t in page if not (t.get("updated_at") == since and t.get("id") in seen)]
            for t in fresh:
                yield from (self._deletion(t) if deleted else self._ticket(stream, t))
                if t["updated_at"] != since:
                    since, seen = t["updated_at"], set()
                seen.add(t["id"])
            if fresh:
                yield Checkpoint(stream, {"since": since, "seen": sorted(seen)})
            if len(page) < self.options.page_size:
                return
            if not fresh:
                raise FatalSourceError(f"more than {self.options.page_size} tickets changed at {since}: "
                                       "raise page_size to step past them", source=self.name, stream=stream)

    def _deletion(self, t: dict[str, Any]) -> Iterator[Item]:
        yield Deletion(self.name, str(t["id"]), record_kind="conversation",
                       deleted_at=mapping.when(t, "updated_at"))

    def _ticket(self, stream: str, t: dict[str, Any]) -> Iterator[Item]:
        try:
            customer, conversation = mapping.ticket(self.name, t)
        except mapping.MappingError as exc:
            yield Quarantined(stream, f"ticket {t.get('id')}: {exc}", payload=t, external_id=str(t.get("id")))
            return
        if customer is not None:
            yield customer
        yield conversation
        replies = self.client.get_all(f"/api/v2/tickets/{t['id']}/conversations", {"per_page": 100}, stream=stream)
        for c in replies:
            try:
                yield mapping.message(self.name, conversation.external_id, c)
            except mapping.MappingError as exc:
                yield Quarantined(stream, f"conversation {c.get('id')} of ticket {t['id']}: {exc}",
                                  payload=c, external_id=str(c.get("id")))

    # --- writing back -------------------------------------------------------------------------

    def find_delivered(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        """Look each marker up in its ticket's notes (one listing per ticket)."""
        found: dict[str, Receipt] = {}
        by_ticket: dict[str, list[Nudge]] = {}
        for n in nudges:
            if n.conversation_id:
                by_ticket.setdefault(n.conversation_id, []).append(n)
        for tid, group in by_ticket.items():
            notes = self.client.get_all(f"/api/v2/tickets/{tid}/conversations", {"per_page": 100}, stream="notes")
            for n in group:
                hit = next((c for c in notes if n.marker in (c.get("body_text") or "")), None)
                if hit is not None:
                    found[n.key] = Receipt(n.key, str(hit["id"]), mapping.when(hit, "created_at"), existed=True)
        return found

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        """A private note per nudge, unless its marker is already on the ticket."""
        already = self.find_delivered(nudges)
        receipts = []
        for n in nudges:
            if n.key in already:
                receipts.append(already[n.key])
                continue
            if not n.conversation_id:
                raise FatalSourceError(f"nudge {n.key} names no ticket", source=self.name, stream="notes")
            body = f"{n.title}\n\n{n.body}\n\n{n.marker}".strip()
            note = self.client.request("POST", f"/api/v2/tickets/{n.conversation_id}/notes",
                                       json={"body": body, "private": True}, stream="notes").json()
            receipts.append(Receipt(n.key, str(note["id"]), datetime.now(timezone.utc)))
        return receipts
