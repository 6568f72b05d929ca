"""``(a, b) IN ((…), (…))`` written so every database uses the index on (a, b).

SQLite plans a row-value ``IN`` over a list as a scan of the whole table; the same condition
written as ``(a = ? AND b IN (…)) OR (a = ? AND b IN (…))`` is one index range per first value.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, false, or_
from sqlalchemy.sql.elements import ColumnElement


def pairs_in(first: ColumnElement, second: ColumnElement, pairs: Iterable[tuple[str, str]]) -> ColumnElement:
    by_first: dict[str, list[str]] = {}
    for a, b in pairs:
        by_first.setdefault(a, []).append(b)
    if not by_first:
        return false()
    return or_(*(and_(first == a, second.in_(sorted(set(bs)))) for a, bs in sorted(by_first.items())))
