"""The care rule contract: what a rule plugin implements.

A rule *class* is registered through ``careplug_register_rules``; careplug creates one instance
when ``[rules.NAME]`` in the config enables it, passing the validated options.

``evaluate(history, now)`` gets the whole relevant history of one subject (a conversation, a
customer or an account: see ``subjects``) and returns the findings that hold *now*: open ones,
each at its current stage, with ``next_check_at`` set when a later stage or breach will fall due
without anything changing. A finding returned on one run and not on the next is marked resolved
by the engine. It must be a pure function of ``history`` and ``now``: same input, same findings,
same keys. It must not do I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from .flags import Flag

if TYPE_CHECKING:  # pragma: no cover
    from .finding import Finding
    from .history import History


class RuleOptions(BaseModel):
    """Base of a rule's option model. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    enabled: Flag = True


class Rule:
    name: ClassVar[str] = ""
    """The key under ``[rules]`` in careplug.toml."""
    Options: ClassVar[type[RuleOptions]] = RuleOptions
    subjects: ClassVar[tuple[str, ...]] = ("conversation",)
    """Subject kinds this rule evaluates: "conversation", "customer", "account"."""
    description: ClassVar[str] = ""

    def __init__(self, options: RuleOptions, context: object | None = None):
        self.options = options
        self.context = context

    def evaluate(self, history: "History", now: datetime) -> list["Finding"]:
        raise NotImplementedError
