"""Customers with all their conversations, loaded for a full evaluation in time order from SQL.

``load_families(store, uids)`` returns the histories of the customers ``uids`` (``customer:<uid>``)
*and of every one of their conversations* (``conversation:<source>:<id>``), the same ``History``
objects ``Store.load_history`` builds one at a time (``tests/rules/test_sweep.py`` compares them).
A task logged on an account that names no customer is in none of these histories (only in the
account's, which ``store.bulk`` loads): nothing here reads by account.

A sweep of a million conversations reads ~9 million records through here, so the work per record
is kept to a minimum:

- conversations and their children come from one query each, across sources, already in the
  store's time order (``created_at``, undated first, then row id): every record is appended, in
  stream order, to its conversation's list and to its customer's, and the lists need no sorting;
  only the rare customer with customer-level ratings or tasks gets those two lists re-sorted;
- the histories share the per-conversation lists, and ``History.grouped`` starts out filled.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import LargeBinary, bindparam, cast, literal_column, or_, select, union_all

from ..history import History
from ..model import RECORD_KINDS_BY_TYPE, Event, Message, Rating, Task
from . import codec, schema
from .agents import attach, authors_by_conversation
from .bulk import Q_BY_ID, Q_LINKS_BY_UID, _by_source, _Loader
from .idlist import ids_param, in_ids

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import Connection

    from . import Store

__all__ = ["load_families"]

_r = schema.records.c
_CHILD_TYPES = (Message, Event, Rating, Task)
_SLOT = {RECORD_KINDS_BY_TYPE[cls]: n for n, cls in enumerate(_CHILD_TYPES)}   # "message": 0, ...
_LIST_NAMES = {Message: "messages", Event: "events", Rating: "ratings", Task: "tasks"}


def load_families(store: "Store", uids: Iterable[str], *, agents: dict | None = None) -> dict[str, History]:
    """Histories of the customers ``uids`` and of every conversation of theirs; see the module
    docstring. ``agents``, kept by the caller from one call to the next, holds the agent records
    already read (a few hundred agents serve every customer: a sweep reads each once)."""
    with store.engine.connect() as conn:
        return _Families(conn, {} if agents is None else agents).load(sorted(set(uids)))


def _ordered(where_kind: Any, column: Any, sources: int, dialect: str) -> Any:
    """Records (of ``where_kind``) whose ``column`` is in a per-source id list, in time order: one
    ``source = :srcN AND column IN :idsN`` branch per source, each on its (source, column) index,
    merged by the database (``UNION ALL ... ORDER BY``; undated records first, as everywhere).
    On SQLite the JSON comes as bytes (``CAST ... AS BLOB``): no ``str`` is built for each record,
    and msgspec reads the bytes as they are."""
    data = cast(_r.data, LargeBinary).label("data") if dialect == "sqlite" else _r.data
    cols = (_r.id, _r.created_at, _r.kind, _r.source, column.label("ref"), data)
    branches = []
    for i in range(sources):
        branch = select(*cols).where(_r.source == bindparam(f"src{i}"), in_ids(column, f"ids{i}"))
        branches.append(branch if where_kind is None else branch.where(where_kind))
    order = (literal_column("created_at").nulls_first(), literal_column("id"))
    return (union_all(*branches) if sources > 1 else branches[0]).order_by(*order)


# ``kind || ''``: SQLite would otherwise prefer the (source, kind, ...) key over the customer index
_KIND = _r.kind + literal_column("''")
_BY_CUSTOMER = or_(_KIND == "conversation", or_(_KIND == "rating", _KIND == "task") & _r.parent_id.is_(None))


class _Families:
    def __init__(self, conn: "Connection", agents: dict):
        self.conn = conn
        self.agents = agents
        self.dialect = conn.dialect.name
        self.loader = _Loader(conn)
        self.queries: dict[tuple[str, int], Any] = {}

    def stream(self, name: str, where_kind: Any, column: Any, refs: Iterable[tuple[str, str]]
               ) -> dict[str, tuple[list, list]]:
        """The records of one query, by kind: ``(rows, records)``, both in time order, where a row
        is ``(row id, created_at, kind, source, ref, data)`` (``ref``: the ``column`` it was found
        by) and ``records[i]`` is ``rows[i]`` decoded. Every id of a source is one bound list
        (``idlist``): a split list would break the order of a customer whose conversations fell
        into different parts. Each kind's records are decoded as one JSON array, in one call."""
        by_source = list(_by_source(refs).items())
        if not by_source:
            return {}
        query = self.queries.get((name, len(by_source)))
        if query is None:
            query = self.queries[(name, len(by_source))] = _ordered(where_kind, column, len(by_source), self.dialect)
        bound: dict[str, Any] = {}
        for n, (src, ids) in enumerate(by_source):
            bound[f"src{n}"] = src
            bound[f"ids{n}"] = ids_param(self.dialect, ids)
        result = self.conn.execute(query, bound)
        rows = result.cursor.fetchall()         # plain tuples: these columns need no result processing
        result.close()
        by_kind: dict[str, list] = {}
        for row in rows:
            kind_rows = by_kind.get(row[2])
            if kind_rows is None:
                kind_rows = by_kind[row[2]] = []
            kind_rows.append(row)
        decode_list = codec.decode_list
        out = {}
        for kind, kind_rows in by_kind.items():
            identities = functools.partial(self._identities, kind_rows)
            out[kind] = (kind_rows, decode_list(kind, [r[5] for r in kind_rows], identities))
        return out

    def _identities(self, rows: list) -> list[tuple[str, str | None]]:
        """``(source, external_id)`` of each row, read again by row id: only a record stored in an
        older form needs them (``codec.decode_list``), so the stream does not fetch them."""
        ext = dict(self.conn.execute(select(_r.id, _r.external_id).where(in_ids(_r.id)),
                                     {"ids": ids_param(self.dialect, [r[0] for r in rows])}).all())
        return [(r[3], ext.get(r[0])) for r in rows]          # None: deleted since the stream read it

    def load(self, uids: list[str]) -> dict[str, History]:
        ld = self.loader
        links_by_uid: dict[str, list[tuple[str, str]]] = {}
        uid_of: dict[tuple[str, str], str] = {}
        for src, ext, uid in ld.links(Q_LINKS_BY_UID, uids):
            links_by_uid.setdefault(uid, []).append((src, ext))
            uid_of[(src, ext)] = uid
        refs = sorted(uid_of)
        customers = {(c.source, c.external_id): c for c in ld.fetch(Q_BY_ID, refs, kind="customer")}

        # conversations and customer-level ratings and tasks (no conversation), in time order
        convs: dict[tuple[str, str], Any] = {}
        convs_of: dict[str, list] = {uid: [] for uid in links_by_uid}
        conv_uid: dict[tuple[str, str], str] = {}
        extra_of: dict[str, list] = {}
        order: dict[int, tuple] = {}            # ratings and tasks: their sort key, for merging extras
        for kind, (rows, recs) in self.stream("by customer", _BY_CUSTOMER, _r.customer_id, refs).items():
            for (rid, created, _kind, source, ref, _data), rec in zip(rows, recs):
                if rec is None:                 # deleted since the stream read it
                    continue
                uid = uid_of[(source, ref)]
                if kind == "conversation":
                    key = (source, rec.external_id)
                    convs[key] = rec
                    conv_uid[key] = uid
                    convs_of[uid].append(rec)
                else:
                    extra_of.setdefault(uid, []).append(rec)
                    order[id(rec)] = (created is not None, created or 0.0, rid)

        # their children, in time order: each to its conversation's list and to its customer's
        conv_lists: dict[tuple[str, str], tuple[list, list, list, list]] = {k: ([], [], [], []) for k in convs}
        cust_lists: dict[str, tuple[list, list, list, list]] = {uid: ([], [], [], []) for uid in links_by_uid}
        authored: dict = {}                     # conversation -> the agents who wrote in it
        for kind, (rows, recs) in self.stream("children", None, _r.parent_id, convs).items():
            n = _SLOT[kind]
            if n == 0:
                authored = authors_by_conversation(recs)
            keyed = n >= 2                      # ratings and tasks: their sort keys are kept
            for row, rec in zip(rows, recs):
                key = (row[3], row[4])
                lists = conv_lists.get(key)
                if lists is None or rec is None:    # not a conversation of these customers; deleted
                    continue
                lists[n].append(rec)
                cust_lists[conv_uid[key]][n].append(rec)
                if keyed:
                    order[id(rec)] = (row[1] is not None, row[1] or 0.0, row[0])

        accounts, agents = self._accounts_and_agents(customers, convs, authored)
        out: dict[str, History] = {}
        for uid in uids:
            links = links_by_uid.get(uid)
            if not links:
                continue
            linked = ld.sort([customers[k] for k in links if k in customers])
            conv_list = convs_of[uid]
            # the account: the first (in store order) of the linked customers' and conversations'
            own = {(c.source, c.account_id) for c in linked if c.account_id}
            own_account = self._first(own, accounts)
            for conv in conv_list:
                key = (conv.source, conv.external_id)
                lists = conv_lists[key]
                ref = (conv.source, conv.account_id) if conv.account_id else None
                h = History(subject=f"conversation:{key[0]}:{key[1]}", customer_uid=uid, customers=linked,
                            conversations=[conv], messages=lists[0], events=lists[1], ratings=lists[2],
                            tasks=lists[3],
                            account=own_account if ref is None or ref in own else self._first(own | {ref}, accounts),
                            memo=_grouped({key: lists}))
                attach(h, _named(conv, authored.get(key)), agents)
                out[h.subject] = h
            lists = cust_lists[uid]
            extras = extra_of.get(uid)
            if extras:
                lists = _with_extras(lists, extras, order)
            account_refs = own | {(c.source, c.account_id) for c in conv_list if c.account_id}
            h = History(subject=f"customer:{uid}", customer_uid=uid, customers=linked, conversations=conv_list,
                        messages=lists[0], events=lists[1], ratings=lists[2], tasks=lists[3],
                        account=(own_account if len(account_refs) == len(own)
                                 else self._first(account_refs, accounts)),
                        memo={} if extras else _grouped({(c.source, c.external_id): conv_lists[(c.source, c.external_id)]
                                                         for c in conv_list}))
            named: set = set()
            for c in conv_list:
                named.update(_named(c, authored.get((c.source, c.external_id))))
            attach(h, named, agents)
            out[h.subject] = h
        return out

    def _first(self, refs: set, accounts: dict) -> Any:
        found = [accounts[k] for k in refs if k in accounts]
        return self.loader.sort(found)[0] if found else None

    def _accounts_and_agents(self, customers: dict, convs: dict, authored: dict) -> tuple[dict, dict]:
        acc_refs = {(c.source, c.account_id) for c in customers.values() if c.account_id}
        acc_refs |= {(c.source, c.account_id) for c in convs.values() if c.account_id}
        accounts = {(a.source, a.external_id): a for a in self.loader.fetch(Q_BY_ID, acc_refs, kind="account")}
        agents = self.agents
        wanted = set().union({(c.source, c.assignee) for c in convs.values() if c.assignee}, *authored.values())
        wanted -= agents.keys()
        for a in self.loader.fetch(Q_BY_ID, wanted, kind="agent"):
            agents[(a.source, a.external_id)] = a
        return accounts, agents


