"""Writing nudges into a CRM exactly once when an answer can be lost: the loop every adapter's
write-back shares.

A write that fails with ``RetriableError`` (a timeout, a dropped connection, a 5xx, a 429) may have
happened all the same. Sending it again blindly duplicates tasks and notes, so after such a failure
the adapter waits, looks the nudges' markers up in the CRM, and writes only what is still missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..errors import RetriableError
from .model import Nudge, Receipt

__all__ = ["write_missing"]


def write_missing(todo: list[Nudge], write: Callable[[list[Nudge]], dict[str, Receipt]], *,
                  look_up: Callable[[list[Nudge]], dict[str, Receipt]] | None, attempts: int,
                  pause: Callable[[int, RetriableError], None], log: logging.Logger) -> dict[str, Receipt]:
    """Write ``todo`` with ``write`` (receipts by nudge key), at most ``attempts`` times.

    After a ``RetriableError``: ``pause(attempt, error)`` (the adapter's backoff, and whatever it must
    wait for before its markers can be read), then ``look_up(todo)`` — the receipts of the nudges the
    CRM already holds — and write only the rest. ``look_up=None`` for a write that is idempotent by
    itself (an upsert by the marker): it is simply sent again. The last failure is raised; receipts
    of what was found or written before it are lost with it and found by marker on the next run."""
    done: dict[str, Receipt] = {}
    todo = list(todo)
    for attempt in range(1, attempts + 1):
        try:
            done.update(write(todo))
            return done
        except RetriableError as exc:
            if attempt == attempts:
                raise
            log.warning("%s; looking the markers up before writing again (attempt %d of %d)", exc, attempt,
                        attempts)
            pause(attempt, exc)
            if look_up is not None:
                found = look_up(todo)
                done.update(found)
                todo = [n for n in todo if n.key not in found]
            if not todo:
                return done
    return done
