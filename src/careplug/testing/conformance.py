"""The adapter conformance suite: one generated pytest test class every source must pass.

Usage (in an adapter's tests, e.g. ``plugins/zendesk/tests/test_conformance.py``)::

    from careplug.testing.conformance import AdapterConformance
    from careplug_zendesk.harness import ZendeskHarness

    class TestZendeskConformance(AdapterConformance):
        harness = ZendeskHarness          # an AdapterHarness subclass (or any zero-argument factory)
        seed_conversations = 12           # optional: the size of the seeded fake (keep it small)

or, equivalently, ``TestZendeskConformance = conformance_suite(ZendeskHarness)``.

pytest collects every ``test_*`` method below for that class. Each test gets a fresh harness
(started, seeded with ``seed_conversations`` conversations, stopped afterwards) and a fresh
``careplug.store.Store`` in ``tmp_path``; syncs run through ``careplug.sync.sync_source``, exactly
as ``careplug sync`` does. What a harness cannot do is skipped with the reason, never passed:
``supports_faults`` lists the faults it can inject, ``delete``/``merge`` return False when the CRM
has no such thing, ``corrupt`` raises NotImplementedError, ``can_deliver()`` is False for a
read-only source, ``enforce_rate_limit`` left as the no-op default means the fake has no limits,
and ``secrets()`` returning nothing means the source takes no credentials.

What the suite checks (one test each; the names say the behaviour):

- the first sync stores every record the fake holds (per kind in ``harness.record_kinds``), each
  conversation read once, both with the default options and with ``checkpoint_options``;
- a second sync from the final cursor reads exactly the conversations added or changed since
  (no gaps, no repeats; ``harness.boundary_rereads`` tolerates inclusive cursors), changes exactly
  that many in the store, and a third sync with nothing changed reads nothing;
- stopping after checkpoint k (for every k, as Airbyte's ``test_read_sequential_slices``) and
  resuming with a new source instance leaves the same store as an uninterrupted sync
  (``harness.checkpoint_options`` makes the source checkpoint often, e.g. small pages);
- conversations changed while a sync runs are picked up by the next one;
- a 429 with Retry-After is honoured (the retry waits at least that long) and the sync completes;
  with ``harness.enforce_rate_limit()`` on, a first and a steady-state sync (both with
  ``checkpoint_options``, so they make many requests) get no 429 at all;
- 5xx answers and timeouts are retried and the sync completes; a persistent failure ends in a
  ``careplug.errors.CareplugError`` naming the source, with the cursors kept at the last
  checkpoint and no record lost (a later sync, after the fault clears, catches up);
- a malformed record is quarantined with a reason and every other record is stored;
- a nudge delivered twice, or again by a fresh source after a crash between the CRM write and
  the ledger, is one object in the CRM (``harness.objects_with_marker``), and ``find_delivered``
  reports it;
- a deleted conversation leaves the store with its messages; after a merge the store holds what
  the CRM shows (skipped when the harness says the CRM has no deletions or merges);
- no credential (``harness.secrets()``) appears in logs at DEBUG, in error messages, in reprs of
  the source and its options, or in the bytes of the store files.

Each test is bounded (180 s) when pytest-timeout is installed. The suite is itself tested
against two deliberately broken adapters (``tests/conformance/``): every test fails for some bug,
and each bug fails exactly the tests it should.

Settings a test class may override: ``seed_conversations`` (default 8), ``changed`` (how many
conversations a second sync adds and touches, default 2 each), ``max_resume_points`` (checkpoints
resumed from, sampled evenly when there are more; default 10), ``retry_after`` (seconds of the
injected Retry-After, default 1.0).
"""

from __future__ import annotations

import collections
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ..errors import CareplugError
from ..model import Checkpoint, Conversation, Message
from ..nudges.model import Nudge, nudge_key
from ..source import Item, Source
from ..store import Store, codec
from ..sync import SyncResult, sync_source
from .harness import AdapterHarness

__all__ = ["AdapterConformance", "conformance_suite", "ObservedSource"]


class _Crash(Exception):
    """The suite stopping a sync on purpose, as a killed process would."""


