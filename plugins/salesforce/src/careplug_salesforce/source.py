"""The Salesforce source: sync users, accounts, contacts, leads, cases, case comments, emails, tasks and
case history; write nudges back as Tasks and internal CaseComments.

Reading: one SOQL query per stream through ``queryAll`` (deleted and merged rows are seen, with
``IsDeleted``), ordered by ``SystemModstamp, Id`` (``CreatedDate, Id`` for CaseHistory, which has no
SystemModstamp), at the largest batch size (``Sforce-Query-Options: batchSize=2000``). The cursor is
the last ``{"ts", "id"}`` read; the next query asks for ``ts > cursor.ts OR (ts = cursor.ts AND Id >
cursor.id)``, so rows sharing a millisecond (data loads) are neither lost nor repeated. A checkpoint
follows each page (and every ``checkpoint_every`` rows). Field lists come from the org's describe
(one composite batch call for every selected object): a missing optional field is skipped, not fatal.

A first sync of an object holding more than ``bulk_threshold`` rows (a ``COUNT()`` query says) runs
as a Bulk API 2.0 ``queryAll`` job instead: Bulk 2.0 has no ORDER BY, so the rows are sorted here by
``(SystemModstamp, Id)`` and yielded with the same checkpoints as the SOQL path.

Limits: ``403 REQUEST_LIMIT_EXCEEDED``, or the org's ``api-usage`` reaching ``usage_stop`` of its
allowance, raises ``RateLimitExhausted``: the sync stops cleanly, every cursor stays at its last
checkpoint, and the next run resumes there.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from careplug.errors import AuthError, FatalSourceError
from careplug.model import Channel, Checkpoint, Quarantined, Record, Status
from careplug.nudges.model import Nudge, Receipt
from careplug.source import Item, Source, SourceOptions
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import mapping
from .client import LOOPBACK_HOSTS, Credentials, QueryLocatorInvalid, SalesforceClient
from .writeback import WriteBack

log = logging.getLogger(__name__)

#: stream -> (object, cursor field, the fields careplug reads when the org has them)
STREAMS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "users": ("User", "SystemModstamp", ("Name", "Email", "IsActive", "ManagerId", "UserType", "TimeZoneSidKey",
                                         "Department")),
    "accounts": ("Account", "SystemModstamp", ("Name", "OwnerId", "Website", "CreatedDate", "MasterRecordId")),
    "contacts": ("Contact", "SystemModstamp", ("Name", "FirstName", "LastName", "Email", "Phone", "MobilePhone",
                                               "AccountId", "OwnerId", "CreatedDate", "MasterRecordId")),
    "leads": ("Lead", "SystemModstamp", ("Name", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "OwnerId",
                                         "IsConverted", "ConvertedContactId", "CreatedDate", "MasterRecordId")),
    "cases": ("Case", "SystemModstamp", ("Subject", "Status", "Priority", "Origin", "OwnerId", "AccountId",
                                         "ContactId", "IsClosed", "ClosedDate", "CreatedDate", "MasterRecordId")),
    "case_comments": ("CaseComment", "SystemModstamp", ("ParentId", "IsPublished", "CommentBody", "CreatedById",
                                                        "CreatedDate")),
    "emails": ("EmailMessage", "SystemModstamp", ("ParentId", "Incoming", "Status", "Subject", "TextBody",
                                                  "MessageDate", "CreatedById", "CreatedDate")),
    "tasks": ("Task", "SystemModstamp", ("Subject", "Description", "Status", "OwnerId", "WhatId", "WhoId",
                                         "AccountId", "ActivityDate", "IsClosed", "TaskSubtype", "CallType",
                                         "CallDisposition", "CompletedDateTime", "CreatedDate")),
    "case_history": ("CaseHistory", "CreatedDate", ("CaseId", "Field", "OldValue", "NewValue", "CreatedById")),
}
KINDS = {"users": "agent", "accounts": "account", "contacts": "customer", "leads": "customer",
         "cases": "conversation", "case_comments": "message", "emails": "message", "case_history": "event"}


class FieldMap(BaseModel):
    """Which org fields fill careplug's tier/value/segment (None: not mapped). Custom fields welcome."""

    model_config = ConfigDict(extra="forbid")
    account_tier: str | None = None
    account_value: str | None = "AnnualRevenue"
    account_segment: str | None = "Industry"
    customer_tier: str | None = None


