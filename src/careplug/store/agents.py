"""Which agents a history names, and attaching them: every loader does it the same way.

A history's ``agents`` are those its records name: the assignees of its conversations and the
authors of its agents' messages (a colleague who replied on a conversation assigned to someone
else; ``broken_promise`` reads a promise in its author's time zone).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..history import History
from ..model import AuthorRole

__all__ = ["authors", "authors_by_conversation", "agent_refs", "attach"]

_AGENT = AuthorRole.AGENT


def authors(messages: Iterable[Any]) -> set[tuple[str, str]]:
    """``(source, id)`` of the agents who wrote ``messages``."""
    return {(m.source, m.author) for m in messages if m.author and m.author_role is _AGENT}


def authors_by_conversation(messages: Iterable[Any]) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """``authors`` of each conversation's ``messages`` (any mix of conversations, one pass), by
    ``(source, conversation id)``; conversations without an agent's message are left out."""
    out: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for m in messages:
        if m is not None and m.author and m.author_role is _AGENT:
            key = (m.source, m.conversation_id)
            found = out.get(key)
            if found is None:
                out[key] = {(m.source, m.author)}
            else:
                found.add((m.source, m.author))
    return out


def agent_refs(conversations: Iterable[Any], messages: Iterable[Any]) -> set[tuple[str, str]]:
    """``(source, id)`` of the agents a history with these records names."""
    refs = authors(messages)
    refs.update((c.source, c.assignee) for c in conversations if c.assignee)
    return refs


def attach(history: History, refs: Iterable[tuple[str, str]], known: dict[tuple[str, str], Any]) -> None:
    """Put the agents of ``refs`` that ``known`` has (by ``(source, id)``) into ``history.agents``
    (by ``"source:id"``)."""
    for ref in refs:
        agent = known.get(ref)
        if agent is not None:
            history.agents[f"{agent.source}:{agent.external_id}"] = agent
