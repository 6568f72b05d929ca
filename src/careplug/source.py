"""The source contract: what an adapter plugin implements.

A source *class* is registered through ``careplug_register_sources``; careplug creates one
instance per ``[sources.NAME]`` table in the config, passing the validated options. Creating a
source must not reach the CRM. A constructor that cannot build it raises a ``SourceError`` (such as
``AuthError``) whose message, shown to people, never holds a secret: that source fails, the others
go on (``careplug.app``); any other exception is reported by its type only.

Reading
    ``fetch(stream, cursor)`` yields normalized records (``careplug.model``) changed since
    ``cursor`` (None on the first sync), interleaved with ``Checkpoint(stream, cursor)`` markers:
    everything yielded before a checkpoint is covered by its cursor. careplug stores those records
    and the cursor in one transaction, so a crash never leaves the cursor ahead of the data.
    A payload the source cannot normalize is yielded as ``Quarantined`` (it is kept with the reason,
    ``careplug sync`` shows the first reasons of each stream, and the sync goes on): the reason
    says where the payload was and what is wrong with it. Errors: raise ``RetriableError`` only after the source's own retries are
    exhausted; ``RateLimitExhausted`` to stop the stream cleanly; the stream's cursor stays at the
    last checkpoint in every case.

Writing back (optional; ``can_deliver`` says whether a source implements it)
    ``deliver(nudges)`` writes each nudge into the CRM carrying ``nudge.marker`` (its idempotency
    key) and returns one ``Receipt`` per nudge, in order. It must first look the markers up
    (``find_delivered``) so a retry after a crash never writes twice. ``cancel(nudges)`` closes
    or completes objects of nudges whose finding cleared.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Union

from pydantic import BaseModel, ConfigDict

from .model import Checkpoint, Quarantined, Record
from .nudges.model import Nudge, Receipt

Item = Union[Record, Checkpoint, Quarantined]


class SourceOptions(BaseModel):
    """Base of a source's option model: unknown keys are errors (a typo must not pass silently).

    careplug validates it with the pydantic context ``{"base_dir": <the config file's folder>,
    "check_paths": bool}`` (``info.context`` in a validator): with ``check_paths`` (``careplug
    validate``) a validator should also check that a file or folder the options name exists."""

    model_config = ConfigDict(extra="forbid")

    streams: list[str] | None = None
    """Streams to sync; None means the source's defaults."""


class Source:
    """Base class of sources. Subclasses set ``kind``, ``Options`` and ``streams``."""

    kind: ClassVar[str] = ""
    """The value of ``type = "..."`` in a ``[sources.NAME]`` table."""
    Options: ClassVar[type[SourceOptions]] = SourceOptions
    streams: ClassVar[tuple[str, ...]] = ()
    """Every stream, in the order a sync should run them (parents before children)."""
    description: ClassVar[str] = ""

    def __init__(self, name: str, options: SourceOptions, *, base_dir: str | None = None):
        self.name = name
        self.options = options
        self.base_dir = base_dir

    def selected_streams(self) -> list[str]:
        wanted = self.options.streams
        return [s for s in self.streams if wanted is None or s in wanted]

    def fetch(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        raise NotImplementedError

    def warnings(self) -> list[str]:
        """What a person must know about input this source does not read, and would otherwise
        never learn (a file in an export folder under a name no stream reads), one sentence each.
        Called after each sync of the source; ``careplug sync`` and ``run`` show them, and a
        warning fails nothing. Default: none."""
        return []

    @property
    def can_deliver(self) -> bool:
        return type(self).deliver is not Source.deliver

    def deliver(self, nudges: list[Nudge]) -> list[Receipt]:
        raise NotImplementedError(f"source {self.name!r} ({self.kind}) cannot deliver nudges")

    def find_delivered(self, nudges: list[Nudge]) -> dict[str, Receipt]:
        """Receipts, by nudge key, for the nudges whose marker is already in the CRM."""
        return {}

    def cancel(self, nudges: list[Nudge]) -> None:
        """Close or complete the CRM objects of these delivered nudges (their finding cleared)."""

    def close(self) -> None:
        """Release connections. Called once at the end of a run."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def iter_records(items: Iterable[Item]) -> Iterator[Record]:
    """Only the records of a fetch (tests and tools)."""
    return (i for i in items if isinstance(i, Record))
