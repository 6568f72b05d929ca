"""Encoding normalized records to JSON text and back, fast (no deep copies, no reflection per row).

The stored JSON is the whole record, identity included (``{"source": ..., "external_id": ...,
...}``, schema v4; the identity is also in the row's columns, for the indexes).

``decode`` is on the hot path of every rule evaluation (a full run over a million conversations
decodes ~9M records): msgspec decodes the JSON straight into the record dataclass (datetimes, enums
and defaults in C, ~1 µs a record), and ``decode_list`` a JSON array of them in one call. A record
msgspec refuses (a value of a type the current model does not declare, written by an older
version), or one stored without its identity (before v4), goes through the tolerant
field-by-field decode.
"""

from __future__ import annotations

import enum
import operator
import typing
from dataclasses import fields
from datetime import datetime, timezone
from typing import Any, Callable

import msgspec
import orjson

from ..model import RECORD_TYPES, Record


def _dumps(value: Any) -> str:
    """Compact JSON text; datetimes as ISO 8601, enums as their values (orjson, native speed)."""
    return orjson.dumps(value).decode()


def epoch(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value._value_
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _field_plan(cls: type) -> list[tuple[str, Callable[[Any], Any] | None]]:
    hints = typing.get_type_hints(cls)
    plan: list[tuple[str, Callable[[Any], Any] | None]] = []
    for f in fields(cls):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        target = args[0]
        if target is datetime:
            plan.append((f.name, datetime.fromisoformat))
        elif isinstance(target, type) and issubclass(target, enum.Enum):
            plan.append((f.name, target))
        else:
            plan.append((f.name, None))
    return plan


_PLANS = {kind: (cls, _field_plan(cls)) for kind, cls in RECORD_TYPES.items()}


_GETTERS = {kind: (tuple(name for name, _ in plan), operator.attrgetter(*(name for name, _ in plan)))
            for kind, (_cls, plan) in _PLANS.items()}


def _encoder(names: tuple[str, ...], getter: Callable[[Any], Any]) -> Callable[[Record], str]:
    dumps = orjson.dumps

    def encode(record: Record) -> str:
        return dumps(dict(zip(names, getter(record)))).decode()
    return encode


_ENCODERS = {RECORD_TYPES[kind]: _encoder(names, getter) for kind, (names, getter) in _GETTERS.items()}


def encoder(cls: type) -> Callable[[Record], str]:
    """``encode`` for records of type ``cls`` (skips looking up the kind per record)."""
    return _ENCODERS[cls]


def encode(record: Record) -> str:
    """JSON text of a whole record, its identity first."""
    return _ENCODERS[type(record)](record)


HEAD = '{"source":'                         # how ``encode``'s JSON starts
_HEAD_BYTES = HEAD.encode()
_DECODERS = {kind: msgspec.json.Decoder(type=cls) for kind, cls in RECORD_TYPES.items()}
_LIST_DECODERS = {kind: msgspec.json.Decoder(type=list[cls])  # type: ignore[valid-type]
                  for kind, cls in RECORD_TYPES.items()}


def decode(kind: str, source: str, external_id: str, data: str | bytes, _decoders: dict = _DECODERS) -> Record:
    """The record stored as ``data`` (``encode``'s JSON) in the row with these identity columns."""
    if data[:10] == HEAD or data[:10] == _HEAD_BYTES:   # the whole record (schema v4)
        try:
            return _decoders[kind].decode(data)
        except msgspec.ValidationError:
            pass
    return decode_tolerant(kind, source, external_id, data)


def decode_list(kind: str, items: list[str] | list[bytes],
                identities: Callable[[], list[tuple[str, str | None]]]) -> list[Record | None]:
    """The records of ``kind`` stored as ``items`` (``encode``'s JSON texts, as ``str`` or as UTF-8
    ``bytes``), decoded as one JSON array in one call. When one of them needs the tolerant decode,
    each is decoded on its own; a record stored before v4 (no identity in its JSON) takes its
    row's ``(source, external_id)`` from ``identities()``, called only then, and is None when its
    external id is None (the row was deleted meanwhile)."""
    try:
        if items and items[0].__class__ is bytes:
            return _LIST_DECODERS[kind].decode(b"[" + b",".join(items) + b"]")  # type: ignore[arg-type]
        return _LIST_DECODERS[kind].decode("[" + ",".join(items) + "]")  # type: ignore[arg-type]
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    out: list[Record | None] = []
    rows: list[tuple[str, str | None]] | None = None
    for i, data in enumerate(items):
        if data[:10] == HEAD or data[:10] == _HEAD_BYTES:
            out.append(decode(kind, "", "", data))         # its identity is in its JSON
            continue
        if rows is None:
            rows = identities()
        src, ext = rows[i]
        out.append(None if ext is None else decode(kind, src, ext, data))
    return out


def decode_tolerant(kind: str, source: str, external_id: str, data: str | bytes) -> Record:
    """Field by field: unknown keys are ignored, a missing key takes the field's default; the
    identity is the JSON's, else the row's (``source``, ``external_id``: JSON stored before v4)."""
    cls, plan = _PLANS[kind]
    raw = orjson.loads(data)
    kwargs: dict[str, Any] = {"source": raw.get("source", source),
                              "external_id": raw.get("external_id", external_id)}
    for name, convert in plan:
        if name in ("source", "external_id"):
            continue
        if name in raw:
            value = raw[name]
            kwargs[name] = convert(value) if (convert is not None and value is not None) else value
    return cls(**kwargs)


def dumps(value: Any) -> str:
    return _dumps(value)
