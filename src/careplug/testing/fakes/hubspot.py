"""A loopback HubSpot: the CRM v3/v4 endpoints careplug-hubspot uses, with HubSpot's documented
payload shapes, page and batch sizes, limits and error bodies.

What it implements (all stateful, all driven by the real ``hubspot-api-client`` over HTTP):

- ``POST /crm/v3/objects/{type}/search``: filterGroups (EQ, NEQ, GT, GTE, LT, LTE, BETWEEN, IN,
  NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN), one sort, ``limit`` <= 200, ``after``
  paging, at most 5 filter groups / 10 filters per group / 25 filters / 100 values per IN, and the
  10,000-result cap: asking for a page past it is a 400, as in HubSpot. Search answers carry no
  rate-limit headers (HubSpot's don't) and are limited per second separately (group ``search``).
  Like HubSpot's, the index may trail writes: ``search_lag`` (or ``put(..., search_lag=)``) keeps
  a write out of search for that many seconds while reads by id and associations see it at once.
- ``POST /crm/v3/objects/{type}/batch/read|create|update`` (<= 100 inputs; creates accept
  ``associations``; results come back in *no particular order*, as HubSpot documents).
- ``POST /crm/v4/associations/{from}/{to}/batch/read`` (<= 1,000 ids; ids without associations are
  reported in ``errors`` with a 207, up to 500 associations per id then ``paging.next.after``).
- ``GET /crm/v3/owners/`` (``limit`` <= 500, ``after``), ``GET /crm/v3/pipelines/{type}``.
- ``GET /conversations/v3/conversations/threads`` and ``.../threads/{id}/messages`` — 403
  ``MISSING_SCOPES`` unless ``threads_scope`` is granted.
- Bearer-token auth (401 ``INVALID_AUTHENTICATION``), ``X-HubSpot-RateLimit-*`` headers, a daily
  allowance, and 429 bodies with ``policyName`` (``TEN_SECONDLY_ROLLING``, ``SECONDLY``, ``DAILY``).

Data lives in ``objects[type][id]`` as HubSpot returns it: ``{"id", "properties", "createdAt",
``"updatedAt", "archived"}`` with every property value a string. Every write moves the fake's
millisecond clock forward, so modification times order changes as a real portal does; seeding
gives many records the same timestamp (imports do), which is what makes cursors interesting.
"""

from __future__ import annotations

import copy
import functools
import itertools
import random
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from collections.abc import Callable, Iterable
from typing import Any

from .base import FakeServer, Request, Response, route

SEARCH_PAGE_MAX = 200
SEARCH_RESULT_CAP = 10_000
BATCH_MAX = 100
ASSOCIATIONS_BATCH_MAX = 1_000
ASSOCIATIONS_PER_ID = 500
OWNERS_PAGE_MAX = 500
MAX_FILTER_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS, MAX_IN_VALUES = 5, 10, 25, 100

ENGAGEMENT_TYPES = ("emails", "calls", "meetings", "notes", "communications", "tasks")
OBJECT_TYPES = ("contacts", "companies", "tickets", *ENGAGEMENT_TYPES)

#: HubSpot-defined association type ids (from -> to), as documented.
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 1, ("companies", "contacts"): 2,
    ("tickets", "contacts"): 16, ("contacts", "tickets"): 15,
    ("tickets", "companies"): 339, ("companies", "tickets"): 340,
    ("emails", "tickets"): 224, ("tickets", "emails"): 223,
    ("calls", "tickets"): 220, ("tickets", "calls"): 219,
    ("meetings", "tickets"): 226, ("tickets", "meetings"): 225,
    ("notes", "tickets"): 228, ("tickets", "notes"): 227,
    ("tasks", "tickets"): 230, ("tickets", "tasks"): 229,
    ("communications", "tickets"): 86, ("tickets", "communications"): 85,
    ("emails", "contacts"): 198, ("contacts", "emails"): 197,
    ("calls", "contacts"): 194, ("contacts", "calls"): 193,
    ("meetings", "contacts"): 200, ("contacts", "meetings"): 199,
    ("notes", "contacts"): 202, ("contacts", "notes"): 201,
    ("tasks", "contacts"): 204, ("contacts", "tasks"): 203,
    ("communications", "contacts"): 82, ("contacts", "communications"): 81,
    ("calls", "companies"): 182, ("companies", "calls"): 181,
    ("emails", "companies"): 186, ("companies", "emails"): 185,
    ("meetings", "companies"): 188, ("companies", "meetings"): 187,
    ("communications", "companies"): 88, ("companies", "communications"): 87,
    ("notes", "companies"): 190, ("companies", "notes"): 189,
    ("tasks", "companies"): 192, ("companies", "tasks"): 191,
}

#: the property that holds the modification time (contacts differ from every other object)
MODIFIED = {"contacts": "lastmodifieddate"}
CREATED = {"contacts": "createdate"}

