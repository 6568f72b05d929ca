"""Nudges → HubSpot tasks and notes, exactly once.

A task nudge becomes a task (``POST /crm/v3/objects/tasks/batch/create``, up to 100 per call)
associated with the ticket, the contact and the company, owned by who must act
(``hubspot_owner_id``), due at ``hs_timestamp``, with the marker (``careplug:<key>``) at the end
of ``hs_task_body`` and in the marker property (default ``careplug_marker``, a single-line text
property on tasks and notes). Notes (and tag nudges, HubSpot tickets having no tags) become notes
the same way. Before any write, the markers are looked up with search ``IN`` filters — 5 filter
groups x 100 values, so one search covers 500 nudges; 1,000 task nudges cost 2 searches and 10
creates. Without a marker property, the lookup falls back to ``CONTAINS_TOKEN`` on the body (5
markers per search). HubSpot does not promise the order of batch results, so created objects are
matched back to nudges by their marker. Cancelling completes the tasks (``hs_task_status =
COMPLETED``, batch update, 100 per call); notes stay, they are history.

A create is never repeated blindly: when its answer is lost (a timeout, a 5xx, a dropped
connection) HubSpot may have created the objects. Search cannot tell — its index trails writes
by seconds — so the markers are read back from the objects themselves: the tasks (or notes)
associated with each nudge's ticket, contact or company (v4 associations), then their marker
(batch read by id); only nudges still missing are created again. A nudge with nothing to
associate with can only be looked up by search, which may miss an object created seconds before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from careplug.errors import DeliveryError, RetriableError
from careplug.nudges.exactly_once import write_missing
from careplug.nudges.model import MARKER_PREFIX, Action, Nudge, Receipt

from .client import HubSpotClient

log = logging.getLogger(__name__)

BATCH = 100
ASSOCIATION_BATCH = 1000
IN_VALUES = 100
FILTER_GROUPS = 5
#: (object type, to type) -> HubSpot-defined association type id
ASSOCIATION_TYPES = {("tasks", "tickets"): 230, ("tasks", "contacts"): 204, ("tasks", "companies"): 192,
                     ("notes", "tickets"): 228, ("notes", "contacts"): 202, ("notes", "companies"): 190}


def object_type(nudge: Nudge) -> str:
    return "tasks" if nudge.action is Action.TASK else "notes"


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def associations(nudge: Nudge, kind: str) -> list[dict[str, Any]]:
    """Associations for a nudge's object: the ticket, the contact, the company (HubSpot ids only)."""
    targets: list[tuple[str, str]] = []
    conv = nudge.conversation_id or ""
    if conv.isdigit():
        targets.append(("tickets", conv))
    contact = nudge.customer_id or (conv.removeprefix("contact:") if conv.startswith("contact:") else None)
    if contact and contact.isdigit():
        targets.append(("contacts", contact))
    if nudge.account_id and nudge.account_id.isdigit():
        targets.append(("companies", nudge.account_id))
    return [{"to": {"id": oid}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                           "associationTypeId": ASSOCIATION_TYPES[(kind, to)]}]}
            for to, oid in targets]


def object_input(nudge: Nudge, *, marker_property: str | None, now: datetime) -> dict[str, Any]:
    kind = object_type(nudge)
    text = "\n\n".join(p for p in (nudge.body, nudge.marker) if p)
    if kind == "tasks":
        props: dict[str, Any] = {"hs_task_subject": nudge.title[:255], "hs_task_body": text,
                                 "hs_task_status": "NOT_STARTED", "hs_task_type": "TODO",
                                 "hs_task_priority": "HIGH" if nudge.escalation else "MEDIUM",
                                 "hs_timestamp": _iso(nudge.due_at or now)}
    else:
        title = nudge.title if nudge.action is not Action.TAG else f"Tagged: {', '.join(nudge.tags) or nudge.title}"
        props = {"hs_note_body": f"{title}\n\n{text}", "hs_timestamp": _iso(now)}
    if nudge.assignee and str(nudge.assignee).isdigit():
        props["hubspot_owner_id"] = str(nudge.assignee)
    if marker_property:
        props[marker_property] = nudge.marker
    return {"properties": props, "associations": associations(nudge, kind)}


