"""Relationship history: everything careplug knows about a subject, across every source.

``History`` is what rules read (one subject at a time); ``TimelineItem`` is one line of the
timeline ``careplug history`` prints for a customer, merged from the store and from plugins
(``careplug_relationship_history``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .finding import subject_key
from .model import (Account, Agent, Conversation, Customer, Event, IdentityKind, Message, Rating, Task,
                    normalize_identity)


@dataclass(slots=True)
class History:
    """The history of one subject.

    For a conversation subject: that conversation, its messages, events, ratings and tasks, and
    its customer (with every linked customer record). For a customer subject: all of the
    customer's conversations in every source with their children, and its customer-level ratings
    and tasks (no conversation). For an account subject: the account, its customers (the records
    naming the account, and every record linked to the same uids in other sources), all their
    conversations in every source and the conversations stamped with the account, with their
    children, the customers' customer-level ratings and tasks, and the ratings and tasks on no
    conversation stamped with the account (a call logged on the account; ``customer_uid`` is None).
    One of those that names no customer is in no customer's history. Lists are sorted by
    ``created_at``.
    """

    subject: str
    customer_uid: str | None = None
    customers: list[Customer] = field(default_factory=list)      # linked records, one per source
    account: Account | None = None
    conversations: list[Conversation] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    agents: dict[str, Agent] = field(default_factory=dict)
    """By ``"source:external_id"``: the assignees of its conversations and the authors of its agents'
    messages that the store knows (``store.agents``)."""

    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    """Derived values rules share (``memoized``). A history is read-only once rules see it."""

    @property
    def conversation(self) -> Conversation | None:
        """The conversation of a conversation subject (the first one otherwise)."""
        return self.conversations[0] if self.conversations else None

    def memoized(self, key: Any, compute: Any) -> Any:
        """``compute()`` once per history: rules that read the same derived facts (a
        conversation's touches, its pauses) share one computation."""
        try:
            return self.memo[key]
        except KeyError:
            value = self.memo[key] = compute()
            return value

    def grouped(self, name: str) -> dict[tuple[str, str | None], list]:
        """``messages``, ``events``, ``ratings`` or ``tasks`` by ``(source, conversation_id)``, in
        time order; computed once (the lists are shared: do not modify them)."""
        key = ("grouped", name)
        memo = self.memo
        if key in memo:
            return memo[key]
        out: dict[tuple[str, str | None], list] = {}
        for r in getattr(self, name):
            k = (r.source, r.conversation_id)
            if k in out:
                out[k].append(r)
            else:
                out[k] = [r]
        memo[key] = out
        return out

    def messages_of(self, conversation: Conversation) -> list[Message]:
        """The conversation's messages, in time order (a new list)."""
        return list(self.grouped("messages").get((conversation.source, conversation.external_id), ()))

    def events_of(self, conversation: Conversation) -> list[Event]:
        """The conversation's events, in time order (a new list)."""
        return list(self.grouped("events").get((conversation.source, conversation.external_id), ()))

    def tier(self) -> str | None:
        """The customer's tier: the account's, else the first customer record that has one."""
        if self.account and self.account.tier:
            return self.account.tier
        return next((c.tier for c in self.customers if c.tier), None)


@dataclass(slots=True)
class TimelineItem:
    """One line of a customer's timeline."""

    at: datetime
    source: str
    kind: str                  # "message", "event", "rating", "task", "conversation", or a plugin's own
    summary: str
    channel: str | None = None
    direction: str | None = None
    conversation_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Timeline:
    """A customer's relationship history as ``careplug history`` shows it."""

    uid: str
    links: list[dict[str, str]]
    items: list[TimelineItem]
    findings: list[Any] = field(default_factory=list)     # open and resolved, on the customer and its conversations

    def as_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "links": self.links,
            "items": [{"at": i.at.isoformat(), "source": i.source, "kind": i.kind, "summary": i.summary,
                       "channel": i.channel, "direction": i.direction, "conversation_id": i.conversation_id}
                      for i in self.items],
            "findings": [{"key": f.key, "rule": f.rule, "stage": f.stage, "summary": f.summary,
                          "started_at": f.started_at.isoformat(),
                          "resolved_at": f.resolved_at.isoformat() if f.resolved_at else None} for f in self.findings],
        }


def history_items(history: History) -> list[TimelineItem]:
    """The store's part of a timeline: every conversation, message, event, rating and task."""
    items: list[TimelineItem] = []
    for c in history.conversations:
        if c.created_at:
            items.append(TimelineItem(c.created_at, c.source, "conversation",
                                      f"opened #{c.external_id} “{c.subject}” ({c.status.value}, {c.priority.value})",
                                      c.channel.value, None, c.external_id))
    for m in history.messages:
        if m.created_at:
            who = m.author_role.value + ("" if m.public else ", internal")
            text = " ".join(m.body.split())
            items.append(TimelineItem(m.created_at, m.source, "message", f"{who}: {text[:140]}",
                                      m.channel.value, m.direction.value, m.conversation_id))
    for e in history.events:
        if e.created_at:
            items.append(TimelineItem(e.created_at, e.source, "event",
                                      f"{e.type.value}: {e.from_value or '-'} → {e.to_value or '-'}",
                                      None, None, e.conversation_id))
    for r in history.ratings:
        if r.created_at:
            items.append(TimelineItem(r.created_at, r.source, "rating",
                                      f"rated {'bad' if r.bad else 'good'}" + (f": {r.comment}" if r.comment else ""),
                                      None, "inbound", r.conversation_id))
    for t in history.tasks:
        at = t.completed_at or t.created_at or t.due_at
        if at:
            state = "done" if t.done else f"open, due {t.due_at:%Y-%m-%d %H:%M}" if t.due_at else "open"
            items.append(TimelineItem(at, t.source, "task", f"{t.type} task ({state}): {t.subject}",
                                      None, "outbound" if t.done else None, t.conversation_id))
    return items


_PHONE = re.compile(r"\+?[0-9 ().\-/]*")


def find_customer(store: Any, who: str) -> str | None:
    """The customer ``careplug history WHO`` means: by uid, ``source/external_id``, email, phone
    or handle (``Store.find_customer``). A phone is kept as its digits and a leading '+' ("+1 (555)
    000-0000" is "+15550000000"), so a number is also looked up with the '+' it was given without,
    or without the one it was given with: "15550000000" finds "+1 555 000 0000"."""
    uid = store.find_customer(who)
    digits = normalize_identity(IdentityKind.PHONE, who)
    if uid is not None or not _PHONE.fullmatch(who.strip()) or len(digits.lstrip("+")) < 5:
        return uid
    return store.find_customer(digits[1:] if digits.startswith("+") else "+" + digits)


def customer_timeline(app: Any, uid: str, *, limit: int = 200) -> Timeline:
    """Merge the store's history of a customer with plugins' items (the nudges among them), newest
    last, and the findings on the customer and its conversations."""
    store = app.store
    history = store.load_history(f"customer:{uid}") or History(subject=f"customer:{uid}", customer_uid=uid)
    items = history_items(history) + list(app.plugins.relationship_history(customer_uid=uid, store=store))
    items.sort(key=lambda i: i.at)
    from .store.findings import by_subject  # the store imports this module

    subjects = [subject_key("customer", uid)]
    subjects += [subject_key("conversation", c.source, c.external_id) for c in history.conversations]
    findings = sorted((f for group in by_subject(store, subjects, status=None).values() for f in group),
                      key=lambda f: (f.started_at, f.key))
    return Timeline(uid, store.customer_links(uid), items[-limit:], findings)