class ObservedSource:
    """A source seen through a window: remembers what ``fetch`` yields and raises, can call back
    at each checkpoint, and can stop the sync (every later ``fetch``) after checkpoint ``stop_after``.
    Everything else is delegated to the wrapped source."""

    def __init__(self, source: Source, *, stop_after: int | None = None,
                 on_checkpoint: Callable[["ObservedSource", Checkpoint], None] | None = None):
        self._source = source
        self.stop_after = stop_after
        self.on_checkpoint = on_checkpoint
        self.items: list[Item] = []
        self.errors: list[BaseException] = []
        self.checkpoints: list[Checkpoint] = []
        self.stopped = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def __repr__(self) -> str:
        return repr(self._source)

    def fetch(self, stream: str, cursor: Any | None) -> Iterator[Item]:
        if self.stopped:
            raise _Crash(f"stopped after checkpoint {self.stop_after}")
        inner = self._source.fetch(stream, cursor)
        try:
            for item in inner:
                self.items.append(item)
                yield item
                if isinstance(item, Checkpoint):
                    self.checkpoints.append(item)
                    if self.on_checkpoint is not None:
                        self.on_checkpoint(self, item)
                    if self.stop_after is not None and len(self.checkpoints) >= self.stop_after:
                        self.stopped = True
                        raise _Crash(f"stopped after checkpoint {self.stop_after}")
        except _Crash:
            raise
        except Exception as exc:
            self.errors.append(exc)
            raise
        finally:
            close = getattr(inner, "close", None)
            if close is not None:
                close()

    def conversations_read(self) -> list[str]:
        return [i.external_id for i in self.items if isinstance(i, Conversation)]


def _errors(result: SyncResult) -> str:
    return "; ".join(f"{s.stream}: {s.error}" for s in result.streams if s.error) or "no stream error"


def _stored(store: Store, source: str, kind: str) -> set[str]:
    return {r.external_id for r in store.iter_records(kind, source)}


def _diff(stored: set[str], expected: set[str]) -> str:
    missing, extra = sorted(expected - stored), sorted(stored - expected)
    return f"missing {missing[:10]} ({len(missing)}), unexpected {extra[:10]} ({len(extra)})"


def _sample(points: list[int], limit: int) -> list[int]:
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return sorted({points[round(i * step)] for i in range(limit)})


try:  # bound every test when pytest-timeout is installed (a marker it does not know is an error)
    import pytest_timeout  # noqa: F401

    _BOUNDED = [pytest.mark.timeout(180)]
except ImportError:  # pragma: no cover
    _BOUNDED = []


