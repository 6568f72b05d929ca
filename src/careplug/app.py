"""``App``: one configured careplug — config, plugins, store, sources, rules, calendars, notifiers.

Every command builds one App and hands it to the engines (sync, check, nudges). Nothing here
talks to a CRM: sources are created, not opened, so ``careplug validate`` and ``--dry-run`` work
offline.

A source or notifier whose class raises when created is that part's failure, not the App's: it is
left out of ``sources`` (``notifiers``), the reason is kept in ``source_failures``
(``notifier_failures``) and the run goes on without it. The reason quotes the error only when it
is careplug's own (a ``SourceError``, ``AuthError``...: their messages never hold a secret); any
other error, a client library's perhaps quoting the credentials it was given, is named by type
(``careplug -vv`` logs it whole).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from . import config as config_mod
from .errors import CareplugError, ConfigError
from .plugins import Plugins
from .source import Source
from .store import Store

log = logging.getLogger(__name__)


class App:
    def __init__(self, config: config_mod.Config, plugins: Plugins):
        self.config = config
        self.plugins = plugins
        self.base_dir = config.base_dir
        self._store: Store | None = None
        self._failures: dict[str, dict[str, str]] = {}     # "source"/"notifier" -> name -> why

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike, *, plugins: Plugins | None = None) -> "App":
        plugins = plugins or Plugins()
        return cls(config_mod.load(path, plugins=plugins), plugins)

    @classmethod
    def from_text(cls, text: str, *, base_dir: str | os.PathLike, plugins: Plugins | None = None) -> "App":
        plugins = plugins or Plugins()
        return cls(config_mod.parse(text, base_dir=Path(base_dir), plugins=plugins), plugins)

    # --- parts --------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.config.store_url)
        return self._store

    @cached_property
    def sources(self) -> dict[str, Any]:
        """The configured sources that could be created, by name."""
        registry = self.plugins.sources()
        return _create("source", self.config.sources, self._failures.setdefault("source", {}),
                       lambda name, kind, options: registry[kind](name, options, base_dir=str(self.base_dir)))

    @cached_property
    def notifiers(self) -> dict[str, Any]:
        """The configured notifiers that could be created, by name."""
        registry = self.plugins.notifiers()
        return _create("notifier", self.config.notifiers, self._failures.setdefault("notifier", {}),
                       lambda name, kind, options: registry[kind](name, options))

    @property
    def source_failures(self) -> dict[str, str]:
        """Why each configured source that could not be created was not, by name."""
        self.sources
        return dict(self._failures["source"])

    @property
    def notifier_failures(self) -> dict[str, str]:
        """Why each configured notifier that could not be created was not, by name."""
        self.notifiers
        return dict(self._failures["notifier"])

    @property
    def deliverable_targets(self) -> set[str]:
        """The names nudges can be delivered to: configured sources that write back and notifiers,
        also those that could not be created in this run (their nudges wait for them rather than
        being planned for another target)."""
        created, kinds = self.sources, self.plugins.sources()
        return ({name for name, (kind, _) in self.config.sources.items()
                 if (created[name].can_deliver if name in created else kinds[kind].deliver is not Source.deliver)}
                | set(self.config.notifiers))

    @cached_property
    def calendars(self) -> dict[str, Any]:
        from .calendar import BusinessCalendar

        out = {name: BusinessCalendar.from_options(opts, name=name) for name, opts in self.config.calendars.items()}
        out.setdefault("always", BusinessCalendar.always())
        return out

    def calendar(self, name: str | None = None) -> Any:
        """The named calendar; without a name, ``default`` if configured, else 24/7."""
        if name:
            return self.calendars[name]
        return self.calendars.get("default") or self.calendars["always"]

    @cached_property
    def rules(self) -> list[Any]:
        registry = self.plugins.rules()
        context = self.rule_context
        return [registry[name](options, context) for name, options in self.config.rules.items()
                if getattr(options, "enabled", True)]

    @cached_property
    def rule_context(self) -> Any:
        """What rules get as ``context``: the rules engine's RuleContext when it offers one."""
        try:
            from .check import make_rule_context
        except ImportError:
            return self
        return make_rule_context(self)

    @property
    def policy(self) -> Any:
        return self.config.nudges

    @staticmethod
    def now() -> datetime:
        """The run's clock; ``CAREPLUG_NOW`` (ISO 8601) pins it for tests and replays."""
        pinned = os.environ.get("CAREPLUG_NOW")
        if pinned:
            try:
                value = datetime.fromisoformat(pinned)
            except ValueError:
                from .config import ConfigProblem

                raise ConfigError([ConfigProblem(
                    "CAREPLUG_NOW", f"{pinned!r} is not an ISO 8601 time", file="environment",
                    hint="write e.g. 2026-03-02T09:00:00Z or 2026-03-02T09:00+01:00 (UTC without an offset), "
                         "or unset it to run at the current time")]) from None
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return datetime.now(timezone.utc)

    def close(self) -> None:
        for source in self.__dict__.get("sources", {}).values():
            try:
                source.close()
            except Exception:  # pragma: no cover - closing must not mask the run's result
                pass
        if self._store is not None:
            self._store.close()


def _create(what: str, tables: dict[str, tuple[str, Any]], failures: dict[str, str],
            make: Callable[[str, str, Any], Any]) -> dict[str, Any]:
    """``make(name, kind, options)`` for each configured table; one that raises goes to ``failures``."""
    created = {}
    for name, (kind, options) in tables.items():
        try:
            created[name] = make(name, kind, options)
        except Exception as exc:  # one part that cannot be created must not take the others down
            log.debug("%s %r (type %r) could not be created", what, name, kind, exc_info=True)
            failures[name] = f"{what} {name!r} (type {kind!r}) could not be created: {_reason(exc)}"
    return created


def _reason(exc: Exception) -> str:
    if isinstance(exc, CareplugError):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__} (its message is not shown: it may quote a secret; careplug -vv logs it)"
