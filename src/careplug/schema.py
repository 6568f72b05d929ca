"""The JSON Schema of careplug.toml, built from the installed plugins' option models (for editors:
Taplo, VS Code "Even Better TOML", JetBrains)."""

from __future__ import annotations

from typing import Any

from datetime import timedelta

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from .config import StoreConfig
from .durations import format_duration


class _CareplugJsonSchema(GenerateJsonSchema):
    """Defaults written as an admin would write them in careplug.toml: durations as ``"4h"``, not
    pydantic's ISO 8601 ``"PT4H"`` (accepted too, but not how the docs and examples write them)."""

    def encode_default(self, dft: Any) -> Any:
        return super().encode_default(_plain_durations(dft))


def _plain_durations(value: Any) -> Any:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, dict):
        return {k: _plain_durations(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain_durations(v) for v in value)
    return value


def _model_schema(model: type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/$defs/{model}", schema_generator=_CareplugJsonSchema)
    defs.update(schema.pop("$defs", {}))
    return schema


def _typed(registry: dict[str, type], defs: dict[str, Any]) -> dict[str, Any]:
    variants = []
    for kind, cls in sorted(registry.items()):
        s = _model_schema(cls.Options, defs)
        s.setdefault("properties", {})["type"] = {"const": kind, "description": f"{cls.__name__}"}
        s["required"] = sorted(set(s.get("required", [])) | {"type"})
        s["title"] = kind
        variants.append(s)
    return {"type": "object", "additionalProperties": {"oneOf": variants} if variants else {"type": "object"}}


def config_schema(plugins: Any) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    rules = {name: _model_schema(cls.Options, defs) for name, cls in sorted(plugins.rules().items())}
    properties: dict[str, Any] = {
        "store": _model_schema(StoreConfig, defs),
        "plugins": {"type": "array", "items": {"type": "string"}, "description": "Extra plugin modules to load"},
        "sources": _typed(plugins.sources(), defs),
        "notifiers": _typed(plugins.notifiers(), defs),
        "rules": {"type": "object", "properties": rules, "additionalProperties": False},
    }
    try:
        from .calendar import CalendarOptions

        properties["calendars"] = {"type": "object", "additionalProperties": _model_schema(CalendarOptions, defs)}
    except ImportError:  # pragma: no cover
        properties["calendars"] = {"type": "object"}
    try:
        from .nudges.policy import NudgePolicy

        properties["nudges"] = _model_schema(NudgePolicy, defs)
    except ImportError:  # pragma: no cover
        properties["nudges"] = {"type": "object"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "careplug.toml",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "$defs": defs,
    }