def _named(conv: Any, authors: set | None) -> Iterable[tuple[str, str]]:
    """The agents a conversation names: its assignee and ``authors`` (of its agents' messages)."""
    if not conv.assignee:
        return authors or ()
    mine = (conv.source, conv.assignee)
    return (mine,) if not authors else authors | {mine}


_MEMO_KEYS = tuple(("grouped", _LIST_NAMES[cls]) for cls in _CHILD_TYPES)


def _grouped(per_conversation: dict[tuple[str, str], tuple]) -> dict[tuple[str, str], dict]:
    """``History.grouped``'s memo for histories made of whole conversations."""
    m: dict = {}
    e: dict = {}
    r: dict = {}
    t: dict = {}
    for key, (lm, le, lr, lt) in per_conversation.items():
        if lm:
            m[key] = lm
        if le:
            e[key] = le
        if lr:
            r[key] = lr
        if lt:
            t[key] = lt
    km, ke, kr, kt = _MEMO_KEYS
    return {km: m, ke: e, kr: r, kt: t}


def _with_extras(lists: tuple, extras: list, order: dict[int, tuple]) -> tuple:
    """The customer's lists with its customer-level ratings and tasks, those two re-sorted."""
    out = list(lists)
    for n, cls in ((2, Rating), (3, Task)):
        mine = [r for r in extras if type(r) is cls]
        if mine:
            out[n] = sorted([*lists[n], *mine], key=lambda r: order[id(r)])
    return tuple(out)
