"""The plugin manager: built-ins first, then entry points one at a time, then config plugins.

Call sites never touch ``pm.hook``: ``Plugins`` offers one typed method per hook (as tox does).
A plugin that raises in a hook, or returns the wrong shape (``careplug.shapes``), fails only its
own part; one plugin set serves many runs, and each reports its own failures (``recording()``).

Environment:

- ``CAREPLUG_PLUGINS=a,b``        load only these plugins (names as ``careplug plugins`` lists them;
                                  built-ins are ``careplug.<module>``)
- ``CAREPLUG_BLOCK_PLUGINS=a,b``  never load these
- ``CAREPLUG_STRICT_PLUGINS=1``   a plugin that fails to load is fatal (default: reported, skipped)
- ``CAREPLUG_TRACE_HOOKS=1``      print every hook call and result to stderr
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .shapes import hook_result

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "careplug"

BUILTIN_PLUGINS = (
    "careplug.sources.files",
    "careplug.rules.unanswered",
    "careplug.rules.broken_promise",
    "careplug.rules.run_around",
    "careplug.rules.quiet_customer",
    "careplug.rules.unhappy",
    "careplug.rules.check_in",
    "careplug.rules.neglected_lead",
    "careplug.nudges.planner",
    "careplug.nudges.outcomes",
    "careplug.notifiers.webhook",
    "careplug.notifiers.email",
)


@dataclass
class PluginInfo:
    name: str
    origin: str                    # "built-in", "entry point", "config"
    version: str | None
    hooks: list[str]
    module: str


@dataclass
class LoadFailure:
    name: str
    origin: str
    error: str

    def describe(self) -> str:
        return f"plugin {self.name!r} ({self.origin}) failed to load and was skipped: {self.error}"


@dataclass
class HookFailure:
    """A plugin raised (or returned the wrong shape) while a hook ran; the run goes on without that
    plugin's part."""

    plugin: str
    hook: str
    error: BaseException

    def describe(self, where: str = "") -> str:
        """A line of a run's failures: ``plugin 'x' failed in careplug_y <where>: Error: message``."""
        return f"plugin {self.plugin!r} failed in {self.hook}{' ' + where if where else ''}: " \
               f"{type(self.error).__name__}: {self.error}"


HOOK_FAILURES_KEPT = 1000

