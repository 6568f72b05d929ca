"""Stages: warnings before a breach, each with a name and a severity.

Configured per rule as a list of tables::

    stages = [
      { name = "warning", at = 0.75 },                         # at 75 % of the target
      { name = "last-call", before = "30m", severity = "warning" },  # 30 minutes before the due time
    ]
    breach_severity = "breach"

``at`` is a fraction of the target (0 < at < 1); ``before`` a fixed time before the due time, in
the same clock (business time with a calendar). The breach stage (``"breach"``) is always last,
when the full target has run. Stages are ordered by when they are reached on each target (an ``at``
and a ``before`` can swap between targets). Two stages at the same ``at`` or the same ``before`` are
refused (they are always reached together), and so, by the rule's options (``before_within``), is
a ``before`` not shorter than the tightest target the rule can use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Callable, Iterator

from pydantic import (BaseModel, ConfigDict, ValidationError, ValidatorFunctionWrapHandler, WrapValidator,
                      field_validator, model_validator)

from ..finding import Severity
from .options import Conflict, Duration, format_duration, parse_duration, quoted, value_error

__all__ = ["StageOptions", "Stages", "StageTime", "BREACH", "stage_offsets", "before_within"]

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


def _repeated(v: Any, key: Callable[[Any], Any]) -> Iterator[tuple[int, Any, int, Any]]:
    """``(index, stage, index of the earlier stage, key)`` of each stage whose ``key`` (not None)
    an earlier stage already has."""
    first: dict[Any, int] = {}
    for i, stage in enumerate(v if isinstance(v, list) else ()):
        k = key(stage)
        if k is None:
            continue
        if k in first:
            yield i, stage, first[k], k
        else:
            first[k] = i


def _repeats(v: Any) -> list[dict[str, Any]]:
    """An error on each stage whose name an earlier stage already has."""
    out = []
    for i, stage, earlier, name in _repeated(v, lambda s: n if isinstance(n := _name_of(s), str) else None):
        named = isinstance(stage, dict) and "name" in stage or not isinstance(stage, dict)
        message = (f"stage names must be unique: stage {earlier} is already called {name!r}"
                   + ("" if named else " (a stage without a name is 'warning')"))
        out.append(value_error((i, "name") if named else (i,), name, message))
    return out


def _when(stage: Any) -> tuple[str, Any] | None:
    """``("at", fraction)`` or ``("before", timedelta)`` of a stage, validated or as written (None
    when it has not exactly one valid time: that is reported on its own)."""
    if not isinstance(stage, dict):
        stage = {"at": getattr(stage, "at", None), "before": getattr(stage, "before", None)}
    at, before = stage.get("at"), stage.get("before")
    if (at is None) == (before is None):
        return None
    if at is not None:
        return ("at", at) if isinstance(at, (int, float)) and not isinstance(at, bool) else None
    try:
        return "before", parse_duration(before, bare_seconds=False)
    except (TypeError, ValueError):
        return None


def _same_time(v: Any) -> list[dict[str, Any]]:
    """An error on each stage at the same ``at`` or the same ``before`` as an earlier one: the two
    are always reached at the same instant, so one of them would never be seen."""
    out = []
    for i, _stage, earlier, (kind, value) in _repeated(v, _when):
        shown = format_duration(value) if kind == "before" else value
        message = (f"stage {earlier} is already at {kind} = {shown!r}: two stages at the same time are always "
                   f"reached together and only the later-listed one is shown; give this one another {kind} "
                   f"or remove it")
        out.append(value_error((i, kind), shown, message))
    return out


def _unique(v: Any, handler: ValidatorFunctionWrapHandler) -> list[StageOptions]:
    """Stage names are unique and no two stages fall at the same time (the same ``at`` or the
    same ``before``); a repeat is reported on the stage that repeats, together with the stages'
    other problems (not only once they are fixed)."""
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
    written = v if isinstance(v, list) else stages
    repeats = _repeats(written) + _same_time(written)
    if errors or repeats:
        raise ValidationError.from_exception_data(title, [*errors, *repeats])
    return stages


Stages = Annotated[list[StageOptions], WrapValidator(_unique)]
"""A rule's warning stages (the breach is implicit)."""


def before_within(stages: list[StageOptions], targets: dict[str, timedelta]) -> list[Conflict]:
    """A conflict on each stage whose ``before`` is not shorter than the tightest of ``targets``
    (each target the rule can use, by its key path, e.g. ``"channel_targets.phone"``): on a clock
    toward that target the stage is reached the moment the clock starts."""
    if not targets:
        return []
    key, tightest = min(targets.items(), key=lambda kv: kv[1])
    return [(("stages", i, "before"),
             f"before = {quoted(s.before)} is not shorter than the tightest target, {key} = {quoted(tightest)}: "
             f"on that target the stage is reached the moment the clock starts; write a before shorter than "
             f"{quoted(tightest)}, or at (a fraction of each target, e.g. at = 0.5)")
            for i, s in enumerate(stages) if s.before is not None and s.before >= tightest]


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
