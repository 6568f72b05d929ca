"""Identity resolution: one customer is one customer across every connected CRM.

Each customer record is *linked* to a canonical ``uid``. Two records share a uid when they share
an identity (email case-insensitively, phone by digits, social handle). Every link keeps the
reason it was made, so ``careplug history`` can explain why two records are one person.

The uid of a new customer is its own ``source/external_id``; when an identity joins two existing
customers, the smaller uid wins and the other's links and identities move to it. The order of
records decides nothing else, so re-syncing the same records gives the same uids.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from ..model import Customer
from .schema import customer_links, identities


def link_key(source: str, external_id: str) -> str:
    return f"{source}/{external_id}"


def resolve(conn: Connection, customer: Customer) -> tuple[str, set[str]]:
    """Link ``customer`` and its identities; return ``(uid, uids merged away)``."""
    ids = customer.identities()
    existing = conn.execute(
        select(customer_links.c.uid).where(customer_links.c.source == customer.source,
                                           customer_links.c.external_id == customer.external_id)
    ).scalar()
    by_identity: dict[tuple[str, str], str] = {}
    if ids:
        for kind, value in ids:
            uid = conn.execute(select(identities.c.uid).where(identities.c.kind == kind.value,
                                                               identities.c.value == value)).scalar()
            if uid is not None:
                by_identity[(kind.value, value)] = uid
    candidates = set(by_identity.values()) | ({existing} if existing else set())
    own = link_key(customer.source, customer.external_id)
    uid = min(candidates) if candidates else own
    merged = candidates - {uid}
    for old in merged:
        conn.execute(update(customer_links).where(customer_links.c.uid == old).values(uid=uid))
        conn.execute(update(identities).where(identities.c.uid == old).values(uid=uid))
    if existing is None:
        shared = sorted(f"{k} {v}" for (k, v), u in by_identity.items())
        reason = f"same {', '.join(shared)} as {uid}" if shared else "first seen here"
        conn.execute(customer_links.insert().values(source=customer.source, external_id=customer.external_id,
                                                    uid=uid, reason=reason))
    elif existing != uid:
        shared = sorted(f"{k} {v}" for (k, v), u in by_identity.items() if u == uid)
        conn.execute(update(customer_links).where(customer_links.c.source == customer.source,
                                                  customer_links.c.external_id == customer.external_id)
                     .values(uid=uid, reason=f"merged: same {', '.join(shared)} as {uid}"))
    for kind, value in ids:
        if (kind.value, value) not in by_identity:
            conn.execute(identities.insert().values(kind=kind.value, value=value, uid=uid))
    return uid, merged


LOOKUP_CHUNK = 400


def resolve_many(conn: Connection, customers: list[Customer]) -> list[tuple[str, set[str]]]:
    """``resolve`` for a batch, in order, with the same result as calling it once per customer.

    The links and identities the batch touches are read up front (a few queries per batch
    instead of several per customer), resolution runs in memory in batch order, and the new or
    changed rows are written in bulk at the end. Merges (rare) update the stored rows at once.
    """
    if not customers:
        return []
    # (a, b) IN (pairs) makes SQLite scan the table: look up per first column, with b IN (...)
    links = lookup_pairs(conn, customer_links.c.source, customer_links.c.external_id, customer_links.c.uid,
                         {(c.source, c.external_id) for c in customers})
    ids_of = [[(k.value, v) for k, v in c.identities()] for c in customers]
    known = lookup_pairs(conn, identities.c.kind, identities.c.value, identities.c.uid,
                         {iv for ids in ids_of for iv in ids})
    new_links: dict[tuple[str, str], tuple[str, str]] = {}      # key -> (uid, reason), to insert
    moved_links: dict[tuple[str, str], tuple[str, str]] = {}    # key -> (uid, reason), to update
    new_identities: dict[tuple[str, str], str] = {}              # (kind, value) -> uid, to insert
    out: list[tuple[str, set[str]]] = []
    for customer, ids in zip(customers, ids_of):
        key = (customer.source, customer.external_id)
        existing = links.get(key)
        by_identity = {iv: known[iv] for iv in ids if iv in known}
        candidates = set(by_identity.values()) | ({existing} if existing else set())
        uid = min(candidates) if candidates else link_key(*key)
        merged = candidates - {uid}
        for old in merged:
            conn.execute(update(customer_links).where(customer_links.c.uid == old).values(uid=uid))
            conn.execute(update(identities).where(identities.c.uid == old).values(uid=uid))
            for table in (links, known, new_identities):
                for k, u in table.items():
                    if u == old:
                        table[k] = uid
            for pending in (new_links, moved_links):
                for k, (u, reason) in pending.items():
                    if u == old:
                        pending[k] = (uid, reason)
        if existing is None:
            shared = sorted(f"{k} {v}" for (k, v), u in by_identity.items())
            reason = f"same {', '.join(shared)} as {uid}" if shared else "first seen here"
            new_links[key] = (uid, reason)
            links[key] = uid
        elif existing != uid:
            shared = sorted(f"{k} {v}" for (k, v), u in by_identity.items() if u == uid)
            reason = f"merged: same {', '.join(shared)} as {uid}"
            if key in new_links:
                new_links[key] = (uid, reason)
            else:
                moved_links[key] = (uid, reason)
            links[key] = uid
        for iv in ids:
            if iv not in by_identity and iv not in known:
                known[iv] = uid
                new_identities[iv] = uid
        out.append((uid, merged))
    if new_links:
        conn.execute(customer_links.insert(), [
            {"source": s, "external_id": e, "uid": u, "reason": r} for (s, e), (u, r) in new_links.items()])
    if moved_links:
        conn.execute(update(customer_links).where(customer_links.c.source == bindparam("s"),
                                                  customer_links.c.external_id == bindparam("e"))
                     .values(uid=bindparam("u"), reason=bindparam("r")),
                     [{"s": s, "e": e, "u": u, "r": r} for (s, e), (u, r) in moved_links.items()])
    if new_identities:
        conn.execute(identities.insert(), [{"kind": k, "value": v, "uid": u} for (k, v), u in new_identities.items()])
    return out


def lookup_pairs(conn: Connection, first, second, value, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """``{(first, second): value}`` for the stored rows among ``pairs``, through the index on
    (first, second): one ``first = ? AND second IN (...)`` query per first value and chunk."""
    by_first: dict[str, list[str]] = {}
    for a, b in sorted(pairs):
        by_first.setdefault(a, []).append(b)
    query = select(second, value).where(first == bindparam("a"), second.in_(bindparam("bs", expanding=True)))
    out: dict[tuple[str, str], str] = {}
    for a, bs in by_first.items():
        for i in range(0, len(bs), LOOKUP_CHUNK):
            out.update({(a, b): v for b, v in conn.execute(query, {"a": a, "bs": bs[i:i + LOOKUP_CHUNK]})})
    return out
