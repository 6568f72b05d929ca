"""What plugins must return, checked where careplug takes it.

A rule's ``evaluate`` and the run-time hooks whose results careplug uses return a list (any
iterable will do) of one kind of object, or None for none:

====================================  ======================
``Rule.evaluate`` and ``assess``      ``Finding``
``careplug_detect_neglect``           ``Finding``
``careplug_relationship_history``     ``TimelineItem``
``careplug_plan_follow_up``           ``Nudge``
====================================  ======================

Anything else (a bare ``Finding`` instead of ``[finding]``, ``[None]``, a dict) is that plugin's
failure, reported with what it returned like an exception it raised (``ShapeError``); the other
plugins' results are used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ShapeError
from .finding import Finding
from .history import TimelineItem
from .nudges.model import Nudge

HOOK_RESULTS: dict[str, type] = {
    "careplug_detect_neglect": Finding,
    "careplug_relationship_history": TimelineItem,
    "careplug_plan_follow_up": Nudge,
}


def list_of(value: Any, kind: type) -> list[Any]:
    """``value`` as a list of ``kind`` objects (None: an empty list); ``ShapeError`` saying what
    it is instead."""
    if value is None:
        return []
    if type(value) is list:                 # the usual case, checked without the ABCs
        for i, item in enumerate(value):
            if not isinstance(item, kind):
                raise ShapeError(f"returned a list holding {_a(item)} at index {i}, not only {kind.__name__} objects")
        return value
    if isinstance(value, (str, bytes, Mapping, kind)) or not isinstance(value, Iterable):
        raise ShapeError(f"returned {_a(value)}, not a list of {kind.__name__} (return [] or None for none)")
    items = value if type(value) is list else list(value)
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise ShapeError(f"returned a list holding {_a(item)} at index {i}, not only {kind.__name__} objects")
    return items


def hook_result(hook: str, value: Any) -> Any:
    """``value`` as ``hook`` must return it: a list of its kind, or None (kept: it means "none",
    or for a ``firstresult`` hook "not mine"). Results careplug does not use pass as they are."""
    kind = HOOK_RESULTS.get(hook)
    if kind is None or value is None:
        return value
    return list_of(value, kind)


def _a(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
