"""A record's whole JSON, identity included, assembled by the database.

A record's ``data`` holds every field but its identity (``source`` and ``external_id`` are
columns). Decoding needs one JSON object with all fields; building it in SQL (string functions in
C) instead of in Python saves about a microsecond on each of the millions of records a full
evaluation reads. ``record_doc(source, external_id, data)`` is that object on SQLite and
PostgreSQL, and ``data`` alone elsewhere; ``has_identity(dialect)`` says which one came back
(``codec.decode_doc`` or ``codec.decode`` then reads it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.sqltypes import Text
from sqlalchemy.sql.visitors import InternalTraversal

__all__ = ["record_doc", "has_identity"]

_WITH_IDENTITY = {"sqlite": "json_quote({})", "postgresql": "to_json({})::text"}


class record_doc(ColumnElement[str]):  # noqa: N801 - reads like the SQL function it stands for
    inherit_cache = True
    type = Text()
    _traverse_internals = [("source", InternalTraversal.dp_clauseelement),
                           ("external_id", InternalTraversal.dp_clauseelement),
                           ("data", InternalTraversal.dp_clauseelement)]

    def __init__(self, source: Any, external_id: Any, data: Any):
        self.source, self.external_id, self.data = source, external_id, data


def has_identity(dialect: str) -> bool:
    return dialect in _WITH_IDENTITY


@compiles(record_doc)
def _data_only(element: record_doc, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.data, **kw)


@compiles(record_doc, "sqlite")
@compiles(record_doc, "postgresql")
def _with_identity(element: record_doc, compiler: Any, **kw: Any) -> str:
    quote = _WITH_IDENTITY[compiler.dialect.name]
    source = quote.format(compiler.process(element.source, **kw))
    ext = quote.format(compiler.process(element.external_id, **kw))
    data = compiler.process(element.data, **kw)
    head = f"""'{{"source":' || {source} || ',"external_id":' || {ext}"""
    # ``data`` is a JSON object: '{}' or '{"field":...}'
    return f"""(CASE WHEN {data} = '{{}}' THEN {head} || '}}' ELSE {head} || ',' || substr({data}, 2) END)"""
