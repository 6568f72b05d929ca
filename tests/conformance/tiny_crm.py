"""TinyDesk: the smallest CRM API the conformance suite can be pointed at, and its harness.

The API (all under ``/api``, bearer token, one rate-limit group ``api``):

- ``GET /api/tickets?since=ISO&limit=N[&until=ISO]`` — tickets changed strictly after ``since``
  (and at or before ``until``), oldest change first, at most ``limit``; each embeds its
  ``requester`` and ``comments``. A deleted ticket appears once as ``{"id", "deleted": true,
  "updated_at"}``. ``has_more`` says whether another page follows (ask again with ``since`` = the
  last ``updated_at``); ``server_time`` is the time of the latest change in the CRM.
- ``GET /api/notes?marker=TEXT`` — notes whose body contains ``TEXT``.
- ``POST /api/tickets/ID/notes`` ``{"body": ...}`` — add an internal note.

Every change takes a new, strictly increasing ``updated_at`` (a logical clock), so ``since`` is
an exact cursor. ``TinyDeskHarness`` drives it for the suite; a subclass sets ``make_source``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from careplug.nudges.model import Action, Nudge
from careplug.testing.fakes.base import FakeServer, Request, Response, route
from careplug.testing.harness import AdapterHarness

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


class FakeTinyDesk(FakeServer):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.now = EPOCH
        self.customers: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.notes: list[dict[str, Any]] = []
        self.next_id = 1
        self.rate_limited = 0   # answers given by the fake's own rate limit (not injected faults)

    # --- state --------------------------------------------------------------------------------

    def tick(self) -> str:
        self.now += timedelta(seconds=1)
        return self.now.isoformat()

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def create_ticket(self, subject: str, comments: int = 2) -> int:
        with self.lock:
            cid = self.new_id()
            self.customers[cid] = {"id": cid, "name": f"Customer {cid}", "email": f"c{cid}@example.com"}
            tid = self.new_id()
            at = self.tick()
            self.tickets[tid] = {"id": tid, "subject": subject, "status": "open", "requester_id": cid,
                                 "created_at": at, "updated_at": at, "comments": []}
            for i in range(comments):
                self.add_comment(tid, f"comment {i} on {subject}")
            return tid

    def add_comment(self, tid: int, body: str) -> None:
        with self.lock:
            at = self.tick()
            ticket = self.tickets[tid]
            ticket["comments"].append({"id": self.new_id(), "body": body, "created_at": at,
                                       "author_id": ticket["requester_id"]})
            ticket["updated_at"] = at

    def _over_limit(self, group: str) -> float | None:
        wait = super()._over_limit(group)
        if wait is not None:
            with self.lock:
                self.rate_limited += 1
        return wait

    # --- routes -------------------------------------------------------------------------------

    def authorize(self, req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Response.json({"error": "unauthorized"}, 401)
        return None

    @route("GET", r"/api/tickets", name="tickets.list", group="api")
    def list_tickets(self, req: Request) -> Response:
        since, until = req.arg("since") or "", req.arg("until") or "9999"
        limit = min(int(req.arg("limit") or 100), 100)
        changed = sorted((t for t in self.tickets.values() if since < t["updated_at"] <= until),
                         key=lambda t: t["updated_at"])
        page = []
        for t in changed[:limit]:
            if t.get("deleted"):
                page.append({"id": t["id"], "deleted": True, "updated_at": t["updated_at"]})
            else:
                page.append({**t, "requester": self.customers.get(t.get("requester_id"))})
        return Response.json({"tickets": page, "has_more": len(changed) > limit,
                              "server_time": self.now.isoformat()})

    @route("GET", r"/api/notes", name="notes.search", group="api")
    def search_notes(self, req: Request) -> Response:
        marker = req.arg("marker") or ""
        return Response.json({"notes": [n for n in self.notes if marker and marker in n["body"]]})

    @route("POST", r"/api/tickets/(?P<id>\d+)/notes", name="notes.create", group="api")
    def create_note(self, req: Request) -> Response:
        tid = int(req.params["id"])
        if tid not in self.tickets or self.tickets[tid].get("deleted"):
            return Response.json({"error": f"no ticket {tid}"}, 404)
        note = {"id": self.new_id(), "ticket_id": tid, "body": req.json()["body"]}
        self.notes.append(note)
        return Response.json({"note": note}, 201)


class TinyDeskHarness(AdapterHarness):
    """The harness of TinyDesk adapters; subclasses implement ``make_source``."""

    source_kind = "tinydesk"
    token = "tiny-secret-token-5c1e9a"
    token_env = "TINYDESK_TOKEN"
    checkpoint_options = {"page_size": 2}

    def start(self) -> None:
        self.fake = FakeTinyDesk(self.token).start()
        self.limited = False
        self._saved_env = os.environ.get(self.token_env)
        os.environ[self.token_env] = self.token

    def stop(self) -> None:
        self.fake.stop()
        if self._saved_env is None:
            os.environ.pop(self.token_env, None)
        else:
            os.environ[self.token_env] = self._saved_env

    def secrets(self) -> list[str]:
        return [self.token]

    def seed(self, conversations: int, *, seed: int = 0) -> None:
        for i in range(conversations):
            self.fake.create_ticket(f"seeded {seed}-{i}")

    def ids(self, kind: str) -> set[str]:
        with self.fake.lock:
            live = [t for t in self.fake.tickets.values() if not t.get("deleted")]
            if kind == "conversation":
                return {str(t["id"]) for t in live}
            if kind == "message":
                return {str(c["id"]) for t in live for c in t["comments"]}
            if kind == "customer":
                return {str(c) for c in self.fake.customers}
        raise ValueError(kind)

    def add(self, conversations: int) -> set[str]:
        return {str(self.fake.create_ticket(f"added {i}")) for i in range(conversations)}

    def touch(self, conversation_ids: set[str]) -> None:
        for cid in sorted(conversation_ids):
            self.fake.add_comment(int(cid), "a follow-up")

    def delete(self, conversation_id: str) -> bool:
        with self.fake.lock:
            ticket = self.fake.tickets[int(conversation_id)]
            ticket.update(deleted=True, updated_at=self.fake.tick())
        return True

    def corrupt(self, conversation_id: str) -> None:
        with self.fake.lock:
            ticket = self.fake.tickets[int(conversation_id)]
            del ticket["subject"]
            ticket.update(status=42, updated_at=self.fake.tick())

    def inject(self, fault: str, *, times: int = 1, retry_after: float | None = None,
               endpoint: str | None = None) -> None:
        self.fake.inject(fault, times=times, retry_after=retry_after, endpoint=endpoint, delay=1.0)

    def enforce_rate_limit(self) -> None:
        self.limited = True
        self.fake.rate_limit("api", 2, 1.0)

    def rate_limited_responses(self) -> int:
        return self.fake.rate_limited

    def calls(self) -> dict[str, int]:
        return dict(self.fake.calls)

    def reset_calls(self) -> None:
        self.fake.reset_calls()

    def nudge_for(self, conversation_id: str, key: str) -> Nudge:
        return Nudge(key=key, finding_key=f"f-{key}", stage="first", action=Action.NOTE, target="crm",
                     title="Reply to the customer", body="Waiting for a reply.",
                     conversation_id=conversation_id)

    def objects_with_marker(self, marker: str) -> list[Any]:
        with self.fake.lock:
            return [n for n in self.fake.notes if marker in n["body"]]
