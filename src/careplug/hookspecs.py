"""Every careplug extension point, declared as a typed ``careplug_*`` hook.

A plugin is any module or object with functions named like these hooks and decorated with
``careplug.hookimpl``. Implementations may take any subset of a hook's arguments, by name.
Unless a hook says ``firstresult``, every implementation is called and the results are collected
in a list (``None`` results are dropped). A hook that returns findings, timeline items or nudges
returns a list of them or None; anything else is that plugin's failure (``careplug.shapes``). ``docs/hooks.md`` documents each hook with an example;
``tests/test_hooks_documented.py`` fails when one is missing there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click

    from .finding import Finding
    from .history import History, TimelineItem
    from .notifier import Notifier
    from .nudges.model import Nudge, Receipt
    from .rule import Rule
    from .source import Source
    from .store import Store

hookspec = pluggy.HookspecMarker("careplug")


# --- setup -------------------------------------------------------------------------------------


@hookspec
def careplug_register_sources(register: Callable[[type["Source"]], None]) -> None:
    """Register source classes (CRM adapters, file importers).

    Call ``register(SourceClass)`` once per class. ``SourceClass.kind`` is the ``type`` an admin
    writes in a ``[sources.NAME]`` table, ``SourceClass.Options`` the pydantic model its options
    are validated with. Registering two classes of the same kind is an error naming both plugins.
    Returns nothing.
    """


@hookspec
def careplug_register_rules(register: Callable[[type["Rule"]], None]) -> None:
    """Register care rule classes.

    Call ``register(RuleClass)`` once per class. ``RuleClass.name`` is the key under ``[rules]``
    in ``careplug.toml``; ``RuleClass.Options`` validates its table. A registered rule runs only
    when the config enables it. Returns nothing.
    """


@hookspec
def careplug_register_notifiers(register: Callable[[type["Notifier"]], None]) -> None:
    """Register notifier classes (webhook, email, chat): targets for ``notify`` nudges.

    Call ``register(NotifierClass)``; ``NotifierClass.kind`` is the ``type`` of a
    ``[notifiers.NAME]`` table. Returns nothing.
    """


@hookspec
def careplug_register_commands(cli: "click.Group") -> None:
    """Add sub-commands to the ``careplug`` command line (``@cli.command()``). Returns nothing."""


# --- relationship: sync and history ------------------------------------------------------------


@hookspec
def careplug_records_synced(source: "Source", stream: str, counts: dict[str, int], cursor: Any) -> None:
    """Called after each committed batch of a sync: ``counts`` maps record kinds to how many
    records were inserted or changed; ``cursor`` is the stream's cursor now durable in the store.
    For observers (metrics, audit logs). Must not raise; returns nothing.
    """


@hookspec
def careplug_relationship_history(customer_uid: str, store: "Store") -> list["TimelineItem"] | None:
    """Contribute timeline items for one customer that are not in the store (CRM-only history:
    orders, invoices, calls logged elsewhere). Return a list of ``TimelineItem`` or None for none.
    All implementations are called; their items are merged into the timeline by time.
    """


# --- care: neglect detection ---------------------------------------------------------------


@hookspec
def careplug_detect_neglect(subject: str, history: "History", now: datetime) -> list["Finding"] | None:
    """Report findings for one subject beyond the registered rules: for example an adapter
    reporting an SLA breach the CRM itself recorded, or a one-off check that needs no config.

    Called for every subject a run evaluates (changed, or due), after the configured rules.
    Return the findings that hold *now* (an empty list or None for none): a finding reported on
    one run and not on the next is marked resolved. Keys must be stable across runs (see
    ``careplug.finding``). All implementations are called.
    """


# --- follow-up nudges -------------------------------------------------------------------------


@hookspec(firstresult=True)
def careplug_plan_follow_up(finding: "Finding", policy: Any) -> list["Nudge"] | None:
    """Decide what to write or send for a finding at its current stage: who, where, what.

    ``firstresult``: the first implementation that returns a list (even an empty one) decides;
    return None to leave the decision to the next. The built-in planner (configured by ``[nudges]``)
    runs last. Nudge keys must come from ``careplug.nudges.model.nudge_key`` so re-planning the same
    finding and stage gives the same key.
    """


@hookspec(firstresult=True)
def careplug_deliver_nudges(target: str, nudges: list["Nudge"]) -> list["Receipt"] | None:
    """Deliver a batch of nudges bound for ``target`` (a source or notifier name).

    ``firstresult``: the plugin that owns ``target`` returns one ``Receipt`` per nudge, in order;
    others return None. Delivery must be idempotent: look each nudge's marker up before writing.
    Raise ``DeliveryError`` (or a ``SourceError``) for a failure; the ledger keeps the nudges
    pending and the next run retries them. A target no implementation owns goes to the run's
    own App: its configured source's ``deliver`` or notifier's ``send`` of that name.
    """


@hookspec
def careplug_nudge_delivered(nudge: "Nudge", receipt: "Receipt") -> None:
    """Called once per nudge after its delivery is recorded in the ledger (not on the retry that
    finds it already delivered). For notifiers and audit trails. Must not raise; returns nothing.
    """


@hookspec
def careplug_finding_resolved(finding: "Finding") -> None:
    """Called once when a finding clears (the agent replied, the promise was kept). Returns nothing."""
