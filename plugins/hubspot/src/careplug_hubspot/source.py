"""The HubSpot source: sync tickets, contacts, companies, engagements, owners and inbox threads;
write nudges back as tasks and notes.

Streams, in sync order: ``owners`` (full list, 500 a page), ``companies``, ``contacts``,
``tickets`` and one stream per engagement type (``emails``, ``calls``, ``meetings``, ``notes``,
``communications``, ``tasks``) — each read with the CRM search API filtered on its last-modified
date (``hs_lastmodifieddate``; ``lastmodifieddate`` for contacts), sorted ascending, 200 a page —
and ``threads`` (the conversations inbox; skipped, with a warning, when the app lacks
``conversations.read``).

The search cursor is ``{"ts": <epoch ms>, "read": {id: modified ms}}``: the next run searches
from ``ts - overlap_seconds`` (HubSpot's search index trails writes, so a record changed just
before ``ts`` may become searchable only later) and skips what ``read`` says it read there
unchanged, so records sharing a millisecond, or indexed late, are neither lost nor repeated (see
``window``). HubSpot refuses to page past 10,000 results of one query, so every page is such
a restarted window (keyset paging, see ``_pages``): any number of changes is read.

Associations come from the v4 batch API, 1,000 ids a call: tickets → contacts and companies,
engagements → tickets and contacts. Records are yielded with a checkpoint after each association
batch, so a cursor never covers a record whose associations were not read.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, ClassVar

from careplug.errors import AuthError, FatalSourceError
from careplug.model import Agent, Checkpoint, Deletion, Quarantined, Record, Status
from careplug.nudges.model import Nudge, Receipt
from careplug.source import Item, Source, SourceOptions
from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import mapping
from .client import HubSpotClient, MissingScope
from .pacing import Pacer
from .window import SearchWindow
from .writeback import WriteBack

log = logging.getLogger(__name__)

SEARCH_CAP = 10_000
EXCLUDE_MAX = 900     # ids left out by NOT_IN filters: 9 filters x 100 values (+ the EQ filter: 10 a group)
SEARCH_STREAMS = ("companies", "contacts", "tickets", "emails", "calls", "meetings", "notes", "communications",
                  "tasks")
ENGAGEMENTS = ("emails", "calls", "meetings", "notes", "communications", "tasks")


class PropertyMap(BaseModel):
    """Which HubSpot properties fill careplug's tier/value/segment fields (None: not mapped)."""

    model_config = ConfigDict(extra="forbid")
    account_tier: str | None = None
    account_value: str | None = "annualrevenue"
    account_segment: str | None = "industry"
    customer_tier: str | None = None
    customer_segment: str | None = None


