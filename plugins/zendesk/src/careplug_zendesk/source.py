"""The Zendesk source: sync users, organizations, tickets, ticket events (comments and field changes)
and satisfaction ratings through Zendesk's incremental exports; write nudges back.

Streams, in sync order (per-stream cursors):

- ``users`` — ``incremental/users/cursor.json`` (cursor export, ``per_page`` <= 1000): end users →
  customers, agents and admins → agents. Cursor: ``{"cursor": <after_cursor>}``.
- ``organizations`` — ``incremental/organizations.json`` (time-based) → accounts.
- ``tickets`` — ``incremental/tickets/cursor.json`` → conversations (deleted tickets → deletions;
  careplug's own follow-up tickets → tasks). Cursor: ``{"cursor": <after_cursor>}``.
- ``ticket_events`` — ``incremental/ticket_events.json?include=comment_events`` (time-based):
  every comment (public or internal, text or voice) and every status/priority/assignee/group
  change of every ticket, 1,000 events a call — never one call per ticket.
- ``satisfaction_ratings`` — ``satisfaction_ratings.json?start_time=&sort_order=asc`` (cursor
  pages of 100) → ratings.
- ``calls`` — Zendesk Talk's ``channels/voice/stats/incremental/calls.json`` (time-based): calls
  Talk made no ticket for (missed, abandoned) → phone conversations of their own; calls with a
  ticket already arrive as voice comments. Accounts without Talk: nothing, no error.

Time-based cursors are ``{"start_time": <epoch s>, "seen": [ids at exactly start_time]}``: Zendesk
repeats the items of the boundary second on the next page, so those ids are skipped, neither lost
nor repeated. Only while they are still at that second: an item changed since (an organization
given a new tier, a rating changed from good to bad) has a later time and is read again. The first
sync starts at ``start_date`` (default: the beginning).

Every page is followed by a ``Checkpoint`` (a cursor always sits on a page boundary). Author roles
(customer, agent, bot) need the account's agents: they are read once per run (``users.json?role=``,
100 a page), a few calls.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar, Literal

from careplug.errors import AuthError, FatalSourceError
from careplug.model import Channel, Checkpoint, Quarantined, Record
from careplug.nudges.model import Nudge, Receipt
from careplug.source import Item, Source, SourceOptions
from zenpy.lib.exception import RecordNotFoundException
from pydantic import Field, field_validator

from . import mapping
from .client import ZendeskClient
from .pacing import Pacer
from .writeback import WriteBack

log = logging.getLogger(__name__)

STREAMS = ("users", "organizations", "tickets", "ticket_events", "satisfaction_ratings", "calls")


class ZendeskOptions(SourceOptions):
    subdomain: str
    """The account: ``acme`` for https://acme.zendesk.com."""
    base_url: str | None = None
    """Send requests here instead of https://{subdomain}.zendesk.com (a proxy; the fake in tests)."""
    email_env: str = "ZENDESK_EMAIL"
    """Environment variable holding the agent's email (API token auth)."""
    token_env: str = "ZENDESK_API_TOKEN"
    """Environment variable holding the API token (used with the email)."""
    oauth_token_env: str = "ZENDESK_OAUTH_TOKEN"
    """Environment variable holding an OAuth access token (preferred when set)."""
    start_date: datetime | None = None
    """Lower bound of the first sync (None: everything)."""
    page_size: int = Field(1000, ge=1, le=1000)
    """Items per incremental export page (Zendesk: at most 1,000)."""
    incremental_per_minute: int = Field(10, ge=1)
    """Incremental export requests per minute careplug allows itself (Zendesk: 10; 30 with High Volume)."""
    requests_per_minute: int = Field(200, ge=1)
    """All requests per minute (Zendesk by plan: 200 Team, 400 Growth/Professional, 700 Enterprise)."""
    window_seconds: float = Field(60.0, gt=0)
    """The pacing window (60 s, as Zendesk counts; tests shrink it)."""
    timeout: float = Field(30.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    backoff: float = Field(1.0, ge=0)
    max_retry_wait: float = Field(120.0, ge=0)
    """The longest Retry-After careplug waits; a longer one ends the stream (RateLimitExhausted)."""
    tier_field: str | None = "tier"
    """Organization field holding the account tier."""
    segment_field: str | None = "segment"
    task_tag: str = "careplug_nudge"
    """Tag on every ticket careplug writes to (follow-up tickets, tickets with a careplug note)."""
    task_requester: Literal["assignee", "customer"] = "assignee"
    """Who requests follow-up task tickets: ``assignee`` (the agent: no customer can be emailed), or
    ``customer`` (the conversation's requester, so the follow-up shows in the customer's tickets;
    it carries only an internal note, and Zendesk's default triggers email requesters about public
    comments only — check your own triggers before choosing this)."""
    job_poll_interval: float = Field(1.0, ge=0)
    job_poll_attempts: int = Field(30, ge=1)

    @field_validator("subdomain")
    @classmethod
    def _subdomain(cls, v: str) -> str:
        v = v.strip()
        if not v or "." in v or "/" in v:
            raise ValueError("subdomain is the account name only: 'acme' for https://acme.zendesk.com")
        return v

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("base_url must start with https:// (or http:// for a local test server)")
        return v

    @field_validator("streams")
    @classmethod
    def _streams(cls, v: list[str] | None) -> list[str] | None:
        unknown = sorted(set(v or []) - set(STREAMS))
        if unknown:
            raise ValueError(f"unknown streams {unknown}; Zendesk streams are {list(STREAMS)}")
        return v


class ZendeskSource(Source):
    kind: ClassVar[str] = "zendesk"
    Options: ClassVar[type[SourceOptions]] = ZendeskOptions
    streams: ClassVar[tuple[str, ...]] = STREAMS
    description: ClassVar[str] = "Zendesk Support: tickets, comments, events, users, organizations, ratings"

    def __init__(self, name: str, options: SourceOptions, *, base_dir: str | None = None):
        super().__init__(name, options, base_dir=base_dir)
        self.opts: ZendeskOptions = options  # type: ignore[assignment]
        self._client: ZendeskClient | None = None
        self._agents: set[str] | None = None
        self._channels: dict[str, Channel] = {}
        self._not_conversations: set[str] = set()   # deleted tickets and careplug's own follow-ups

    # --- plumbing -----------------------------------------------------------------------------------

    @property
    def client(self) -> ZendeskClient:
        if self._client is None:
            o = self.opts
            oauth = os.environ.get(o.oauth_token_env)
            email, token = os.environ.get(o.email_env), os.environ.get(o.token_env)
            if not oauth and not (email and token):
                raise AuthError(f"set {o.oauth_token_env} (an OAuth token), or {o.email_env} and {o.token_env} "
                                f"(an agent's email and an API token)", source=self.name)
            self._client = ZendeskClient(
                subdomain=o.subdomain, source=self.name, base_url=o.base_url, email=email, token=token,
                oauth_token=oauth, timeout=o.timeout, max_attempts=o.max_attempts, backoff=o.backoff,
                max_retry_wait=o.max_retry_wait,
                pacer=Pacer(per_minute=o.requests_per_minute, incremental_per_minute=o.incremental_per_minute,
                            window_seconds=o.window_seconds))
        return self._client

    @property
    def web_base(self) -> str:
        return f"https://{self.opts.subdomain}.zendesk.com"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _start(self) -> int:
        return int(self.opts.start_date.timestamp()) if self.opts.start_date else 0

    # --- reading ------------------------------------------------------------------------------------

    def fetch(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        if stream == "users":
            yield from self._cursor_stream(stream, cursor, self.client.export_users, "users", self._user)
        elif stream == "tickets":
            yield from self._cursor_stream(stream, cursor, self.client.export_tickets, "tickets", self._ticket)
        elif stream == "organizations":
            yield from self._time_stream(stream, cursor, self.client.export_organizations, "organizations",
                                         self._organization)
        elif stream == "ticket_events":
            agents = self.agents(stream)
            yield from self._time_stream(stream, cursor, self.client.export_ticket_events, "ticket_events",
                                         lambda e: self._event(e, agents))
        elif stream == "satisfaction_ratings":
            yield from self._ratings(stream, cursor)
        elif stream == "calls":
            yield from self._calls(stream, cursor)
        else:
            raise FatalSourceError(f"unknown stream {stream!r}", source=self.name, stream=stream)

    @staticmethod
    def _mapped(stream: str, payload: Any, build) -> Iterator[Item]:
        try:
            records = build(payload)
        except (mapping.MappingError, KeyError, TypeError, AttributeError, ValueError) as exc:
            oid = payload.get("id") if isinstance(payload, dict) else None
            yield Quarantined(stream, f"malformed {stream} payload: {exc}", payload,
                              str(oid) if oid is not None else None)
            return
        if records is None:
            return
        yield from (records if isinstance(records, list) else [records])

    def _user(self, u: dict[str, Any]) -> Record:
        return mapping.user_to_record(self.name, u)

    def _organization(self, o: dict[str, Any]) -> Record:
        return mapping.organization_to_account(self.name, o, tier_field=self.opts.tier_field,
                                               segment_field=self.opts.segment_field)

    def _ticket(self, t: dict[str, Any]) -> list[Record]:
        records = mapping.ticket_to_records(self.name, t, base=self.web_base)
        for r in records:
            channel = getattr(r, "channel", None)
            if channel is not None:
                self._channels[r.external_id] = channel
            else:
                self._not_conversations.add(r.external_id)
        return records

    def _event(self, e: dict[str, Any], agents: set[str]) -> list[Record]:
        if str(e.get("ticket_id")) in self._not_conversations:
            return []
        return mapping.event_to_records(self.name, e, agents=agents, channels=self._channels)

    def _cursor_stream(self, stream: str, cursor: Any | None, export, key: str, build) -> Iterator[Item]:
        """A cursor-based export: follow ``after_cursor`` until ``end_of_stream``."""
        after = (cursor or {}).get("cursor")
        while True:
            page = export(start_time=None if after else self._start(), cursor=after, per_page=self.opts.page_size,
                          stream=stream)
            for payload in page.get(key) or []:
                yield from self._mapped(stream, payload, build)
            nxt = page.get("after_cursor") or after
            if nxt and nxt != (cursor or {}).get("cursor"):
                yield Checkpoint(stream, {"cursor": nxt})
            if page.get("end_of_stream", True) or not page.get(key) or nxt == after:
                return
            after = nxt

    def _time_stream(self, stream: str, cursor: Any | None, export, key: str, build) -> Iterator[Item]:
        """A time-based export: ``start_time`` = the last page's ``end_time``, skipping the ids of
        that second already read."""
        start = int(cursor["start_time"]) if cursor else self._start()
        seen = set(cursor.get("seen") or []) if cursor else set()
        while True:
            page = export(start_time=start, per_page=self.opts.page_size, stream=stream)
            items = page.get(key) or []
            fresh = [i for i in items if not self._read_before(i, start, seen)]
            for payload in fresh:
                yield from self._mapped(stream, payload, build)
            end = int(page.get("end_time") or start)
            ids = {i.get("id") for i in items if isinstance(i, dict) and self._second(i) == end}
            new_seen = (seen | ids) if end == start else ids
            moved = (end, sorted(new_seen)) != (start, sorted(seen))
            if moved:
                start, seen = end, new_seen
                yield Checkpoint(stream, {"start_time": start, "seen": sorted(seen)})
            if page.get("end_of_stream", True):
                return
            if not moved:
                raise FatalSourceError(f"{key}: the export did not move past start_time={start} (every item of "
                                       f"the page was already read); the cursor is kept", source=self.name,
                                       stream=stream)

    @classmethod
    def _read_before(cls, item: Any, start: int, seen: set[Any]) -> bool:
        """An item of the boundary second already read: its id is in ``seen`` *and* it is still at
        ``start``. An item read there and changed since has a later time and is read again."""
        return isinstance(item, dict) and item.get("id") in seen and cls._second(item) == start

    @staticmethod
    def _second(item: dict[str, Any]) -> int | None:
        ts = item.get("timestamp")
        if isinstance(ts, int):
            return ts
        try:
            return int(mapping.parse_time(item.get("updated_at") or item.get("created_at"), "time").timestamp())
        except mapping.MappingError:
            return None

    def _ratings(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        start = int(cursor["start_time"]) if cursor else self._start()
        seen = set(cursor.get("seen") or []) if cursor else set()
        ratings = self.client.satisfaction_ratings(start_time=start, stream=stream)
        latest, at_latest = start, set(seen)
        for r in ratings:
            if self._read_before(r, start, seen):
                continue
            yield from self._mapped(stream, r, lambda p: mapping.rating_to_record(self.name, p))
            second = self._second(r)
            if second is not None and second > latest:
                latest, at_latest = second, set()
            if second == latest:
                at_latest.add(r.get("id"))
        if (latest, at_latest) != (start, seen):
            yield Checkpoint(stream, {"start_time": latest, "seen": sorted(at_latest)})

    def _calls(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        """Talk calls without a ticket. An account without Talk answers 403/404: nothing to read."""
        try:
            yield from self._time_stream(stream, cursor, self.client.export_calls, "calls",
                                         lambda c: mapping.call_to_records(self.name, c))
        except RecordNotFoundException:
            log.info("%s: no Zendesk Talk on this account; the calls stream reads nothing", self.name)
        except FatalSourceError as exc:
            if getattr(exc, "status", None) not in (403, 404):
                raise
            log.info("%s: Zendesk Talk calls are not readable (%s); the calls stream reads nothing", self.name, exc)

    def agents(self, stream: str | None = None) -> set[str]:
        """Ids of the account's agents and admins (read once per source instance)."""
        if self._agents is None:
            found: set[str] = set()
            for role in ("agent", "admin"):
                found |= {str(u["id"]) for u in self.client.users_with_role(role, stream=stream) if u.get("id")}
            self._agents = found
        return self._agents

    # --- writing back -------------------------------------------------------------------------------

    def _writeback(self) -> WriteBack:
        return WriteBack(self.client, self.opts, source=self.name)

    def find_delivered(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        return self._writeback().find(nudges)

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        return self._writeback().deliver(nudges)

    def cancel(self, nudges: list[Nudge]) -> None:
        self._writeback().close(nudges)
