"""A loopback Salesforce org: the REST endpoints careplug-salesforce uses, with Salesforce's documented
payload shapes, batch sizes, limits and error bodies, driven by the real ``simple-salesforce``.

What it implements (stateful):

- ``GET /services/data/vXX.X/query?q=`` and ``/queryAll?q=`` — a SOQL subset (``SELECT`` fields or
  ``COUNT()`` ``FROM`` one object, ``WHERE`` with AND/OR/NOT/parentheses, ``= != <> < <= > >=``,
  ``LIKE``, ``IN``/``NOT IN``, string/date/datetime/number/boolean/null literals, ``ORDER BY``
  fields ASC/DESC, ``LIMIT``). Batches follow the ``Sforce-Query-Options: batchSize=N`` header
  (200..2,000, default 2,000); the answer is ``{totalSize, done, nextRecordsUrl?, records}``, each
  record with ``attributes: {type, url}``. ``GET .../query/<locator>-<offset>`` is queryMore over a
  snapshot taken when the query ran. ``query`` hides deleted rows; ``queryAll`` returns them with
  ``IsDeleted: true`` (and ``MasterRecordId`` for merged ones).
- ``GET .../sobjects/<Object>/describe`` — ``{name, fields: [{name, type, filterable, ...}]}``; an
  unknown field in a query is ``400 INVALID_FIELD``, a bad query ``400 MALFORMED_QUERY``.
- ``POST .../composite/sobjects`` (create), ``PATCH .../composite/sobjects`` (update by Id),
  ``PATCH .../composite/sobjects/<Object>/<ExternalIdField>`` (upsert, ``created`` per result) —
  at most 200 records, ``allOrNone``; results in request order ``[{id, success, errors}]``.
- Bulk API 2.0 query jobs: ``POST .../jobs/query``, ``GET .../jobs/query/<id>`` (``InProgress`` for
  ``bulk_polls`` polls, then ``JobComplete``), ``GET .../jobs/query/<id>/results?maxRecords=&locator=``
  (CSV, ``Sforce-Locator``/``Sforce-NumberOfRecords`` headers; no ORDER BY, as documented).
- ``POST /services/Soap/u/<version>`` — the SOAP ``login`` (username, password + security token),
  ``POST /services/oauth2/token`` — the JWT bearer grant (any well-formed assertion for a known user).
- Bearer sessions (``401 [{"errorCode": "INVALID_SESSION_ID"}]`` once ``expire_session()`` ran), the
  daily API allowance (``403 [{"errorCode": "REQUEST_LIMIT_EXCEEDED"}]``) and the
  ``Sforce-Limit-Info: api-usage=N/M`` header on every REST answer.

Records live in ``objects[Object][Id]`` as Python values (datetime, date, bool, float, str, None);
every write moves the org's clock one millisecond, and seeding gives many records the same
``SystemModstamp`` (data loads do), which is what makes ``(SystemModstamp, Id)`` cursors interesting.
``seed_from_records`` turns ``careplug.testing.generator`` records of one source into Salesforce
objects: accounts → Account, agents → User, customers → Contact (leads also → Lead), conversations
→ Case, email/web messages → EmailMessage, calls → Task (TaskSubtype Call), other messages and
internal notes → CaseComment, assignment/status events → CaseHistory, tasks → Task.
"""

from __future__ import annotations

import csv
import json
import io
import itertools
import re
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape

from .base import FakeServer, Request, Response, route

API = r"/services/data/v(?P<version>\d+\.\d)"
BATCH_DEFAULT, BATCH_MIN, BATCH_MAX = 2000, 200, 2000
COLLECTION_MAX = 200

COMMON = {"Id": "id", "IsDeleted": "boolean", "CreatedDate": "datetime", "CreatedById": "reference",
          "LastModifiedDate": "datetime", "SystemModstamp": "datetime"}
