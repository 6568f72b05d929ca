"""Booleans as admins write them in careplug.toml: ``true`` or ``false``.

pydantic's plain ``bool`` reads ``"no"``, ``"off"``, ``0`` and ``"1"`` as booleans, so ``enabled =
"no"`` passed validation by guessing. ``Flag`` takes a TOML boolean, and the strings ``"true"`` and
``"false"`` only, which is what ``${NAME}`` interpolation gives (``enabled =
"${NUDGES_ON:-true}"``); anything else is a problem at its key. Every boolean option of careplug's
option models is a ``Flag``; plugin option models should use it too.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["Flag"]


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise ValueError(f"{value!r} is not a boolean: write true or false")


Flag = Annotated[bool, BeforeValidator(_flag)]
"""A boolean option: ``true`` or ``false`` (or exactly that string, as ``${NAME}`` gives)."""
