"""Stages: warnings before a breach, each with a name and a severity.

Configured per rule as a list of tables::

    stages = [
      { name = "warning", at = 0.75 },                         # at 75 % of the target
      { name = "last-call", before = "30m", severity = "warning" },  # 30 minutes before the due time
    ]
    breach_severity = "breach"

``at`` is a fraction of the target (0 < at < 1); ``before`` a fixed time before the due time, in
the same clock (business time with a calendar). The breach stage (``"breach"``) is always last,
when the full target has run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (BaseModel, ConfigDict, ValidationError, ValidatorFunctionWrapHandler, WrapValidator,
                      field_validator, model_validator)

from ..finding import Severity
from .options import Duration

__all__ = ["StageOptions", "Stages", "StageTime", "BREACH", "stage_offsets"]

BREACH = "breach"


class StageOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "warning"
    at: float | None = None
    before: Duration | None = None
    severity: Severity = Severity.WARNING

    @field_validator("at")
    @classmethod
    def _fraction(cls, v: float | None) -> float | None:
        if v is not None and not 0 < v < 1:
            raise ValueError(f"at = {v} must be a fraction of the target between 0 and 1 (e.g. 0.75)")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a stage needs a name")
        if v == BREACH:
            raise ValueError("'breach' is the last stage and always present: name warnings otherwise")
        return v

    @model_validator(mode="after")
    def _one_of(self) -> "StageOptions":
        if (self.at is None) == (self.before is None):
            raise ValueError("a stage needs exactly one of at (a fraction of the target) or before "
                             "(a time before the due time, e.g. '1h')")
        return self


def _name_of(stage: Any) -> Any:
    return stage.get("name", "warning") if isinstance(stage, dict) else getattr(stage, "name", None)


def _repeats(v: Any) -> list[dict[str, Any]]:
    """An error on each stage whose name an earlier stage already has."""
    if not isinstance(v, list):
        return []
    first: dict[str, int] = {}
    out = []
    for i, stage in enumerate(v):
        name = _name_of(stage)
        if not isinstance(name, str):
            continue
        if name in first:
            named = isinstance(stage, dict) and "name" in stage or not isinstance(stage, dict)
            message = (f"stage names must be unique: stage {first[name]} is already called {name!r}"
                       + ("" if named else " (a stage without a name is 'warning')"))
            out.append({"type": "value_error", "loc": (i, "name") if named else (i,), "input": name,
                        "ctx": {"error": ValueError(message)}})
        else:
            first[name] = i
    return out


def _unique(v: Any, handler: ValidatorFunctionWrapHandler) -> list[StageOptions]:
    """Stage names are unique; a repeated name is reported on the stage that repeats it, together
    with the stages' other problems (not only once they are fixed)."""
    errors: list[dict[str, Any]] = []
    stages: list[StageOptions] = []
    title = "stages"
    try:
        stages = handler(v)
    except ValidationError as exc:
        title = exc.title
        errors = [{k: e[k] for k in ("type", "loc", "input", "ctx") if k in e} for e in exc.errors()]
        if not isinstance(v, list):
            raise
    repeats = _repeats(v if isinstance(v, list) else stages)
    if errors or repeats:
        raise ValidationError.from_exception_data(title, [*errors, *repeats])
    return stages


Stages = Annotated[list[StageOptions], WrapValidator(_unique)]
"""A rule's warning stages (the breach is implicit)."""


@dataclass(frozen=True, slots=True)
class StageTime:
    """A stage reached after ``offset`` of clock time since the start."""

    name: str
    severity: Severity
    offset: timedelta


def stage_offsets(stages: list[StageOptions], target: timedelta,
                  breach_severity: Severity = Severity.BREACH) -> list[StageTime]:
    """Stages in the order they are reached, ending with the breach at ``target``. A ``before``
    longer than the target starts at zero."""
    out: list[StageTime] = []
    for s in stages:
        offset = target * s.at if s.at is not None else max(target - s.before, timedelta(0))  # type: ignore[operator]
        out.append(StageTime(s.name, s.severity, offset))
    if len(out) > 1:
        out.sort(key=lambda st: st.offset)
    out.append(StageTime(BREACH, breach_severity, target))
    return out
