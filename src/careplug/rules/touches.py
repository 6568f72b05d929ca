"""What counts as the company reaching out, and what counts as the customer asking.

- a *reply* is a public outbound message from a person (``AuthorRole.AGENT``): bots, macros sent by
  automation and internal notes do not count;
- a *touch* is a reply, a call an agent made or took (``is_call``: a phone message that says whether
  it was answered; an internal note on a phone conversation is not one), an answered inbound call,
  or a completed task (a logged call, email or meeting, a done follow-up);
- an *inquiry* is a public inbound message from the customer; an inbound call that was answered is
  an inquiry answered on the spot, a missed call or voicemail (``answered_call=False``) waits for a
  call back like any email.
"""

from __future__ import annotations

from ..history import History
from ..model import AuthorRole, Channel, Direction, Message, Task

__all__ = ["is_reply", "is_inquiry", "is_call", "answered_on_the_spot", "touch_times", "conversation_touches", "task_time"]


def is_reply(m: Message) -> bool:
    return m.direction is Direction.OUTBOUND and m.public and m.author_role is AuthorRole.AGENT


def is_inquiry(m: Message) -> bool:
    return m.direction is Direction.INBOUND and m.public and m.author_role is AuthorRole.CUSTOMER


def is_call(m: Message) -> bool:
    """A call, answered or not: a phone-channel message that says whether it was answered. An
    agent's note on a phone conversation (``answered_call`` None) is a note, not a call, even when
    the CRM gives it the conversation's channel (a Zendesk comment on a voice ticket)."""
    return m.channel is Channel.PHONE and m.answered_call is not None


def answered_on_the_spot(m: Message) -> bool:
    """An inbound call somebody picked up."""
    return m.channel is Channel.PHONE and m.answered_call is True


def task_time(t: Task) -> float | None:
    if not t.done:
        return None
    at = t.completed_at or t.updated_at or t.due_at
    return at.timestamp() if at is not None else None


def touch_times(history: History, conversation_keys: set[tuple[str, str]] | None = None) -> list[float]:
    """Epoch seconds of every touch in ``history`` (of the given ``(source, conversation id)``s
    when set; customer-level tasks always count), sorted. Computed once per history and set of
    conversations: the list is shared, do not modify it."""
    if conversation_keys is not None and len(conversation_keys) == 1:
        [key] = conversation_keys
        return conversation_touches(history, key)
    memo_key = ("touches", None if conversation_keys is None else frozenset(conversation_keys))
    return history.memoized(memo_key, lambda: _touch_times(history, conversation_keys))


def conversation_touches(history: History, key: tuple[str, str]) -> list[float]:
    """``touch_times(history, {key})``: the touches of one conversation (and customer-level tasks)."""
    memo = history.memo
    memo_key = ("touches", key)
    found = memo.get(memo_key)
    if found is None:
        found = memo[memo_key] = _touch_times(history, {key})
    return found


def _touch_times(history: History, conversation_keys: set[tuple[str, str]] | None) -> list[float]:
    out: list[float] = []
    messages: list[Message] | tuple = history.messages
    check_key = conversation_keys is not None
    if conversation_keys is not None and len(conversation_keys) == 1:
        [key] = conversation_keys
        messages = history.grouped("messages").get(key, ())
        check_key = False                   # they are that conversation's
    agent, outbound, phone = AuthorRole.AGENT, Direction.OUTBOUND, Channel.PHONE
    for m in messages:
        if m.created_at is None:
            continue
        if check_key and (m.source, m.conversation_id) not in conversation_keys:  # type: ignore[operator]
            continue
        if (m.author_role is agent and ((m.public and m.direction is outbound) or is_call(m))) or (
                m.answered_call is True and m.channel is phone and is_inquiry(m)):
            out.append(m.created_at.timestamp())
    for t in history.tasks:
        if conversation_keys is not None and t.conversation_id and (t.source, t.conversation_id) not in conversation_keys:
            continue
        at = task_time(t)
        if at is not None:
            out.append(at)
    out.sort()
    return out
