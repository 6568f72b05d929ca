"""``App``: one configured careplug — config, plugins, store, sources, rules, calendars, notifiers.

Every command builds one App and hands it to the engines (sync, check, nudges). Nothing here
talks to a CRM: sources are created, not opened, so ``careplug validate`` and ``--dry-run`` work
offline.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from . import config as config_mod
from .plugins import Plugins
from .store import Store


class App:
    def __init__(self, config: config_mod.Config, plugins: Plugins):
        self.config = config
        self.plugins = plugins
        self.base_dir = config.base_dir
        self._store: Store | None = None

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
        registry = self.plugins.sources()
        return {name: registry[kind](name, options, base_dir=str(self.base_dir))
                for name, (kind, options) in self.config.sources.items()}

    @cached_property
    def notifiers(self) -> dict[str, Any]:
        registry = self.plugins.notifiers()
        return {name: registry[kind](name, options) for name, (kind, options) in self.config.notifiers.items()}

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
            value = datetime.fromisoformat(pinned)
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