class SalesforceOptions(SourceOptions):
    auth: Literal["password", "session", "jwt"] = "password"
    """``password``: username + password + security token (SOAP login, renewed when the session
    expires); ``session``: a session id / OAuth access token (not renewable); ``jwt``: the OAuth
    JWT bearer flow (username + connected-app consumer key + private key)."""
    username_env: str = "SALESFORCE_USERNAME"
    password_env: str = "SALESFORCE_PASSWORD"
    security_token_env: str = "SALESFORCE_SECURITY_TOKEN"
    session_id_env: str = "SALESFORCE_ACCESS_TOKEN"
    consumer_key_env: str = "SALESFORCE_CONSUMER_KEY"
    private_key_file: str | None = None
    """Path of the JWT private key (PEM); relative to the config file."""
    private_key_env: str | None = None
    """Or: an environment variable holding the PEM itself."""
    domain: str = "login"
    """``login`` (production), ``test`` (sandboxes) or a My Domain (``acme.my``)."""
    instance_url: str | None = None
    """The org's URL (``https://acme.my.salesforce.com``); required for ``auth = "session"``.
    ``http://`` is accepted for loopback hosts only (tests against the fake)."""
    api_version: str = "59.0"
    batch_size: int = Field(2000, ge=200, le=2000)
    """Records per query batch (``Sforce-Query-Options``); 2,000 is the largest Salesforce allows."""
    checkpoint_every: int | None = Field(None, ge=1)
    """Also checkpoint every N records within a batch (None: after each batch)."""
    bulk_threshold: int | None = Field(50_000, ge=1)
    """A first sync of an object with more rows than this uses a Bulk API 2.0 query job (None: never)."""
    bulk_page_size: int = Field(100_000, ge=1)
    bulk_poll_seconds: float = Field(5.0, ge=0)
    usage_stop: float = Field(0.8, gt=0, le=1)
    """Stop (cursors kept) once the org has used this share of its daily API allowance (1.0: never stop
    early; Salesforce's own ``REQUEST_LIMIT_EXCEEDED`` ends the run)."""
    timeout: float = Field(60.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    backoff: float = Field(1.0, ge=0)
    max_retry_wait: float = Field(60.0, ge=0)
    start_date: datetime | None = None
    """Lower bound (SystemModstamp) of the first sync; None: everything."""
    fields: FieldMap = Field(default_factory=FieldMap)
    case_statuses: dict[str, Status] = Field(default_factory=dict)
    """Case.Status value → careplug status, added to the built-in map (``"Waiting on Vendor" = "on_hold"``)."""
    origin_channels: dict[str, Channel] = Field(default_factory=dict)
    """Case.Origin value → channel, added to the built-in map."""
    marker_field: str | None = None
    """An External ID text field on Task (e.g. ``Careplug_Key__c``) holding the nudge marker: tasks are
    then upserted on it (idempotent in Salesforce itself, no lookup call). None: the marker is found
    with ``Subject LIKE`` before writing."""
    completed_status: str = "Completed"

    @field_validator("username_env", "password_env", "security_token_env", "session_id_env", "consumer_key_env",
                     "private_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and (not v or not v.replace("_", "").isalnum()):
            raise ValueError("must name an environment variable (letters, digits, underscores), not hold a secret")
        return v

    @field_validator("instance_url")
    @classmethod
    def _instance(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if v.startswith("http://"):
            host = (v[7:].split("/")[0].rsplit(":", 1)[0]).strip("[]")
            if host not in LOOPBACK_HOSTS:
                raise ValueError("http:// is accepted only for a loopback test server; use https://")
        elif not v.startswith("https://"):
            raise ValueError("instance_url must start with https://")
        return v.rstrip("/")

    @field_validator("streams")
    @classmethod
    def _streams(cls, v: list[str] | None) -> list[str] | None:
        unknown = sorted(set(v or ()) - set(STREAMS))
        if unknown:
            raise ValueError(f"unknown streams {unknown}; known: {sorted(STREAMS)}")
        return v

    @model_validator(mode="after")
    def _auth_needs(self) -> "SalesforceOptions":
        if self.auth == "session" and not self.instance_url:
            raise ValueError("auth = \"session\" needs instance_url (the org's URL)")
        if self.auth == "jwt" and not (self.private_key_file or self.private_key_env):
            raise ValueError("auth = \"jwt\" needs private_key_file or private_key_env")
        return self


class SalesforceSource(Source):
    kind: ClassVar[str] = "salesforce"
    Options: ClassVar[type[SourceOptions]] = SalesforceOptions
    streams: ClassVar[tuple[str, ...]] = tuple(STREAMS)
    description: ClassVar[str] = ("Salesforce Service/Sales Cloud: cases, comments, emails, tasks, contacts, "
                                  "accounts, leads, users, case history")

    def __init__(self, name: str, options: SourceOptions, *, base_dir: str | None = None):
        super().__init__(name, options, base_dir=base_dir)
        self.opts: SalesforceOptions = options  # type: ignore[assignment]
        self._client: SalesforceClient | None = None
        self._described: dict[str, dict[str, str]] = {}
        self._customer_users: set[str] | None = None

    # --- plumbing ---------------------------------------------------------------------------------

    def _env(self, var: str | None, what: str, *, required: bool = True) -> str | None:
        value = os.environ.get(var) if var else None
        if required and not value:
            raise AuthError(f"environment variable {var} is not set (the Salesforce {what})", source=self.name)
        return value

    def _credentials(self) -> Credentials:
        o = self.opts
        if o.auth == "session":
            return Credentials("session", session_id=self._env(o.session_id_env, "session id / access token"))
        if o.auth == "jwt":
            key_file = None
            if o.private_key_file:
                path = Path(o.private_key_file)
                key_file = str(path if path.is_absolute() or not self.base_dir else Path(self.base_dir) / path)
            return Credentials("jwt", username=self._env(o.username_env, "username"),
                               consumer_key=self._env(o.consumer_key_env, "connected app consumer key"),
                               private_key_file=key_file,
                               private_key=self._env(o.private_key_env, "private key") if o.private_key_env else None)
        return Credentials("password", username=self._env(o.username_env, "username"),
                           password=self._env(o.password_env, "password"),
                           security_token=self._env(o.security_token_env, "security token", required=False))

    @property
    def client(self) -> SalesforceClient:
        if self._client is None:
            o = self.opts
            self._client = SalesforceClient(
                credentials=self._credentials(), source=self.name, domain=o.domain, instance_url=o.instance_url,
                version=o.api_version, timeout=o.timeout, max_attempts=o.max_attempts, backoff=o.backoff,
                max_retry_wait=o.max_retry_wait, usage_stop=o.usage_stop)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _describe(self, stream: str) -> dict[str, str]:
        """Field name → type of the stream's object; every selected object described in one call."""
        obj = STREAMS[stream][0]
        if obj not in self._described:
            wanted = sorted({STREAMS[s][0] for s in self.selected_streams()} | {obj})
            missing = [o for o in wanted if o not in self._described]
            for name, desc in self.client.describe_many(missing, stream=stream).items():
                self._described[name] = {f["name"]: f["type"] for f in desc.get("fields") or []}
        return self._described[obj]

    def _fields(self, stream: str) -> list[str]:
        obj, cursor_field, wanted = STREAMS[stream]
        described = self._describe(stream)
        for required in ("Id", "IsDeleted", cursor_field):
            if required not in described:
                raise FatalSourceError(f"{obj}.{required} is not readable (check the integration user's "
                                       "field-level security)", source=self.name, stream=stream)
        extra: list[str] = []
        if stream == "accounts":
            f = self.opts.fields
            extra = [x for x in (f.account_tier, f.account_value, f.account_segment) if x]
        elif stream in ("contacts", "leads") and self.opts.fields.customer_tier:
            extra = [self.opts.fields.customer_tier]
        fields = ["Id", "IsDeleted", cursor_field]
        for name in (*wanted, *extra):
            if name in fields:
                continue
            if name in described:
                fields.append(name)
            else:
                log.info("%s:%s: %s.%s is not in this org (or not readable); synced without it",
                         self.name, stream, obj, name)
        return fields

    # --- reading ----------------------------------------------------------------------------------

    def fetch(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        if stream not in STREAMS:
            raise FatalSourceError(f"unknown stream {stream!r}", source=self.name, stream=stream)
        obj, cursor_field, _ = STREAMS[stream]
        fields = self._fields(stream)
        select = f"SELECT {', '.join(fields)} FROM {obj}"
        if cursor is None and self.opts.bulk_threshold is not None and self._count(stream) > self.opts.bulk_threshold:
            bulk = self._bulk_rows(stream, select, fields)
            yield from self._emit(stream, cursor, lambda _: bulk)
            return

        def rows_after(after: Any | None) -> Iterator[Any]:
            soql = f"{select}{self._where(cursor_field, after)} ORDER BY {cursor_field}, Id"
            for page in self.client.query_pages(soql, batch_size=self.opts.batch_size, stream=stream):
                yield from page
                yield _PAGE_END

        yield from self._emit(stream, cursor, rows_after)

    def _where(self, field: str, cursor: Any | None) -> str:
        if cursor:
            ts = mapping.soql_datetime(mapping.parse_dt(cursor["ts"], "cursor", required=True))
            return f" WHERE ({field} > {ts} OR ({field} = {ts} AND Id > '{_quote(cursor['id'])}'))"
        if self.opts.start_date is not None:
            return f" WHERE {field} >= {mapping.soql_datetime(self.opts.start_date)}"
        return ""

    def _count(self, stream: str) -> int:
        obj, field, _ = STREAMS[stream]
        return self.client.count(f"SELECT COUNT() FROM {obj}{self._where(field, None)}", stream=stream)

    def _bulk_rows(self, stream: str, select: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        """A Bulk API 2.0 queryAll job's rows, typed as the REST API would give them and sorted by
        the cursor (Bulk 2.0 returns them in no particular order)."""
        obj, cursor_field, _ = STREAMS[stream]
        soql = select + self._where(cursor_field, None)
        types = self._describe(stream)
        rows = [_typed(r, types) for r in self.client.bulk_query(obj, soql, page_size=self.opts.bulk_page_size,
                                                                 poll_seconds=self.opts.bulk_poll_seconds,
                                                                 stream=stream)]
        log.info("%s:%s: first sync of %d %s rows through a Bulk API 2.0 job", self.name, stream, len(rows), obj)
        rows.sort(key=lambda r: (_stamp_key(r.get(cursor_field)), str(r.get("Id"))))
        every = self.opts.batch_size
        for i, row in enumerate(rows, 1):
            yield row
            if i % every == 0:
                yield _PAGE_END

    def _emit(self, stream: str, cursor: Any | None, rows_after) -> Iterator[Item]:
        """Map rows in cursor order; checkpoint at each page end and every ``checkpoint_every`` rows.
        ``rows_after(cursor)`` gives the rows after a cursor; when Salesforce drops the query locator
        mid-way, the query is issued again after the last row read (no gap, no repeat)."""
        cursor_field = STREAMS[stream][1]
        last = cursor
        since_checkpoint = 0
        every = self.opts.checkpoint_every
        rows = rows_after(cursor)
        restarts = 0
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except QueryLocatorInvalid as exc:
                restarts += 1
                if restarts > 3:
                    raise
                log.warning("%s; querying again after the last row read", exc)
                rows = rows_after(last)
                continue
            if row is _PAGE_END:
                if last != cursor and since_checkpoint:
                    yield Checkpoint(stream, last)
                    since_checkpoint = 0
                continue
            yield from self._map(stream, row)
            try:
                stamp = mapping.parse_dt(row.get(cursor_field), cursor_field, required=True)
            except mapping.MappingError:
                continue
            last = {"ts": mapping.soql_datetime(stamp), "id": str(row.get("Id"))}
            since_checkpoint += 1
            if every and since_checkpoint >= every:
                yield Checkpoint(stream, last)
                since_checkpoint = 0
        if since_checkpoint and last != cursor:
            yield Checkpoint(stream, last)

    def _map(self, stream: str, row: dict[str, Any]) -> Iterator[Item]:
        rid = str(row.get("Id") or "") or None
        try:
            kind = KINDS.get(stream) or mapping.task_kind(row)
            gone = mapping.deletion(self.name, row, kind)
            if gone is not None:
                yield gone
                return
            for record in self._records(stream, row):
                yield record
        except mapping.MappingError as exc:
            yield Quarantined(stream, f"{STREAMS[stream][0]} {rid}: {exc}", row, rid)

    def _records(self, stream: str, row: dict[str, Any]) -> list[Record]:
        name, fields = self.name, self.opts.fields.model_dump()
        if stream == "users":
            if row.get("UserType") in mapping.CUSTOMER_USER_TYPES:
                return []           # portal and community users are customers, not agents
            return [mapping.user_to_agent(name, row)]
        if stream == "accounts":
            return [mapping.account_to_account(name, row, fields)]
        if stream == "contacts":
            return [mapping.person_to_customer(name, row, fields, lead=False)]
        if stream == "leads":
            return mapping.lead_to_records(name, row, fields)
        if stream == "cases":
            return [mapping.case_to_conversation(name, row, statuses=self._statuses(), origins=self._origins(),
                                                 instance_url=self._public_instance())]
        if stream == "case_comments":
            return [mapping.comment_to_message(name, row, self.customer_users())]
        if stream == "emails":
            return [mapping.email_to_record(name, row)]
        if stream == "tasks":
            return [mapping.task_to_record(name, row)]
        event = mapping.history_to_event(name, row, self._statuses())
        return [event] if event is not None else []

    def _statuses(self) -> dict[str, Status]:
        return {**mapping.CASE_STATUSES, **{k.lower(): v for k, v in self.opts.case_statuses.items()}}

    def _origins(self) -> dict[str, Channel]:
        return {**mapping.ORIGIN_CHANNELS, **{k.lower(): v for k, v in self.opts.origin_channels.items()}}

    def _public_instance(self) -> str | None:
        url = self.opts.instance_url
        return url if url and url.startswith("https://") else None

    def customer_users(self) -> set[str]:
        """Ids of portal/community users (customers writing case comments), read once per source."""
        if self._customer_users is None:
            types = "', '".join(sorted(mapping.CUSTOMER_USER_TYPES))
            self._customer_users = {
                str(r["Id"]) for page in self.client.query_pages(
                    f"SELECT Id FROM User WHERE UserType IN ('{types}')", include_deleted=False,
                    batch_size=self.opts.batch_size, stream="users") for r in page}
        return self._customer_users

    # --- writing back -----------------------------------------------------------------------------

    def _writeback(self) -> WriteBack:
        return WriteBack(self.client, source=self.name, marker_field=self.opts.marker_field,
                         completed_status=self.opts.completed_status, instance_url=self._public_instance())

    def find_delivered(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        return self._writeback().find(nudges)

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        return self._writeback().deliver(nudges)

    def cancel(self, nudges: list[Nudge]) -> None:
        self._writeback().complete(nudges)


_PAGE_END = object()


def _quote(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


def _stamp_key(value: Any) -> str:
    try:
        dt = mapping.parse_dt(value, "stamp")
    except mapping.MappingError:
        return ""
    return mapping.soql_datetime(dt) if dt else ""


def _typed(row: dict[str, str], types: dict[str, str]) -> dict[str, Any]:
    """A Bulk API CSV row with REST-like values: empty → None, booleans, numbers."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        t = types.get(k)
        if v == "":
            out[k] = None
        elif t == "boolean":
            out[k] = v.lower() == "true"
        elif t in ("double", "currency", "percent", "int"):
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
        else:
            out[k] = v
    return out
