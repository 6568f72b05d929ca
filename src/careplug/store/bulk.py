"""Bulk history loading for the check engine: many subjects per query, never one query per subject.

``load_histories(store, subjects)`` returns the same ``History`` objects ``Store.load_history``
builds, for a chunk of subjects at once: conversation subjects with one query for the
conversations, one for all their messages/events/ratings/tasks, one for customer links, one for the
linked customers, one for accounts and one for agents. Customer and account subjects (far fewer)
go through ``Store.load_history``.

``iter_subjects(store)`` streams every subject key in key order (a full evaluation of a million
conversations never holds them all in one list).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from sqlalchemy import select, tuple_

from ..history import History
from ..model import Record
from . import codec, schema

if TYPE_CHECKING:  # pragma: no cover
    from . import Store

__all__ = ["iter_subjects", "load_histories"]

CHILD_KINDS = ("message", "event", "rating", "task")
IN_CHUNK = 400


def iter_subjects(store: "Store", kind: str | None = None, *, chunk: int = 20000) -> Iterator[str]:
    s = schema.subjects.c
    q = select(s.key).order_by(s.key)
    if kind:
        q = q.where(s.kind == kind)
    with store.engine.connect() as conn:
        result = conn.execution_options(yield_per=chunk).execute(q)
        for key in result.scalars():
            yield key


def _split(items: list, size: int = IN_CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _rows(conn, where, order: bool = False) -> list[Record]:
    r = schema.records.c
    q = select(r.source, r.kind, r.external_id, r.data).where(where)
    if order:
        q = q.order_by(r.created_at, r.id)
    return [codec.decode(row.kind, row.source, row.external_id, row.data) for row in conn.execute(q)]


def load_histories(store: "Store", subjects: Iterable[str]) -> dict[str, History]:
    """Histories of ``subjects`` by key; a subject that no longer exists is absent."""
    out: dict[str, History] = {}
    conv_keys: list[tuple[str, str]] = []
    others: list[str] = []
    for subject in subjects:
        kind, _, rest = subject.partition(":")
        if kind == "conversation":
            source, _, ext = rest.partition(":")
            conv_keys.append((source, ext))
        else:
            others.append(subject)
    if conv_keys:
        out.update(_conversation_histories(store, conv_keys))
    for subject in others:
        hist = store.load_history(subject)
        if hist is not None:
            out[subject] = hist
    return out


def _conversation_histories(store: "Store", keys: list[tuple[str, str]]) -> dict[str, History]:
    r = schema.records.c
    links = schema.customer_links.c
    hists: dict[tuple[str, str], History] = {}
    with store.engine.connect() as conn:
        for part in _split(keys):
            for conv in _rows(conn, (r.kind == "conversation") & tuple_(r.source, r.external_id).in_(part)):
                hists[(conv.source, conv.external_id)] = History(
                    subject=f"conversation:{conv.source}:{conv.external_id}", conversations=[conv])
        if not hists:
            return {}
        present = sorted(hists)
        for part in _split(present):
            for rec in _rows(conn, r.kind.in_(CHILD_KINDS) & tuple_(r.source, r.parent_id).in_(part), order=True):
                getattr(hists[(rec.source, rec.conversation_id)], rec.kind + "s").append(rec)  # type: ignore[attr-defined]
        # customers: conversation -> uid -> every linked customer record
        refs = sorted({(h.conversation.source, h.conversation.customer_id) for h in hists.values()
                       if h.conversation.customer_id})
        uid_of: dict[tuple[str, str], str] = {}
        for part in _split(refs):
            for src, ext, uid in conn.execute(select(links.source, links.external_id, links.uid).where(
                    tuple_(links.source, links.external_id).in_(part))):
                uid_of[(src, ext)] = uid
        uids = sorted(set(uid_of.values()))
        linked: dict[str, list[tuple[str, str]]] = {}
        for part in _split(uids):
            for src, ext, uid in conn.execute(select(links.source, links.external_id, links.uid).where(
                    links.uid.in_(part))):
                linked.setdefault(uid, []).append((src, ext))
        all_links = sorted({ref for refs_ in linked.values() for ref in refs_})
        customers: dict[tuple[str, str], Record] = {}
        for part in _split(all_links):
            for c in _rows(conn, (r.kind == "customer") & tuple_(r.source, r.external_id).in_(part), order=True):
                customers[(c.source, c.external_id)] = c
        for h in hists.values():
            conv = h.conversation
            uid = uid_of.get((conv.source, conv.customer_id)) if conv.customer_id else None
            h.customer_uid = uid
            if uid:
                mine = set(linked.get(uid, []))       # in the store's order: created_at, then insertion
                h.customers = [c for k, c in customers.items() if k in mine]  # type: ignore[misc]
        # accounts and agents
        acc_refs = set()
        for h in hists.values():
            acc_refs |= {(c.source, c.account_id) for c in h.customers if c.account_id}
            acc_refs |= {(c.source, c.account_id) for c in h.conversations if c.account_id}
        accounts: dict[tuple[str, str], Record] = {}
        for part in _split(sorted(acc_refs)):
            for a in _rows(conn, (r.kind == "account") & tuple_(r.source, r.external_id).in_(part)):
                accounts[(a.source, a.external_id)] = a
        agent_refs = sorted({(h.conversation.source, h.conversation.assignee) for h in hists.values()
                             if h.conversation.assignee})
        agents: dict[tuple[str, str], Record] = {}
        for part in _split(agent_refs):
            for a in _rows(conn, (r.kind == "agent") & tuple_(r.source, r.external_id).in_(part)):
                agents[(a.source, a.external_id)] = a
        for h in hists.values():
            refs_ = sorted({(c.source, c.account_id) for c in h.customers if c.account_id}
                           | {(c.source, c.account_id) for c in h.conversations if c.account_id})
            h.account = next((accounts[k] for k in refs_ if k in accounts), None)  # type: ignore[assignment]
            conv = h.conversation
            if conv.assignee and (conv.source, conv.assignee) in agents:
                h.agents[f"{conv.source}:{conv.assignee}"] = agents[(conv.source, conv.assignee)]  # type: ignore[assignment]
    return {h.subject: h for h in hists.values()}