#: the org's schema: object -> field -> type (describe answers with these)
SCHEMA: dict[str, dict[str, str]] = {
    "User": {"Name": "string", "Email": "email", "IsActive": "boolean", "ManagerId": "reference",
             "UserType": "picklist", "TimeZoneSidKey": "picklist", "Department": "string"},
    "Account": {"Name": "string", "OwnerId": "reference", "Website": "url", "Type": "picklist",
                "Industry": "picklist", "AnnualRevenue": "currency", "Tier__c": "picklist",
                "MasterRecordId": "reference"},
    "Contact": {"FirstName": "string", "LastName": "string", "Name": "string", "Email": "email",
                "Phone": "phone", "MobilePhone": "phone", "AccountId": "reference", "OwnerId": "reference",
                "MasterRecordId": "reference"},
    "Lead": {"FirstName": "string", "LastName": "string", "Name": "string", "Email": "email", "Phone": "phone",
             "Company": "string", "Status": "picklist", "OwnerId": "reference", "IsConverted": "boolean",
             "ConvertedContactId": "reference", "MasterRecordId": "reference"},
    "Case": {"CaseNumber": "string", "Subject": "string", "Status": "picklist", "Priority": "picklist",
             "Origin": "picklist", "OwnerId": "reference", "AccountId": "reference", "ContactId": "reference",
             "IsClosed": "boolean", "ClosedDate": "datetime", "MasterRecordId": "reference"},
    "CaseComment": {"ParentId": "reference", "IsPublished": "boolean", "CommentBody": "textarea"},
    "EmailMessage": {"ParentId": "reference", "Incoming": "boolean", "Subject": "string", "TextBody": "textarea",
                     "FromAddress": "email", "ToAddress": "string", "MessageDate": "datetime", "Status": "picklist"},
    "Task": {"Subject": "string", "Description": "textarea", "Status": "picklist", "Priority": "picklist",
             "OwnerId": "reference", "WhatId": "reference", "WhoId": "reference", "AccountId": "reference",
             "ActivityDate": "date", "IsClosed": "boolean", "TaskSubtype": "picklist", "CallType": "picklist",
             "CallDisposition": "string", "IsReminderSet": "boolean", "ReminderDateTime": "datetime",
             "CompletedDateTime": "datetime", "Careplug_Key__c": "string"},
    "CaseHistory": {"CaseId": "reference", "Field": "picklist", "OldValue": "anyType", "NewValue": "anyType"},
}
#: fields a query may not filter on (long text areas), as describe reports them
UNFILTERABLE = {("Task", "Description"), ("EmailMessage", "TextBody"), ("CaseComment", "CommentBody")}
#: history objects have no SystemModstamp / LastModifiedDate
NO_MODSTAMP = {"CaseHistory"}
EXTERNAL_IDS = {("Task", "Careplug_Key__c")}
PREFIX = {"User": "005", "Account": "001", "Contact": "003", "Lead": "00Q", "Case": "500", "CaseComment": "00a",
          "EmailMessage": "02s", "Task": "00T", "CaseHistory": "017"}
CHILDREN = {"Case": (("CaseComment", "ParentId"), ("EmailMessage", "ParentId"), ("CaseHistory", "CaseId"),
                     ("Task", "WhatId"))}


def fields_of(obj: str) -> dict[str, str]:
    out = dict(COMMON)
    if obj in NO_MODSTAMP:
        out.pop("SystemModstamp")
        out.pop("LastModifiedDate")
    out.update(SCHEMA[obj])
    return out


def sf_datetime(dt: datetime) -> str:
    """Salesforce's REST datetime format: ``2026-01-05T09:00:00.000+0000``."""
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def _errors(status: int, code: str, message: str, **extra: Any) -> Response:
    return Response.json([{"message": message, "errorCode": code, **extra}], status)


# --- SOQL (the subset careplug and its tests use) ------------------------------------------------