class AdapterConformance:
    """Subclass as ``Test...`` and set ``harness``; see the module docstring."""

    pytestmark = _BOUNDED

    harness: Any = None
    seed_conversations: int = 8
    changed: int = 2
    max_resume_points: int = 10
    retry_after: float = 1.0

    # --- fixtures and helpers -----------------------------------------------------------------

    @pytest.fixture
    def crm(self) -> Iterator[AdapterHarness]:
        factory = getattr(type(self), "harness")
        if factory is None:
            pytest.fail(f"{type(self).__name__} must set `harness` to an AdapterHarness subclass")
        h = factory()
        with h:
            h.seed(self.seed_conversations)
            yield h

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        s = Store(str(tmp_path / "store.db"))
        yield s
        s.close()

    def sync(self, store: Store, source: Any, *, ok: bool = True) -> SyncResult:
        result = sync_source(store, source)
        if ok:
            assert result.ok, f"sync of {source.name!r} failed: {_errors(result)}"
        return result

    def assert_store_matches_crm(self, crm: AdapterHarness, store: Store, source: str) -> None:
        for kind in crm.record_kinds:
            stored, expected = _stored(store, source, kind), crm.ids(kind)
            assert stored == expected, f"{kind}: {_diff(stored, expected)}"

    def needs_fault(self, crm: AdapterHarness, fault: str) -> None:
        if fault not in crm.supports_faults:
            pytest.skip(f"{type(crm).__name__} injects no {fault!r} faults (supports_faults="
                        f"{crm.supports_faults!r})")

    def nudge(self, crm: AdapterHarness, index: int = 0) -> Nudge:
        if not crm.can_deliver():
            pytest.skip(f"{type(crm).__name__}: the source does not deliver nudges")
        conversation = sorted(crm.ids("conversation"))[index]
        finding = f"conformance:{conversation}:{index}"
        return crm.nudge_for(conversation, nudge_key(finding, "first", "note", "crm"))

    # --- reading ------------------------------------------------------------------------------

    def test_first_sync_stores_every_record(self, crm: AdapterHarness, tmp_path: Path) -> None:
        """With the default options and with small pages (``checkpoint_options``)."""
        for i, options in enumerate(({}, dict(crm.checkpoint_options))):
            store = Store(str(tmp_path / f"first-{i}.db"))
            source = ObservedSource(crm.make_source(**options))
            self.sync(store, source)
            self.assert_store_matches_crm(crm, store, source.name)
            store.close()
            read = source.conversations_read()
            repeats = len(read) - len(set(read))
            assert repeats <= crm.boundary_rereads, (
                f"{repeats} conversations read twice in one sync with options {options!r}: "
                f"{[c for c, n in collections.Counter(read).most_common(5) if n > 1]}")

    def test_second_sync_reads_only_what_changed_since_the_final_cursor(
            self, crm: AdapterHarness, store: Store) -> None:
        self.sync(store, crm.make_source())
        added = crm.add(self.changed)
        touched = set(sorted(crm.ids("conversation") - added)[:self.changed])
        crm.touch(touched)
        second = ObservedSource(crm.make_source())
        result = self.sync(store, second)
        read = second.conversations_read()
        changed = sum(s.changed.get("conversation", 0) for s in result.streams)
        assert changed == len(added | touched), (
            f"{changed} conversations changed in the store, {len(added | touched)} changed in the CRM")
        expected = added | touched
        assert expected <= set(read), f"gap: changed conversations not read: {sorted(expected - set(read))}"
        extra = len(read) - len(expected)
        assert extra <= crm.boundary_rereads, (
            f"repeats: {extra} unchanged (or twice-read) conversations read from the final cursor: "
            f"{collections.Counter(read).most_common(5)}")
        self.assert_store_matches_crm(crm, store, second.name)
        third = ObservedSource(crm.make_source())
        self.sync(store, third)
        assert len(third.conversations_read()) <= crm.boundary_rereads, \
            "a sync with nothing changed read conversations again"

    def test_resuming_from_every_checkpoint_gives_the_store_of_an_uninterrupted_sync(
            self, crm: AdapterHarness, tmp_path: Path) -> None:
        options = dict(crm.checkpoint_options)
        full_store = Store(str(tmp_path / "uninterrupted.db"))
        full = ObservedSource(crm.make_source(**options))
        self.sync(full_store, full)
        expected = full_store.snapshot()
        full_store.close()
        points = list(range(1, len(full.checkpoints) + 1))
        assert len(points) >= 2, (
            f"the source checkpointed {len(points)} time(s) with checkpoint_options={options!r}: "
            "set AdapterHarness.checkpoint_options so it checkpoints often (e.g. small pages)")
        for k in _sample(points, self.max_resume_points):
            store = Store(str(tmp_path / f"resume-{k}.db"))
            stopped = ObservedSource(crm.make_source(**options), stop_after=k)
            sync_source(store, stopped)
            assert stopped.stopped, f"the run meant to stop after checkpoint {k} never reached it"
            self.sync(store, crm.make_source(**options))
            got = store.snapshot()
            store.close()
            assert got == expected, (
                f"stopped after checkpoint {k} of {len(points)} ({stopped.checkpoints[-1]!r}) and "
                f"resumed: {len(got)} records instead of {len(expected)}; "
                f"missing {sorted(set(expected) - set(got))[:3]}")

    def test_conversations_changed_during_a_sync_are_picked_up_by_the_next(
            self, crm: AdapterHarness, store: Store, tmp_path: Path) -> None:
        changes: dict[str, set[str]] = {}

        def change(observed: ObservedSource, checkpoint: Checkpoint) -> None:
            read = observed.conversations_read()
            if changes or not read:
                return
            changes["touched"] = {read[0]}
            crm.touch({read[0]})
            changes["added"] = crm.add(1)

        source = ObservedSource(crm.make_source(**crm.checkpoint_options), on_checkpoint=change)
        self.sync(store, source)
        assert changes, "no conversation was read before a checkpoint"
        self.sync(store, crm.make_source())
        self.assert_store_matches_crm(crm, store, source.name)
        fresh = Store(str(tmp_path / "fresh.db"))
        self.sync(fresh, crm.make_source())
        expected = fresh.snapshot()
        fresh.close()
        got = store.snapshot()
        assert got == expected, (
            f"after the change during a sync ({changes}), the incremental store differs from a fresh "
            f"full sync: {sorted(set(expected) - set(got))[:3]}")

    # --- faults -------------------------------------------------------------------------------

    def test_429_retry_after_is_honoured(self, crm: AdapterHarness, store: Store) -> None:
        self.needs_fault(crm, "429")
        crm.inject("429", times=1, retry_after=self.retry_after)
        started = time.monotonic()
        source = crm.make_source()
        self.sync(store, source)
        waited = time.monotonic() - started
        self.assert_store_matches_crm(crm, store, source.name)
        assert waited >= self.retry_after * 0.95, (
            f"the sync finished {waited:.2f}s after a 429 with Retry-After: {self.retry_after}: "
            "the retry did not wait as told")

    def test_own_pacing_keeps_a_steady_state_sync_free_of_429s(
            self, crm: AdapterHarness, store: Store) -> None:
        if type(crm).enforce_rate_limit is AdapterHarness.enforce_rate_limit:
            pytest.skip(f"{type(crm).__name__} declares no rate limits (enforce_rate_limit)")
        crm.enforce_rate_limit()
        options = dict(crm.checkpoint_options)   # small pages: enough requests to meet the limit
        source = crm.make_source(**options)
        self.sync(store, source)
        crm.add(self.changed)
        self.sync(store, crm.make_source(**options))
        self.assert_store_matches_crm(crm, store, source.name)
        assert crm.rate_limited_responses() == 0, (
            f"the fake answered {crm.rate_limited_responses()} requests with its rate limit: "
            "the source does not pace itself")

    def test_5xx_answers_are_retried(self, crm: AdapterHarness, store: Store) -> None:
        self.needs_fault(crm, "500")
        crm.inject("500", times=2)
        source = crm.make_source()
        self.sync(store, source)
        self.assert_store_matches_crm(crm, store, source.name)

    def test_timeouts_are_retried(self, crm: AdapterHarness, store: Store) -> None:
        self.needs_fault(crm, "timeout")
        crm.inject("timeout", times=1)
        source = crm.make_source()
        self.sync(store, source)
        self.assert_store_matches_crm(crm, store, source.name)

    def test_a_persistent_failure_fails_clearly_keeping_cursor_and_data(
            self, crm: AdapterHarness, store: Store) -> None:
        self.needs_fault(crm, "500")
        self.sync(store, crm.make_source())
        crm.add(self.changed)
        before_records = set(store.snapshot())

        def fail_from_now_on(observed: ObservedSource, checkpoint: Checkpoint) -> None:
            if len(observed.checkpoints) == 1:
                crm.inject("500", times=100_000)

        failing = ObservedSource(crm.make_source(**crm.checkpoint_options), on_checkpoint=fail_from_now_on)
        before_cursors = store.cursors(failing.name)
        result = sync_source(store, failing)
        if result.ok:  # no request came after the first checkpoint: fail from the start instead
            crm.clear_faults()
            crm.inject("500", times=100_000)
            before_cursors = store.cursors(failing.name)
            failing = ObservedSource(crm.make_source())
            result = sync_source(store, failing)
        crm.clear_faults()
        assert not result.ok, "the sync succeeded although every request failed"
        assert failing.errors, "the failure never reached the sync as an exception"
        error = failing.errors[0]
        assert isinstance(error, CareplugError), (
            f"a persistent failure must raise a careplug error, not {type(error).__name__}: {error}")
        assert failing.name in str(error), f"the error does not name the source {failing.name!r}: {error}"
        last = {c.stream: json.loads(codec.dumps(c.cursor)) for c in failing.checkpoints}  # as stored
        expected_cursors = {**before_cursors, **{(failing.name, s): c for s, c in last.items()}}
        assert store.cursors(failing.name) == expected_cursors, "a cursor moved past the last checkpoint"
        assert before_records <= set(store.snapshot()), "records stored before the failure were lost"
        self.sync(store, crm.make_source())
        self.assert_store_matches_crm(crm, store, failing.name)

    def test_a_malformed_record_is_quarantined_and_the_rest_synced(
            self, crm: AdapterHarness, store: Store) -> None:
        bad = sorted(crm.ids("conversation"))[0]
        try:
            crm.corrupt(bad)
        except NotImplementedError:
            pytest.skip(f"{type(crm).__name__} cannot corrupt records")
        source = crm.make_source()
        self.sync(store, source)
        quarantined = [q for q in store.quarantined(source.name)
                       if q["external_id"] == bad or bad in str(q["payload"] or "")]
        assert quarantined, f"conversation {bad} was corrupted but not quarantined: {store.quarantined()}"
        assert all(q["reason"] and q["reason"].strip() for q in quarantined), "quarantined without a reason"
        others = crm.ids("conversation") - {bad}
        stored = _stored(store, source.name, "conversation")
        assert others <= stored, f"conversations lost beside the malformed one: {sorted(others - stored)[:10]}"

    # --- write-back ---------------------------------------------------------------------------

    def test_the_same_nudge_delivered_twice_is_one_object_in_the_crm(self, crm: AdapterHarness) -> None:
        nudge = self.nudge(crm)
        source = crm.make_source()
        first = source.deliver([nudge])
        second = source.deliver([nudge])
        objects = crm.objects_with_marker(nudge.marker)
        assert len(objects) == 1, f"{len(objects)} objects carry {nudge.marker}: {objects}"
        assert [r.key for r in first] == [r.key for r in second] == [nudge.key]
        assert second[0].existed, "the second delivery did not report that the object existed"

    def test_redelivery_after_a_crash_before_the_ledger_is_one_object(self, crm: AdapterHarness) -> None:
        nudge, other = self.nudge(crm, 0), self.nudge(crm, 1)
        crashed = crm.make_source()
        crashed.deliver([nudge])       # written to the CRM; the process dies before the ledger knows
        crashed.close()
        receipts = crm.make_source().deliver([nudge, other])
        assert [r.key for r in receipts] == [nudge.key, other.key]
        assert len(crm.objects_with_marker(nudge.marker)) == 1, "the retry wrote the nudge again"
        assert len(crm.objects_with_marker(other.marker)) == 1, "the new nudge was not written"
        assert receipts[0].existed and not receipts[1].existed

    def test_find_delivered_reports_exactly_the_delivered_markers(self, crm: AdapterHarness) -> None:
        delivered, pending = self.nudge(crm, 0), self.nudge(crm, 1)
        crm.make_source().deliver([delivered])
        found = crm.make_source().find_delivered([delivered, pending])
        assert set(found) == {delivered.key}

    # --- deletions and merges -----------------------------------------------------------------

    def test_a_deleted_conversation_leaves_the_store(self, crm: AdapterHarness, store: Store) -> None:
        source = crm.make_source()
        self.sync(store, source)
        victim = sorted(crm.ids("conversation"))[0]
        if not crm.delete(victim):
            pytest.skip(f"{type(crm).__name__}: the CRM has no deletions")
        self.sync(store, crm.make_source())
        assert victim not in _stored(store, source.name, "conversation")
        orphans = [m.external_id for m in store.iter_records("message", source.name)
                   if isinstance(m, Message) and m.conversation_id == victim]
        assert not orphans, f"messages of the deleted conversation are still stored: {orphans[:5]}"
        self.assert_store_matches_crm(crm, store, source.name)

    def test_a_merge_leaves_the_store_as_the_crm_shows_it(self, crm: AdapterHarness, store: Store) -> None:
        """Some CRMs delete the merged record, others keep it closed: the store follows the CRM."""
        source = crm.make_source()
        self.sync(store, source)
        loser, winner = sorted(crm.ids("conversation"))[:2]
        if not crm.merge(loser, winner):
            pytest.skip(f"{type(crm).__name__}: the CRM has no merges")
        self.sync(store, crm.make_source())
        stored = _stored(store, source.name, "conversation")
        assert winner in stored, "the conversation merged into is gone"
        assert (loser in stored) == (loser in crm.ids("conversation")), "the merged conversation is out of step"
        self.assert_store_matches_crm(crm, store, source.name)

    # --- secrets ------------------------------------------------------------------------------

    def test_credentials_never_reach_logs_errors_or_the_store(
            self, crm: AdapterHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        secrets = [s for s in crm.secrets() if s]
        if not secrets:
            pytest.skip(f"{type(crm).__name__}: the source takes no credentials")
        caplog.set_level(logging.DEBUG)
        store = Store(str(tmp_path / "secrets.db"))
        source = crm.make_source()
        texts = [repr(source), repr(source.options), str(source.options), source.options.model_dump_json()]
        self.sync(store, source)
        if "500" in crm.supports_faults:
            crm.add(1)
            crm.inject("500", times=100_000)
            failing = ObservedSource(crm.make_source())
            result = sync_source(store, failing)
            crm.clear_faults()
            texts += [s.error or "" for s in result.streams]
            texts += [f"{e!s} {e!r}" for e in failing.errors]
        if crm.can_deliver():
            crm.make_source().deliver([self.nudge(crm)])
        store.close()
        texts.append(caplog.text)
        texts += [repr(r.args) for r in caplog.records]
        blobs = [p.read_bytes() for p in tmp_path.glob("secrets.db*")]
        for secret in secrets:
            forms = {secret, quote(secret, safe="")}
            for text in texts:
                for form in forms:
                    assert form not in text, "a credential appears in a log line, error message or repr"
            for blob in blobs:
                for form in forms:
                    assert form.encode() not in blob, "a credential is stored in the store file"


def conformance_suite(harness: Callable[[], AdapterHarness], *, name: str | None = None,
                      **settings: Any) -> type[AdapterConformance]:
    """A ``Test...`` class running the suite against ``harness`` (with class ``settings`` such
    as ``seed_conversations``). Assign it to a module-level name so pytest collects it."""
    cls_name = name or f"Test{getattr(harness, '__name__', 'Adapter')}Conformance"
    return type(cls_name, (AdapterConformance,), {"harness": harness, **settings})