DEFAULT_PIPELINE = {
    "id": "0", "label": "Support Pipeline", "displayOrder": 0, "archived": False,
    "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z",
    "stages": [
        {"id": "1", "label": "New", "displayOrder": 0, "metadata": {"ticketState": "OPEN"}},
        {"id": "2", "label": "Waiting on contact", "displayOrder": 1, "metadata": {"ticketState": "OPEN"}},
        {"id": "3", "label": "Waiting on us", "displayOrder": 2, "metadata": {"ticketState": "OPEN"}},
        {"id": "4", "label": "Closed", "displayOrder": 3, "metadata": {"ticketState": "CLOSED"}},
    ],
}


def modified_property(object_type: str) -> str:
    return MODIFIED.get(object_type, "hs_lastmodifieddate")


def created_property(object_type: str) -> str:
    return CREATED.get(object_type, "hs_createdate")


def iso_ms(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def to_ms(value: Any) -> int | None:
    """A HubSpot date value (epoch milliseconds as a string, or ISO 8601) in epoch milliseconds."""
    if value is None or value == "":
        return None
    text = str(value)
    if text.lstrip("-").isdigit():
        return int(text)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def _error(status: int, message: str, category: str, **extra: Any) -> Response:
    return Response.json({"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                          "category": category, **extra}, status)


class FakeHubSpot(FakeServer):
    """A stateful HubSpot portal on 127.0.0.1. ``token`` is the private-app token it accepts."""

    def __init__(self, *, token: str = "pat-na1-fake-0000", threads_scope: bool = True,
                 daily_limit: int = 1_000_000, burst_limit: int = 100, start: datetime | None = None):
        super().__init__()
        self.token = token
        self.threads_scope = threads_scope
        self.daily_limit = daily_limit
        self.daily_used = 0
        self.burst_limit = burst_limit
        self.objects: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in OBJECT_TYPES}
        #: (from_type, to_type) -> from_id -> ordered to_ids
        self.associations: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        self.owners: dict[str, dict[str, Any]] = {}
        self.pipelines: dict[str, list[dict[str, Any]]] = {"tickets": [DEFAULT_PIPELINE]}
        self.threads: dict[str, dict[str, Any]] = {}
        self.thread_messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.property_names: dict[str, set[str]] = defaultdict(set)   # custom properties that exist
        self.clock_ms = to_ms((start or datetime(2026, 1, 5, 9, tzinfo=timezone.utc)).isoformat())
        self._ids = itertools.count(1001)
        self.rate_limited = 0          # 429s given by the fake's own limits
        self.malformed: set[tuple[str, str]] = set()
        #: seconds a write takes to reach the search index (HubSpot's trails writes by a few seconds);
        #: until then search shows the object as it was before (or not at all). Reads by id, batch
        #: reads and associations see every write at once, as in HubSpot.
        self.search_lag = 0.0
        self._unindexed: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}

    # --- clock and writes (the test side) ---------------------------------------------------------

    def tick(self, ms: int = 1) -> int:
        self.clock_ms += ms
        return self.clock_ms

    def next_id(self) -> str:
        return str(next(self._ids))

    def put(self, object_type: str, properties: dict[str, Any], *, id: str | None = None,
            at_ms: int | None = None, search_lag: float | None = None) -> dict[str, Any]:
        """Create or update an object; stamps its modification time (``at_ms`` or the next tick).
        ``search_lag`` (default: the fake's) delays the write's arrival in the search index."""
        with self.lock:
            ms = at_ms if at_ms is not None else self.tick()
            oid = id or self.next_id()
            existing = self.objects[object_type].get(oid)
            lag = self.search_lag if search_lag is None else search_lag
            if lag > 0:
                now, pending = time.monotonic(), self._unindexed.get((object_type, oid))
                before = pending[1] if pending and pending[0] > now else copy.deepcopy(existing)
                self._unindexed[(object_type, oid)] = (now + lag, before)
            props = dict(existing["properties"]) if existing else {}
            props.update({k: (None if v is None else str(v)) for k, v in properties.items()})
            props["hs_object_id"] = oid
            props[modified_property(object_type)] = iso_ms(ms)
            created = existing["createdAt"] if existing else iso_ms(ms)
            props.setdefault(created_property(object_type), created)
            obj = {"id": oid, "properties": props, "createdAt": created, "updatedAt": iso_ms(ms), "archived": False}
            self.objects[object_type][oid] = obj
            return obj

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        with self.lock:
            forward = self.associations[(from_type, to_type)][from_id]
            if to_id not in forward:
                forward.append(to_id)
            backward = self.associations[(to_type, from_type)][to_id]
            if from_id not in backward:
                backward.append(from_id)

    def associated(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        return list(self.associations.get((from_type, to_type), {}).get(from_id, []))

    def add_owner(self, owner_id: str, email: str, first: str, last: str, teams: list[dict] | None = None) -> None:
        self.owners[owner_id] = {
            "id": owner_id, "email": email, "type": "PERSON", "firstName": first, "lastName": last,
            "userId": int(owner_id) + 7000, "userIdIncludingInactive": int(owner_id) + 7000,
            "createdAt": iso_ms(self.clock_ms), "updatedAt": iso_ms(self.clock_ms), "archived": False,
            "teams": teams or [],
        }

    def add_thread(self, thread_id: str, *, contact_id: str | None, messages: list[dict[str, Any]],
                   status: str = "OPEN", assigned_to: str | None = None) -> None:
        latest = max(to_ms(m["createdAt"]) for m in messages) if messages else self.clock_ms
        self.threads[thread_id] = {
            "id": thread_id, "createdAt": messages[0]["createdAt"] if messages else iso_ms(self.clock_ms),
            "status": status, "originalChannelId": "1002", "originalChannelAccountId": "55",
            "latestMessageTimestamp": iso_ms(latest), "spam": False, "inboxId": "9001",
            "associatedContactId": contact_id, "assignedTo": assigned_to, "archived": False,
        }
        self.thread_messages[thread_id] = messages

    def delete(self, object_type: str, object_id: str) -> None:
        """Delete (archive) an object, as the HubSpot UI or ``DELETE /crm/v3/objects/...`` does:
        search stops finding it; ``GET /crm/v3/objects/{type}?archived=true`` lists it."""
        with self.lock:
            obj = self.objects[object_type][object_id]
            obj["archived"] = True
            obj["archivedAt"] = iso_ms(self.tick())

    def merge(self, object_type: str, loser_id: str, winner_id: str) -> None:
        """Merge ``loser_id`` into ``winner_id`` as HubSpot does: the loser is archived (search no
        longer finds it) and the winner lists it in ``hs_merged_object_ids``."""
        with self.lock:
            self.objects[object_type][loser_id]["archived"] = True
            for (a, b), table in list(self.associations.items()):   # activities follow the winner
                if b == object_type and a != object_type:
                    for from_id, to_ids in list(table.items()):
                        if loser_id in to_ids:
                            to_ids.remove(loser_id)
                            self.associate(a, from_id, object_type, winner_id)
                            self.put(a, {}, id=from_id)
            merged = [x for x in (self.objects[object_type][winner_id]["properties"].get("hs_merged_object_ids")
                                  or "").split(";") if x]
            self.put(object_type, {"hs_merged_object_ids": ";".join([*merged, loser_id])}, id=winner_id)

    def corrupt(self, object_type: str, object_id: str) -> None:
        """Make an object's payload malformed: its creation time becomes unparseable."""
        with self.lock:
            obj = self.objects[object_type][object_id]
            obj["properties"][created_property(object_type)] = "not-a-date"
            obj["properties"]["createdate"] = "not-a-date"
            obj["properties"][modified_property(object_type)] = iso_ms(self.tick())

    # --- seeding ----------------------------------------------------------------------------------

    def seed(self, tickets: int, *, engagements_per_ticket: int = 5, seed: int = 0, owners: int = 8,
             companies: int | None = None, contacts: int | None = None, tie_every: int = 7) -> None:
        """A synthetic portal: owners, companies, contacts, ``tickets`` tickets each with
        ``engagements_per_ticket`` engagements (emails both ways, calls, notes, meetings, SMS and
        WhatsApp communications) associated with the ticket and its contact. Every ``tie_every``
        consecutive records share one modification millisecond, as bulk imports do."""
        rng = random.Random(seed)
        companies = companies if companies is not None else max(1, tickets // 20)
        contacts = contacts if contacts is not None else max(1, tickets // 2)
        counter = itertools.count()

        def stamp() -> int:
            if next(counter) % tie_every == 0:
                self.tick()
            return self.clock_ms

        with self.lock:
            for i in range(owners):
                oid = str(100 + i)
                if oid not in self.owners:
                    self.add_owner(oid, f"agent{i}@example.com", f"Agent{i}", "Team",
                                   [{"id": str(50 + i % 2), "name": f"Team {i % 2}", "primary": True}])
            owner_ids = sorted(self.owners)
            company_ids = []
            for i in range(companies):
                tier = rng.choice(["key", "enterprise", "standard", "standard"])
                c = self.put("companies", {"name": f"Company {i}", "domain": f"company{i}.example",
                                           "careplug_tier": tier, "annualrevenue": str(rng.randint(1, 900) * 1000),
                                           "hubspot_owner_id": rng.choice(owner_ids)}, at_ms=stamp())
                company_ids.append(c["id"])
            contact_ids = []
            for i in range(contacts):
                company = rng.choice(company_ids)
                c = self.put("contacts", {"firstname": f"Pat{i}", "lastname": "Customer",
                                          "email": f"pat{i}@company.example", "phone": f"+1555{i:07d}",
                                          "associatedcompanyid": company,
                                          "lifecyclestage": rng.choice(["customer", "customer", "lead"]),
                                          "hubspot_owner_id": rng.choice(owner_ids)}, at_ms=stamp())
                self.associate("contacts", c["id"], "companies", company)
                contact_ids.append(c["id"])
            for _ in range(tickets):
                self._seed_ticket(rng, owner_ids, contact_ids, engagements_per_ticket, stamp)

    def _seed_ticket(self, rng: random.Random, owner_ids: list[str], contact_ids: list[str],
                     engagements: int, stamp) -> str:
        contact = rng.choice(contact_ids)
        company = (self.associated("contacts", contact, "companies") or [None])[0]
        opened = self.clock_ms - rng.randint(1, 20) * 3_600_000
        ticket = self.put("tickets", {
            "subject": f"Question {rng.randint(1, 10**6)}", "content": "Hello, I need help.",
            "hs_pipeline": "0", "hs_pipeline_stage": rng.choice(["1", "1", "2", "3", "4"]),
            "hs_ticket_priority": rng.choice(["LOW", "MEDIUM", "HIGH", None]),
            "hubspot_owner_id": rng.choice(owner_ids), "source_type": rng.choice(["EMAIL", "CHAT", "PHONE", "FORM"]),
            "createdate": iso_ms(opened),
        }, at_ms=stamp())
        self.associate("tickets", ticket["id"], "contacts", contact)
        if company:
            self.associate("tickets", ticket["id"], "companies", company)
        shift = rng.randrange(6)
        for j in range(engagements):
            kind = ("emails", "emails", "calls", "notes", "communications", "meetings")[(j + shift) % 6]
            when = iso_ms(opened + (j + 1) * 600_000)
            owner = rng.choice(owner_ids)
            props: dict[str, Any] = {"hs_timestamp": when, "hubspot_owner_id": owner}
            if kind == "emails":
                props.update(hs_email_direction="INCOMING_EMAIL" if j == 0 or rng.random() < 0.5 else "EMAIL",
                             hs_email_subject="Re: question", hs_email_text="text")
            elif kind == "calls":
                props.update(hs_call_direction="INBOUND", hs_call_status=rng.choice(["COMPLETED", "NO_ANSWER"]),
                             hs_call_title="Call", hs_call_body="")
            elif kind == "notes":
                props.update(hs_note_body="internal note")
            elif kind == "communications":
                props.update(hs_communication_channel_type=rng.choice(["SMS", "WHATS_APP", "LINKEDIN_MESSAGE"]),
                             hs_communication_body="hi", hs_communication_logged_from="CRM")
            else:
                props.update(hs_meeting_title="Check-in", hs_meeting_outcome="COMPLETED")
            e = self.put(kind, props, at_ms=stamp())
            self.associate(kind, e["id"], "tickets", ticket["id"])
            self.associate(kind, e["id"], "contacts", contact)
        return ticket["id"]

    def load(self, records: Iterable[Any]) -> dict[str, int]:
        """Seed from normalized careplug records (``careplug.testing.generator``): accounts →
        companies, agents → owners, customers → contacts, conversations → tickets, messages →
        engagements (email, call, communication; internal ones → notes), tasks → tasks; each
        modified at its record's time. Events and ratings have no HubSpot object here. Returns
        how many objects of each type were made."""
        made: dict[str, int] = defaultdict(int)
        stages = {"new": "1", "pending": "2", "open": "3", "on_hold": "3", "solved": "4", "closed": "4"}
        priorities = {"low": "LOW", "normal": "MEDIUM", "high": "HIGH", "urgent": "URGENT"}
        sources = {"email": "EMAIL", "chat": "CHAT", "phone": "PHONE", "web_form": "FORM"}
        contact_of: dict[str, str | None] = {}
        latest = self.clock_ms

        def when(*dts: Any) -> int:
            for dt in dts:
                if dt is not None:
                    return int(dt.timestamp() * 1000)
            return self.clock_ms

        with self.lock:
            for r in records:
                kind = getattr(r, "kind", None)
                if kind == "agent":
                    first, _, last = (r.name or "").partition(" ")
                    oid = r.external_id if r.external_id.isdigit() else str(900000 + len(self.owners))
                    self.add_owner(oid, r.email or f"{oid}@example.com", first, last,
                                   [{"id": g, "name": g, "primary": i == 0} for i, g in enumerate(r.groups)])
                    made["owners"] += 1
                    continue
                if kind == "account":
                    ms = when(r.updated_at, r.created_at)
                    self.put("companies", {"name": r.name, "domain": (r.domains or [None])[0], "careplug_tier": r.tier,
                                           "industry": r.segment, "annualrevenue": r.value,
                                           "hubspot_owner_id": r.owner}, id=r.external_id, at_ms=ms)
                elif kind == "customer":
                    ms = when(r.updated_at, r.created_at)
                    self.put("contacts", {"firstname": r.name.partition(" ")[0], "lastname": r.name.partition(" ")[2],
                                          "email": (r.emails or [None])[0], "phone": (r.phones or [None])[0],
                                          "associatedcompanyid": r.account_id, "hubspot_owner_id": r.owner,
                                          "lifecyclestage": "lead" if r.is_lead else "customer",
                                          "createdate": iso_ms(when(r.created_at))}, id=r.external_id, at_ms=ms)
                    if r.account_id and r.account_id in self.objects["companies"]:
                        self.associate("contacts", r.external_id, "companies", r.account_id)
                elif kind == "conversation":
                    ms = when(r.updated_at, r.created_at)
                    self.put("tickets", {"subject": r.subject, "hs_pipeline": "0",
                                         "hs_pipeline_stage": stages[r.status.value],
                                         "hs_ticket_priority": priorities[r.priority.value],
                                         "hubspot_owner_id": r.assignee, "source_type": sources.get(r.channel.value, "EMAIL"),
                                         "createdate": iso_ms(when(r.created_at)),
                                         "closed_date": iso_ms(when(r.solved_at)) if r.solved_at else None},
                             id=r.external_id, at_ms=ms)
                    contact_of[r.external_id] = r.customer_id
                    for to_type, to_id in (("contacts", r.customer_id), ("companies", r.account_id)):
                        if to_id and to_id in self.objects[to_type]:
                            self.associate("tickets", r.external_id, to_type, to_id)
                elif kind == "message":
                    ms = when(r.created_at)
                    inbound = r.direction.value == "inbound"
                    props: dict[str, Any] = {"hs_timestamp": iso_ms(ms),
                                             "hubspot_owner_id": None if inbound else r.author}
                    if not r.public:
                        object_type, extra = "notes", {"hs_note_body": r.body}
                    elif r.channel.value == "phone":
                        object_type = "calls"
                        extra = {"hs_call_direction": "INBOUND" if inbound else "OUTBOUND", "hs_call_body": r.body,
                                 "hs_call_status": "NO_ANSWER" if r.answered_call is False else "COMPLETED"}
                    elif r.channel.value in ("sms", "social"):
                        object_type = "communications"
                        extra = {"hs_communication_channel_type": "SMS" if r.channel.value == "sms" else "LINKEDIN_MESSAGE",
                                 "hs_communication_body": r.body}
                    else:
                        object_type = "emails"
                        extra = {"hs_email_direction": "INCOMING_EMAIL" if inbound else "EMAIL", "hs_email_text": r.body}
                    props.update(extra)
                    e = self.put(object_type, props, at_ms=ms)
                    if r.conversation_id in self.objects["tickets"]:
                        self.associate(object_type, e["id"], "tickets", r.conversation_id)
                    contact = contact_of.get(r.conversation_id)
                    if contact and contact in self.objects["contacts"]:
                        self.associate(object_type, e["id"], "contacts", contact)
                elif kind == "task":
                    ms = when(r.updated_at, r.created_at, r.due_at)
                    e = self.put("tasks", {"hs_task_subject": r.subject, "hubspot_owner_id": r.owner,
                                           "hs_task_status": "COMPLETED" if r.done else "NOT_STARTED",
                                           "hs_task_type": r.type.upper(), "hs_timestamp": iso_ms(when(r.due_at))},
                                 at_ms=ms)
                    for to_type, to_id in (("tickets", r.conversation_id), ("contacts", r.customer_id)):
                        if to_id and to_id in self.objects[to_type]:
                            self.associate("tasks", e["id"], to_type, to_id)
                    object_type = "tasks"
                else:
                    continue
                latest = max(latest, ms)
                made[{"account": "companies", "customer": "contacts", "conversation": "tickets"}.get(kind, "")
                     or object_type] += 1
            self.clock_ms = max(self.clock_ms, latest)
        return dict(made)

    def engagement_ids(self) -> dict[str, set[str]]:
        return {t: set(self.objects[t]) for t in ENGAGEMENT_TYPES}

    # --- the HTTP side: plumbing ----------------------------------------------------------------

    def authorize(self, req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                               "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                          "INVALID_AUTHENTICATION")
        if self.daily_used >= self.daily_limit:
            return self._rate_limit_body("DAILY", 3600)
        self.daily_used += 1
        return None

    def rate_limited_response(self, retry_after: float) -> Response:
        self.rate_limited += 1
        return self._rate_limit_body("TEN_SECONDLY_ROLLING", retry_after)

    def _rate_limit_body(self, policy: str, retry_after: float) -> Response:
        names = {"TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "SECONDLY": "secondly", "DAILY": "daily"}
        response = Response.json({"status": "error", "message": f"You have reached your {names[policy]} limit.",
                                  "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                                  "policyName": policy, "requestId": str(uuid.uuid4())}, 429)
        response.headers.update(self._limit_headers(remaining=0))
        response.headers["Retry-After"] = str(max(1, int(round(retry_after)))) if retry_after >= 1 else f"{retry_after:.2f}"
        return response

    server_name = "FakeHubSpot"

    def error_response(self, status: int) -> Response:
        return _error(status, "internal error", "INTERNAL_ERROR")

    def _limit_headers(self, remaining: int | None = None) -> dict[str, str]:
        return {"X-HubSpot-RateLimit-Daily": str(self.daily_limit),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - self.daily_used)),
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Max": str(self.burst_limit),
                "X-HubSpot-RateLimit-Remaining": str(self.burst_limit if remaining is None else remaining)}

    def _ok(self, payload: Any, status: int = 200) -> Response:
        return Response.json(payload, status, self._limit_headers())

    def enforce_limits(self, *, burst: int = 100, per_seconds: float = 10.0, search_per_second: int = 5) -> None:
        """Turn on HubSpot's limits (scaled as given): a burst window on every endpoint but search,
        and a per-second window on search."""
        self.burst_limit = burst
        self.rate_limit("burst", burst, per_seconds)
        self.rate_limit("search", search_per_second, 1.0)

    # --- search -------------------------------------------------------------------------------------

    @route("POST", r"/crm/v3/objects/(?P<type>[a-z_]+)/search", name="search", group="search")
    def search(self, req: Request) -> Response:
        object_type = req.params["type"]
        if object_type not in self.objects:
            return _error(400, f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR")
        body = req.json() or {}
        limit = int(body.get("limit") or 10)
        if limit > SEARCH_PAGE_MAX:
            return _error(400, f"limit must be at most {SEARCH_PAGE_MAX}", "VALIDATION_ERROR")
        offset = int(body.get("after") or 0)
        if offset >= SEARCH_RESULT_CAP or offset + limit > SEARCH_RESULT_CAP:
            return _error(400, f"There was a problem with the request. The search API can return at most "
                               f"{SEARCH_RESULT_CAP} results; narrow the query.", "VALIDATION_ERROR")
        groups = body.get("filterGroups") or []
        problem = _check_filters(groups)
        if problem:
            return _error(400, problem, "VALIDATION_ERROR")
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            return _error(400, "Only one sort is allowed.", "VALIDATION_ERROR")
        predicates = [_compile(g.get("filters") or []) for g in groups]
        matches = [o for o in self._searchable(object_type)
                   if not o["archived"] and (not predicates or any(p(o) for p in predicates))]
        if sorts:
            sort = sorts[0] if isinstance(sorts[0], dict) else {"propertyName": str(sorts[0]).lstrip("-"),
                                                                  "direction": "DESCENDING" if str(sorts[0]).startswith("-") else "ASCENDING"}
            name = sort["propertyName"]
            matches.sort(key=lambda o: (_sort_value(o["properties"].get(name)), int(o["id"])),
                         reverse=sort.get("direction") == "DESCENDING")
        else:
            matches.sort(key=lambda o: int(o["id"]))
        page = matches[offset:offset + limit]
        wanted = set(body.get("properties") or []) | {"hs_object_id", modified_property(object_type),
                                                       created_property(object_type)}
        payload: dict[str, Any] = {"total": len(matches),
                                   "results": [self._project(o, wanted) for o in page]}
        if offset + limit < len(matches):
            payload["paging"] = {"next": {"after": str(offset + limit), "link": f"?after={offset + limit}"}}
        return Response.json(payload)     # search answers carry no rate-limit headers

    def _searchable(self, object_type: str) -> Iterable[dict[str, Any]]:
        """The objects as the search index has them (``search_lag``)."""
        objects = self.objects[object_type].values()
        if not self._unindexed:
            return objects
        now = time.monotonic()
        for key in [k for k, (at, _) in self._unindexed.items() if at <= now]:
            del self._unindexed[key]
        indexed = (self._unindexed.get((object_type, o["id"]), (0.0, o))[1] for o in objects)
        return [o for o in indexed if o is not None]

    @staticmethod
    def _project(obj: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
        props = obj["properties"]
        return {"id": obj["id"], "properties": {k: props.get(k) for k in sorted(wanted)},
                "createdAt": obj["createdAt"], "updatedAt": obj["updatedAt"], "archived": obj["archived"]}

    @route("GET", r"/crm/v3/objects/(?P<type>[a-z_]+)", name="list", group="burst")
    def list_objects(self, req: Request) -> Response:
        """The basic list: 100 a page at most, ``archived=true`` for deleted objects."""
        object_type = req.params["type"]
        if object_type not in self.objects:
            return _error(400, f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR")
        limit = int(req.arg("limit") or 10)
        if limit > BATCH_MAX:
            return _error(400, f"limit must be at most {BATCH_MAX}", "VALIDATION_ERROR")
        archived = (req.arg("archived") or "false").lower() == "true"
        objs = sorted((o for o in self.objects[object_type].values() if bool(o["archived"]) == archived),
                      key=lambda o: int(o["id"]))
        start = int(req.arg("after") or 0)
        wanted = set(",".join(req.query.get("properties", [])).split(",")) - {""}
        results = []
        for o in objs[start:start + limit]:
            item = self._project(o, wanted | {"hs_object_id"})
            if archived:
                item["archivedAt"] = o.get("archivedAt")
            results.append(item)
        payload: dict[str, Any] = {"results": results}
        if start + limit < len(objs):
            payload["paging"] = {"next": {"after": str(start + limit), "link": None}}
        return self._ok(payload)

    # --- batch ------------------------------------------------------------------------------------

    @route("POST", r"/crm/v3/objects/(?P<type>[a-z_]+)/batch/read", name="batch.read", group="burst")
    def batch_read(self, req: Request) -> Response:
        object_type = req.params["type"]
        body = req.json() or {}
        inputs = body.get("inputs") or []
        if len(inputs) > BATCH_MAX:
            return _error(400, f"inputs must contain at most {BATCH_MAX} items", "VALIDATION_ERROR")
        wanted = set(body.get("properties") or [])
        found = [self._project(self.objects[object_type][i["id"]], wanted | {"hs_object_id"})
                 for i in inputs if i["id"] in self.objects.get(object_type, {})]
        return self._ok({"status": "COMPLETE", "results": found, "startedAt": iso_ms(self.clock_ms),
                         "completedAt": iso_ms(self.clock_ms)})

    @route("POST", r"/crm/v3/objects/(?P<type>[a-z_]+)/batch/create", name="batch.create", group="burst")
    def batch_create(self, req: Request) -> Response:
        object_type = req.params["type"]
        if object_type not in self.objects:
            return _error(400, f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR")
        inputs = (req.json() or {}).get("inputs") or []
        if not inputs or len(inputs) > BATCH_MAX:
            return _error(400, f"inputs must contain between 1 and {BATCH_MAX} items", "VALIDATION_ERROR")
        for item in inputs:
            for assoc in item.get("associations") or []:
                types = assoc.get("types") or []
                if not types or not assoc.get("to", {}).get("id"):
                    return _error(400, "each association needs to.id and types", "VALIDATION_ERROR")
                to_type = self._type_for_association(object_type, types[0].get("associationTypeId"))
                if to_type is None or assoc["to"]["id"] not in self.objects[to_type]:
                    return _error(400, f"invalid association {assoc}", "VALIDATION_ERROR")
        created = []
        for item in inputs:
            obj = self.put(object_type, item.get("properties") or {})
            for assoc in item.get("associations") or []:
                to_type = self._type_for_association(object_type, assoc["types"][0]["associationTypeId"])
                self.associate(object_type, obj["id"], to_type, str(assoc["to"]["id"]))
            created.append(self._project(obj, set(obj["properties"])))
        created.reverse()     # HubSpot does not promise the order of batch results
        return self._ok({"status": "COMPLETE", "results": created, "startedAt": iso_ms(self.clock_ms),
                         "completedAt": iso_ms(self.clock_ms)}, 201)

    @route("POST", r"/crm/v3/objects/(?P<type>[a-z_]+)/batch/update", name="batch.update", group="burst")
    def batch_update(self, req: Request) -> Response:
        object_type = req.params["type"]
        inputs = (req.json() or {}).get("inputs") or []
        if not inputs or len(inputs) > BATCH_MAX:
            return _error(400, f"inputs must contain between 1 and {BATCH_MAX} items", "VALIDATION_ERROR")
        missing = [i["id"] for i in inputs if i.get("id") not in self.objects.get(object_type, {})]
        if missing:
            return _error(404, f"Could not find objects with ids {missing}", "OBJECT_NOT_FOUND")
        updated = [self.put(object_type, i.get("properties") or {}, id=i["id"]) for i in inputs]
        return self._ok({"status": "COMPLETE", "results": [self._project(o, set(o["properties"])) for o in updated],
                         "startedAt": iso_ms(self.clock_ms), "completedAt": iso_ms(self.clock_ms)})

    def _type_for_association(self, from_type: str, type_id: Any) -> str | None:
        for (a, b), tid in ASSOCIATION_TYPE_IDS.items():
            if a == from_type and tid == int(type_id):
                return b
        return None

    # --- associations v4 -----------------------------------------------------------------------------

    @route("POST", r"/crm/v4/associations/(?P<src>[a-z_]+)/(?P<dst>[a-z_]+)/batch/read",
           name="associations.batch_read", group="burst")
    def associations_batch_read(self, req: Request) -> Response:
        src, dst = req.params["src"], req.params["dst"]
        inputs = (req.json() or {}).get("inputs") or []
        if len(inputs) > ASSOCIATIONS_BATCH_MAX:
            return _error(400, f"inputs must contain at most {ASSOCIATIONS_BATCH_MAX} items", "VALIDATION_ERROR")
        type_id = ASSOCIATION_TYPE_IDS.get((src, dst), 1)
        results, errors = [], []
        for item in inputs:
            oid = str(item["id"])
            to_ids = self.associated(src, oid, dst)
            if not to_ids:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                               "message": f"No {dst} is associated with {src.rstrip('s')} {oid}.",
                               "context": {"fromObjectId": [oid]}})
                continue
            start = int(item.get("after") or 0)
            chunk = to_ids[start:start + ASSOCIATIONS_PER_ID]
            result: dict[str, Any] = {"from": {"id": oid}, "to": [
                {"toObjectId": int(t), "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id,
                                                             "label": None}]} for t in chunk]}
            if start + ASSOCIATIONS_PER_ID < len(to_ids):
                result["paging"] = {"next": {"after": str(start + ASSOCIATIONS_PER_ID), "link": None}}
            results.append(result)
        payload: dict[str, Any] = {"status": "COMPLETE", "results": results,
                                   "startedAt": iso_ms(self.clock_ms), "completedAt": iso_ms(self.clock_ms)}
        if errors:
            payload.update(errors=errors, numErrors=len(errors))
        return self._ok(payload, 207 if errors else 200)

    # --- owners, pipelines ------------------------------------------------------------------------

    @route("GET", r"/crm/v3/owners/?", name="owners", group="burst")
    def list_owners(self, req: Request) -> Response:
        limit = int(req.arg("limit") or 100)
        if limit > OWNERS_PAGE_MAX:
            return _error(400, f"limit must be at most {OWNERS_PAGE_MAX}", "VALIDATION_ERROR")
        owners = [self.owners[k] for k in sorted(self.owners, key=int)]
        start = int(req.arg("after") or 0)
        payload: dict[str, Any] = {"results": owners[start:start + limit]}
        if start + limit < len(owners):
            payload["paging"] = {"next": {"after": str(start + limit), "link": None}}
        return self._ok(payload)

    @route("GET", r"/crm/v3/pipelines/(?P<type>[a-z_]+)", name="pipelines", group="burst")
    def list_pipelines(self, req: Request) -> Response:
        return self._ok({"results": self.pipelines.get(req.params["type"], [])})

    # --- conversations inbox ------------------------------------------------------------------------

    def _missing_scope(self) -> Response:
        return _error(403, "This app hasn't been granted all required scopes to make this call.",
                      "MISSING_SCOPES", errors=[{"message": "One or more of the following scopes are required.",
                                                 "context": {"requiredGranularScopes": ["conversations.read"]}}])

    @route("GET", r"/conversations/v3/conversations/threads", name="threads", group="burst")
    def list_threads(self, req: Request) -> Response:
        if not self.threads_scope:
            return self._missing_scope()
        limit = min(int(req.arg("limit") or 20), 500)
        after_ts = to_ms(req.arg("latestMessageTimestampAfter"))
        threads = [t for t in self.threads.values()
                   if after_ts is None or to_ms(t["latestMessageTimestamp"]) > after_ts]
        threads.sort(key=lambda t: (to_ms(t["latestMessageTimestamp"]), int(t["id"])))
        start = int(req.arg("after") or 0)
        payload: dict[str, Any] = {"results": threads[start:start + limit]}
        if start + limit < len(threads):
            payload["paging"] = {"next": {"after": str(start + limit), "link": None}}
        return self._ok(payload)

    @route("GET", r"/conversations/v3/conversations/threads/(?P<id>\d+)/messages", name="threads.messages",
           group="burst")
    def list_thread_messages(self, req: Request) -> Response:
        if not self.threads_scope:
            return self._missing_scope()
        if req.params["id"] not in self.threads:
            return _error(404, "Thread not found", "OBJECT_NOT_FOUND")
        return self._ok({"results": self.thread_messages[req.params["id"]]})


def _sort_value(value: Any) -> Any:
    parsed = _cmp_value(value)
    return (0, parsed, "") if isinstance(parsed, int) else (1, 0, str(value or ""))


def _check_filters(groups: list[dict[str, Any]]) -> str | None:
    if len(groups) > MAX_FILTER_GROUPS:
        return f"at most {MAX_FILTER_GROUPS} filterGroups are allowed"
    total = 0
    for g in groups:
        filters = g.get("filters") or []
        total += len(filters)
        if len(filters) > MAX_FILTERS_PER_GROUP:
            return f"at most {MAX_FILTERS_PER_GROUP} filters per filterGroup are allowed"
        for f in filters:
            if f.get("operator") in ("IN", "NOT_IN") and len(f.get("values") or []) > MAX_IN_VALUES:
                return f"an IN filter takes at most {MAX_IN_VALUES} values"
    if total > MAX_FILTERS:
        return f"at most {MAX_FILTERS} filters are allowed"
    return None


def _cmp_value(raw: Any) -> Any:
    if raw is None:
        return None
    return _cmp_text(str(raw))


@functools.lru_cache(maxsize=500_000)
def _cmp_text(text: str) -> Any:
    """A property value as compared by filters: dates and numbers as numbers (cached: a search
    compares every object of a type)."""
    if text.lstrip("-").isdigit():
        return int(text)
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        try:
            return to_ms(text)
        except ValueError:
            return text
    return text


def _compile(filters: list[dict[str, Any]]) -> Callable[[dict[str, Any]], bool]:
    """One filter group as a predicate on an object (values parsed once per request)."""
    tests: list[Callable[[Any], bool]] = []
    for f in filters:
        op, name = f.get("operator", "EQ"), f["propertyName"]
        if op == "HAS_PROPERTY":
            test = lambda raw: raw not in (None, "")  # noqa: E731
        elif op == "NOT_HAS_PROPERTY":
            test = lambda raw: raw in (None, "")  # noqa: E731
        elif op == "CONTAINS_TOKEN":
            token = str(f.get("value", "")).lower()
            test = lambda raw, t=token: raw is not None and t in str(raw).lower().split()  # noqa: E731
        elif op in ("IN", "NOT_IN"):
            values = {str(v) for v in f.get("values") or []}
            test = ((lambda raw, v=values: raw is not None and str(raw) in v) if op == "IN"
                    else (lambda raw, v=values: raw is None or str(raw) not in v))
        else:
            want, high = _cmp_value(f.get("value")), _cmp_value(f.get("highValue"))
            test = lambda raw, op=op, want=want, high=high: _compare(_cmp_value(raw), op, want, high)  # noqa: E731
        tests.append(lambda obj, name=name, test=test: test(obj["properties"].get(name)))
    return lambda obj: all(t(obj) for t in tests)


def _compare(have: Any, op: str, want: Any, high: Any) -> bool:
    if have is None:
        return op == "NEQ"
    if type(have) is not type(want):
        have, want = str(have), str(want)
        return {"EQ": have == want, "NEQ": have != want}.get(op, False)
    if op == "BETWEEN":
        return want <= have <= high
    return {"EQ": have == want, "NEQ": have != want, "GT": have > want, "GTE": have >= want,
            "LT": have < want, "LTE": have <= want}[op]
