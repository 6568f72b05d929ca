"""careplug's pytest plugin (registered through the ``pytest11`` entry point): fixtures for plugin
authors, available in any test run where careplug is installed.

- ``careplug_store``: a fresh ``careplug.store.Store`` in ``tmp_path`` (closed afterwards).
- ``careplug_plugins``: a fresh ``careplug.plugins.Plugins`` (built-ins and installed entry points;
  a plugin that fails to load is skipped and listed in ``.load_failures``, so one broken plugin
  elsewhere in the environment does not fail your tests); the process-wide set is reset afterwards.
- ``careplug_make_source``: ``make(kind, name="crm", **options)`` builds a source the way a
  ``[sources.NAME]`` table does: the class registered for ``kind``, options validated by its
  ``Options`` model (so a test also proves the plugin registers and validates).
- ``careplug_sync``: ``sync(source, *, ok=True, store=None)`` runs ``careplug.sync.sync_source``
  into ``careplug_store`` (or ``store``) and, with ``ok``, fails the test naming each failed stream.
- ``careplug_harness``: ``start(HarnessClass, seed=N)`` gives a started ``AdapterHarness``
  (seeded with N conversations when N is given), stopped at teardown.

To run the whole adapter conformance suite, subclass
``careplug.testing.conformance.AdapterConformance`` (see that module).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..plugins import Plugins, reset_plugins
from ..source import Source
from ..store import Store
from ..sync import SyncResult, sync_source
from .harness import AdapterHarness


@pytest.fixture
def careplug_store(tmp_path: Path) -> Iterator[Store]:
    """An empty store in ``tmp_path``."""
    store = Store(str(tmp_path / "careplug.db"))
    yield store
    store.close()


@pytest.fixture
def careplug_plugins() -> Iterator[Plugins]:
    """A freshly loaded plugin set (built-ins + installed entry points); failures in ``.load_failures``."""
    plugins = Plugins(strict=False)
    yield plugins
    reset_plugins()


@pytest.fixture
def careplug_make_source(careplug_plugins: Plugins, tmp_path: Path) -> Callable[..., Source]:
    """``make(kind, name="crm", **options)``: a source of a registered kind, options validated."""

    def make(kind: str, name: str = "crm", **options: Any) -> Source:
        classes = careplug_plugins.sources()
        if kind not in classes:
            failed = [f"{f.name}: {f.error}" for f in careplug_plugins.load_failures]
            pytest.fail(f"no source of kind {kind!r} is registered; registered: {sorted(classes)}; "
                        f"plugins that failed to load: {failed or 'none'}")
        cls = classes[kind]
        return cls(name, cls.Options(**options), base_dir=str(tmp_path))

    return make


@pytest.fixture
def careplug_sync(careplug_store: Store) -> Callable[..., SyncResult]:
    """``sync(source, *, ok=True, store=None)``: sync every selected stream of ``source``."""

    def sync(source: Source, *, ok: bool = True, store: Store | None = None) -> SyncResult:
        result = sync_source(store or careplug_store, source)
        if ok and not result.ok:
            failed = "; ".join(f"{s.stream}: {s.error}" for s in result.streams if s.error)
            pytest.fail(f"sync of {source.name!r} failed: {failed}")
        return result

    return sync


@pytest.fixture
def careplug_harness() -> Iterator[Callable[..., AdapterHarness]]:
    """``start(HarnessClass, seed=None)``: a started harness, stopped when the test ends."""
    started: list[AdapterHarness] = []

    def start(harness: Callable[[], AdapterHarness], seed: int | None = None) -> AdapterHarness:
        h = harness()
        h.start()
        started.append(h)
        if seed is not None:
            h.seed(seed)
        return h

    yield start
    for h in reversed(started):
        h.stop()
