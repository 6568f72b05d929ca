"""Small values careplug keeps about a store in ``careplug_meta`` (besides its schema version): what
the last check ran with, so a change of rules can be noticed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from . import schema

__all__ = ["get_value", "set_value"]


def get_value(store: Any, key: str) -> str | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).first()
    return None if row is None else row[0]


def set_value(store: Any, key: str, value: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(schema.meta.delete().where(schema.meta.c.key == key))
        conn.execute(schema.meta.insert().values(key=key, value=value))
