"""careplug: a care layer for CRMs.

Plugin authors need only this module::

    import careplug

    @careplug.hookimpl
    def careplug_register_rules(register):
        register(MyRule)
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("careplug")

from .errors import (  # noqa: E402
    AuthError,
    CareplugError,
    ConfigError,
    DeliveryError,
    FatalSourceError,
    NotFound,
    PluginError,
    RateLimitExhausted,
    RetriableError,
    SourceError,
    StoreLocked,
)
from .finding import Finding, Severity, subject_key  # noqa: E402
from .flags import Flag  # noqa: E402
from .history import History, TimelineItem  # noqa: E402
from .model import (  # noqa: E402
    Account,
    Agent,
    AuthorRole,
    Channel,
    Checkpoint,
    Conversation,
    Customer,
    Deletion,
    Direction,
    Event,
    EventKind,
    Message,
    Priority,
    Quarantined,
    Rating,
    Status,
    Task,
)
from .notifier import Notifier, NotifierOptions  # noqa: E402
from .nudges.model import Action, Nudge, NudgeState, Receipt, nudge_key  # noqa: E402
from .rule import Rule, RuleOptions  # noqa: E402
from .source import Source, SourceOptions  # noqa: E402

__version__ = "0.1.0"

__all__ = [name for name in dir() if not name.startswith("_")]
