"""Nudges → Zendesk, exactly once. Zendesk has no task object, so:

- a **task** nudge (the default: "someone must act by then") becomes a **follow-up ticket** of
  ``type: "task"`` with ``due_at``, assigned to who must act (``assignee_id``), tagged
  ``careplug_nudge``, whose only comment is an *internal* note (the nudge's text, a link to the
  conversation's ticket and the marker). Its ``external_id`` is the marker (``careplug:<key>``).
  The requester is the assignee (or, without one, the API user), so no customer is ever emailed.
  Why a ticket and not a note: it lands in the agent's own views ("My tickets", "Tasks due
  soon"), has a due date Zendesk shows and sorts by, can be escalated by reassigning, and is
  closed by solving it — the life cycle of a to-do;
- a **note** or **tag** nudge becomes an internal note on the conversation's ticket plus the tags
  ``careplug_nudge`` and ``careplug_<key>`` (and the nudge's own tags), in one ticket update, so the
  note and its marker tag land together or not at all.

Idempotency: before writing, markers are looked up on the conversations' tickets
(``tickets/show_many.json``, 100 tickets a call): a note's marker tag says it is there. A
follow-up is created in two steps — first the conversation's ticket gets the marker tag
``careplug_<key>`` (an *intent*: it also shows agents that a follow-up exists), then the follow-up
ticket is created — so a follow-up can exist only where its tag is; only for those (in practice:
after a crash mid-delivery) is it looked up by ``GET /api/v2/tickets.json?external_id=<marker>``,
one call each (that filter reads the database, not the search index, so a write made a moment ago
is found; Zendesk search is eventually consistent and never used for idempotency). Follow-ups with
no conversation are always looked up that way.

Writes are bulk: ``tickets/create_many.json`` and ``tickets/update_many.json`` (100 tickets a
call, asynchronous: careplug polls ``job_statuses/{id}.json`` until the job completes). A ticket
appears at most once per bulk call (Zendesk would apply two updates of one ticket in an unknown
order).

A write is never repeated blindly: after a lost answer (timeout, dropped connection, 5xx, 429) the
job may still be queued in Zendesk. careplug waits until ``job_statuses.json`` lists no unfinished
job, looks the markers up again (as above: tags, then ``external_id``) and writes only what is
missing. Adding or removing tags (the intents, untagging) may be sent twice and is retried as is. Closing (the finding cleared): follow-up tickets are solved; notes stay (they are history)
and their ticket loses the ``careplug_nudge`` tag.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from careplug.errors import DeliveryError, RetriableError
from careplug.nudges.exactly_once import write_missing
from careplug.nudges.model import Action, Nudge, Receipt
from zenpy.lib.api_objects import Comment, Ticket

from .client import ZendeskClient

log = logging.getLogger(__name__)

BULK = 100


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def marker_tag(nudge: Nudge) -> str:
    """The tag carrying a note's idempotency key (tags allow letters, digits and ``_``)."""
    return f"careplug_{nudge.key}"


def _ticket_id(value: str | None) -> int | None:
    return int(value) if value and str(value).isdigit() else None


