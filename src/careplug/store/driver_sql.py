"""Plain DB-API statements for the few hot writes that skip SQLAlchemy's per-row parameter handling.

The statements are written once in SQL that SQLite and PostgreSQL both accept; only the parameter
marker differs by driver (``?`` for sqlite3, ``%s`` for psycopg).
"""

from __future__ import annotations

from typing import Any

__all__ = ["mark", "false"]


def mark(conn: Any) -> str:
    """The positional parameter marker of ``conn``'s driver."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def false(conn: Any) -> str:
    """The literal for a false boolean column value (SQLite stores booleans as integers)."""
    return "0" if conn.dialect.name == "sqlite" else "false"