class SoqlError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<dt>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))
  | (?P<date>\d{4}-\d\d-\d\d)
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
)""", re.X)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token at: {text[pos:pos + 30]!r}")
        pos = m.end()
        kind = m.lastgroup
        raw = m.group(kind)
        if kind == "str":
            out.append(("val", re.sub(r"\\(.)", r"\1", raw[1:-1])))
        elif kind == "dt":
            out.append(("val", datetime.fromisoformat(raw.replace("Z", "+00:00"))))
        elif kind == "date":
            out.append(("val", date.fromisoformat(raw)))
        elif kind == "num":
            out.append(("val", float(raw)))
        elif kind == "name" and raw.lower() in ("true", "false", "null"):
            out.append(("val", {"true": True, "false": False, "null": None}[raw.lower()]))
        elif kind == "name":
            out.append(("name", raw))
        else:
            out.append((kind, raw))
    return out


class Soql:
    """A parsed query: ``fields`` (None for COUNT()), ``obj``, ``where`` (a predicate), ``order``, ``limit``."""

    def __init__(self, text: str, schema: dict[str, dict[str, str]]):
        self.toks = _tokens(text)
        self.i = 0
        self._kw("SELECT")
        if self._peek_name("COUNT"):
            self.i += 1
            self._punct("(")
            self._punct(")")
            self.fields: list[str] | None = None
        else:
            self.fields = [self._name()]
            while self._peek(("punct", ",")):
                self.i += 1
                self.fields.append(self._name())
        self._kw("FROM")
        self.obj = self._name()
        if self.obj not in schema:
            raise SoqlError("INVALID_TYPE", f"sObject type '{self.obj}' is not supported.")
        self.known = schema[self.obj]
        for f in self.fields or []:
            self._field(f)
        self.where = None
        self.order: list[tuple[str, bool]] = []
        self.limit: int | None = None
        if self._peek_name("WHERE"):
            self.i += 1
            self.where = self._or()
        if self._peek_name("ORDER"):
            self.i += 1
            self._kw("BY")
            while True:
                name = self._field(self._name())
                desc = False
                if self._peek_name("ASC") or self._peek_name("DESC"):
                    desc = self.toks[self.i][1].upper() == "DESC"
                    self.i += 1
                self.order.append((name, desc))
                if not self._peek(("punct", ",")):
                    break
                self.i += 1
        if self._peek_name("LIMIT"):
            self.i += 1
            kind, value = self.toks[self.i]
            self.i += 1
            self.limit = int(value)
        if self.i != len(self.toks):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: {self.toks[self.i][1]!r}")

    # parsing helpers
    def _peek(self, tok: tuple[str, str]) -> bool:
        return self.i < len(self.toks) and self.toks[self.i] == tok

    def _peek_name(self, word: str) -> bool:
        return (self.i < len(self.toks) and self.toks[self.i][0] == "name"
                and self.toks[self.i][1].upper() == word)

    def _kw(self, word: str) -> None:
        if not self._peek_name(word):
            raise SoqlError("MALFORMED_QUERY", f"expected {word}")
        self.i += 1

    def _punct(self, p: str) -> None:
        if not self._peek(("punct", p)):
            raise SoqlError("MALFORMED_QUERY", f"expected {p!r}")
        self.i += 1

    def _name(self) -> str:
        if self.i >= len(self.toks) or self.toks[self.i][0] != "name":
            raise SoqlError("MALFORMED_QUERY", "expected a name")
        self.i += 1
        return self.toks[self.i - 1][1]

    def _value(self) -> Any:
        if self.i >= len(self.toks) or self.toks[self.i][0] != "val":
            raise SoqlError("MALFORMED_QUERY", "expected a value")
        self.i += 1
        return self.toks[self.i - 1][1]

    def _field(self, name: str) -> str:
        for known in self.known:
            if known.lower() == name.lower():
                return known
        raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{self.obj}'. If you are attempting "
                                         "to use a custom field, be sure to append the '__c' after the custom "
                                         "field name.")

    def _or(self):
        parts = [self._and()]
        while self._peek_name("OR"):
            self.i += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda r, ps=parts: any(p(r) for p in ps))

    def _and(self):
        parts = [self._factor()]
        while self._peek_name("AND"):
            self.i += 1
            parts.append(self._factor())
        return parts[0] if len(parts) == 1 else (lambda r, ps=parts: all(p(r) for p in ps))

    def _factor(self):
        if self._peek_name("NOT"):
            self.i += 1
            inner = self._factor()
            return lambda r: not inner(r)
        if self._peek(("punct", "(")):
            self.i += 1
            inner = self._or()
            self._punct(")")
            return inner
        name = self._field(self._name())
        if (self.obj, name) in UNFILTERABLE:
            raise SoqlError("INVALID_FIELD", f"field '{name}' can not be filtered in a query call")
        negate = False
        if self._peek_name("NOT"):
            self.i += 1
            negate = True
        if self._peek_name("IN"):
            self.i += 1
            self._punct("(")
            values = [self._value()]
            while self._peek(("punct", ",")):
                self.i += 1
                values.append(self._value())
            self._punct(")")
            return lambda r: (r.get(name) in values) != negate
        if self._peek_name("LIKE"):
            self.i += 1
            pattern = self._value()
            rx = re.compile("^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c)
                                          for c in pattern) + "$", re.I | re.S)
            return lambda r: isinstance(r.get(name), str) and bool(rx.match(r[name]))
        if self.i >= len(self.toks) or self.toks[self.i][0] != "op":
            raise SoqlError("MALFORMED_QUERY", f"expected an operator after {name}")
        op = self.toks[self.i][1]
        self.i += 1
        value = self._value()
        return lambda r: _compare(r.get(name), op, value)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op in ("=", "!=", "<>"):
        eq = _norm(left) == _norm(right)
        return eq if op == "=" else not eq
    if left is None or right is None:
        return False
    a, b = _norm(left), _norm(right)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _norm(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc)
    return v


def _sort_key(value: Any) -> tuple:
    return (value is None, "" if value is None else _norm(value))


# --- the fake org --------------------------------------------------------------------------------


class FakeSalesforce(FakeServer):
    """A stateful Salesforce org on 127.0.0.1. ``session_id`` is the session it accepts until a
    login gives a new one; ``username``/``password``/``security_token`` are the SOAP login."""

    def __init__(self, *, session_id: str = "00Dfake!AQ0AQfakeSession", username: str = "careplug@example.com",
                 password: str = "fake-password", security_token: str = "fakeToken123", version: str = "59.0",
                 daily_limit: int = 5_000_000, start: datetime | None = None, bulk_polls: int = 1):
        super().__init__()
        self.sessions = {session_id}
        self.username, self.password, self.security_token = username, password, security_token
        self.version = version
        self.daily_limit = daily_limit
        self.api_used = 0
        self.bulk_polls = bulk_polls
        self.org_id = "00D000000000001AAA"
        self.objects: dict[str, dict[str, dict[str, Any]]] = {o: {} for o in SCHEMA}
        self.missing_fields: set[tuple[str, str]] = set()     # fields this org lacks (describe omits them)
        self.clock = start or datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
        self._seq = itertools.count(1)
        self._case_numbers = itertools.count(1000)
        self.locators: dict[str, tuple[str, list[dict[str, Any]], int]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.logins = 0
        self.refuse_logins: str | None = None     # an exceptionCode every login answers with, e.g. REQUEST_LIMIT_EXCEEDED

    # --- clock, ids and writes --------------------------------------------------------------------

    def tick(self, ms: int = 1) -> datetime:
        self.clock += timedelta(milliseconds=ms)
        return self.clock

    def new_id(self, obj: str) -> str:
        n = next(self._seq)
        return f"{PREFIX[obj]}{n:012d}AAA"

    def insert(self, obj: str, values: dict[str, Any], *, id: str | None = None, at: datetime | None = None,
               created_by: str | None = None) -> str:
        """Create a record now (or at ``at``), with defaults as Salesforce applies them."""
        with self.lock:
            now = at or self.tick()
            rid = id or self.new_id(obj)
            rec: dict[str, Any] = {f: None for f in fields_of(obj)}
            rec.update(Id=rid, IsDeleted=False, CreatedDate=now, CreatedById=created_by or self.integration_user)
            if obj not in NO_MODSTAMP:
                rec.update(LastModifiedDate=now, SystemModstamp=now)
            if obj == "Case":
                rec.update(CaseNumber=f"{next(self._case_numbers):08d}", Status="New", Priority="Medium",
                           IsClosed=False)
            elif obj == "Task":
                rec.update(Status="Not Started", Priority="Normal", IsClosed=False, TaskSubtype="Task",
                           IsReminderSet=False)
            elif obj == "CaseComment":
                rec.update(IsPublished=False)
            rec.update(values)
            self._derive(obj, rec)
            self.objects[obj][rid] = rec
            return rid

    @property
    def integration_user(self) -> str:
        return "005000000000INTAAA"

    def update(self, obj: str, rid: str, values: dict[str, Any], *, history: bool = True) -> None:
        """Change a record now: SystemModstamp moves; Case owner/status changes write CaseHistory."""
        with self.lock:
            rec = self.objects[obj][rid]
            now = self.tick()
            if obj == "Case" and history:
                for field, hist in (("OwnerId", "Owner"), ("Status", "Status")):
                    if field in values and values[field] != rec.get(field):
                        self.insert("CaseHistory", {"CaseId": rid, "Field": hist, "OldValue": rec.get(field),
                                                    "NewValue": values[field]}, at=now)
            rec.update(values)
            rec.update(LastModifiedDate=now, SystemModstamp=now)
            self._derive(obj, rec)

    def delete(self, obj: str, rid: str, *, master: str | None = None) -> None:
        """Move a record (and a case's children) to the recycle bin, as Salesforce does."""
        with self.lock:
            now = self.tick()
            rec = self.objects[obj][rid]
            rec.update(IsDeleted=True)
            if "SystemModstamp" in rec:
                rec.update(SystemModstamp=now, LastModifiedDate=now)
            if master is not None:
                rec["MasterRecordId"] = master
            for child, parent_field in CHILDREN.get(obj, ()):
                for crec in self.objects[child].values():
                    if crec.get(parent_field) == rid and not crec["IsDeleted"]:
                        crec["IsDeleted"] = True
                        if "SystemModstamp" in crec:
                            crec.update(SystemModstamp=now, LastModifiedDate=now)

    @staticmethod
    def _derive(obj: str, rec: dict[str, Any]) -> None:
        if obj == "Case":
            rec["IsClosed"] = rec.get("Status") == "Closed"
            if rec["IsClosed"] and rec.get("ClosedDate") is None:
                rec["ClosedDate"] = rec.get("LastModifiedDate")
        elif obj == "Task":
            rec["IsClosed"] = rec.get("Status") == "Completed"
            if rec["IsClosed"] and rec.get("CompletedDateTime") is None:
                rec["CompletedDateTime"] = rec.get("LastModifiedDate")
        elif obj in ("Contact", "Lead"):
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)

    def live(self, obj: str) -> dict[str, dict[str, Any]]:
        return {i: r for i, r in self.objects[obj].items() if not r["IsDeleted"]}

    def expire_session(self) -> None:
        """Every session handed out so far stops working (401 INVALID_SESSION_ID)."""
        with self.lock:
            self.sessions.clear()

    # --- serialization ------------------------------------------------------------------------------

    def _out(self, obj: str, rec: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        row: dict[str, Any] = {"attributes": {"type": obj,
                                              "url": f"/services/data/v{self.version}/sobjects/{obj}/{rec['Id']}"}}
        for f in fields:
            row[f] = _json_value(rec.get(f))
        return row

    # --- protocol plumbing -------------------------------------------------------------------------

    def authorize(self, req: Request) -> Response | None:
        if not req.path.startswith("/services/data/"):
            return None
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.sessions:
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.api_used >= self.daily_limit:
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self.api_used += 1
        return None

    def _respond(self, name, group, handler, req):  # type: ignore[override]
        response = super()._respond(name, group, handler, req)
        if response is not None and req.path.startswith("/services/data/"):
            response.headers.setdefault("Sforce-Limit-Info", f"api-usage={self.api_used}/{self.daily_limit}")
        return response

    def error_response(self, status: int) -> Response:
        return _errors(status, "SERVER_UNAVAILABLE" if status == 503 else "UNKNOWN_EXCEPTION",
                       "An unexpected error occurred. Please include this ErrorId if you contact support: "
                       f"{uuid.uuid4().int % 10**10}-{status}")

    def rate_limited_response(self, retry_after: float) -> Response:
        # Salesforce itself answers an exhausted allowance with 403 REQUEST_LIMIT_EXCEEDED (see
        # ``daily_limit``); a 429 with Retry-After comes from gateways and proxies in front of it.
        response = _errors(429, "REQUEST_LIMIT_EXCEEDED", "Too many requests; retry later.")
        response.headers["Retry-After"] = f"{retry_after:g}"
        return response

    # --- login -------------------------------------------------------------------------------------

    @route("POST", r"/services/Soap/u/(?P<version>[\d.]+)", name="login.soap")
    def soap_login(self, req: Request) -> Response:
        body = req.body.decode()
        user = re.search(r"<n1:username>(.*?)</n1:username>", body, re.S)
        password = re.search(r"<n1:password>(.*?)</n1:password>", body, re.S)
        expected = escape(self.password + self.security_token)
        if self.refuse_logins:
            return Response(500, _soap_fault(self.refuse_logins, "TotalRequests Limit exceeded.").encode(),
                            {"Content-Type": "text/xml"})
        if not user or not password or user.group(1) != escape(self.username) or password.group(1) != expected:
            fault = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas."
                     "xmlsoap.org/soap/envelope/\" xmlns:sf=\"urn:fault.partner.soap.sforce.com\"><soapenv:Body>"
                     "<soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid "
                     "username, password, security token; or user locked out.</faultstring><detail>"
                     "<sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>"
                     "Invalid username, password, security token; or user locked out.</sf:exceptionMessage>"
                     "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>")
            return Response(500, fault.encode(), {"Content-Type": "text/xml"})
        session = self._new_session()
        server = f"https://127.0.0.1:{self.port}/services/Soap/u/{req.params['version']}/{self.org_id}"
        xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap."
               "org/soap/envelope/\" xmlns=\"urn:partner.soap.sforce.com\"><soapenv:Body><loginResponse><result>"
               f"<metadataServerUrl>{server}</metadataServerUrl><passwordExpired>false</passwordExpired>"
               f"<sandbox>false</sandbox><serverUrl>{server}</serverUrl><sessionId>{session}</sessionId>"
               f"<userId>{self.integration_user}</userId></result></loginResponse></soapenv:Body>"
               "</soapenv:Envelope>")
        return Response(200, xml.encode(), {"Content-Type": "text/xml; charset=utf-8"})

    @route("POST", r"/services/oauth2/token", name="login.oauth2")
    def oauth_token(self, req: Request) -> Response:
        from urllib.parse import parse_qs

        form = {k: v[-1] for k, v in parse_qs(req.body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or form.get("assertion", "") \
                .count(".") != 2:
            return Response.json({"error": "invalid_grant", "error_description": "invalid assertion"}, 400)
        return Response.json({"access_token": self._new_session(), "scope": "api",
                              "instance_url": f"https://127.0.0.1:{self.port}", "id": "", "token_type": "Bearer"})

    def _new_session(self) -> str:
        self.logins += 1
        session = f"{self.org_id[:15]}!AQ0AQ{uuid.uuid4().hex}"
        self.sessions.add(session)
        return session

    # --- describe and query -------------------------------------------------------------------------

    def schema(self) -> dict[str, dict[str, str]]:
        return {o: {f: t for f, t in fields_of(o).items() if (o, f) not in self.missing_fields} for o in SCHEMA}

    @route("GET", API + r"/sobjects/(?P<obj>\w+)/describe/?", name="describe")
    def describe(self, req: Request) -> Response:
        obj = req.params["obj"]
        schema = self.schema()
        if obj not in schema:
            return _errors(404, "NOT_FOUND", f"The requested resource does not exist: {obj}")
        return Response.json({
            "name": obj, "label": obj, "keyPrefix": PREFIX[obj], "queryable": True, "createable": True,
            "updateable": obj not in NO_MODSTAMP, "deletable": True, "custom": False,
            "fields": [{"name": f, "type": t, "label": f, "custom": f.endswith("__c"), "nillable": f != "Id",
                        "filterable": (obj, f) not in UNFILTERABLE, "createable": f not in COMMON,
                        "updateable": f not in COMMON, "externalId": (obj, f) in EXTERNAL_IDS,
                        "length": 255 if t in ("string", "picklist") else 0}
                       for f, t in schema[obj].items()]})

    @route("POST", API + r"/composite/batch/?", name="composite.batch")
    def composite_batch(self, req: Request) -> Response:
        """Up to 25 GET describe subrequests in one call (one API request against the allowance)."""
        subs = (req.json() or {}).get("batchRequests") or []
        if not subs or len(subs) > 25:
            return _errors(400, "INVALID_BATCH_REQUEST", "a batch holds 1 to 25 subrequests")
        results = []
        for sub in subs:
            m = re.fullmatch(r"v[\d.]+/sobjects/(\w+)/describe/?", str(sub.get("url", "")).lstrip("/"))
            if sub.get("method") != "GET" or m is None:
                results.append({"statusCode": 400, "result": [{"errorCode": "INVALID_BATCH_REQUEST",
                                                               "message": "only describe is faked"}]})
                continue
            answer = self.describe(Request("GET", "", {}, {}, b"", {"obj": m.group(1)}))
            results.append({"statusCode": answer.status, "result": json.loads(answer.body)})
        return Response.json({"hasErrors": any(r["statusCode"] >= 400 for r in results), "results": results})

    @route("GET", API + r"/query/?", name="query")
    def query(self, req: Request) -> Response:
        return self._query(req, include_deleted=False)

    @route("GET", API + r"/queryAll/?", name="queryAll")
    def query_all(self, req: Request) -> Response:
        return self._query(req, include_deleted=True)

    def _query(self, req: Request, *, include_deleted: bool) -> Response:
        text = req.arg("q") or ""
        try:
            q = Soql(text, self.schema())
        except SoqlError as exc:
            return _errors(400, exc.code, str(exc))
        rows = [r for r in self.objects[q.obj].values() if (include_deleted or not r["IsDeleted"])
                and (q.where is None or q.where(r))]
        for name, desc in reversed(q.order):
            rows.sort(key=lambda r, n=name: _sort_key(r.get(n)), reverse=desc)
        if q.limit is not None:
            rows = rows[:q.limit]
        if q.fields is None:
            return Response.json({"totalSize": len(rows), "done": True, "records": []})
        out = [self._out(q.obj, r, q.fields) for r in rows]
        options = req.headers.get("sforce-query-options", "")
        m = re.search(r"batchSize=(\d+)", options)
        size = min(BATCH_MAX, max(BATCH_MIN, int(m.group(1)))) if m else BATCH_DEFAULT
        endpoint = "queryAll" if include_deleted else "query"
        locator = f"01g{uuid.uuid4().hex[:15]}"
        self.locators[locator] = (endpoint, out, size)
        return Response.json(self._page(locator, 0, req.params["version"]))

    def _page(self, locator: str, offset: int, version: str) -> dict[str, Any]:
        endpoint, rows, size = self.locators[locator]
        page = rows[offset:offset + size]
        done = offset + size >= len(rows)
        body: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": page}
        if not done:
            body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{offset + size}"
        else:
            self.locators.pop(locator, None)
        return body

    @route("GET", API + r"/(?P<endpoint>query|queryAll)/(?P<locator>01g\w+)-(?P<offset>\d+)", name="queryMore")
    def query_more(self, req: Request) -> Response:
        locator, offset = req.params["locator"], int(req.params["offset"])
        if locator not in self.locators:
            return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return Response.json(self._page(locator, offset, req.params["version"]))

    # --- sObject Collections --------------------------------------------------------------------------

    def _collection(self, req: Request) -> tuple[list[dict[str, Any]], bool] | Response:
        body = req.json() or {}
        records = body.get("records")
        if not isinstance(records, list) or not records:
            return _errors(400, "JSON_PARSER_ERROR", "records: a non-empty list is required")
        if len(records) > COLLECTION_MAX:
            return _errors(400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than "
                                                     f"{COLLECTION_MAX} records into this call")
        return records, bool(body.get("allOrNone"))

    def _check_fields(self, obj: str, rec: dict[str, Any], *, creating: bool) -> dict[str, Any] | None:
        known = self.schema().get(obj)
        if known is None:
            return {"statusCode": "INVALID_TYPE", "message": f"invalid type {obj}", "fields": []}
        for f in rec:
            if f in ("attributes", "Id"):
                continue
            if f not in known or f in COMMON:
                return {"statusCode": "INVALID_FIELD", "message": f"No such column '{f}' on sobject of type {obj}",
                        "fields": [f]}
        if creating and obj == "CaseComment" and not rec.get("ParentId"):
            return {"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [ParentId]",
                    "fields": ["ParentId"]}
        for f in ("WhatId", "ParentId"):
            target = rec.get(f)
            if target and not any(target in self.live(o) for o in ("Case", "Account")):
                return {"statusCode": "INVALID_CROSS_REFERENCE_KEY", "message": "invalid cross reference id",
                        "fields": [f]}
        return None

    @staticmethod
    def _values(obj: str, rec: dict[str, Any]) -> dict[str, Any]:
        types = fields_of(obj)
        out = {}
        for f, v in rec.items():
            if f in ("attributes", "Id"):
                continue
            t = types.get(f)
            if v is not None and t == "datetime":
                v = datetime.fromisoformat(str(v).replace("Z", "+00:00").replace("+0000", "+00:00"))
            elif v is not None and t == "date":
                v = date.fromisoformat(str(v)[:10])
            out[f] = v
        return out

    def _write(self, req: Request, op) -> Response:
        parsed = self._collection(req)
        if isinstance(parsed, Response):
            return parsed
        records, all_or_none = parsed
        checks = []
        for rec in records:
            obj = (rec.get("attributes") or {}).get("type")
            checks.append(op(obj, rec, dry=True))
        if all_or_none and any(c is not None for c in checks):
            return Response.json([{"id": None, "success": False, "errors": [c] if c else [
                {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all "
                 "records were valid and the request was using AllOrNone header", "fields": []}]} for c in checks])
        results = []
        for rec, check in zip(records, checks):
            if check is not None:
                results.append({"id": None, "success": False, "errors": [check]})
            else:
                results.append(op((rec.get("attributes") or {}).get("type"), rec, dry=False))
        return Response.json(results)

    @route("POST", API + r"/composite/sobjects/?", name="collections.create")
    def collections_create(self, req: Request) -> Response:
        def op(obj: str, rec: dict[str, Any], dry: bool):
            if dry:
                return self._check_fields(obj, rec, creating=True)
            return {"id": self.insert(obj, self._values(obj, rec)), "success": True, "errors": []}

        return self._write(req, op)

    @route("PATCH", API + r"/composite/sobjects/?", name="collections.update")
    def collections_update(self, req: Request) -> Response:
        def op(obj: str, rec: dict[str, Any], dry: bool):
            if dry:
                if obj not in SCHEMA or rec.get("Id") not in self.objects[obj]:
                    return {"statusCode": "INVALID_ID_FIELD", "message": "invalid record id", "fields": ["Id"]}
                if self.objects[obj][rec["Id"]]["IsDeleted"]:
                    return {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}
                return self._check_fields(obj, rec, creating=False)
            self.update(obj, rec["Id"], self._values(obj, rec))
            return {"id": rec["Id"], "success": True, "errors": []}

        return self._write(req, op)

    @route("PATCH", API + r"/composite/sobjects/(?P<obj>\w+)/(?P<field>\w+)", name="collections.upsert")
    def collections_upsert(self, req: Request) -> Response:
        target, field = req.params["obj"], req.params["field"]
        if (target, field) not in EXTERNAL_IDS or (target, field) in self.missing_fields:
            return _errors(400, "INVALID_FIELD", f"Field {field} is not an External ID or indexed field for {target}")

        def op(obj: str, rec: dict[str, Any], dry: bool):
            if dry:
                if obj != target or not rec.get(field):
                    return {"statusCode": "INVALID_FIELD", "message": f"{field} is required", "fields": [field]}
                return self._check_fields(obj, rec, creating=True)
            match = [i for i, r in self.live(obj).items() if r.get(field) == rec[field]]
            if match:
                self.update(obj, match[0], self._values(obj, rec))
                return {"id": match[0], "success": True, "errors": [], "created": False}
            return {"id": self.insert(obj, self._values(obj, rec)), "success": True, "errors": [], "created": True}

        return self._write(req, op)

    # --- Bulk API 2.0 query jobs --------------------------------------------------------------------

    @route("POST", API + r"/jobs/query/?", name="bulk.create")
    def bulk_create(self, req: Request) -> Response:
        body = req.json() or {}
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            return _errors(400, "INVALIDJOB", f"InvalidJob : operation {operation!r} is not supported")
        try:
            q = Soql(body.get("query") or "", self.schema())
        except SoqlError as exc:
            return _errors(400, exc.code, str(exc))
        if q.fields is None or q.order or q.limit is not None:
            return _errors(400, "INVALIDJOB", "InvalidJob : aggregate functions, ORDER BY and LIMIT are not "
                                              "supported by Bulk API 2.0 query jobs")
        rows = [r for r in self.objects[q.obj].values() if (operation == "queryAll" or not r["IsDeleted"])
                and (q.where is None or q.where(r))]
        job_id = f"750{uuid.uuid4().hex[:15]}"
        # chunked, as the real service does: results come back in no particular order
        rows = sorted(rows, key=lambda r: hash((job_id, r["Id"])))
        self.jobs[job_id] = {"id": job_id, "operation": operation, "object": q.obj, "fields": q.fields,
                             "rows": [{f: _csv_value(r.get(f)) for f in q.fields} for r in rows],
                             "polls": 0, "state": "UploadComplete"}
        return Response.json(self._job_info(job_id))

    def _job_info(self, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        return {"id": job_id, "operation": job["operation"], "object": job["object"],
                "createdById": self.integration_user, "createdDate": sf_datetime(self.clock),
                "systemModstamp": sf_datetime(self.clock), "state": job["state"], "concurrencyMode": "Parallel",
                "contentType": "CSV", "apiVersion": float(self.version), "lineEnding": "LF", "columnDelimiter": "COMMA"}

    @route("GET", API + r"/jobs/query/(?P<job>750\w+)/?", name="bulk.status")
    def bulk_status(self, req: Request) -> Response:
        job = self.jobs.get(req.params["job"])
        if job is None:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        job["polls"] += 1
        job["state"] = "JobComplete" if job["polls"] > self.bulk_polls else "InProgress"
        info = self._job_info(job["id"])
        if job["state"] == "JobComplete":
            info.update(numberRecordsProcessed=len(job["rows"]), retries=0, totalProcessingTime=1)
        return Response.json(info)

    @route("GET", API + r"/jobs/query/(?P<job>750\w+)/results/?", name="bulk.results")
    def bulk_results(self, req: Request) -> Response:
        job = self.jobs.get(req.params["job"])
        if job is None:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        if job["state"] != "JobComplete":
            return _errors(400, "INVALIDJOB", "InvalidJob : the job is not complete")
        size = int(req.arg("maxRecords") or 50_000)
        start = int(req.arg("locator") or 0) if (req.arg("locator") or "").isdigit() else 0
        rows = job["rows"][start:start + size]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=job["fields"], lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
        nxt = start + size
        return Response(200, buf.getvalue().encode(), {
            "Content-Type": "text/csv", "Sforce-NumberOfRecords": str(len(rows)),
            "Sforce-Locator": str(nxt) if nxt < len(job["rows"]) else "null"})

    # --- seeding --------------------------------------------------------------------------------------

    def seed_from_records(self, records: Iterable[Any], *, at: datetime | None = None) -> None:
        """Load ``careplug.model`` records of one source (e.g. ``generate_for_source("salesforce",
        N)``) as Salesforce objects, all stamped ``at`` (a data load: many equal SystemModstamps)."""
        from ...model import Account, Agent, Channel, Conversation, Customer, Direction, Event, EventKind, \
            Message, Task

        records = list(records)
        latest = max((r.created_at for r in records if getattr(r, "created_at", None)), default=self.clock)
        stamp = at or max(self.tick(), latest + timedelta(seconds=1))   # loaded after everything it holds
        status = {"new": "New", "open": "Working", "pending": "Waiting on Customer", "on_hold": "On Hold",
                  "solved": "Closed", "closed": "Closed"}
        priority = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "Critical"}
        origin = {Channel.EMAIL: "Email", Channel.PHONE: "Phone", Channel.CHAT: "Chat", Channel.SOCIAL: "Social",
                  Channel.SMS: "SMS", Channel.WEB_FORM: "Web", Channel.API: "API", Channel.OTHER: "Other"}
        with self.lock:
            for r in records:
                created = r.created_at if getattr(r, "created_at", None) else stamp
                if isinstance(r, Account):
                    self.insert("Account", {"Name": r.name, "OwnerId": r.owner, "Tier__c": r.tier,
                                            "AnnualRevenue": r.value, "Industry": r.segment,
                                            "Website": r.domains[0] if r.domains else None}, id=r.external_id,
                                at=stamp)
                elif isinstance(r, Agent):
                    self.insert("User", {"Name": r.name, "Email": r.email, "IsActive": True, "ManagerId": r.manager,
                                         "UserType": "Standard", "TimeZoneSidKey": r.time_zone,
                                         "Department": (r.groups or [None])[0]}, id=r.external_id, at=stamp)
                elif isinstance(r, Customer):
                    first, _, last = r.name.partition(" ")
                    values = {"FirstName": first, "LastName": last or first, "Email": (r.emails or [None])[0],
                              "Phone": (r.phones or [None])[0], "OwnerId": r.owner}
                    self.insert("Contact", {**values, "AccountId": r.account_id}, id=r.external_id, at=stamp)
                    if r.is_lead:
                        self.insert("Lead", {**values, "Company": "(lead)", "Status": "Open - Not Contacted",
                                             "IsConverted": False}, id="00Q" + r.external_id[3:], at=stamp)
                elif isinstance(r, Conversation):
                    self.insert("Case", {"Subject": r.subject, "Status": status[r.status.value],
                                         "Priority": priority[r.priority.value], "Origin": origin[r.channel],
                                         "OwnerId": r.assignee, "AccountId": r.account_id, "ContactId": r.customer_id,
                                         "ClosedDate": r.solved_at, "CreatedDate": created},
                                id=r.external_id, at=stamp)
                elif isinstance(r, Message):
                    self._seed_message(r, stamp, Channel, Direction)
                elif isinstance(r, Event) and r.type in (EventKind.ASSIGNEE, EventKind.STATUS):
                    field = "Owner" if r.type is EventKind.ASSIGNEE else "Status"
                    conv = lambda v: status.get(v, v) if field == "Status" and v else v  # noqa: E731
                    self.insert("CaseHistory", {"CaseId": r.conversation_id, "Field": field,
                                                "OldValue": conv(r.from_value), "NewValue": conv(r.to_value),
                                                "CreatedDate": r.created_at}, at=stamp, created_by=r.actor)
                elif isinstance(r, Task):
                    self.insert("Task", {"Subject": r.subject, "OwnerId": r.owner, "WhatId": r.conversation_id,
                                         "WhoId": r.customer_id, "ActivityDate": r.due_at.date() if r.due_at else None,
                                         "Status": "Completed" if r.done else "Not Started",
                                         "CompletedDateTime": r.completed_at, "CreatedDate": created,
                                         "TaskSubtype": "Call" if r.type == "call" else "Task"}, at=stamp)
            self.clock = max(self.clock, stamp)

    def _seed_message(self, m: Any, stamp: datetime, Channel: Any, Direction: Any) -> None:
        inbound = m.direction is Direction.INBOUND
        author = None if inbound else m.author
        if m.channel is Channel.PHONE and m.public:
            disposition = None if m.answered_call is not False else "Missed"
            self.insert("Task", {"Subject": "Call", "Description": m.body, "TaskSubtype": "Call",
                                 "CallType": "Inbound" if inbound else "Outbound", "CallDisposition": disposition,
                                 "WhatId": m.conversation_id, "Status": "Completed", "OwnerId": author,
                                 "CompletedDateTime": m.created_at, "CreatedDate": m.created_at}, at=stamp,
                        created_by=author)
        elif m.public and (m.channel in (Channel.EMAIL, Channel.WEB_FORM) or inbound):
            self.insert("EmailMessage", {"ParentId": m.conversation_id, "Incoming": inbound, "TextBody": m.body,
                                         "Subject": "", "MessageDate": m.created_at, "CreatedDate": m.created_at,
                                         "Status": "0" if inbound else "3"}, at=stamp, created_by=author)
        else:
            self.insert("CaseComment", {"ParentId": m.conversation_id, "IsPublished": m.public,
                                        "CommentBody": m.body, "CreatedDate": m.created_at}, at=stamp,
                        created_by=author)


def _soap_fault(code: str, message: str) -> str:
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/"
            "soap/envelope/\" xmlns:sf=\"urn:fault.partner.soap.sforce.com\"><soapenv:Body><soapenv:Fault>"
            f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring><detail>"
            f"<sf:LoginFault><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{escape(message)}"
            "</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>")


def _json_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return sf_datetime(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