def _marker_in(text: str | None) -> str | None:
    for token in (text or "").split():
        if token.startswith(MARKER_PREFIX):
            return token
    return None


class WriteBack:
    def __init__(self, client: HubSpotClient, *, marker_property: str | None, stream: str = "writeback"):
        self.client = client
        self.marker_property = marker_property
        self.stream = stream

    # --- lookup -------------------------------------------------------------------------------------

    def find(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        """Receipts (``existed=True``) for nudges whose marker is already on a task or note."""
        found: dict[str, Receipt] = {}
        by_marker = {n.marker: n for n in nudges}
        for kind in ("tasks", "notes"):
            markers = [n.marker for n in nudges if object_type(n) == kind]
            for marker, oid in self._lookup(kind, markers).items():
                nudge = by_marker[marker]
                found[nudge.key] = Receipt(nudge.key, oid, datetime.now(timezone.utc), existed=True)
        return found

    def _lookup(self, kind: str, markers: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        body_prop = "hs_task_body" if kind == "tasks" else "hs_note_body"
        if self.marker_property:
            per_call = IN_VALUES * FILTER_GROUPS
            groups_of = lambda chunk: [{"filters": [{"propertyName": self.marker_property, "operator": "IN",  # noqa: E731
                                                     "values": part}]} for part in _chunks(chunk, IN_VALUES)]
        else:
            per_call = FILTER_GROUPS
            groups_of = lambda chunk: [{"filters": [{"propertyName": body_prop, "operator": "CONTAINS_TOKEN",  # noqa: E731
                                                     "value": m}]} for m in chunk]
        wanted = set(markers)
        for chunk in _chunks(markers, per_call):
            after: str | None = None
            while True:
                body: dict[str, Any] = {"filterGroups": groups_of(chunk), "limit": 200,
                                        "properties": [p for p in (self.marker_property, body_prop) if p]}
                if after:
                    body["after"] = after
                data = self.client.search(kind, body, stream=self.stream)
                for obj in data.get("results") or []:
                    props = obj.get("properties") or {}
                    marker = (props.get(self.marker_property) if self.marker_property else None) \
                        or _marker_in(props.get(body_prop))
                    if marker in wanted:
                        out.setdefault(marker, str(obj["id"]))
                after = ((data.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        return out

    def _read_back(self, kind: str, nudges: list[Nudge]) -> dict[str, Receipt]:
        """Receipts for nudges whose object exists, looked up *without* the search index (which
        trails writes): the ``kind`` objects associated with each nudge's ticket (else contact,
        else company) — v4 associations, then a batch read of their marker. Nudges with nothing
        to associate with can only be searched for."""
        anchors: dict[str, dict[str, list[Nudge]]] = {}
        loose: list[Nudge] = []
        for n in nudges:
            targets = associations(n, kind)
            if not targets:
                loose.append(n)
                continue
            to_type = next(t for (k, t), tid in ASSOCIATION_TYPES.items()
                           if k == kind and tid == targets[0]["types"][0]["associationTypeId"])
            anchors.setdefault(to_type, {}).setdefault(str(targets[0]["to"]["id"]), []).append(n)
        candidates: set[str] = set()
        for to_type, by_id in anchors.items():
            candidates |= self._associated(to_type, kind, sorted(by_id))
        wanted = {n.marker: n for n in nudges}
        found: dict[str, Receipt] = {}
        body_prop = "hs_task_body" if kind == "tasks" else "hs_note_body"
        props = [p for p in (self.marker_property, body_prop) if p]
        for chunk in _chunks(sorted(candidates, key=lambda i: (len(i), i)), BATCH):
            for obj in self.client.batch_read(kind, chunk, props, stream=self.stream).get("results") or []:
                nudge = wanted.get(self._marker_of(obj, body_prop) or "")
                if nudge is not None and nudge.key not in found:
                    found[nudge.key] = Receipt(nudge.key, str(obj["id"]), datetime.now(timezone.utc), existed=True)
        if loose:
            found.update(self.find(loose))
        return found

    def _associated(self, from_type: str, to_type: str, ids: list[str]) -> set[str]:
        """Every ``to_type`` id associated with ``ids`` (1,000 ids a call, following each id's pages)."""
        out: set[str] = set()
        pending = [{"id": i} for i in ids]
        while pending:
            chunk, pending = pending[:ASSOCIATION_BATCH], pending[ASSOCIATION_BATCH:]
            data = self.client.associations(from_type, to_type, chunk, stream=self.stream)
            for result in data.get("results") or []:
                out |= {str(t.get("toObjectId")) for t in result.get("to") or []}
                after = ((result.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    pending.append({"id": str((result.get("from") or {}).get("id")), "after": after})
        return out

    def _marker_of(self, obj: dict[str, Any], body_prop: str) -> str | None:
        props = obj.get("properties") or {}
        return (props.get(self.marker_property) if self.marker_property else None) or _marker_in(props.get(body_prop))

    # --- write --------------------------------------------------------------------------------------

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        existing = self.find(nudges)
        now = datetime.now(timezone.utc)
        created: dict[str, Receipt] = {}
        for kind in ("tasks", "notes"):
            todo = [n for n in nudges if object_type(n) == kind and n.key not in existing]
            for chunk in _chunks(todo, BATCH):
                created.update(self._attempts(kind, chunk, now))
        missing = [n.key for n in nudges if n.key not in existing and n.key not in created]
        if missing:
            raise DeliveryError(f"HubSpot did not confirm {len(missing)} of {len(nudges)} objects "
                                f"(e.g. nudge {missing[0]}); they are looked up by marker on the next run")
        return [existing.get(n.key) or created[n.key] for n in nudges]

    def _attempts(self, kind: str, chunk: list[Nudge], now: datetime) -> dict[str, Receipt]:
        """Create ``chunk``; after a failure that may hide a write (a timeout, a 5xx, a lost answer)
        read its markers back (``_read_back``: not search, whose index trails writes) and create only
        what is still missing."""
        client = self.client

        def pause(attempt: int, exc: RetriableError) -> None:
            client.pause(exc.retry_after or client.backoff * 2 ** (attempt - 1))

        return write_missing(chunk, lambda todo: self._create(kind, todo, now),
                             look_up=lambda todo: self._read_back(kind, todo), attempts=client.max_attempts,
                             pause=pause, log=log)

    def _create(self, kind: str, todo: list[Nudge], now: datetime) -> dict[str, Receipt]:
        data = self.client.batch_create(kind, [object_input(n, marker_property=self.marker_property, now=now)
                                               for n in todo], stream=self.stream)
        by_marker = {n.marker: n for n in todo}
        body_prop = "hs_task_body" if kind == "tasks" else "hs_note_body"
        created: dict[str, Receipt] = {}
        for obj in data.get("results") or []:
            nudge = by_marker.get(self._marker_of(obj, body_prop) or "")
            if nudge is not None:
                created[nudge.key] = Receipt(nudge.key, str(obj["id"]), now)
        return created

    def complete(self, nudges: list[Nudge]) -> None:
        ids = [n.external_ref for n in nudges if object_type(n) == "tasks" and n.external_ref]
        for chunk in _chunks(ids, BATCH):
            self.client.batch_update("tasks", [{"id": i, "properties": {"hs_task_status": "COMPLETED"}}
                                               for i in chunk], stream=self.stream)
