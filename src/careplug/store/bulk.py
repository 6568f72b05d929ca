"""Bulk history loading for the check engine: a chunk of subjects per query, never one per subject.

``load_histories(store, subjects)`` returns, for any mix of conversation, customer and account
subjects, the same ``History`` objects ``Store.load_history`` builds one at a time — with about ten
queries per chunk of subjects: conversations (by id, by customer, by account: with the ratings and
tasks logged on the account itself), all their messages, events, ratings and tasks at once,
customer links, linked customers, customer-level ratings and tasks, accounts and agents (and, for
accounts, their customers and those customers' links). Every query is ``source = ? AND column IN
(...)`` over an indexed column, each id list bound as one parameter (``idlist``) so the statement
compiles once.

A full evaluation loads whole customer families instead (``store.families``).

``iter_subjects(store)`` streams every subject key in key order (a full evaluation of a million
conversations never holds them all in one list).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, literal_column, or_, select

from ..history import History
from ..model import Conversation, Event, Message, Rating, Record, Task
from . import codec, schema
from .agents import agent_refs, attach, authors
from .idlist import ids_param, in_ids

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import Connection

    from . import Store

__all__ = ["iter_subjects", "load_histories", "mark_all_dirty"]

IN_CHUNK = 5000                     # ids per query (one bound list: see idlist)

_r = schema.records.c
_l = schema.customer_links.c
_COLS = (_r.id, _r.source, _r.kind, _r.external_id, _r.created_at, _r.data)


def _select(*where: Any):
    return select(*_COLS).where(and_(*where), _r.source == bindparam("src"))


Q_BY_ID = _select(_r.kind == bindparam("kind"), in_ids(_r.external_id))
# ``kind || ''``: keeps SQLite from preferring the (source, kind, ...) key, which would scan every
# record of the kind, over the customer/account index
_KIND = _r.kind + literal_column("''")
_KIND_FILTER = _KIND == bindparam("kind")
Q_BY_CUSTOMER = _select(_KIND_FILTER, in_ids(_r.customer_id))
Q_BY_ACCOUNT = _select(_KIND_FILTER, in_ids(_r.account_id))
Q_CHILDREN = _select(in_ids(_r.parent_id))           # only children have a parent_id
Q_CUSTOMER_EXTRA = _select(or_(_r.kind == "rating", _r.kind == "task"), _r.parent_id.is_(None),
                           in_ids(_r.customer_id))
# what is stamped with the accounts: their conversations, and their own ratings and tasks (on no
# conversation: a call logged on the account that names no contact), in one walk of the account
# index (``kind || ''`` throughout, as above)
Q_ACCOUNT_RECORDS = _select(or_(_KIND == "conversation",
                                and_(or_(_KIND == "rating", _KIND == "task"), _r.parent_id.is_(None))),
                            in_ids(_r.account_id))
Q_LINKS_BY_UID = select(_l.source, _l.external_id, _l.uid).where(in_ids(_l.uid))
Q_LINKS_BY_REF = select(_l.source, _l.external_id, _l.uid).where(_l.source == bindparam("src"),
                                                                   in_ids(_l.external_id))


def iter_subjects(store: "Store", kind: str | None = None, *, chunk: int = 20000) -> Iterator[str]:
    """Every subject key (of ``kind``), in key order, read ``chunk`` keys per short query: no read
    transaction stays open while the caller writes (in WAL mode a long reader keeps the log from
    being checkpointed, and a full run's writes would pile up in it)."""
    s = schema.subjects.c
    q = select(s.key).order_by(s.key).limit(chunk)
    if kind:
        q = q.where(s.kind == kind)
    last: str | None = None
    while True:
        with store.engine.connect() as conn:
            keys = list(conn.execute(q if last is None else q.where(s.key > last)).scalars())
        yield from keys
        if len(keys) < chunk:
            return
        last = keys[-1]


def _by_source(refs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for src, ext in refs:
        out.setdefault(src, set()).add(ext)
    return {src: sorted(ids) for src, ids in out.items()}


class _Loader:
    """Decoded records by identity, each with the sort key the store orders by."""

    def __init__(self, conn: "Connection"):
        self.conn = conn
        self.dialect = conn.dialect.name
        self.order: dict[int, tuple] = {}

    def fetch(self, query, refs: Iterable[tuple[str, str]], **params: Any) -> list[Record]:
        return [rec for _key, rec in self.fetch_keyed(query, refs, **params)]

    def fetch_keyed(self, query, refs: Iterable[tuple[str, str]], **params: Any) -> list[tuple[tuple, Record]]:
        """``(sort key, record)`` pairs: a list of pairs sorts in the store's order in C."""
        out: list[tuple[tuple, Record]] = []
        decode, order = codec.decode, self.order
        for src, ids in _by_source(refs).items():
            for i in range(0, len(ids), IN_CHUNK):
                ids_i = ids_param(self.dialect, ids[i:i + IN_CHUNK])
                rows = self.conn.execute(query, {"src": src, "ids": ids_i, **params}).fetchall()
                for rid, source, kind, ext, created, data in rows:
                    rec = decode(kind, source, ext, data)
                    key = order[id(rec)] = (created is not None, created or 0.0, rid)
                    out.append((key, rec))
        return out

    def links(self, query, values: list, **params: Any) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        for i in range(0, len(values), IN_CHUNK):
            ids_i = ids_param(self.dialect, values[i:i + IN_CHUNK])
            out += [tuple(r) for r in self.conn.execute(query, {"ids": ids_i, **params})]
        return out

    def sort(self, records: list) -> list:
        records.sort(key=lambda rec: self.order.get(id(rec), (True, 0.0, 0)))
        return records


def load_histories(store: "Store", subjects: Iterable[str]) -> dict[str, History]:
    """Histories of ``subjects`` by key; a subject that no longer exists is absent."""
    conv_subjects: list[tuple[str, str]] = []
    uids: list[str] = []
    acct_subjects: list[tuple[str, str]] = []
    for subject in subjects:
        kind, _, rest = subject.partition(":")
        if kind == "conversation":
            source, _, ext = rest.partition(":")
            conv_subjects.append((source, ext))
        elif kind == "customer":
            uids.append(rest)
        elif kind == "account":
            source, _, ext = rest.partition(":")
            acct_subjects.append((source, ext))
        else:
            raise ValueError(f"unknown subject kind in {subject!r}")
    with store.engine.connect() as conn:
        return _load(_Loader(conn), conv_subjects, sorted(set(uids)), acct_subjects)


def _load(ld: _Loader, conv_subjects: list[tuple[str, str]], uids: list[str],
          acct_subjects: list[tuple[str, str]]) -> dict[str, History]:
    convs: dict[tuple[str, str], Any] = {}
    # customers: uid -> links
    links_by_uid: dict[str, list[tuple[str, str]]] = {}
    for src, ext, uid in ld.links(Q_LINKS_BY_UID, uids):
        links_by_uid.setdefault(uid, []).append((src, ext))
    uid_of = {ref: uid for uid, refs in links_by_uid.items() for ref in refs}    # known already
    # accounts: the conversations stamped with them, their own customers, those customers' uids
    # and every record linked to those
    convs_by_account: dict[tuple[str, str], list] = {}
    account_extras: dict[tuple[str, str], list] = {}         # (sort key, record) pairs
    for pair in ld.fetch_keyed(Q_ACCOUNT_RECORDS, acct_subjects):
        c = pair[1]
        if isinstance(c, Conversation):
            convs[(c.source, c.external_id)] = c
            convs_by_account.setdefault((c.source, c.account_id), []).append(c)
        else:
            account_extras.setdefault((c.source, c.account_id), []).append(pair)
    customers_by_account: dict[tuple[str, str], list] = {}
    for c in ld.fetch(Q_BY_ACCOUNT, acct_subjects, kind="customer"):
        customers_by_account.setdefault((c.source, c.account_id), []).append(c)
    own_refs = sorted({(c.source, c.external_id) for group in customers_by_account.values() for c in group
                       if (c.source, c.external_id) not in uid_of})
    for src, ids in _by_source(own_refs).items():
        for s, e, uid in ld.links(Q_LINKS_BY_REF, ids, src=src):
            uid_of[(s, e)] = uid
    for src, ext, uid in ld.links(Q_LINKS_BY_UID, sorted(set(uid_of.values()) - set(links_by_uid))):
        links_by_uid.setdefault(uid, []).append((src, ext))
    links_of_account: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, group in customers_by_account.items():
        refs = {(c.source, c.external_id) for c in group}
        for uid in {uid_of[ref] for ref in refs if ref in uid_of}:
            refs.update(links_by_uid.get(uid, ()))
        links_of_account[key] = sorted(refs)
    # the conversations of every customer (of customer subjects and of accounts), each with its
    # customer-level ratings and tasks
    customer_refs = sorted({ref for refs in links_by_uid.values() for ref in refs}
                           | {ref for refs in links_of_account.values() for ref in refs})
    convs_by_customer: dict[tuple[str, str], list] = {}
    for c in ld.fetch(Q_BY_CUSTOMER, customer_refs, kind="conversation"):
        c = convs.setdefault((c.source, c.external_id), c)
        convs_by_customer.setdefault((c.source, c.customer_id), []).append(c)
    for c in ld.fetch(Q_BY_ID, [k for k in conv_subjects if k not in convs], kind="conversation"):
        convs[(c.source, c.external_id)] = c
    # every conversation's children, in one pass
    children: dict[tuple[str, str], list] = {}                   # (sort key, record) pairs
    for pair in ld.fetch_keyed(Q_CHILDREN, convs.keys()):
        rec = pair[1]
        children.setdefault((rec.source, rec.conversation_id), []).append(pair)
    # the customer of each conversation subject, and every record linked to it
    conv_customer_refs = sorted({(convs[k].source, convs[k].customer_id) for k in conv_subjects
                                 if k in convs and convs[k].customer_id})
    conv_customer_refs = [ref for ref in conv_customer_refs if ref not in uid_of]
    for src, ids in _by_source(conv_customer_refs).items():
        for s, e, uid in ld.links(Q_LINKS_BY_REF, ids, src=src):
            uid_of[(s, e)] = uid
    more = sorted(set(uid_of.values()) - set(links_by_uid))
    for src, ext, uid in ld.links(Q_LINKS_BY_UID, more):
        links_by_uid.setdefault(uid, []).append((src, ext))
    all_refs = sorted({ref for refs in links_by_uid.values() for ref in refs} | set(customer_refs))
    customers = {(c.source, c.external_id): c for c in ld.fetch(Q_BY_ID, all_refs, kind="customer")}
    extras: dict[tuple[str, str], list] = {}
    for pair in ld.fetch_keyed(Q_CUSTOMER_EXTRA, customer_refs):
        rec = pair[1]
        extras.setdefault((rec.source, rec.customer_id), []).append(pair)
    # accounts and agents
    acc_refs = set(acct_subjects)
    acc_refs |= {(c.source, c.account_id) for c in customers.values() if c.account_id}
    acc_refs |= {(c.source, c.account_id) for c in convs.values() if c.account_id}
    accounts = {(a.source, a.external_id): a for a in ld.fetch(Q_BY_ID, acc_refs, kind="account")}
    wanted_agents = {(c.source, c.assignee) for c in convs.values() if c.assignee}
    for pairs in children.values():
        wanted_agents |= authors(rec for _key, rec in pairs if isinstance(rec, Message))
    agents = {(a.source, a.external_id): a for a in ld.fetch(Q_BY_ID, wanted_agents, kind="agent")}

    def build(subject: str, conv_list: list, uid: str | None, links: list[tuple[str, str]] | None,
              own: list | None = None) -> History:
        h = History(subject=subject, customer_uid=uid)
        h.conversations = ld.sort(list(conv_list))
        kids: list = []
        for c in h.conversations:
            kids += children.get((c.source, c.external_id), [])
        if links is not None:
            h.customers = ld.sort([customers[k] for k in links if k in customers])
            if not subject.startswith("conversation:"):       # a customer's or an account's own
                for k in links:
                    kids += extras.get(k, [])
        if own:
            # an account's own (stamped with it): each once, also when a customer of it holds it
            # (the sort key ends with the row id)
            held = {key[2] for key, _rec in kids}
            kids += [pair for pair in own if pair[0][2] not in held]
        kids.sort()
        lists = {Message: h.messages, Event: h.events, Rating: h.ratings, Task: h.tasks}
        for _key, rec in kids:
            lists[type(rec)].append(rec)
        refs = {(c.source, c.account_id) for c in h.customers if c.account_id}
        refs |= {(c.source, c.account_id) for c in h.conversations if c.account_id}
        found = ld.sort([accounts[k] for k in refs if k in accounts])
        h.account = found[0] if found else None
        attach(h, agent_refs(h.conversations, h.messages), agents)
        return h

    out: dict[str, History] = {}
    for key in conv_subjects:
        conv = convs.get(key)
        if conv is None:
            continue
        uid = uid_of.get((conv.source, conv.customer_id)) if conv.customer_id else None
        out[f"conversation:{key[0]}:{key[1]}"] = build(
            f"conversation:{key[0]}:{key[1]}", [conv], uid, links_by_uid.get(uid) if uid else None)
    for uid in uids:
        links = links_by_uid.get(uid)
        if not links:
            continue
        conv_list = [c for ref in links for c in convs_by_customer.get(ref, [])]
        out[f"customer:{uid}"] = build(f"customer:{uid}", conv_list, uid, links)
    for key in acct_subjects:
        account = accounts.get(key)
        if account is None:
            continue
        links = links_of_account.get(key, [])
        conv_list = {(c.source, c.external_id): c for c in convs_by_account.get(key, [])}
        for ref in links:
            conv_list.update({(c.source, c.external_id): c for c in convs_by_customer.get(ref, [])})
        h = build(f"account:{key[0]}:{key[1]}", list(conv_list.values()), None, links, account_extras.get(key))
        h.account = account
        out[h.subject] = h
    return out


def mark_all_dirty(store: "Store") -> int:
    """Flag every subject for evaluation (the start of a full run); returns how many were clean."""
    s = schema.subjects.c
    with store.engine.begin() as conn:
        return conn.execute(schema.subjects.update().where(s.dirty.is_(False)).values(dirty=True)).rowcount

