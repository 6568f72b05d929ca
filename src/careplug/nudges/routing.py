"""``Router``: the built-in delivery, routing a batch to the configured source or notifier named by
its target.

Each nudge run (``run_nudges``) has its own instance over its App's sources and notifiers, and asks
it when no plugin's ``careplug_deliver_nudges`` owns a target. It is not registered as a plugin:
one plugin set may serve several Apps (one after another, or open at once), and one App's router
must never answer for another App's run. A target that is neither a source that can deliver nor a
notifier gets None, which ``run_nudges`` reports as a failure of that target. ``find_delivered`` and
``cancel`` give ``run_nudges`` the same routing for closing nudges. (The method keeps its
``trylast`` hook marker, so a test or a tool may still register a Router in a plugin set.)
"""

from __future__ import annotations

from collections.abc import Mapping

import careplug

from ..notifier import Notifier
from ..source import Source
from .model import Nudge, Receipt


class Router:
    def __init__(self, sources: Mapping[str, Source], notifiers: Mapping[str, Notifier]):
        self.sources = sources
        self.notifiers = notifiers

    def _source(self, target: str) -> Source | None:
        source = self.sources.get(target)
        return source if source is not None and source.can_deliver else None

    def owns(self, target: str) -> bool:
        return self._source(target) is not None or target in self.notifiers

    def is_notifier(self, target: str) -> bool:
        return self._source(target) is None and target in self.notifiers

    @careplug.hookimpl(trylast=True)
    def careplug_deliver_nudges(self, target: str, nudges: list[Nudge]) -> list[Receipt] | None:
        source = self._source(target)
        if source is not None:
            return source.deliver(nudges)
        if target in self.notifiers:
            return self.notifiers[target].send(nudges)
        return None

    def find_delivered(self, target: str, nudges: list[Nudge]) -> dict[str, Receipt]:
        """Receipts by key of the nudges whose marker is already in ``target`` ({} for notifiers,
        which cannot be asked)."""
        source = self._source(target)
        return source.find_delivered(nudges) if source is not None and nudges else {}

    def cancel(self, target: str, nudges: list[Nudge]) -> None:
        """Close the CRM objects of delivered nudges (nothing to close for a notifier)."""
        source = self._source(target)
        if source is not None and nudges:
            source.cancel(nudges)