class HubSpotOptions(SourceOptions):
    token_env: str = "HUBSPOT_ACCESS_TOKEN"
    """Environment variable holding the private-app access token (or an OAuth access token)."""
    host: str | None = None
    """API host: None for https://api.hubapi.com; ``https://api-eu1.hubapi.com`` for the EU data centre."""
    page_size: int = Field(200, ge=1, le=200)
    association_batch: int = Field(1000, ge=1, le=1000)
    owners_page_size: int = Field(500, ge=1, le=500)
    burst_limit: int = Field(90, ge=1)
    """Requests per ``burst_seconds`` careplug allows itself (HubSpot: 100 or 150 per 10 s by tier;
    the default leaves a tenth of the smallest for other integrations of the portal)."""
    burst_seconds: float = Field(10.0, gt=0)
    search_per_second: int = Field(4, ge=1)
    timeout: float = Field(30.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    backoff: float = Field(1.0, ge=0)
    max_retry_wait: float = Field(60.0, ge=0)
    start_date: datetime | None = None
    """Lower bound of the first sync (None: everything)."""
    overlap_seconds: float = Field(60.0, ge=0)
    """Each search stream reads again the changes of this many seconds before its cursor, because
    HubSpot's search index trails writes (a record can become searchable after a newer one was
    read); what was read there unchanged is not emitted again. Keep it above the index's lag."""
    stage_statuses: dict[str, Status] = Field(default_factory=dict)
    """Ticket stage id or label → careplug status, overriding the built-in guess."""
    properties: PropertyMap = Field(default_factory=PropertyMap)
    marker_property: str | None = "careplug_marker"
    """A text property on tasks and notes that holds the nudge marker (batched lookups); None to
    look markers up in the body instead (slower)."""

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not v or not v.replace("_", "").isalnum():
            raise ValueError("token_env must name an environment variable (letters, digits, underscores), "
                             "not hold the token itself")
        return v

    @field_validator("host")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("host must start with https:// (or http:// for a local test server)")
        return v


_PACERS: dict[tuple[Any, ...], Pacer] = {}


def shared_pacer(o: HubSpotOptions) -> Pacer:
    """One pacer per portal (host and token variable) and limits, shared by every source instance
    of the process: HubSpot counts a portal's requests, not a client's."""
    key = (o.host, o.token_env, o.burst_limit, o.burst_seconds, o.search_per_second)
    if key not in _PACERS:
        _PACERS[key] = Pacer(burst=o.burst_limit, burst_seconds=o.burst_seconds, search_per_second=o.search_per_second)
    return _PACERS[key]


class HubSpotSource(Source):
    kind: ClassVar[str] = "hubspot"
    Options: ClassVar[type[SourceOptions]] = HubSpotOptions
    streams: ClassVar[tuple[str, ...]] = ("owners", *SEARCH_STREAMS, "threads", "deleted_tickets")
    description: ClassVar[str] = "HubSpot CRM: tickets, contacts, companies, engagements, owners, inbox threads"

    def __init__(self, name: str, options: SourceOptions, *, base_dir: str | None = None):
        super().__init__(name, options, base_dir=base_dir)
        self.opts: HubSpotOptions = options  # type: ignore[assignment]
        self._client: HubSpotClient | None = None
        self._statuses: dict[str, Status] | None = None
        self._owner_by_user: dict[str, str] | None = None

    # --- plumbing ---------------------------------------------------------------------------------

    @property
    def client(self) -> HubSpotClient:
        if self._client is None:
            token = os.environ.get(self.opts.token_env)
            if not token:
                raise AuthError(f"environment variable {self.opts.token_env} is not set (the HubSpot access token)",
                                source=self.name)
            o = self.opts
            self._client = HubSpotClient(
                token=token, host=o.host, source=self.name, timeout=o.timeout, max_attempts=o.max_attempts,
                backoff=o.backoff, max_retry_wait=o.max_retry_wait,
                pacer=shared_pacer(o))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- reading ----------------------------------------------------------------------------------

    def fetch(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        if stream == "owners":
            yield from self._owners(stream)
        elif stream == "threads":
            yield from self._threads(stream, cursor)
        elif stream in SEARCH_STREAMS:
            yield from self._search_stream(stream, cursor)
        elif stream == "deleted_tickets":
            yield from self._deleted("tickets", "conversation", stream, cursor)
        else:
            raise FatalSourceError(f"unknown stream {stream!r}", source=self.name, stream=stream)

    def _owners(self, stream: str) -> Iterator[Item]:
        after: str | None = None
        by_user: dict[str, str] = {}
        latest: str | None = None
        while True:
            data = self.client.owners(limit=self.opts.owners_page_size, after=after, stream=stream)
            for owner in data.get("results") or []:
                try:
                    agent: Agent = mapping.owner_to_agent(self.name, owner)
                except mapping.MappingError as exc:
                    yield Quarantined(stream, str(exc), owner, str(owner.get("id") or "") or None)
                    continue
                if owner.get("userId") is not None:
                    by_user[str(owner["userId"])] = agent.external_id
                latest = max(latest or "", owner.get("updatedAt") or "")
                yield agent
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        self._owner_by_user = by_user
        yield Checkpoint(stream, {"owners": len(by_user), "latest": latest})

    def _properties(self, stream: str) -> list[str]:
        pm = self.opts.properties
        if stream == "companies":
            return [p for p in ("name", "domain", "hubspot_owner_id", "hs_createdate", "hs_lastmodifieddate",
                                pm.account_tier, pm.account_value, pm.account_segment) if p]
        if stream == "contacts":
            return [p for p in ("firstname", "lastname", "email", "phone", "mobilephone", "associatedcompanyid",
                                "lifecyclestage", "hubspot_owner_id", "createdate", "lastmodifieddate",
                                "hs_merged_object_ids", pm.customer_tier, pm.customer_segment) if p]
        if stream == "tickets":
            return ["subject", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority", "hubspot_owner_id",
                    "hubspot_team_id", "source_type", "createdate", "closed_date", "hs_lastmodifieddate",
                    "hs_merged_object_ids"]
        return mapping.ENGAGEMENT_PROPERTIES[stream] + ["hs_lastmodifieddate"]

    def _search_stream(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        """Buffer pages up to one association batch, emit them, then checkpoint the cursor of the
        last page emitted (a cursor always sits on a page boundary)."""
        buffer: list[dict[str, Any]] = []
        buffered_cursor = cursor
        flush_at = self.opts.association_batch if stream in ("tickets", *ENGAGEMENTS) else self.opts.page_size
        for page, page_cursor in self._pages(stream, cursor):
            if buffer and len(buffer) + len(page) > flush_at:
                yield from self._emit(stream, buffer)
                yield Checkpoint(stream, buffered_cursor)
                buffer = []
            buffer.extend(page)
            buffered_cursor = page_cursor
        if buffer:
            yield from self._emit(stream, buffer)
        if buffered_cursor is not None and buffered_cursor != cursor:
            yield Checkpoint(stream, buffered_cursor)

    def _pages(self, stream: str, cursor: Any | None) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """Pages of new objects, each with the cursor that covers it and everything before it.

        The walk starts ``overlap_seconds`` before the cursor (HubSpot's search index trails
        writes; see ``window``) and skips what an earlier run read there unchanged.

        Keyset paging: every request is a fresh window from the last timestamp seen, ``ts``,
        sorted ascending, that leaves out the records already read at exactly ``ts``: by
        ``hs_object_id NOT_IN`` filters while there are at most ``EXCLUDE_MAX`` of them (exact,
        whatever order HubSpot gives records sharing a millisecond), by offset beyond that (a bulk
        import). So no query goes near HubSpot's 10,000-result cap unless that many records share
        one millisecond, and a record modified while the sync runs moves past the window instead
        of shifting the pages under it (with plain ``after`` paging, one record would be skipped)."""
        prop = "lastmodifieddate" if stream == "contacts" else "hs_lastmodifieddate"
        start = mapping.millis(self.opts.start_date) if self.opts.start_date else 0
        w = SearchWindow(cursor, start_ms=start, overlap_ms=int(self.opts.overlap_seconds * 1000))
        size = self.opts.page_size
        while True:
            ts, seen = w.ts, w.seen
            body: dict[str, Any] = {"sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
                                    "properties": self._properties(stream), "limit": size}
            if not seen:
                body["filterGroups"] = [{"filters": [{"propertyName": prop, "operator": "GTE", "value": str(ts)}]}]
            elif len(seen) <= EXCLUDE_MAX:
                ids = sorted(seen, key=lambda i: (len(i), i))
                body["filterGroups"] = [
                    {"filters": [{"propertyName": prop, "operator": "EQ", "value": str(ts)},
                                 *({"propertyName": "hs_object_id", "operator": "NOT_IN", "values": ids[i:i + 100]}
                                   for i in range(0, len(ids), 100))]},
                    {"filters": [{"propertyName": prop, "operator": "GT", "value": str(ts)}]}]
            else:
                if len(seen) + size > SEARCH_CAP:
                    raise FatalSourceError(f"more than {SEARCH_CAP - size} {stream} share the modification time "
                                           f"{ts}; the search API cannot page past {SEARCH_CAP} results",
                                           source=self.name, stream=stream)
                body["filterGroups"] = [{"filters": [{"propertyName": prop, "operator": "GTE", "value": str(ts)}]}]
                body["after"] = str(len(seen))     # skip, by position, what was read at exactly ts
            data = self.client.search(stream, body, stream=stream)
            fresh, moved = [], False
            for obj in data.get("results") or []:
                try:
                    ms = mapping.millis(mapping.parse_time((obj.get("properties") or {}).get(prop)
                                                           or obj.get("updatedAt"), prop))
                except (mapping.MappingError, TypeError):
                    ms = w.ts
                advanced, new = w.take(str(obj.get("id")), ms)
                moved = moved or advanced
                if new:
                    fresh.append(obj)
            yield fresh, w.cursor()
            if not ((data.get("paging") or {}).get("next") or {}).get("after"):
                return
            if not moved:
                raise FatalSourceError(f"the search for {stream} modified since {w.ts} made no progress",
                                       source=self.name, stream=stream)

    def _emit(self, stream: str, objs: list[dict[str, Any]]) -> Iterator[Item]:
        ids = [str(o.get("id")) for o in objs if o.get("id")]
        if stream == "tickets":
            contacts = self._first_associated("tickets", "contacts", ids, stream)
            companies = self._first_associated("tickets", "companies", ids, stream)
            statuses = self._stage_statuses(stream)
            for o in objs:
                yield from self._mapped(stream, o, lambda o=o: [mapping.ticket_to_conversation(
                    self.name, o, statuses, contacts.get(str(o["id"])), companies.get(str(o["id"]))),
                    *mapping.merged_deletions(self.name, o, "conversation")])
        elif stream in ENGAGEMENTS:
            tickets = self._first_associated(stream, "tickets", ids, stream)
            contacts = self._first_associated(stream, "contacts", ids, stream)
            # logged on a company only: one more association read, for those alone (usually none)
            orphans = [i for i in ids if i not in tickets and i not in contacts]
            companies = self._first_associated(stream, "companies", orphans, stream) if orphans else {}
            activity: set[str] = set()
            for o in objs:
                oid = str(o.get("id"))
                ticket, contact = tickets.get(oid), contacts.get(oid)
                if stream != "tasks" and ticket is None and contact and contact not in activity:
                    activity.add(contact)
                    yield mapping.activity_conversation(self.name, contact)
                yield from self._mapped(stream, o, lambda o=o, t=ticket, c=contact, a=companies.get(oid): [
                    r for r in [mapping.engagement_to_record(self.name, stream, o, ticket_id=t, contact_id=c,
                                                             company_id=a)] if r])
        elif stream == "companies":
            for o in objs:
                yield from self._mapped(stream, o, lambda o=o: [mapping.company_to_account(
                    self.name, o, self.opts.properties.model_dump())])
        else:
            for o in objs:
                yield from self._mapped(stream, o, lambda o=o: mapping.contact_to_records(
                    self.name, o, self.opts.properties.model_dump()))

    @staticmethod
    def _mapped(stream: str, obj: dict[str, Any], build) -> Iterator[Item]:
        try:
            records: list[Record] = build()
        except (mapping.MappingError, KeyError, TypeError, AttributeError) as exc:
            yield Quarantined(stream, f"malformed {stream} payload: {exc}", obj, str(obj.get("id") or "") or None)
            return
        yield from records

    def _first_associated(self, from_type: str, to_type: str, ids: list[str], stream: str) -> dict[str, str]:
        """from id → the first associated ``to_type`` id, through v4 batch reads (1,000 ids a call)."""
        out: dict[str, str] = {}
        size = self.opts.association_batch
        pending = [{"id": i} for i in ids]
        while pending:
            chunk, pending = pending[:size], pending[size:]
            data = self.client.associations(from_type, to_type, chunk, stream=stream)
            for result in data.get("results") or []:
                src = str((result.get("from") or {}).get("id"))
                to = result.get("to") or []
                if to and src not in out:
                    out[src] = str(to[0].get("toObjectId"))
                # only the first association is used, so further pages of one id are not read
        return out

    def _deleted(self, object_type: str, record_kind: str, stream: str, cursor: Any | None) -> Iterator[Item]:
        """Deletions of objects archived since the cursor (``{"ts": archivedAt ms}``). The list has no
        filter on ``archivedAt``, so every archived object is listed (100 a page) each run."""
        since = int(cursor["ts"]) if cursor else -1
        latest, after = since, None
        while True:
            data = self.client.archived(object_type, limit=100, after=after, stream=stream)
            for obj in data.get("results") or []:
                try:
                    at = mapping.parse_time(obj.get("archivedAt") or obj.get("updatedAt"), "archivedAt")
                except mapping.MappingError as exc:
                    yield Quarantined(stream, str(exc), obj, str(obj.get("id") or "") or None)
                    continue
                ms = mapping.millis(at) if at else since + 1
                if ms > since:
                    latest = max(latest, ms)
                    yield Deletion(source=self.name, external_id=str(obj["id"]), record_kind=record_kind,
                                   deleted_at=at)
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        yield Checkpoint(stream, {"ts": latest})

    def _owner_map(self, stream: str) -> dict[str, str]:
        """HubSpot user id → owner id (inbox threads name users; careplug names owners)."""
        if self._owner_by_user is None:
            by_user: dict[str, str] = {}
            after: str | None = None
            while True:
                data = self.client.owners(limit=self.opts.owners_page_size, after=after, stream=stream)
                for owner in data.get("results") or []:
                    if owner.get("userId") is not None and owner.get("id"):
                        by_user[str(owner["userId"])] = str(owner["id"])
                after = ((data.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
            self._owner_by_user = by_user
        return self._owner_by_user

    def _stage_statuses(self, stream: str) -> dict[str, Status]:
        if self._statuses is None:
            data = self.client.pipelines("tickets", stream=stream)
            self._statuses = mapping.stage_statuses(data.get("results") or [], self.opts.stage_statuses)
        return self._statuses

    def _threads(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        ts = int(cursor["ts"]) if cursor else (mapping.millis(self.opts.start_date) if self.opts.start_date else 0)
        seen = set(cursor.get("ids") or []) if cursor else set()
        try:
            owner_by_user = self._owner_map(stream)
            after: str | None = None
            while True:
                since = datetime.fromtimestamp(max(ts - 1, 0) / 1000, tz=timezone.utc)
                data = self.client.get("/conversations/v3/conversations/threads",
                                       {"limit": 500, "after": after, "sort": "latestMessageTimestamp",
                                        "latestMessageTimestampAfter": since.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"},
                                       endpoint="threads", stream=stream)
                for thread in data.get("results") or []:
                    tid = str(thread.get("id"))
                    try:
                        ms = mapping.millis(mapping.parse_time(thread.get("latestMessageTimestamp"), "latestMessageTimestamp"))
                    except (mapping.MappingError, TypeError):
                        yield Quarantined(stream, "thread lacks latestMessageTimestamp", thread, tid)
                        continue
                    if ms < ts or (ms == ts and tid in seen):
                        continue
                    messages = self.client.get(f"/conversations/v3/conversations/threads/{tid}/messages",
                                               {"limit": 500}, endpoint="threads.messages", stream=stream)
                    yield from self._mapped(stream, thread, lambda t=thread, m=messages: mapping.thread_to_records(
                        self.name, t, m.get("results") or [], owner_by_user))
                    if ms > ts:
                        ts, seen = ms, set()
                    seen.add(tid)
                    yield Checkpoint(stream, {"ts": ts, "ids": sorted(seen)})
                after = ((data.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    return
        except MissingScope as exc:
            log.warning("%s: inbox threads not synced (%s); grant conversations.read to enable them", self.name, exc)
            return

    # --- writing back -----------------------------------------------------------------------------

    def _writeback(self) -> WriteBack:
        return WriteBack(self.client, marker_property=self.opts.marker_property)

    def find_delivered(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        return self._writeback().find(nudges)

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        return self._writeback().deliver(nudges)

    def cancel(self, nudges: list[Nudge]) -> None:
        self._writeback().complete(nudges)
