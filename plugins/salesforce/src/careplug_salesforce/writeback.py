"""Nudges → Salesforce: Tasks (and internal CaseComments) carrying the nudge's marker, written through
sObject Collections, 200 records a call.

A task nudge becomes a Task: ``WhatId`` the case (or the account), ``WhoId`` the contact or lead,
``OwnerId`` the person who must act (a user id; else the integration user owns it), ``ActivityDate``
and a reminder at the due time, ``Priority = High`` for escalations, the marker in ``Subject``
(``... [careplug:<key>]``) and ``Description``. A note nudge on a case becomes an internal
(``IsPublished = false``) CaseComment ending with the marker. Cases have no tags: tag nudges become
tasks too.

Exactly once, two ways:

- ``marker_field`` set (an External ID text field on Task): tasks are *upserted* on it
  (``PATCH composite/sobjects/Task/<field>``). Salesforce itself makes a second write of the same
  key an update of the first, and says which ones it ``created``: no lookup call, so 1,000 task
  nudges take 5 calls.
- otherwise: the markers are looked up first (``Subject LIKE '%<first 12 hex of the key>%'`` for
  tasks, about 340 keys per query, the full marker checked here; the
  comment bodies of the cases for notes — long text areas cannot be filtered), then only the
  missing ones are created (``POST composite/sobjects``, ``allOrNone = false``).

A write that fails transiently is never repeated blindly: the markers of its chunk are looked up
again and only what is still missing is written. Closing (``complete``) sets the tasks' ``Status``
to the completed value (``PATCH composite/sobjects``); a CaseComment cannot be closed and is left.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote_plus

from careplug.errors import FatalSourceError, RetriableError
from careplug.nudges.exactly_once import write_missing
from careplug.nudges.model import Action, Nudge, Receipt

from .client import SalesforceClient
from .mapping import is_case_id, is_user_id, soql_datetime

log = logging.getLogger(__name__)

COLLECTION_MAX = 200
#: SOQL travels in the GET query string: keep each lookup's URL-encoded text well below Salesforce's
#: URI limit (16,384 bytes)
MAX_SOQL_BYTES = 14_000
#: hex digits of the key a Subject lookup matches on (48 bits); the full marker is checked here
LOOKUP_DIGITS = 12
SUBJECT_MAX = 255


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _like_escape(value: str) -> str:
    return _quote(value).replace("%", "\\%").replace("_", "\\_")


class WriteBack:
    def __init__(self, client: SalesforceClient, *, source: str, marker_field: str | None = None,
                 completed_status: str = "Completed", instance_url: str | None = None):
        self.client = client
        self.source = source
        self.marker_field = marker_field
        self.completed_status = completed_status
        self.instance_url = instance_url

    # --- what goes where ----------------------------------------------------------------------------

    @staticmethod
    def is_comment(n: Nudge) -> bool:
        return n.action is Action.NOTE and is_case_id(n.conversation_id)

    def task_fields(self, n: Nudge) -> dict[str, Any]:
        tail = f" [{n.marker}]"
        subject = (n.title or "Follow up")[:SUBJECT_MAX - len(tail)] + tail
        who = n.customer_id if n.customer_id and n.customer_id.startswith(("003", "00Q")) else None
        what = n.conversation_id if is_case_id(n.conversation_id) else (
            n.account_id if n.account_id and n.account_id.startswith("001") else None)
        if who and who.startswith("00Q"):
            what = None                                   # a lead's task cannot name a case or account
        rec: dict[str, Any] = {"attributes": {"type": "Task"}, "Subject": subject,
                               "Description": f"{n.body}\n\n{n.marker}".strip(),
                               "Priority": "High" if n.escalation else "Normal", "TaskSubtype": "Task"}
        if what:
            rec["WhatId"] = what
        if who:
            rec["WhoId"] = who
        if is_user_id(n.assignee):
            rec["OwnerId"] = n.assignee
        if n.due_at is not None:
            rec["ActivityDate"] = n.due_at.astimezone(timezone.utc).date().isoformat()
            rec["IsReminderSet"] = True
            rec["ReminderDateTime"] = soql_datetime(n.due_at)
        if self.marker_field:
            rec[self.marker_field] = n.marker
        else:
            rec["Status"] = "Not Started"
        return rec

    @staticmethod
    def comment_fields(n: Nudge) -> dict[str, Any]:
        body = "\n\n".join(p for p in (n.title, n.body) if p)
        return {"attributes": {"type": "CaseComment"}, "ParentId": n.conversation_id, "IsPublished": False,
                "CommentBody": f"{body}\n\n{n.marker}"[-4000:]}

    def _receipt(self, n: Nudge, ref: str | None, existed: bool, now: datetime) -> Receipt:
        obj = "Task" if ref and ref.startswith("00T") else "Case"
        target = ref if obj == "Task" else n.conversation_id
        url = f"{self.instance_url}/lightning/r/{obj}/{target}/view" if self.instance_url and target else None
        return Receipt(n.key, ref, now, existed=existed, url=url)

    # --- lookup -------------------------------------------------------------------------------------

    def find(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        """Receipts (``existed=True``) for the nudges whose marker is already in the org."""
        now = datetime.now(timezone.utc)
        found: dict[str, Receipt] = {}
        tasks = [n for n in nudges if not self.is_comment(n)]
        comments = [n for n in nudges if self.is_comment(n)]
        for n, ref in self._find_tasks(tasks).items():
            found[n] = self._receipt(next(x for x in tasks if x.key == n), ref, True, now)
        for n, ref in self._find_comments(comments).items():
            found[n] = self._receipt(next(x for x in comments if x.key == n), ref, True, now)
        return found

    def _chunks(self, nudges: list[Nudge], clause, base: str, joiner: str = " OR ",
                close: str = ")") -> Iterable[tuple[list[Nudge], str]]:
        """Split ``nudges`` into queries ``base`` + joined clauses + ``close``, each short enough for one GET."""
        chunk: list[Nudge] = []
        parts: list[str] = []
        size = len(quote_plus(base + close))
        for n in nudges:
            part = clause(n)
            cost = len(quote_plus(joiner + part))
            if chunk and size + cost > MAX_SOQL_BYTES:
                yield chunk, base + joiner.join(parts) + close
                chunk, parts, size = [], [], len(quote_plus(base + close))
            chunk.append(n)
            parts.append(part)
            size += cost
        if chunk:
            yield chunk, base + joiner.join(parts) + close

    def _find_tasks(self, nudges: list[Nudge]) -> dict[str, str]:
        out: dict[str, str] = {}
        if not nudges:
            return out
        by_marker = {n.marker: n.key for n in nudges}
        if self.marker_field:
            f = self.marker_field
            base = f"SELECT Id, {f} FROM Task WHERE ({f} IN ("
            for chunk, soql in self._chunks(nudges, lambda n: f"'{_quote(n.marker)}'", base, ", ", "))"):
                for row in self._rows(soql):
                    key = by_marker.get(str(row.get(f)))
                    if key:
                        out.setdefault(key, str(row["Id"]))
            return out
        base = "SELECT Id, Subject FROM Task WHERE ("
        for chunk, soql in self._chunks(nudges, lambda n: f"Subject LIKE '%{_like_escape(n.key[:LOOKUP_DIGITS])}%'",
                                          base):
            for row in self._rows(soql):
                subject = str(row.get("Subject") or "")
                for marker, key in by_marker.items():
                    if marker in subject:
                        out.setdefault(key, str(row["Id"]))
        return out

    def _find_comments(self, nudges: list[Nudge]) -> dict[str, str]:
        out: dict[str, str] = {}
        if not nudges:
            return out
        by_case: dict[str, list[Nudge]] = {}
        for n in nudges:
            by_case.setdefault(str(n.conversation_id), []).append(n)
        base = "SELECT Id, ParentId, CommentBody FROM CaseComment WHERE IsPublished = false AND ("
        cases = [Nudge(key=c, finding_key="", stage="", action=Action.NOTE, target="", title="",
                       conversation_id=c) for c in by_case]
        for _, soql in self._chunks(cases, lambda n: f"ParentId = '{_quote(str(n.conversation_id))}'", base):
            for row in self._rows(soql):
                body = str(row.get("CommentBody") or "")
                for n in by_case.get(str(row.get("ParentId")), []):
                    if n.marker in body:
                        out.setdefault(n.key, str(row["Id"]))
        return out

    def _rows(self, soql: str) -> list[dict[str, Any]]:
        return [r for page in self.client.query_pages(soql, include_deleted=False, stream="nudges") for r in page]

    # --- delivery -----------------------------------------------------------------------------------

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        now = datetime.now(timezone.utc)
        receipts: dict[str, Receipt] = {}
        upserts = [n for n in nudges if self.marker_field and not self.is_comment(n)]
        creates = [n for n in nudges if n not in upserts]
        for i in range(0, len(upserts), COLLECTION_MAX):
            receipts.update(self._upsert(upserts[i:i + COLLECTION_MAX], now))
        if creates:
            receipts.update(self.find(creates))
            todo = [n for n in creates if n.key not in receipts]
            for i in range(0, len(todo), COLLECTION_MAX):
                receipts.update(self._create(todo[i:i + COLLECTION_MAX], now))
        return [receipts[n.key] for n in nudges]

    def _attempts(self, chunk: list[Nudge], write, now: datetime) -> dict[str, Receipt]:
        """Write ``chunk``; after a transient failure look its markers up and write only the rest (an
        upsert of tasks by the marker field is idempotent by itself: it is sent again as it is)."""
        client = self.client

        def pause(attempt: int, exc: RetriableError) -> None:
            client.pause(exc.retry_after or client.backoff * 2 ** (attempt - 1))

        idempotent = bool(self.marker_field) and not any(self.is_comment(n) for n in chunk)
        return write_missing(chunk, lambda todo: write(todo, now), look_up=None if idempotent else self.find,
                             attempts=client.max_attempts, pause=pause, log=log)

    def _create(self, chunk: list[Nudge], now: datetime) -> dict[str, Receipt]:
        def write(todo: list[Nudge], now: datetime) -> dict[str, Receipt]:
            records = [self.comment_fields(n) if self.is_comment(n) else self.task_fields(n) for n in todo]
            results = self.client.collection("POST", {"allOrNone": False, "records": records}, stream="nudges")
            return self._results(todo, results, now, created=lambda r: True)

        return self._attempts(chunk, write, now)

    def _upsert(self, chunk: list[Nudge], now: datetime) -> dict[str, Receipt]:
        def write(todo: list[Nudge], now: datetime) -> dict[str, Receipt]:
            records = [self.task_fields(n) for n in todo]
            results = self.client.collection("PATCH", {"allOrNone": False, "records": records},
                                             path=f"composite/sobjects/Task/{self.marker_field}", stream="nudges")
            return self._results(todo, results, now, created=lambda r: bool(r.get("created", True)))

        return self._attempts(chunk, write, now)

    def _results(self, todo: list[Nudge], results: list[dict[str, Any]], now: datetime, created) -> dict[str, Receipt]:
        out: dict[str, Receipt] = {}
        failed: list[str] = []
        for n, r in zip(todo, results):
            if r.get("success"):
                out[n.key] = self._receipt(n, str(r.get("id")), not created(r), now)
            else:
                err = (r.get("errors") or [{}])[0]
                failed.append(f"{n.key}: {err.get('statusCode')} {str(err.get('message'))[:120]}")
        if failed or len(results) != len(todo):
            raise FatalSourceError(f"collections: Salesforce refused {len(failed)} of {len(todo)} nudge records "
                                   f"({'; '.join(failed[:3])}); the others were written and are found by marker on "
                                   "the next attempt", source=self.source, stream="nudges")
        return out

    # --- closing ------------------------------------------------------------------------------------

    def complete(self, nudges: list[Nudge]) -> None:
        """Mark the Tasks of these nudges completed (looked up by marker when the id is unknown)."""
        refs = {n.key: n.external_ref for n in nudges if n.external_ref}
        unknown = [n for n in nudges if not n.external_ref and not self.is_comment(n)]
        if unknown:
            refs.update({k: r.external_ref for k, r in self.find(unknown).items()})
        ids = sorted({r for r in refs.values() if r and r.startswith("00T")})
        for i in range(0, len(ids), COLLECTION_MAX):
            records = [{"attributes": {"type": "Task"}, "Id": rid, "Status": self.completed_status}
                       for rid in ids[i:i + COLLECTION_MAX]]
            results = self.client.collection("PATCH", {"allOrNone": False, "records": records}, stream="nudges")
            bad = [r for r in results if not r.get("success") and
                   (r.get("errors") or [{}])[0].get("statusCode") not in ("ENTITY_IS_DELETED", "INVALID_ID_FIELD")]
            if bad:
                raise FatalSourceError(f"collections: {len(bad)} tasks could not be completed: "
                                       f"{(bad[0].get('errors') or [{}])[0].get('message')}", source=self.source,
                                       stream="nudges")