# the open ``Plugins.recording()`` blocks of this thread or task: (plugins, the list they fill)
_recordings: ContextVar[tuple[tuple["Plugins", list[HookFailure]], ...]] = ContextVar("careplug_recordings",
                                                                                   default=())


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class Plugins:
    """A loaded set of plugins and the typed calls into them."""

    def __init__(self, *, strict: bool | None = None, load_entry_points: bool = True,
                 builtins: Iterable[str] = BUILTIN_PLUGINS, extra: Iterable[str] = ()):
        self.pm = pluggy.PluginManager("careplug")
        self.pm.add_hookspecs(hookspecs)
        self.strict = _truthy("CAREPLUG_STRICT_PLUGINS") if strict is None else strict
        self.allow = _env_list("CAREPLUG_PLUGINS")
        self.block = _env_list("CAREPLUG_BLOCK_PLUGINS") or set()
        self.infos: dict[str, PluginInfo] = {}
        self.load_failures: list[LoadFailure] = []
        # the latest hook failures of any run, for a look in a debugger or a test; a run reports
        # its own with ``recording()``
        self.hook_failures: deque[HookFailure] = deque(maxlen=HOOK_FAILURES_KEPT)
        self._sources: dict[str, tuple[type, str]] | None = None
        self._rules: dict[str, tuple[type, str]] | None = None
        self._notifiers: dict[str, tuple[type, str]] | None = None
        self._setup_failures: dict[str, list[HookFailure]] = {}
        self.trace = _truthy("CAREPLUG_TRACE_HOOKS")
        for name in builtins:
            self._load(name, "built-in", lambda n=name: importlib.import_module(n), version=None)
        if load_entry_points:
            self._load_entry_points()
        for name in extra:
            self.add_module(name, origin="config")

    # --- loading ------------------------------------------------------------------------------

    def _wanted(self, name: str) -> bool:
        if name in self.block:
            return False
        return self.allow is None or name in self.allow

    def _load(self, name: str, origin: str, loader: Callable[[], Any], version: str | None) -> None:
        if not self._wanted(name) or name in self.infos or any(f.name == name for f in self.load_failures):
            return                                          # loaded, or reported, once
        try:
            plugin = loader()
            if self.pm.is_registered(plugin):
                return      # the same module, installed (entry point) and listed in the config too
            self.register(plugin, name=name, origin=origin, version=version)
        except Exception as exc:  # a broken plugin must not take the others down
            message = f"{type(exc).__name__}: {exc}"
            if self.strict:
                raise PluginError(f"plugin {name!r} ({origin}) failed to load: {message}") from exc
            log.warning("plugin %r (%s) failed to load and was skipped: %s", name, origin, message)
            self.load_failures.append(LoadFailure(name, origin, message))

    def _load_entry_points(self) -> None:
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            version = dist.version if dist is not None else None
            self._load(ep.name, "entry point", ep.load, version)

    def add_module(self, module: str, *, origin: str = "config") -> None:
        """Load a plugin module by dotted name (``plugins = [...]`` in careplug.toml)."""
        self._load(module, origin, lambda: importlib.import_module(module), version=None)

    def register(self, plugin: Any, *, name: str, origin: str = "entry point", version: str | None = None) -> None:
        """Register one plugin object and validate it: every ``careplug_*`` function must be a hook,
        and none a hook wrapper (``_refuse_wrappers``). An invalid plugin is left unregistered and
        ``PluginError`` names it."""
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {name!r}: {exc}") from exc
        except ValueError as exc:                        # pluggy: the name or the object is taken
            taken = "that name" if self.pm.get_plugin(name) is not None else "this plugin, under another name"
            raise PluginError(f"plugin {name!r} is already registered ({taken})") from exc
        try:
            self._check_unknown_hooks(plugin, name)
            self._refuse_wrappers(plugin, name)
            self.pm.check_pending()
        except (pluggy.PluginValidationError, PluginError) as exc:
            self.pm.unregister(name=name)
            raise exc if isinstance(exc, PluginError) else PluginError(f"plugin {name!r}: {exc}") from exc
        hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        module = getattr(plugin, "__name__", type(plugin).__module__)
        self.infos[name] = PluginInfo(name, origin, version or _module_version(module), hooks, module)
        self._sources = self._rules = self._notifiers = None

    def _check_unknown_hooks(self, plugin: Any, name: str) -> None:
        known = [n for n in dir(hookspecs) if n.startswith("careplug_")]
        for attr in dir(plugin):
            if attr.startswith("careplug_") and attr not in known and callable(getattr(plugin, attr)):
                hint = difflib.get_close_matches(attr, known, n=1)
                did_you_mean = f" (did you mean {hint[0]}?)" if hint else ""
                raise PluginError(f"plugin {name!r}: {attr} matches no careplug hook{did_you_mean}")

    def _refuse_wrappers(self, plugin: Any, name: str) -> None:
        """careplug calls each implementation on its own, so that one that raises fails only its
        own part (``_guarded``): there is no single call for a pluggy wrapper (``wrapper=True`` or
        ``hookwrapper=True``) to wrap. Run as a plain implementation it would return a generator
        and never see a result, so it is refused here, by name."""
        for caller in self.pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and (impl.wrapper or impl.hookwrapper):
                    kind = "wrapper=True" if impl.wrapper else "hookwrapper=True"
                    raise PluginError(
                        f"plugin {name!r}: {caller.name} is a hook wrapper ({kind}); careplug calls each "
                        f"implementation on its own and supports no wrappers: implement the hook plainly "
                        f"(CAREPLUG_TRACE_HOOKS=1 traces every hook call)")

    def list(self) -> list[PluginInfo]:
        return sorted(self.infos.values(), key=lambda i: (i.origin != "built-in", i.name))

    # --- registries ---------------------------------------------------------------------------

    def _collect(self, hook: str, attr: str, what: str) -> dict[str, tuple[type, str]]:
        found: dict[str, tuple[type, str]] = {}
        failed: list[HookFailure] = []
        token = _recordings.set(((self, failed),))     # reported as setup_failures only, by every run
        try:
            self._register_each(hook, attr, what, found)
        finally:
            _recordings.reset(token)
        self._setup_failures[hook] = failed
        return found

    def _register_each(self, hook: str, attr: str, what: str, found: dict[str, tuple[type, str]]) -> None:
        for impl in self._impls(hook):
            def register(cls: type, _plugin: str = impl.plugin_name) -> None:
                key = getattr(cls, attr, "")
                if not key:
                    raise PluginError(f"plugin {_plugin!r} registered {what} {cls.__name__} without a {attr}")
                if key in found and found[key][0] is not cls:
                    raise PluginError(
                        f"{what} {key!r} is registered twice: by {found[key][1]!r} and by {_plugin!r}")
                found[key] = (cls, _plugin)

            self._guarded(impl, hook, {"register": register})

    @property
    def setup_failures(self) -> list[HookFailure | LoadFailure]:
        """The plugins that failed to load, and the failures of the register hooks the source, rule
        and notifier registries were collected with. What those plugins would have registered is
        missing from every run on this plugin set, so each run reports them (not only the first):
        a run with one exits 1. Each has ``describe()``."""
        return [*self.load_failures, *(f for failed in self._setup_failures.values() for f in failed)]

    def sources(self) -> dict[str, type]:
        if self._sources is None:
            self._sources = self._collect("careplug_register_sources", "kind", "source")
        return {k: v[0] for k, v in self._sources.items()}

    def rules(self) -> dict[str, type]:
        if self._rules is None:
            self._rules = self._collect("careplug_register_rules", "name", "rule")
        return {k: v[0] for k, v in self._rules.items()}

    def notifiers(self) -> dict[str, type]:
        if self._notifiers is None:
            self._notifiers = self._collect("careplug_register_notifiers", "kind", "notifier")
        return {k: v[0] for k, v in self._notifiers.items()}

    def register_commands(self, cli: Any) -> None:
        self._each("careplug_register_commands", cli=cli)

    # --- run-time hooks -----------------------------------------------------------------------

    def records_synced(self, source: Any, stream: str, counts: dict[str, int], cursor: Any) -> None:
        self._each("careplug_records_synced", source=source, stream=stream, counts=counts, cursor=cursor)

    def relationship_history(self, customer_uid: str, store: Any) -> list[Any]:
        out: list[Any] = []
        for items in self._each("careplug_relationship_history", customer_uid=customer_uid, store=store):
            out.extend(items)
        return out

    def detect_neglect(self, subject: str, history: Any, now: Any) -> list[Any]:
        out: list[Any] = []
        for findings in self._each("careplug_detect_neglect", subject=subject, history=history, now=now):
            out.extend(findings)
        return out

    def plan_follow_up(self, finding: Any, policy: Any) -> list[Any]:
        return self._first("careplug_plan_follow_up", finding=finding, policy=policy) or []

    def deliver_nudges(self, target: str, nudges: list[Any]) -> list[Any] | None:
        """Receipts from the plugin that owns ``target``, or None when no plugin owns it.
        Unlike observer hooks, a delivery error propagates: the caller keeps the nudges pending."""
        for impl in self._impls("careplug_deliver_nudges"):
            result = impl.function(**_kwargs(impl, {"target": target, "nudges": nudges}))
            if result is not None:
                return result
        return None

    def nudge_delivered(self, nudge: Any, receipt: Any) -> None:
        self._each("careplug_nudge_delivered", nudge=nudge, receipt=receipt)

    def finding_resolved(self, finding: Any) -> None:
        self._each("careplug_finding_resolved", finding=finding)

    # --- failures -----------------------------------------------------------------------------

    @contextmanager
    def recording(self) -> Iterator[list[HookFailure]]:
        """The hook failures of the calls made inside the block, in this thread or task: what a run
        (or a part of one) reports as its own, never an earlier run's. Blocks nest: each open
        one gets every failure."""
        caught: list[HookFailure] = []
        token = _recordings.set((*_recordings.get(), (self, caught)))
        try:
            yield caught
        finally:
            _recordings.reset(token)

    def _failed(self, failure: HookFailure) -> None:
        self.hook_failures.append(failure)
        for owner, caught in _recordings.get():
            if owner is self:
                caught.append(failure)

    # --- calling ------------------------------------------------------------------------------

    def _impls(self, hook: str) -> list[Any]:
        # pluggy calls the last registered first (tryfirst/trylast respected): keep its order
        return list(reversed(getattr(self.pm.hook, hook).get_hookimpls()))

    def _guarded(self, impl: Any, hook: str, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """Call one implementation: (True, its result), or (False, None) when it raised or returned
        something of the wrong shape (``careplug.shapes``): then the failure is recorded as that
        plugin's and the caller goes on with the others."""
        try:
            result = impl.function(**_kwargs(impl, kwargs))
            if self.trace:
                sys.stderr.write(f"[careplug hook] {hook} -> {impl.plugin_name}: {_short(result)}\n")
            return True, hook_result(hook, result)
        except PluginError:
            raise
        except Exception as exc:
            log.error("plugin %r failed in %s: %s: %s", impl.plugin_name, hook, type(exc).__name__, exc)
            self._failed(HookFailure(impl.plugin_name, hook, exc))
            return False, None

    def _each(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call every implementation; one that raises is reported and skipped."""
        results = []
        for impl in self._impls(hook):
            ok, result = self._guarded(impl, hook, kwargs)
            if ok and result is not None:
                results.append(result)
        return results

    def _first(self, hook: str, **kwargs: Any) -> Any:
        for impl in self._impls(hook):
            ok, result = self._guarded(impl, hook, kwargs)
            if ok and result is not None:
                return result
        return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _kwargs(impl: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {name: kwargs[name] for name in impl.argnames}


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    try:
        return importlib.metadata.packages_distributions()
    except Exception:  # pragma: no cover - metadata quirks
        return {}


def _module_version(module: str) -> str | None:
    for dist in _distributions().get(module.split(".")[0], []):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            continue
    return None


_default: Plugins | None = None


def get_plugins(**kwargs: Any) -> Plugins:
    """The process-wide plugin set (created on first use)."""
    global _default
    if _default is None or kwargs:
        _default = Plugins(**kwargs)
    return _default


def reset_plugins() -> None:
    global _default
    _default = None
