"""Identity resolution: one customer is one customer across every connected CRM.

Each customer record is *linked* to a canonical ``uid``. Two records share a uid when they share
an identity (email case-insensitively, phone by digits, social handle). Every link keeps the
reason it was made, so ``careplug history`` can explain why two records are one person.

The uid of a new customer is its own ``source/external_id``; when an identity joins two existing
customers, the smaller uid wins and the other's links and identities move to it. The order of
records decides nothing else, so re-syncing the same records gives the same uids.
"""

from __future__ import annotations

from sqlalchemy import select, update
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
