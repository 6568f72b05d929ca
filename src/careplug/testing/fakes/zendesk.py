"""A loopback Zendesk Support: the endpoints careplug-zendesk uses, with Zendesk's documented payload
shapes, page sizes, limits and error bodies, driven by the real ``zenpy`` over HTTP.

Reading (the incremental exports, group ``incremental``: Zendesk allows 10 requests a minute):

- ``GET /api/v2/incremental/tickets/cursor.json`` — cursor-based ticket export: ``start_time`` or
  ``cursor``, ``per_page`` <= 1000; answers ``tickets``, ``after_cursor``/``after_url``,
  ``before_cursor``/``before_url``, ``end_of_stream``. Tickets are ordered by their
  ``generated_timestamp`` (every change moves a ticket to the end) and include deleted tickets with
  ``status: "deleted"``, as Zendesk's export does.
- ``GET /api/v2/incremental/users/cursor.json`` — the same for users (end users, agents, admins).
- ``GET /api/v2/incremental/ticket_events.json`` — time-based: ``start_time`` (inclusive),
  ``include=comment_events``, ``per_page`` <= 1000; answers ``ticket_events`` (``event_type:
  "Audit"`` with ``child_events``: ``Comment``/``VoiceComment`` only with ``comment_events``,
  ``Create``/``Change`` with the field as key and ``previous_value``), ``next_page``, ``end_time``,
  ``count``, ``end_of_stream``. A page never splits one second: it is extended to every event of
  its last second, so ``start_time=end_time`` re-reads (only) that second; a page holding only the
  start second is extended through the next one, so paging always moves on.
- ``GET /api/v2/incremental/organizations.json`` — time-based, same shape (``organizations``).
- ``GET /api/v2/channels/voice/stats/incremental/calls.json`` — Talk calls, time-based (``calls``).

Everything else is group ``api`` (the account's per-minute limit):

- ``GET /api/v2/satisfaction_ratings.json`` (``start_time``, ``sort_order``, cursor paging
  ``page[size]`` <= 100 / ``page[after]``, answers with ``meta.has_more``/``after_cursor``),
- ``GET /api/v2/users.json?role[]=agent&role[]=admin`` (cursor paging, <= 100),
- ``GET /api/v2/tickets/{id}/comments.json`` (cursor paging, <= 100: the naive per-ticket way),
- ``GET /api/v2/tickets.json?external_id=...``, ``GET /api/v2/tickets/show_many.json?ids=`` (<= 100),
- ``POST /api/v2/tickets/{id}/merge.json`` (the sources are closed, tagged ``closed_by_merge``,
  with private comments on both sides; answered with a job status),
- ``POST /api/v2/tickets.json``, ``PUT /api/v2/tickets/{id}.json``,
  ``POST /api/v2/tickets/create_many.json`` and ``PUT /api/v2/tickets/update_many.json`` (<= 100,
  answered with a queued ``job_status``; with ``job_delay`` the job runs that many seconds later,
  as Zendesk runs them in the background), ``GET /api/v2/job_statuses/{id}.json`` and
  ``GET /api/v2/job_statuses.json`` (the unfinished jobs first).

Auth is API token (HTTP basic ``{email}/token:{token}``) or OAuth bearer; anything else is a 401
``{"error": "Couldn't authenticate you"}``. With ``enforce_limits`` on, answers carry
``X-Rate-Limit``/``X-Rate-Limit-Remaining``/``ratelimit-reset``, and a request over a limit gets a
429 with ``Retry-After`` (whole seconds) and Zendesk's ``APIRateLimitExceeded`` body.

State is kept as Zendesk returns it (ids are ints, times ISO 8601 ``...Z``). Every change takes a
time from the fake's clock, which never goes backwards and moves at least a second per change, so
a changed ticket sorts after every cursor handed out before. ``seed`` builds a synthetic account
fast (benchmarks); ``load`` converts ``careplug.testing.generator`` records into payloads.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import random
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from ...model import (Account, Agent, AuthorRole, Channel, Conversation, Customer, Event, EventKind, Message,
                     Rating, Record, Status)
from .base import FakeServer, Request, Response, route

EXPORT_PAGE_MAX = 1000
CBP_PAGE_MAX = 100
BULK_MAX = 100
INCREMENTAL_PER_MINUTE = 10

STATUS_OUT = {Status.NEW: "new", Status.OPEN: "open", Status.PENDING: "pending", Status.ON_HOLD: "hold",
              Status.SOLVED: "solved", Status.CLOSED: "closed"}
CHANNEL_OUT = {Channel.EMAIL: "email", Channel.PHONE: "voice", Channel.CHAT: "chat", Channel.SOCIAL: "twitter",
               Channel.SMS: "sms", Channel.WEB_FORM: "web", Channel.API: "api", Channel.OTHER: "mobile"}
FIELD_OUT = {EventKind.ASSIGNEE: "assignee_id", EventKind.GROUP: "group_id", EventKind.STATUS: "status",
             EventKind.PRIORITY: "priority"}
VIA_NAMES = {"email": "Mail", "web": "Web form", "api": "Web service", "voice": "Voice", "chat": "Chat",
             "sms": "Text", "twitter": "Twitter", "facebook": "Facebook", "rule": "Rule", "mobile": "Mobile"}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(dt: datetime | None) -> int:
    return int(dt.timestamp()) if dt else 0


def _token(*parts: Any) -> str:
    return base64.urlsafe_b64encode("|".join(map(str, parts)).encode()).decode()


def _untoken(token: str) -> list[str]:
    return base64.urlsafe_b64decode(token.encode()).decode().split("|")


class FakeZendesk(FakeServer):
    """A stateful Zendesk Support account on 127.0.0.1."""

    def __init__(self, *, email: str = "admin@example.com", token: str = "zd-test-token",
                 oauth_token: str | None = None, subdomain: str = "acme", public_links: bool = False) -> None:
        super().__init__()
        self.public_links = public_links
        self.email, self.token, self.oauth_token, self.subdomain = email, token, oauth_token, subdomain
        self.users: dict[int, dict[str, Any]] = {}
        self.organizations: dict[int, dict[str, Any]] = {}
        self.groups: dict[str, int] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []          # ticket events (audits), sorted by (timestamp, id)
        self._event_keys: list[tuple[int, int]] = []
        self.ratings: dict[int, dict[str, Any]] = {}
        self.calls_log: dict[int, dict[str, Any]] = {}   # Talk calls (``self.calls`` counts requests)
        self.jobs: dict[str, dict[str, Any]] = {}
        #: seconds a bulk job waits in the queue before it runs (Zendesk runs them in the background:
        #: until then its writes are not there and its status is ``queued``); 0 runs it at once
        self.job_delay = 0.0
        self._queued: list[tuple[float, str, Any]] = []
        self.rate_limited = 0
        self._ids = itertools.count(10_000_000_000)
        self._clock = int(time.time())

    # --- clock and ids --------------------------------------------------------------------------

    def now(self) -> int:
        """The time of a change: never earlier than the last one, at least a second later."""
        self._clock = max(int(time.time()), self._clock + 1)
        return self._clock

    def next_id(self) -> int:
        return next(self._ids)

    # --- auth, limits and error bodies ----------------------------------------------------------

    def authorize(self, req: Request) -> Response | None:
        header = req.headers.get("authorization", "")
        ok = False
        if header.startswith("Basic "):
            try:
                ok = base64.b64decode(header[6:]).decode() == f"{self.email}/token:{self.token}"
            except ValueError:
                ok = False
        elif header.startswith("Bearer ") and self.oauth_token:
            ok = header[7:] == self.oauth_token
        return None if ok else Response.json({"error": "Couldn't authenticate you"}, 401)

    def enforce_limits(self, *, incremental: int = INCREMENTAL_PER_MINUTE, api: int = 400,
                       per_seconds: float = 60.0) -> None:
        """Turn on Zendesk's per-minute limits (scaled by ``per_seconds`` for tests)."""
        self.rate_limit("incremental", incremental, per_seconds)
        self.rate_limit("api", api, per_seconds)

    def _over_limit(self, group: str) -> float | None:
        wait = super()._over_limit(group)
        if wait is not None:
            with self.lock:
                self.rate_limited += 1
        return wait

    def _respond(self, name: str, group: str | None, handler, req: Request) -> Response | None:
        """Every answer in a limited group carries Zendesk's account headers: ``X-Rate-Limit``,
        ``X-Rate-Limit-Remaining`` and ``ratelimit-reset`` (seconds until a request frees up)."""
        self.run_due_jobs()
        response = super()._respond(name, group, handler, req)
        if response is not None and group in self.limits:
            requests, per = self.limits[group]
            with self.lock:
                hits = self._hits[group]
                now = time.monotonic()
                live = [h for h in hits if now - h < per]
                reset = per - (now - live[0]) if live else 0.0
            response.headers.update({"X-Rate-Limit": str(requests),
                                     "X-Rate-Limit-Remaining": str(max(0, requests - len(live))),
                                     "ratelimit-reset": str(max(0, int(reset + 0.999)))})
        return response

    def rate_limited_response(self, retry_after: float) -> Response:
        return Response.json({"error": "APIRateLimitExceeded",
                              "description": "Number of allowed API requests per minute exceeded"}, 429,
                             {"Retry-After": str(max(1, int(retry_after + 0.999)))})

    def error_response(self, status: int) -> Response:
        return Response.json({"error": "InternalError", "description": "Something went wrong"}, status)

    def url_for(self, path: str, **query: Any) -> str:
        """A URL as Zendesk writes it into payloads (``url``, ``next_page``, ``after_url``,
        ``links.next``). Zendesk names the account's host; the fake names itself by default, so a
        client following links never leaves the loopback (``public_links=True``: the account's
        host, as Zendesk does, for clients that map it to their base URL)."""
        base = f"https://{self.subdomain}.zendesk.com" if self.public_links else self.url
        return f"{base}/api/v2/{path}" + (f"?{urlencode(query)}" if query else "")

    # --- building state ---------------------------------------------------------------------------

    def add_user(self, *, name: str, role: str = "end-user", email: str | None = None, phone: str | None = None,
                 organization_id: int | None = None, id: int | None = None, at: int | None = None,
                 tags: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        uid = id or self.next_id()
        at = at or self.now()
        user = {"id": uid, "_path": f"users/{uid}.json", "name": name, "email": email, "phone": phone,
                "role": role, "organization_id": organization_id, "active": True, "suspended": False,
                "time_zone": extra.pop("time_zone", "UTC"), "default_group_id": extra.pop("default_group_id", None),
                "tags": tags or [], "user_fields": extra.pop("user_fields", {}), "created_at": iso(at),
                "updated_at": iso(at), **extra}
        self.users[uid] = user
        return user

    def add_organization(self, *, name: str, id: int | None = None, at: int | None = None,
                         domain_names: list[str] | None = None, tags: list[str] | None = None,
                         organization_fields: dict[str, Any] | None = None) -> dict[str, Any]:
        oid = id or self.next_id()
        at = at or self.now()
        org = {"id": oid, "_path": f"organizations/{oid}.json", "name": name,
               "domain_names": domain_names or [], "tags": tags or [], "organization_fields": organization_fields or {},
               "created_at": iso(at), "updated_at": iso(at)}
        self.organizations[oid] = org
        return org

    def group_id(self, name: str | None) -> int | None:
        if not name:
            return None
        return self.groups.setdefault(name, 360_000 + len(self.groups))

    def add_ticket(self, *, requester_id: int, subject: str = "", channel: str = "email", status: str = "new",
                   priority: str | None = "normal", assignee_id: int | None = None, group_id: int | None = None,
                   organization_id: int | None = None, tags: list[str] | None = None, type: str | None = None,
                   due_at: str | None = None, external_id: str | None = None, id: int | None = None,
                   at: int | None = None, comment: dict[str, Any] | None = None, rel: str | None = None,
                   updated: int | None = None) -> dict[str, Any]:
        """Create a ticket and its creation audit (with the first comment, when given)."""
        tid = id or self.next_id()
        at = at or self.now()
        ticket = {"id": tid, "_path": f"tickets/{tid}.json", "external_id": external_id,
                  "type": type, "subject": subject, "raw_subject": subject,
                  "description": (comment or {}).get("body", ""), "priority": priority, "status": status,
                  "requester_id": requester_id, "submitter_id": requester_id, "assignee_id": assignee_id,
                  "organization_id": organization_id, "group_id": group_id, "tags": list(tags or []),
                  "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": rel}},
                  "due_at": due_at, "created_at": iso(at), "updated_at": iso(at), "generated_timestamp": at,
                  "is_public": True, "custom_fields": [], "satisfaction_rating": None}
        self.tickets[tid] = ticket
        self.comments[tid] = []
        children: list[dict[str, Any]] = []
        if comment is not None:
            children.append(self._comment(tid, at, channel, **comment))
        for field in ("status", "priority", "assignee_id", "group_id"):
            if ticket[field] is not None:
                children.append({"id": self.next_id(), "event_type": "Create", field: ticket[field]})
        self._audit(tid, at, (comment or {}).get("author_id", requester_id), channel, children)
        if updated and updated > at:
            self._bump(ticket, updated)
        return ticket

    def _comment(self, tid: int, at: int, channel: str, *, body: str, author_id: int, public: bool = True,
                 voice: dict[str, Any] | None = None) -> dict[str, Any]:
        comment = {"id": self.next_id(), "type": "VoiceComment" if voice else "Comment", "author_id": author_id,
                   "body": body, "html_body": f"<p>{body}</p>", "plain_body": body, "public": public,
                   "attachments": [], "created_at": iso(at),
                   "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}}}
        if voice:
            comment["data"] = voice
        self.comments[tid].append(comment)
        event = {"id": comment["id"], "event_type": comment["type"], "body": body, "html_body": comment["html_body"],
                 "public": public, "author_id": author_id, "attachments": [], "comment_present": True,
                 "comment_public": public}
        if voice:
            event["data"] = voice
        return event

    def _audit(self, tid: int, at: int, updater_id: int | None, channel: str, children: list[dict[str, Any]]) -> None:
        via = VIA_NAMES.get(channel, "Web form")
        for child in children:
            child.setdefault("via", via)
            child.setdefault("via_reference_id", None)
        event = {"id": self.next_id(), "ticket_id": tid, "timestamp": at, "created_at": iso(at),
                 "updater_id": updater_id if updater_id is not None else -1, "via": via, "system": {},
                 "metadata": {}, "event_type": "Audit", "child_events": children}
        key = (at, event["id"])
        i = bisect.bisect(self._event_keys, key)
        self._event_keys.insert(i, key)
        self.events.insert(i, event)

    def _bump(self, ticket: dict[str, Any], at: int | None = None) -> None:
        at = at or self.now()
        ticket["updated_at"] = iso(at)
        ticket["generated_timestamp"] = at

    def add_comment(self, tid: int, *, body: str, author_id: int, public: bool = True, at: int | None = None,
                    status: str | None = None, voice: dict[str, Any] | None = None) -> dict[str, Any]:
        """A new comment on a ticket (an audit; optionally a status change with it)."""
        ticket = self.tickets[tid]
        at = at or self.now()
        children = [self._comment(tid, at, ticket["via"]["channel"], body=body, author_id=author_id, public=public,
                                  voice=voice)]
        if status and status != ticket["status"]:
            children.append({"id": self.next_id(), "event_type": "Change", "status": status,
                             "previous_value": ticket["status"]})
            ticket["status"] = status
        self._audit(tid, at, author_id, ticket["via"]["channel"], children)
        self._bump(ticket, at)
        return self.comments[tid][-1]

    def change(self, tid: int, *, updater_id: int | None = None, at: int | None = None, **fields: Any) -> None:
        """Change ticket fields (status, priority, assignee_id, group_id, ...) in one audit."""
        ticket = self.tickets[tid]
        at = at or self.now()
        children = []
        for field, value in fields.items():
            if ticket.get(field) != value:
                children.append({"id": self.next_id(), "event_type": "Change", field: value,
                                 "previous_value": ticket.get(field)})
                ticket[field] = value
        self._audit(tid, at, updater_id, ticket["via"]["channel"], children)
        self._bump(ticket, at)

    def add_rating(self, tid: int, *, score: str, comment: str = "", at: int | None = None) -> dict[str, Any]:
        ticket = self.tickets[tid]
        at = at or self.now()
        rid = self.next_id()
        rating = {"id": rid, "_path": f"satisfaction_ratings/{rid}.json", "assignee_id": ticket["assignee_id"],
                  "group_id": ticket["group_id"], "requester_id": ticket["requester_id"], "ticket_id": tid,
                  "score": score, "comment": comment, "reason": None, "created_at": iso(at), "updated_at": iso(at)}
        self.ratings[rid] = rating
        ticket["satisfaction_rating"] = {"id": rid, "score": score, "comment": comment}
        return rating

    def add_call(self, *, customer_id: int | None, agent_id: int | None = None, ticket_id: int | None = None,
                 direction: str = "inbound", completion_status: str = "completed", duration: int = 120,
                 at: int | None = None) -> dict[str, Any]:
        """A Talk call as the calls export shows it (``completion_status``: completed,
        abandoned_in_queue, abandoned_in_ivr, abandoned_on_hold, voicemail, ...)."""
        at = at or self.now()
        cid = self.next_id()
        call = {"id": cid, "agent_id": agent_id, "customer_id": customer_id, "ticket_id": ticket_id,
                "direction": direction, "completion_status": completion_status,
                "duration": duration if completion_status == "completed" else 0,
                "talk_time": duration if completion_status == "completed" else 0, "wait_time": 30,
                "voicemail": completion_status == "voicemail", "phone_number": "+15550001111",
                "created_at": iso(at), "updated_at": iso(at)}
        self.calls_log[cid] = call
        return call

    def delete_ticket(self, tid: int) -> None:
        """Zendesk keeps a deleted ticket in the export with ``status: "deleted"``."""
        ticket = self.tickets[tid]
        ticket["status"] = "deleted"
        self._bump(ticket)

    def merge(self, source_ids: list[int], target_id: int) -> None:
        """Merge tickets as Zendesk does: each source ticket gets a private comment, is closed and
        tagged ``closed_by_merge``; the target gets a private comment naming them."""
        for sid in source_ids:
            ticket = self.tickets[sid]
            at = self.now()
            children = [self._comment(sid, at, "web", body=f"Request #{sid} was closed and merged into request "
                                      f"#{target_id}.", author_id=-1, public=False)]
            tags = [*ticket["tags"], "closed_by_merge"]
            children.append({"id": self.next_id(), "event_type": "Change", "tags": tags, "previous_value": ticket["tags"]})
            children.append({"id": self.next_id(), "event_type": "Change", "status": "closed",
                             "previous_value": ticket["status"]})
            ticket["tags"], ticket["status"] = tags, "closed"
            self._audit(sid, at, None, "web", children)
            self._bump(ticket, at)
        names = ", ".join(f"#{i}" for i in source_ids)
        self.add_comment(target_id, body=f"Requests {names} were closed and merged into this request.", author_id=-1,
                         public=False)

    # --- seeding ------------------------------------------------------------------------------------

    def seed(self, tickets: int, *, comments_per_ticket: int = 5, customers: int | None = None, agents: int = 20,
             organizations: int | None = None, ratings_every: int = 5, seed: int = 0,
             start: int | None = None) -> None:
        """A synthetic account, fast: ``tickets`` tickets with ``comments_per_ticket`` comments each
        (the first from the requester, then alternating agent and customer), organizations, agents,
        end users and a satisfaction rating on every ``ratings_every``-th solved ticket. Seeded
        times lie in the past, spread over the 90 days before ``start`` (default: now)."""
        rng = random.Random(seed)
        start = start or int(time.time()) - 3600
        begin = start - 90 * 86_400
        customers = customers or max(1, tickets // 2)
        organizations = organizations or max(1, customers // 10)
        org_ids = [self.add_organization(name=f"Org {i}", at=begin, domain_names=[f"org{i}.example"],
                                         organization_fields={"tier": rng.choice(["standard", "enterprise", "key"])}
                                         )["id"] for i in range(organizations)]
        teams = ["support", "billing", "technical"]
        agent_ids = [self.add_user(name=f"Agent {i}", role="agent" if i else "admin",
                                   email=f"agent{i}@support.example", at=begin,
                                   default_group_id=self.group_id(teams[i % 3]))["id"] for i in range(agents)]
        customer_ids = [self.add_user(name=f"Customer {i}", email=f"customer{i}@example.com", at=begin,
                                      organization_id=org_ids[i % len(org_ids)])["id"] for i in range(customers)]
        channels = ["email", "web", "api", "chat", "voice", "sms", "facebook", "twitter", "instagram_dm"]
        statuses = ["new", "open", "pending", "hold", "solved", "closed"]
        for n in range(tickets):
            at = begin + int((start - begin) * n / max(1, tickets))
            requester = customer_ids[n % len(customer_ids)]
            agent = rng.choice(agent_ids)
            channel = channels[n % len(channels)]
            t = self.add_ticket(requester_id=requester, subject=f"Ticket {n}", channel=channel, status="open",
                                assignee_id=agent, group_id=self.group_id(teams[n % 3]), at=at,
                                organization_id=self.users[requester]["organization_id"],
                                comment={"body": f"Question {n}", "author_id": requester})
            for c in range(1, comments_per_ticket):
                author = agent if c % 2 else requester
                self.add_comment(t["id"], body=f"Reply {c} on {n}", author_id=author, at=at + 600 * c,
                                 public=not (c % 4 == 3))
            status = statuses[n % len(statuses)]
            if status != "open":
                self.change(t["id"], status=status, updater_id=agent, at=at + 600 * comments_per_ticket)
            if status in ("solved", "closed") and n % ratings_every == 0:
                self.add_rating(t["id"], score="bad" if n % 3 == 0 else "good", at=at + 700 * comments_per_ticket)
        self._clock = max(self._clock, start)

    def load(self, records: Iterable[Record]) -> None:
        """Turn generator records (one source's) into Zendesk payloads: accounts → organizations,
        agents and customers → users, conversations → tickets, messages → comments (in audits),
        events → field changes, ratings → satisfaction ratings. Tasks have no Zendesk object."""
        latest = 0
        for r in records:
            if isinstance(r, Account):
                self.add_organization(name=r.name, id=int(r.external_id), at=epoch(r.created_at) or None,
                                      domain_names=list(r.domains), tags=list(r.tags),
                                      organization_fields={"tier": r.tier, "segment": r.segment})
            elif isinstance(r, Agent):
                self.add_user(name=r.name, role="agent", email=r.email, id=int(r.external_id),
                              at=epoch(r.updated_at) or None, time_zone=r.time_zone or "UTC",
                              default_group_id=self.group_id(r.groups[0] if r.groups else None))
            elif isinstance(r, Customer):
                self.add_user(name=r.name, email=r.emails[0] if r.emails else None,
                              phone=r.phones[0] if r.phones else None, id=int(r.external_id),
                              organization_id=int(r.account_id) if r.account_id else None,
                              at=epoch(r.updated_at) or None, tags=list(r.tags))
            elif isinstance(r, Conversation):
                channel = CHANNEL_OUT[r.channel]
                self.add_ticket(requester_id=int(r.customer_id or -1), subject=r.subject, channel=channel,
                                status="new", priority=r.priority.value, id=int(r.external_id),
                                assignee_id=None, group_id=None,
                                organization_id=int(r.account_id) if r.account_id else None, tags=list(r.tags),
                                at=epoch(r.created_at))
                self.tickets[int(r.external_id)]["_final"] = r
            elif isinstance(r, Message):
                tid = int(r.conversation_id)
                author = int(r.author) if r.author and r.author.isdigit() else (
                    self.tickets[tid]["requester_id"] if r.author_role is AuthorRole.CUSTOMER else -1)
                voice = None
                if r.channel is Channel.PHONE:
                    voice = {"call_duration": 0 if r.answered_call is False else 180,
                             "answered_by_id": None if r.answered_call is False else author,
                             "from": "+15550000000", "to": "+15551111111", "recording_url": None}
                ticket = self.tickets[tid]
                at = epoch(r.created_at)
                children = [self._comment(tid, at, ticket["via"]["channel"], body=r.body, author_id=author,
                                          public=r.public, voice=voice)]
                self._audit(tid, at, author, ticket["via"]["channel"], children)
                latest = max(latest, at)
            elif isinstance(r, Event):
                tid = int(r.conversation_id)
                ticket = self.tickets[tid]
                field = FIELD_OUT[r.type]
                value: Any = r.to_value
                if r.type is EventKind.STATUS and value:
                    value = STATUS_OUT[Status(value)]
                elif r.type is EventKind.ASSIGNEE and value:
                    value = int(value)
                elif r.type is EventKind.GROUP:
                    value = self.group_id(value)
                at = epoch(r.created_at)
                self._audit(tid, at, int(r.actor) if r.actor and r.actor.isdigit() else None,
                            ticket["via"]["channel"], [{"id": self.next_id(), "event_type": "Change", field: value,
                                                        "previous_value": ticket.get(field)}])
                ticket[field] = value
                latest = max(latest, at)
            elif isinstance(r, Rating) and r.conversation_id:
                self.add_rating(int(r.conversation_id), score="bad" if r.bad else "good", comment=r.comment,
                                at=epoch(r.created_at))
        for ticket in self.tickets.values():
            final: Conversation | None = ticket.pop("_final", None)
            if final is None:
                continue
            ticket["status"] = STATUS_OUT[final.status]
            ticket["assignee_id"] = int(final.assignee) if final.assignee and final.assignee.isdigit() else None
            ticket["group_id"] = self.group_id(final.group)
            at = max(epoch(final.updated_at), epoch(final.created_at))
            ticket["updated_at"], ticket["generated_timestamp"] = iso(at), at
            latest = max(latest, at)
        self._clock = max(self._clock, latest)

    # --- paging helpers -------------------------------------------------------------------------------

    @staticmethod
    def _per_page(req: Request, default: int, cap: int, name: str = "per_page") -> int | Response:
        raw = req.arg(name) or req.arg("page[size]")
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= cap:
            return Response.json({"error": "InvalidPaginationParameter",
                                  "description": f"{name} must be between 1 and {cap}"}, 400)
        return int(raw)

    def _cursor_export(self, req: Request, items: dict[int, dict[str, Any]], key: str, path: str) -> Response:
        size = self._per_page(req, EXPORT_PAGE_MAX, EXPORT_PAGE_MAX)
        if isinstance(size, Response):
            return size
        cursor, start = req.arg("cursor"), req.arg("start_time")
        if cursor:
            try:
                ts, last = (int(p) for p in _untoken(cursor))
            except (ValueError, TypeError):
                return Response.json({"error": "InvalidValue", "description": "cursor is invalid"}, 400)
            after = (ts, last)
        elif start is not None and start.lstrip("-").isdigit():
            after = (int(start), -1)
        else:
            return Response.json({"error": "InvalidValue", "description": "start_time or cursor is required"}, 400)
        ordered = sorted(((self._gts(o), o["id"]) for o in items.values()))
        i = bisect.bisect_right(ordered, after)
        page = ordered[i:i + size]
        end = i + size >= len(ordered)
        next_key = page[-1] if page else after
        after_cursor = _token(*next_key)
        before_cursor = _token(*page[0]) if page else None
        return Response.json({
            key: [self._public(items[oid]) for _, oid in page],
            "after_cursor": after_cursor, "after_url": self.url_for(path, cursor=after_cursor, per_page=size),
            "before_cursor": before_cursor,
            "before_url": self.url_for(path, cursor=before_cursor) if before_cursor else None,
            "end_of_stream": end})

    @staticmethod
    def _gts(obj: dict[str, Any]) -> int:
        if "generated_timestamp" in obj:
            return int(obj["generated_timestamp"])
        return int(datetime.strptime(obj["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())

    def _public(self, obj: dict[str, Any]) -> dict[str, Any]:
        """An object as the API shows it (with its ``url``; without the fake's own ``_`` keys)."""
        out = {k: v for k, v in obj.items() if not k.startswith("_")}
        if "_path" in obj:
            out["url"] = self.url_for(obj["_path"])
        return out

    def _time_export(self, req: Request, keyed: list[tuple[int, int]], objects: list[dict[str, Any]], key: str,
                     path: str, transform=None) -> Response:
        size = self._per_page(req, EXPORT_PAGE_MAX, EXPORT_PAGE_MAX)
        if isinstance(size, Response):
            return size
        start = req.arg("start_time")
        if start is None or not start.isdigit():
            return Response.json({"error": "InvalidValue", "description": "start_time is required"}, 400)
        i = bisect.bisect_left(keyed, (int(start), -1))
        j = min(i + size, len(keyed))
        while j < len(keyed) and j > i and keyed[j][0] == keyed[j - 1][0]:
            j += 1                                         # never split one second across pages
        if j > i and keyed[j - 1][0] == int(start) and j < len(keyed):
            j += 1                                         # a page of only the start second: take the next
            while j < len(keyed) and keyed[j][0] == keyed[j - 1][0]:
                j += 1
        page = objects[i:j]
        end_time = keyed[j - 1][0] if j > i else int(start)
        query = {"start_time": end_time, **({"include": req.arg("include")} if req.arg("include") else {}),
                 **({"per_page": req.arg("per_page")} if req.arg("per_page") else {})}
        return Response.json({key: [transform(o) if transform else o for o in page],
                              "next_page": self.url_for(path, **query), "count": len(page),
                              "end_of_stream": j >= len(keyed), "end_time": end_time})

    def _cbp(self, req: Request, items: list[dict[str, Any]], key: str, path: str) -> Response:
        size = self._per_page(req, CBP_PAGE_MAX, CBP_PAGE_MAX, "page[size]")
        if isinstance(size, Response):
            return size
        after = req.arg("page[after]")
        start = int(_untoken(after)[0]) if after else 0
        page = items[start:start + size]
        more = start + size < len(items)
        after_cursor = _token(start + size) if more else None
        query = {k: v[-1] for k, v in req.query.items() if k not in ("page[after]",)}
        return Response.json({key: page, "meta": {"has_more": more, "after_cursor": after_cursor,
                                                  "before_cursor": _token(start) if page else None},
                              "links": {"next": self.url_for(path, **{**query, "page[after]": after_cursor})
                                        if more else None, "prev": None}})

    # --- incremental exports ------------------------------------------------------------------------

    @route("GET", r"/api/v2/incremental/tickets/cursor(?:\.json)?", name="incremental.tickets", group="incremental")
    def export_tickets(self, req: Request) -> Response:
        return self._cursor_export(req, self.tickets, "tickets", "incremental/tickets/cursor.json")

    @route("GET", r"/api/v2/incremental/users/cursor(?:\.json)?", name="incremental.users", group="incremental")
    def export_users(self, req: Request) -> Response:
        return self._cursor_export(req, self.users, "users", "incremental/users/cursor.json")

    @route("GET", r"/api/v2/incremental/ticket_events(?:\.json)?", name="incremental.ticket_events", group="incremental")
    def export_ticket_events(self, req: Request) -> Response:
        comments = "comment_events" in (req.arg("include") or "").split(",")

        def view(event: dict[str, Any]) -> dict[str, Any]:
            if comments:
                return event
            return {**event, "child_events": [c for c in event["child_events"]
                                              if c["event_type"] not in ("Comment", "VoiceComment")]}

        return self._time_export(req, self._event_keys, self.events, "ticket_events",
                                 "incremental/ticket_events.json", view)

    @route("GET", r"/api/v2/incremental/organizations(?:\.json)?", name="incremental.organizations", group="incremental")
    def export_organizations(self, req: Request) -> Response:
        ordered = sorted(self.organizations.values(), key=lambda o: (self._gts(o), o["id"]))
        return self._time_export(req, [(self._gts(o), o["id"]) for o in ordered], ordered, "organizations",
                                 "incremental/organizations.json", self._public)

    @route("GET", r"/api/v2/channels/voice/stats/incremental/calls(?:\.json)?", name="incremental.calls",
           group="incremental")
    def export_calls(self, req: Request) -> Response:
        ordered = sorted(self.calls_log.values(), key=lambda c: (self._gts(c), c["id"]))
        return self._time_export(req, [(self._gts(c), c["id"]) for c in ordered], ordered, "calls",
                                 "channels/voice/stats/incremental/calls.json")

    # --- other reads --------------------------------------------------------------------------------

    @route("GET", r"/api/v2/satisfaction_ratings(?:\.json)?", name="satisfaction_ratings", group="api")
    def list_ratings(self, req: Request) -> Response:
        start = int(req.arg("start_time") or 0)
        items = sorted((self._public(r) for r in self.ratings.values() if self._gts(r) >= start),
                       key=lambda r: (self._gts(r), r["id"]), reverse=req.arg("sort_order") == "desc")
        return self._cbp(req, items, "satisfaction_ratings", "satisfaction_ratings.json")

    @route("GET", r"/api/v2/users(?:\.json)?", name="users.list", group="api")
    def list_users(self, req: Request) -> Response:
        roles = req.query.get("role[]") or req.query.get("role") or []
        items = sorted((self._public(u) for u in self.users.values() if not roles or u["role"] in roles),
                       key=lambda u: u["id"])
        return self._cbp(req, items, "users", "users.json")

    @route("GET", r"/api/v2/tickets/(?P<id>\d+)/comments(?:\.json)?", name="tickets.comments", group="api")
    def list_comments(self, req: Request) -> Response:
        tid = int(req.params["id"])
        if tid not in self.tickets:
            return Response.json({"error": "RecordNotFound", "description": "Not found"}, 404)
        return self._cbp(req, self.comments[tid], "comments", f"tickets/{tid}/comments.json")

    @route("GET", r"/api/v2/tickets(?:\.json)?", name="tickets.list", group="api")
    def list_tickets(self, req: Request) -> Response:
        external_id = req.arg("external_id")
        items = sorted((self._public(t) for t in self.tickets.values()
                        if t["status"] != "deleted" and (external_id is None or t.get("external_id") == external_id)),
                       key=lambda t: t["id"])
        if req.arg("page[size]") or req.arg("page[after]"):
            return self._cbp(req, items, "tickets", "tickets.json")
        return Response.json({"tickets": items[:100], "next_page": None, "previous_page": None, "count": len(items)})

    @route("GET", r"/api/v2/tickets/show_many(?:\.json)?", name="tickets.show_many", group="api")
    def show_many(self, req: Request) -> Response:
        ids = [int(i) for i in (req.arg("ids") or "").split(",") if i.strip().isdigit()]
        if len(ids) > BULK_MAX:
            return Response.json({"error": "TooManyValues", "description": f"at most {BULK_MAX} ids"}, 400)
        found = [self._public(self.tickets[i]) for i in ids if i in self.tickets and self.tickets[i]["status"] != "deleted"]
        return Response.json({"tickets": found, "next_page": None, "previous_page": None, "count": len(found)})

    @route("GET", r"/api/v2/tickets/(?P<id>\d+)(?:\.json)?", name="tickets.show", group="api")
    def show_ticket(self, req: Request) -> Response:
        ticket = self.tickets.get(int(req.params["id"]))
        if ticket is None or ticket["status"] == "deleted":
            return Response.json({"error": "RecordNotFound", "description": "Not found"}, 404)
        return Response.json({"ticket": self._public(ticket)})

    # --- writes -------------------------------------------------------------------------------------

    def _apply(self, tid: int, data: dict[str, Any], updater_id: int | None) -> dict[str, Any]:
        """One ticket update as Zendesk applies it: fields, tags, a comment, in one audit."""
        ticket = self.tickets[tid]
        at = self.now()
        children: list[dict[str, Any]] = []
        comment = data.get("comment")
        if comment:
            children.append(self._comment(tid, at, "api", body=comment.get("body") or comment.get("html_body", ""),
                                          author_id=int(comment.get("author_id") or updater_id or -1),
                                          public=bool(comment.get("public", True))))
        tags = list(ticket["tags"])
        if "tags" in data:
            tags = list(dict.fromkeys(data["tags"] or []))
        tags += [t for t in data.get("additional_tags") or [] if t not in tags]
        tags = [t for t in tags if t not in (data.get("remove_tags") or [])]
        if tags != ticket["tags"]:
            children.append({"id": self.next_id(), "event_type": "Change", "tags": tags,
                             "previous_value": ticket["tags"]})
            ticket["tags"] = tags
        for field in ("status", "priority", "assignee_id", "group_id", "due_at", "type", "subject", "external_id"):
            if field in data and data[field] != ticket.get(field):
                children.append({"id": self.next_id(), "event_type": "Change", field: data[field],
                                 "previous_value": ticket.get(field)})
                ticket[field] = data[field]
        self._audit(tid, at, updater_id, "api", children)
        self._bump(ticket, at)
        return ticket

    def _create(self, data: dict[str, Any]) -> dict[str, Any]:
        comment = data.get("comment") or {}
        requester = data.get("requester_id") or next(iter(self.users), -1)
        return self.add_ticket(requester_id=int(requester), subject=data.get("subject", ""), channel="api",
                               status=data.get("status") or ("open" if data.get("assignee_id") else "new"),
                               priority=data.get("priority") or "normal", assignee_id=data.get("assignee_id"),
                               group_id=data.get("group_id"), tags=data.get("tags") or [], type=data.get("type"),
                               due_at=data.get("due_at"), external_id=data.get("external_id"),
                               organization_id=data.get("organization_id"),
                               comment={"body": comment.get("body", ""), "author_id": int(comment.get("author_id") or
                                                                                        requester),
                                        "public": bool(comment.get("public", True))} if comment else None)

    @route("POST", r"/api/v2/tickets(?:\.json)?", name="tickets.create", group="api")
    def create_ticket(self, req: Request) -> Response:
        data = (req.json() or {}).get("ticket")
        if not isinstance(data, dict):
            return Response.json({"error": "RecordInvalid", "description": "Record validation errors"}, 422)
        ticket = self._create(data)
        return Response.json({"ticket": self._public(ticket), "audit": self.events[-1]}, 201)

    @route("PUT", r"/api/v2/tickets/(?P<id>\d+)(?:\.json)?", name="tickets.update", group="api")
    def update_ticket(self, req: Request) -> Response:
        tid = int(req.params["id"])
        if tid not in self.tickets or self.tickets[tid]["status"] == "deleted":
            return Response.json({"error": "RecordNotFound", "description": "Not found"}, 404)
        ticket = self._apply(tid, (req.json() or {}).get("ticket") or {}, None)
        return Response.json({"ticket": self._public(ticket), "audit": self.events[-1]})

    def _job(self, total: int, work) -> Response:
        """Queue a bulk job: ``work()`` makes its writes and returns its results, at once or, with
        ``job_delay``, on the first request after the delay (the answer says ``queued`` either way)."""
        jid = uuid.uuid4().hex
        job = {"id": jid, "url": self.url_for(f"job_statuses/{jid}.json"), "total": total, "progress": None,
               "status": "queued", "message": None, "results": None}
        self.jobs[jid] = dict(job)
        if self.job_delay > 0:
            self._queued.append((time.monotonic() + self.job_delay, jid, work))
        else:
            self._run_job(jid, work)
        return Response.json({"job_status": job})

    def _run_job(self, jid: str, work) -> None:
        results = work()
        self.jobs[jid].update(progress=len(results), status="completed", message=f"Completed at {iso(time.time())}",
                              results=results)

    def run_due_jobs(self) -> None:
        """Run the queued jobs whose delay has passed (before every request, as time goes by)."""
        with self.lock:
            now = time.monotonic()
            due = [q for q in self._queued if q[0] <= now]
            self._queued = [q for q in self._queued if q[0] > now]
            for _, jid, work in due:
                self._run_job(jid, work)

    @route("POST", r"/api/v2/tickets/create_many(?:\.json)?", name="tickets.create_many", group="api")
    def create_many(self, req: Request) -> Response:
        tickets = (req.json() or {}).get("tickets") or []
        if len(tickets) > BULK_MAX:
            return Response.json({"error": "TooManyValues", "description": f"at most {BULK_MAX} tickets"}, 400)
        return self._job(len(tickets), lambda: [{"index": i, "id": self._create(t)["id"]}
                                                for i, t in enumerate(tickets)])

    @route("PUT", r"/api/v2/tickets/update_many(?:\.json)?", name="tickets.update_many", group="api")
    def update_many(self, req: Request) -> Response:
        tickets = (req.json() or {}).get("tickets") or []
        if len(tickets) > BULK_MAX:
            return Response.json({"error": "TooManyValues", "description": f"at most {BULK_MAX} tickets"}, 400)

        def work() -> list[dict[str, Any]]:
            results = []
            for t in tickets:
                tid = int(t.get("id") or 0)
                if tid in self.tickets and self.tickets[tid]["status"] != "deleted":
                    self._apply(tid, t, None)
                    results.append({"id": tid, "action": "update", "success": True, "status": "Updated"})
                else:
                    results.append({"id": tid, "action": "update", "success": False, "status": "Failed",
                                    "error": "TicketNotFound", "details": "Ticket not found"})
            return results

        return self._job(len(tickets), work)

    @route("POST", r"/api/v2/tickets/(?P<id>\d+)/merge(?:\.json)?", name="tickets.merge", group="api")
    def merge_tickets(self, req: Request) -> Response:
        target = int(req.params["id"])
        ids = [int(i) for i in (req.json() or {}).get("ids") or []]
        if target not in self.tickets or not ids or any(i not in self.tickets or i == target for i in ids):
            return Response.json({"error": "RecordInvalid", "description": "Invalid tickets to merge"}, 422)

        def work() -> list[dict[str, Any]]:
            self.merge(ids, target)
            return [{"id": i, "action": "merge", "success": True, "status": "Merged"} for i in ids]

        return self._job(len(ids), work)

    @route("GET", r"/api/v2/job_statuses(?:\.json)?", name="job_statuses.list", group="api")
    def list_jobs(self, req: Request) -> Response:
        """The background jobs, 100 a page (``page``), the latest finished first and the unfinished
        after them: Zendesk documents the order as by completion date, then creation date,
        descending, and does not say where jobs with no completion date go, so the fake puts them
        where a reader that looks at one page would miss them."""
        latest = list(self.jobs.values())[::-1]
        jobs = [j for j in latest if j["status"] == "completed"] + [j for j in latest if j["status"] != "completed"]
        page = max(1, int(req.arg("page") or 1))
        shown = jobs[(page - 1) * 100:page * 100]
        more = page * 100 < len(jobs)
        return Response.json({"job_statuses": shown, "count": len(jobs), "previous_page": None,
                              "next_page": self.url_for(f"job_statuses.json?page={page + 1}") if more else None})

    @route("GET", r"/api/v2/job_statuses/(?P<id>[0-9a-f]+)(?:\.json)?", name="job_statuses.show", group="api")
    def job_status(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response.json({"error": "RecordNotFound", "description": "Not found"}, 404)
        return Response.json({"job_status": job})
