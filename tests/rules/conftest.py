"""Customer journeys for rule scenarios: time-stamped records loaded into a real store.

``journey`` writes records through ``Store.commit_batch`` (as a sync would) and reads a subject's
history back with ``Store.load_history``, so every scenario runs the same path production does.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from careplug.calendar import BusinessCalendar, CalendarOptions
from careplug.model import (
    Account, AuthorRole, Channel, Conversation, Customer, Direction, Event, EventKind, Message,
    Priority, Rating, Status, Task,
)
from careplug.rules.context import RuleContext
from careplug.store import Store

NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime:
    """A New York wall-clock time (the support team's zone in these journeys)."""
    return datetime(*args, tzinfo=NY)


def support_calendar() -> BusinessCalendar:
    """Mon-Fri 09:00-17:00 New York, US public holidays."""
    return BusinessCalendar.from_options(
        CalendarOptions(timezone="America/New_York", hours={"mon-fri": "09:00-17:00"}, country="US"),
        name="support")


def context() -> RuleContext:
    return RuleContext({"support": support_calendar()}, default_calendar="support")


class Journey:
    def __init__(self, store: Store):
        self.store = store
        self.records: list = []
        self._ids = itertools.count(1)

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def customer(self, source="zendesk", id=None, *, email="ada@example.com", name="Ada", **kw) -> Customer:
        c = Customer(source, id or self._id("c"), name=name, emails=[email] if email else [], **kw)
        self.records.append(c)
        return c

    def account(self, source="salesforce", id=None, **kw) -> Account:
        a = Account(source, id or self._id("a"), name="Acme", **kw)
        self.records.append(a)
        return a

    def conversation(self, customer: Customer, at: datetime, *, channel=Channel.EMAIL, status=Status.OPEN,
                     priority=Priority.NORMAL, id=None, subject="Cannot log in", **kw) -> Conversation:
        conv = Conversation(customer.source, id or self._id("t"), customer_id=customer.external_id,
                            channel=channel, status=status, priority=priority, subject=subject,
                            created_at=at, updated_at=at, assignee=kw.pop("assignee", "agent-7"), **kw)
        self.records.append(conv)
        return conv

    def inbound(self, conv: Conversation, at: datetime, body="Hello, I need help", *, channel=None,
                id=None, **kw) -> Message:
        m = Message(conv.source, id or self._id("m"), conversation_id=conv.external_id,
                    direction=Direction.INBOUND, author_role=AuthorRole.CUSTOMER, author=conv.customer_id,
                    channel=channel or conv.channel, created_at=at, body=body, **kw)
        self.records.append(m)
        return m

    def reply(self, conv: Conversation, at: datetime, body="Thanks, looking into it", *, role=AuthorRole.AGENT,
              public=True, channel=None, id=None) -> Message:
        m = Message(conv.source, id or self._id("m"), conversation_id=conv.external_id,
                    direction=Direction.OUTBOUND, author_role=role, author="agent-7", public=public,
                    channel=channel or conv.channel, created_at=at, body=body)
        self.records.append(m)
        return m

    def status(self, conv: Conversation, at: datetime, to: Status, frm: Status | None = None) -> Event:
        e = Event(conv.source, self._id("e"), conversation_id=conv.external_id, type=EventKind.STATUS,
                  from_value=(frm or conv.status).value, to_value=to.value, created_at=at)
        conv.status = to
        conv.updated_at = at
        if to.is_done:
            conv.solved_at = at
        self.records += [e, conv]          # a sync sends the changed conversation with its event
        return e

    def event(self, conv: Conversation, at: datetime, kind: EventKind, frm, to) -> Event:
        e = Event(conv.source, self._id("e"), conversation_id=conv.external_id, type=kind,
                  from_value=frm, to_value=to, created_at=at)
        if kind is EventKind.GROUP:
            conv.group = to
        elif kind is EventKind.ASSIGNEE:
            conv.assignee = to
        self.records += [e, conv]
        return e

    def rating(self, conv: Conversation | None, at: datetime, *, bad=True, score=0.2, customer=None,
               comment="") -> Rating:
        source = conv.source if conv else customer.source
        r = Rating(source, self._id("r"), conversation_id=conv.external_id if conv else None,
                   customer_id=(conv.customer_id if conv else customer.external_id), score=score, bad=bad,
                   comment=comment, created_at=at)
        self.records.append(r)
        return r

    def task(self, *, source="zendesk", at: datetime, done=True, conv=None, customer=None, type="call",
             account_id=None, id=None, subject="Call back") -> Task:
        t = Task(source, id or self._id("k"), subject=subject, conversation_id=conv.external_id if conv else None,
                 customer_id=customer.external_id if customer else None, account_id=account_id, type=type,
                 done=done, completed_at=at if done else None, created_at=at, updated_at=at)
        self.records.append(t)
        return t

    def load(self) -> Store:
        by_source: dict[str, list] = {}
        for r in self.records:
            by_source.setdefault(r.source, []).append(r)
        for source, records in by_source.items():
            self.store.commit_batch(source, "test", records, cursor=None)
        self.records = []
        return self.store

    def history(self, subject: str):
        self.load()
        hist = self.store.load_history(subject)
        assert hist is not None, subject
        return hist


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "care.db"))
    yield s
    s.close()


@pytest.fixture
def journey(store) -> Journey:
    return Journey(store)