def is_followup(nudge: Nudge) -> bool:
    """Task nudges, and notes or tags with no ticket to write on, become follow-up tickets."""
    return nudge.action is Action.TASK or _ticket_id(nudge.conversation_id) is None


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class WriteBack:
    def __init__(self, client: ZendeskClient, options: Any, *, source: str, stream: str = "writeback"):
        self.client = client
        self.o = options
        self.source = source
        self.stream = stream
        self.web = f"https://{options.subdomain}.zendesk.com"

    def _url(self, ticket_id: Any) -> str:
        return f"{self.web}/agent/tickets/{ticket_id}"

    # --- lookup ---------------------------------------------------------------------------------

    def find(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        """Receipts (``existed=True``) for nudges whose marker is already in Zendesk."""
        now = datetime.now(timezone.utc)
        found: dict[str, Receipt] = {}
        ids = sorted({_ticket_id(n.conversation_id) for n in nudges} - {None})
        tags: dict[int, set[str]] = {}
        for chunk in _chunks(ids, BULK):
            for t in self.client.show_many(chunk, stream=self.stream):
                tags[int(t["id"])] = set(t.get("tags") or [])
        for n in nudges:
            tid = _ticket_id(n.conversation_id)
            tagged = tid in tags and marker_tag(n) in tags[tid]
            if not is_followup(n):
                if tagged:
                    found[n.key] = Receipt(n.key, str(tid), now, existed=True, url=self._url(tid))
            elif tagged or tid is None:
                # the intent tag is written before the follow-up: only then can the follow-up exist
                tickets = [t for t in self.client.tickets_by_external_id(n.marker, stream=self.stream)
                           if t.get("external_id") == n.marker]
                if tickets:
                    fid = min(t["id"] for t in tickets)
                    found[n.key] = Receipt(n.key, str(fid), now, existed=True, url=self._url(fid))
        return found

    # --- write ----------------------------------------------------------------------------------

    def _note_text(self, n: Nudge) -> str:
        parts = [n.title, n.body]
        if n.conversation_id and is_followup(n) and _ticket_id(n.conversation_id):
            parts.append(f"Conversation: #{n.conversation_id} {self._url(n.conversation_id)}")
        if n.due_at:
            parts.append(f"Due: {_iso(n.due_at)}")
        parts.append(n.marker)
        return "\n\n".join(p for p in parts if p)

    def _followup(self, n: Nudge) -> Ticket:
        assignee = _ticket_id(n.assignee)
        fields: dict[str, Any] = dict(
            subject=f"Follow up: {n.title}"[:250], type="task", external_id=n.marker,
            priority="high" if n.escalation else "normal", tags=[self.o.task_tag],
            comment=Comment(body=self._note_text(n), public=False))
        if n.due_at:
            fields["due_at"] = _iso(n.due_at)
        if assignee:
            fields["assignee_id"] = assignee
        requester = assignee if self.o.task_requester == "assignee" else _ticket_id(n.customer_id)
        if requester:
            fields["requester_id"] = requester
        return Ticket(**fields)

    def _intent(self, n: Nudge) -> Ticket:
        """The marker tag on the conversation's ticket, written before its follow-up is created."""
        return Ticket(id=_ticket_id(n.conversation_id), additional_tags=[self.o.task_tag, marker_tag(n)])

    def _note(self, n: Nudge) -> Ticket:
        tags = [self.o.task_tag, marker_tag(n), *(n.tags if n.action is Action.TAG else [])]
        return Ticket(id=_ticket_id(n.conversation_id), comment=Comment(body=self._note_text(n), public=False),
                      additional_tags=tags)

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        existing = self.find(nudges)
        todo = [n for n in nudges if n.key not in existing]
        created: dict[str, Receipt] = {}
        followups = [n for n in todo if is_followup(n)]
        for batch in self._distinct_tickets([n for n in followups if _ticket_id(n.conversation_id)]):
            # adding tags twice changes nothing: this write may be retried blindly
            self._finish(self.client.update_many([self._intent(n) for n in batch], stream=self.stream,
                                                 idempotent=True))
        for chunk in _chunks(followups, BULK):
            created.update(self._attempts(chunk, self._create_followups))
        for batch in self._distinct_tickets([n for n in todo if not is_followup(n)]):
            created.update(self._attempts(batch, self._write_notes))
        missing = [n.key for n in nudges if n.key not in existing and n.key not in created]
        if missing:
            raise DeliveryError(f"{self.source}: Zendesk did not confirm {len(missing)} of {len(nudges)} writes "
                                f"(e.g. nudge {missing[0]}); their markers are looked up on the next run")
        return [existing.get(n.key) or created[n.key] for n in nudges]

    def _create_followups(self, chunk: list[Nudge]) -> dict[str, Receipt]:
        now = datetime.now(timezone.utc)
        job = self._finish(self.client.create_many([self._followup(n) for n in chunk], stream=self.stream))
        created: dict[str, Receipt] = {}
        for result in job.get("results") or []:
            index, tid = result.get("index"), result.get("id")
            if isinstance(index, int) and 0 <= index < len(chunk) and tid:
                n = chunk[index]
                created[n.key] = Receipt(n.key, str(tid), now, url=self._url(tid))
        return created

    def _write_notes(self, batch: list[Nudge]) -> dict[str, Receipt]:
        now = datetime.now(timezone.utc)
        job = self._finish(self.client.update_many([self._note(n) for n in batch], stream=self.stream))
        ok = {int(r["id"]) for r in job.get("results") or [] if r.get("id") and r.get("success") is not False}
        return {n.key: Receipt(n.key, str(tid), now, url=self._url(tid))
                for n in batch if (tid := _ticket_id(n.conversation_id)) in ok}

    def _attempts(self, todo: list[Nudge], write, lookup=None) -> dict[str, Receipt]:
        """Write ``todo``; after a failure that may hide the write (a timeout, a dropped connection,
        a 5xx, a 429) wait until Zendesk has no bulk job left to run, look the markers up again,
        and write only what is still missing."""
        client = self.client

        def pause(attempt: int, exc: RetriableError) -> None:
            wait = exc.retry_after or client.backoff * 2 ** (attempt - 1)
            client.sleep(min(wait, client.max_retry_wait))
            self._settle()

        return write_missing(todo, write, look_up=lookup or self.find, attempts=client.max_attempts, pause=pause,
                             log=log)

    def _settle(self) -> None:
        """Wait until ``job_statuses.json`` lists no job queued or working: a lost bulk request may
        be one of them, and its writes are not there until it has run."""
        for _ in range(self.o.job_poll_attempts):
            if not self.client.unfinished_jobs(stream=self.stream):
                return
            time.sleep(self.o.job_poll_interval)
        raise DeliveryError(f"{self.source}: Zendesk still lists unfinished bulk jobs after "
                            f"{self.o.job_poll_attempts} polls; not writing again now (a lost write may be one of "
                            f"them); the markers are looked up on the next run")

    @staticmethod
    def _distinct_tickets(notes: list[Nudge]) -> Iterator[list[Nudge]]:
        """Batches of at most 100 notes, no ticket twice in one batch."""
        pending = list(notes)
        while pending:
            batch, seen, rest = [], set(), []
            for n in pending:
                if n.conversation_id in seen or len(batch) >= BULK:
                    rest.append(n)
                else:
                    seen.add(n.conversation_id)
                    batch.append(n)
            yield batch
            pending = rest

    def _finish(self, job: Any) -> dict[str, Any]:
        """Poll a bulk job until Zendesk reports it completed; its results."""
        job_id = getattr(job, "id", None) or (job.get("id") if isinstance(job, dict) else None)
        if not job_id:
            raise DeliveryError(f"{self.source}: Zendesk's bulk answer carried no job status")
        for attempt in range(self.o.job_poll_attempts):
            status = self.client.job_status(job_id, stream=self.stream)
            if status.get("status") == "completed":
                return status
            if status.get("status") in ("failed", "killed"):
                raise DeliveryError(f"{self.source}: Zendesk job {job_id} {status.get('status')}: "
                                    f"{status.get('message') or 'no message'}")
            time.sleep(self.o.job_poll_interval)
        raise DeliveryError(f"{self.source}: Zendesk job {job_id} did not complete after "
                            f"{self.o.job_poll_attempts} polls; the markers are looked up on the next run")

    # --- close ----------------------------------------------------------------------------------

    def close(self, nudges: list[Nudge]) -> None:
        """The findings cleared: solve follow-up tickets; untag tickets with notes. Untagging may be
        sent twice; a solve carries a comment, so after a lost answer the tickets are read again and
        only those not solved yet are solved."""
        solves: list[Nudge] = []
        untags: list[Ticket] = []
        seen: set[int] = set()
        for n in nudges:
            tid = _ticket_id(n.external_ref)
            if tid is None or tid in seen:
                continue
            seen.add(tid)
            if is_followup(n):
                solves.append(n)
            else:
                untags.append(Ticket(id=tid, remove_tags=[self.o.task_tag]))
        for chunk in _chunks(solves, BULK):
            self._attempts(chunk, self._solve, self._solved)
        for tickets in _chunks(untags, BULK):
            self._finish(self.client.update_many(tickets, stream=self.stream, idempotent=True))

    def _solve(self, chunk: list[Nudge]) -> dict[str, Receipt]:
        self._finish(self.client.update_many([Ticket(id=_ticket_id(n.external_ref), status="solved", comment=Comment(
            body=f"careplug: the finding cleared; closing this follow-up. {n.marker}", public=False))
            for n in chunk], stream=self.stream))
        return {}

    def _solved(self, chunk: list[Nudge]) -> dict[str, Receipt]:
        """The follow-ups of ``chunk`` already solved or closed (or gone)."""
        now = datetime.now(timezone.utc)
        ids = [tid for n in chunk if (tid := _ticket_id(n.external_ref)) is not None]
        open_ = {int(t["id"]) for t in self.client.show_many(ids, stream=self.stream)
                 if t.get("status") not in ("solved", "closed")}
        return {n.key: Receipt(n.key, str(n.external_ref), now, existed=True)
                for n in chunk if _ticket_id(n.external_ref) not in open_}
