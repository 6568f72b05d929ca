"""Sync: read what changed in each source and store it, never letting a cursor run ahead of the data.

For each selected stream of a source, ``fetch(stream, cursor)`` yields records and checkpoints.
Records are buffered; at each ``Checkpoint`` the buffer and the checkpoint's cursor are committed in
one transaction. A buffer that grows past ``max_buffer`` without a checkpoint is committed *without*
moving the cursor (upserts are idempotent, so re-reading those records later is harmless).

When a stream fails, what was read is kept, its cursor stays at the last checkpoint, the error is
reported, and the other streams go on, except after ``RateLimitExhausted``: the CRM's allowance is
gone, so the source's remaining streams are skipped.

What a person must see is in the result, whatever the source: each stream's quarantined payloads
are counted and the reasons of the first ``QUARANTINE_LISTED`` kept in order (every one is in the
store's ``quarantine`` table), and each source's ``warnings()`` (input it does not read) are
collected once its streams are synced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import CareplugError, RateLimitExhausted, SourceError
from .model import Checkpoint, Quarantined, Record
from .source import Source
from .store import Store

log = logging.getLogger(__name__)

DEFAULT_MAX_BUFFER = 5000
QUARANTINE_LISTED = 100
"""Quarantine reasons a ``StreamResult`` lists (the count is always complete)."""


@dataclass
class StreamResult:
    source: str
    stream: str
    read: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    quarantine: list[str] = field(default_factory=list)
    """The reasons of the first ``QUARANTINE_LISTED`` payloads quarantined, in order."""
    checkpoints: int = 0
    cursor: Any = None
    error: str | None = None
    skipped: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SyncResult:
    streams: list[StreamResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What sources said about input they do not read, each prefixed with the source's name."""

    def add(self, other: "SyncResult") -> None:
        """Take in another result's streams and warnings (one source's, after another's)."""
        self.streams.extend(other.streams)
        self.warnings.extend(other.warnings)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.streams)

    @property
    def read(self) -> int:
        return sum(s.read for s in self.streams)

    @property
    def changed(self) -> int:
        return sum(sum(s.changed.values()) for s in self.streams)

    @property
    def quarantined(self) -> int:
        return sum(s.quarantined for s in self.streams)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: totals, every stream (with its listed quarantine reasons), warnings."""
        return {"read": self.read, "changed": self.changed, "quarantined": self.quarantined,
                "streams": [vars(s) for s in self.streams], "warnings": list(self.warnings)}


Progress = Callable[[StreamResult], None]


def sync_stream(store: Store, source: Source, stream: str, *, plugins: Any = None,
                max_buffer: int = DEFAULT_MAX_BUFFER, progress: Progress | None = None) -> StreamResult:
    result = StreamResult(source.name, stream)
    started = time.monotonic()
    cursor = store.get_cursor(source.name, stream)
    result.cursor = cursor
    records: list[Record] = []
    quarantined: list[Quarantined] = []

    def commit(new_cursor: Any, *, advance: bool) -> None:
        batch = store.commit_batch(source.name, stream, records, quarantined, new_cursor, set_cursor=advance)
        for kind, n in batch.counts.items():
            result.changed[kind] = result.changed.get(kind, 0) + n
        result.quarantined += batch.quarantined
        if advance:
            result.cursor = new_cursor
            result.checkpoints += 1
        records.clear()
        quarantined.clear()
        if plugins is not None:
            plugins.records_synced(source, stream, dict(batch.counts), result.cursor)
        if progress is not None:
            progress(result)

    try:
        for item in source.fetch(stream, cursor):
            if isinstance(item, Record):
                if item.source != source.name:
                    raise CareplugError(
                        f"source {source.name!r} stream {stream!r} yielded a {item.kind} with source="
                        f"{item.source!r}: records must carry the configured source name")
                records.append(item)
                result.read += 1
                if len(records) >= max_buffer:
                    commit(None, advance=False)
            elif isinstance(item, Checkpoint):
                commit(item.cursor, advance=True)
            elif isinstance(item, Quarantined):
                quarantined.append(item)
                if len(result.quarantine) < QUARANTINE_LISTED:
                    result.quarantine.append(item.reason)
            else:
                raise CareplugError(f"source {source.name!r} stream {stream!r} yielded {type(item).__name__}")
        if records or quarantined:
            commit(None, advance=False)
    except Exception as exc:
        if records or quarantined:
            try:
                commit(None, advance=False)   # keep what was read; the cursor stays where it was
            except Exception:  # pragma: no cover - the store itself failed
                log.exception("could not keep the records read before the error")
        result.error = _describe(exc)
        log.error("%s:%s failed, cursor kept at its last checkpoint: %s", source.name, stream, result.error)
        if isinstance(exc, RateLimitExhausted):
            raise _StopSource(result) from exc
    finally:
        result.seconds = time.monotonic() - started
    return result


class _StopSource(Exception):
    def __init__(self, result: StreamResult):
        self.result = result


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (SourceError, CareplugError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def sync_source(store: Store, source: Source, **kw: Any) -> SyncResult:
    """Sync each selected stream of ``source``, then collect its ``warnings()``."""
    result = SyncResult()
    streams = source.selected_streams()
    for i, stream in enumerate(streams):
        try:
            result.streams.append(sync_stream(store, source, stream, **kw))
        except _StopSource as stop:
            result.streams.append(stop.result)
            for rest in streams[i + 1:]:
                result.streams.append(StreamResult(source.name, rest, skipped=True,
                                                   error="skipped: the CRM's API allowance is exhausted"))
            break
    result.warnings += _warnings(source)
    return result


def _warnings(source: Source) -> list[str]:
    try:
        return [f"{source.name}: {w}" for w in source.warnings()]
    except Exception:  # a warning that cannot be worked out must not fail the sync
        log.warning("%s: could not check for input it does not read", source.name, exc_info=True)
        return []


def sync_all(store: Store, sources: list[Source], **kw: Any) -> SyncResult:
    result = SyncResult()
    for source in sources:
        result.add(sync_source(store, source, **kw))
    return result
