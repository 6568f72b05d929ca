"""Relationship history: everything careplug knows about a subject, across every source.

``History`` is what rules read (one subject at a time); ``TimelineItem`` is one line of the
timeline ``careplug history`` prints for a customer, merged from the store and from plugins
(``careplug_relationship_history``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .model import Account, Agent, Conversation, Customer, Event, Message, Rating, Task


@dataclass(slots=True)
class History:
    """The history of one subject.

    For a conversation subject: that conversation, its messages, events, ratings and tasks, and
    its customer (with every linked customer record). For a customer subject: all of the
    customer's conversations in every source with their children. For an account subject: all
    conversations of the account's customers. Lists are sorted by ``created_at``.
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
    agents: dict[str, Agent] = field(default_factory=dict)       # by "source:external_id"

    @property
    def conversation(self) -> Conversation | None:
        """The conversation of a conversation subject (the first one otherwise)."""
        return self.conversations[0] if self.conversations else None

    def messages_of(self, conversation: Conversation) -> list[Message]:
        return [
            m
            for m in self.messages
            if m.conversation_id == conversation.external_id and m.source == conversation.source
        ]

    def events_of(self, conversation: Conversation) -> list[Event]:
        return [
            e
            for e in self.events
            if e.conversation_id == conversation.external_id and e.source == conversation.source
        ]

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
