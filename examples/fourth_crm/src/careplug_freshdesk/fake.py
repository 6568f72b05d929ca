"""A loopback Freshdesk (API v2 shapes): tickets, their conversations, private notes.

Routes (all in rate-limit group ``api``; HTTP Basic auth with the API key as user and ``X``):

- ``GET /api/v2/tickets`` — ``updated_since`` (inclusive, second precision, as Freshdesk),
  ``order_by=updated_at``, ``order_type=asc|desc``, ``per_page`` (1..100, default 30), ``page``
  (1..300: beyond, a 400 as Freshdesk answers), ``include=requester`` (embeds the requester's
  id, name, email, phone, mobile), ``filter=deleted`` (only deleted tickets; without it they are
  hidden). A JSON list; a ``Link: <...>; rel="next"`` header when another page follows.
- ``GET /api/v2/tickets/ID/conversations`` — the ticket's replies and notes (``per_page``, ``page``).
- ``POST /api/v2/tickets/ID/notes`` ``{"body", "private"}`` — adds a note (201), bumps the ticket.

Every answer carries ``X-RateLimit-Total``/``-Remaining`` when a limit is set; over the limit it
is a 429 with ``Retry-After``. Timestamps come from a logical clock (one second per change).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from careplug.testing.fakes.base import FakeServer, Request, Response, route

EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
MAX_PAGE = 300


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeFreshdesk(FakeServer):
    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.now = EPOCH
        self.contacts: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        self.next_id = 1000
        self.rate_limited = 0   # 429s given by the fake's own limit (not injected faults)

    # --- state --------------------------------------------------------------------------------

    def tick(self) -> str:
        self.now += timedelta(seconds=1)
        return iso(self.now)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def create_ticket(self, subject: str, replies: int = 2) -> int:
        with self.lock:
            cid = self.new_id()
            self.contacts[cid] = {"id": cid, "name": f"Customer {cid}", "email": f"c{cid}@example.com",
                                  "phone": None, "mobile": None}
            tid = self.new_id()
            at = self.tick()
            self.tickets[tid] = {"id": tid, "subject": subject, "status": 2, "priority": 1, "source": 1,
                                 "requester_id": cid, "responder_id": None, "group_id": None,
                                 "tags": [], "created_at": at, "updated_at": at, "deleted": False}
            self.conversations[tid] = []
            for i in range(replies):
                self.add_conversation(tid, f"reply {i} on {subject}", incoming=i % 2 == 0)
            return tid

    def add_conversation(self, tid: int, body: str, *, incoming: bool, private: bool = False) -> dict[str, Any]:
        with self.lock:
            ticket = self.tickets[tid]
            at = self.tick()
            conv = {"id": self.new_id(), "body": f"<div>{body}</div>", "body_text": body, "incoming": incoming,
                    "private": private, "user_id": ticket["requester_id"] if incoming else 7,
                    "ticket_id": tid, "created_at": at, "updated_at": at}
            self.conversations[tid].append(conv)
            ticket["updated_at"] = at
            return conv

    # --- HTTP ---------------------------------------------------------------------------------

    def authorize(self, req: Request) -> Response | None:
        expected = "Basic " + base64.b64encode(f"{self.api_key}:X".encode()).decode()
        if req.headers.get("authorization") != expected:
            return Response.json({"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}, 401)
        return None

    def rate_limited_response(self, retry_after: float) -> Response:
        return Response.json({"message": "You have exceeded the limit of requests per minute"}, 429,
                             {"Retry-After": str(max(1, round(retry_after))) if retry_after >= 1 else f"{retry_after:.2f}"})

    def _over_limit(self, group: str) -> float | None:
        wait = super()._over_limit(group)
        if wait is not None:
            with self.lock:
                self.rate_limited += 1
        return wait

    def _page(self, req: Request, items: list[dict[str, Any]], path: str) -> Response:
        try:
            per_page = int(req.arg("per_page") or 30)
            page = int(req.arg("page") or 1)
        except ValueError:
            return _invalid("per_page/page", "It should be a/an Positive Integer")
        if not 1 <= per_page <= 100:
            return _invalid("per_page", "Has to be less than or equal to 100")
        if not 1 <= page <= MAX_PAGE:
            return _invalid("page", f"Has to be less than or equal to {MAX_PAGE}")
        start = (page - 1) * per_page
        headers = {}
        if start + per_page < len(items):
            query = {k: v[-1] for k, v in req.query.items()} | {"page": str(page + 1)}
            headers["Link"] = f'<{self.url}{path}?{urlencode(query)}>; rel="next"'
        return Response.json(items[start:start + per_page], headers=headers)

    @route("GET", r"/api/v2/tickets", name="tickets.list", group="api")
    def list_tickets(self, req: Request) -> Response:
        since = req.arg("updated_since")
        deleted = req.arg("filter") == "deleted"
        tickets = [t for t in self.tickets.values() if t["deleted"] == deleted]
        if since is not None:
            try:
                floor = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                return _invalid("updated_since", "It should be in the 'valid date' format")
            tickets = [t for t in tickets if t["updated_at"] >= iso(floor)]
        key = req.arg("order_by") or "created_at"
        tickets.sort(key=lambda t: (t.get(key) or "", t["id"]), reverse=req.arg("order_type", "desc") == "desc")
        if "requester" in (req.arg("include") or "").split(","):
            tickets = [{**t, "requester": self.contacts.get(t["requester_id"])} for t in tickets]
        return self._page(req, [{k: v for k, v in t.items() if k != "deleted" or deleted} for t in tickets],
                          "/api/v2/tickets")

    @route("GET", r"/api/v2/tickets/(?P<id>\d+)/conversations", name="conversations.list", group="api")
    def list_conversations(self, req: Request) -> Response:
        tid = int(req.params["id"])
        if tid not in self.tickets or self.tickets[tid]["deleted"]:
            return Response.json({"code": "access_denied", "message": "not found"}, 404)
        return self._page(req, list(self.conversations[tid]), f"/api/v2/tickets/{tid}/conversations")

    @route("POST", r"/api/v2/tickets/(?P<id>\d+)/notes", name="notes.create", group="api")
    def create_note(self, req: Request) -> Response:
        tid = int(req.params["id"])
        if tid not in self.tickets or self.tickets[tid]["deleted"]:
            return Response.json({"code": "access_denied", "message": "not found"}, 404)
        body = (req.json() or {}).get("body")
        if not isinstance(body, str) or not body:
            return _invalid("body", "It should be a/an String")
        note = self.add_conversation(tid, body, incoming=False, private=bool(req.json().get("private", True)))
        return Response.json(note, 201)


def _invalid(field: str, message: str) -> Response:
    return Response.json({"description": "Validation failed",
                          "errors": [{"field": field, "message": message, "code": "invalid_value"}]}, 400)
