"""The sync engine: cursors never run ahead of stored data; failures keep what was read."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from careplug import Checkpoint, Conversation, Message, Quarantined, RateLimitExhausted, RetriableError, Source
from careplug.store import Store
from careplug.sync import sync_source, sync_stream

T = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)


class ScriptedSource(Source):
    """Yields a scripted list per stream; an Exception in the script is raised at that point."""

    kind = "scripted"
    streams = ("tickets", "comments", "users")

    def __init__(self, scripts, name="desk"):
        super().__init__(name, self.Options())
        self.scripts = scripts
        self.cursors_seen = {}

    def fetch(self, stream, cursor):
        self.cursors_seen[stream] = cursor
        for item in self.scripts.get(stream, []):
            if isinstance(item, Exception):
                raise item
            yield item


def conv(i):
    return Conversation("desk", str(i), subject=f"ticket {i}", created_at=T, updated_at=T)


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "s.db"))


def test_records_and_cursor_are_committed_at_each_checkpoint(store):
    src = ScriptedSource({"tickets": [conv(1), conv(2), Checkpoint("tickets", "c2"), conv(3), Checkpoint("tickets", "c3")]})
    result = sync_stream(store, src, "tickets")
    assert (result.read, result.checkpoints, result.cursor) == (3, 2, "c3")
    assert store.get_cursor("desk", "tickets") == "c3" and store.count("conversation") == 3


def test_the_next_sync_starts_from_the_stored_cursor(store):
    sync_stream(store, ScriptedSource({"tickets": [conv(1), Checkpoint("tickets", {"after": 1})]}), "tickets")
    again = ScriptedSource({"tickets": []})
    sync_stream(store, again, "tickets")
    assert again.cursors_seen["tickets"] == {"after": 1}


def test_a_failure_keeps_the_records_read_but_not_a_cursor_beyond_the_last_checkpoint(store):
    src = ScriptedSource({"tickets": [conv(1), Checkpoint("tickets", "c1"), conv(2), RetriableError("HTTP 503 after 5 tries", source="desk", stream="tickets")]})
    result = sync_stream(store, src, "tickets")
    assert not result.ok and "503" in result.error
    assert store.get_cursor("desk", "tickets") == "c1"          # not ahead of what is durable
    assert store.count("conversation") == 2                     # nothing read is lost


def test_records_after_the_last_checkpoint_are_stored_without_moving_the_cursor(store):
    sync_stream(store, ScriptedSource({"tickets": [conv(1), Checkpoint("tickets", "c1"), conv(2)]}), "tickets")
    assert store.get_cursor("desk", "tickets") == "c1" and store.count("conversation") == 2


def test_a_long_run_without_checkpoints_is_flushed_in_bounded_batches(store):
    items = [conv(i) for i in range(25)] + [Checkpoint("tickets", "end")]
    seen = []
    sync_stream(store, ScriptedSource({"tickets": items}), "tickets", max_buffer=10,
                progress=lambda r: seen.append((sum(r.changed.values()), r.cursor)))
    assert seen == [(10, None), (20, None), (25, "end")]


def test_syncing_the_same_records_twice_changes_nothing(store):
    script = {"tickets": [conv(1), Message("desk", "m1", conversation_id="1", created_at=T), Checkpoint("tickets", 1)]}
    first = sync_stream(store, ScriptedSource(script), "tickets")
    before = store.snapshot()
    second = sync_stream(store, ScriptedSource(script), "tickets")
    assert first.changed == {"conversation": 1, "message": 1} and second.changed == {}
    assert store.snapshot() == before


def test_quarantined_payloads_are_kept_with_their_reason_and_the_rest_syncs(store):
    bad = Quarantined("tickets", "field 'created_at' is not a timestamp: 'yesterday'", {"id": 9}, "9")
    result = sync_stream(store, ScriptedSource({"tickets": [conv(1), bad, conv(2), Checkpoint("tickets", "c")]}), "tickets")
    assert result.quarantined == 1 and store.count("conversation") == 2
    [row] = store.quarantined("desk")
    assert (row["external_id"], row["reason"]) == ("9", "field 'created_at' is not a timestamp: 'yesterday'")


def test_a_failing_stream_does_not_stop_the_other_streams(store):
    src = ScriptedSource({"tickets": [RuntimeError("payload shape changed")], "users": [Checkpoint("users", "u")]})
    result = sync_source(store, src)
    assert [(s.stream, s.ok) for s in result.streams] == [("tickets", False), ("comments", True), ("users", True)]
    assert "RuntimeError: payload shape changed" in result.streams[0].error


def test_an_exhausted_api_allowance_stops_the_source_and_keeps_every_cursor(store):
    src = ScriptedSource({"tickets": [conv(1), Checkpoint("tickets", "t1"),
                                      RateLimitExhausted("REQUEST_LIMIT_EXCEEDED", source="desk", stream="tickets")],
                          "users": [Checkpoint("users", "never")]})
    result = sync_source(store, src)
    assert [(s.stream, s.skipped) for s in result.streams] == [("tickets", False), ("comments", True), ("users", True)]
    assert store.cursors("desk") == {("desk", "tickets"): "t1"}


def test_a_record_with_another_source_name_is_refused(store):
    wrong = Conversation("other", "1", created_at=T)
    result = sync_stream(store, ScriptedSource({"tickets": [wrong]}), "tickets")
    assert "records must carry the configured source name" in result.error


def test_the_result_lists_why_payloads_were_quarantined_up_to_a_bound_and_counts_them_all(store):
    from careplug.sync import QUARANTINE_LISTED

    bad = [Quarantined("tickets", f"ticket {i}: no created_at", {"id": i}, str(i)) for i in range(QUARANTINE_LISTED + 7)]
    result = sync_stream(store, ScriptedSource({"tickets": [conv(1), *bad, Checkpoint("tickets", "c")]}), "tickets")
    assert result.quarantined == QUARANTINE_LISTED + 7
    assert result.quarantine == [f"ticket {i}: no created_at" for i in range(QUARANTINE_LISTED)]


def test_a_sources_warnings_are_collected_after_its_streams_with_its_name(store):
    class Noting(ScriptedSource):
        def warnings(self):
            return ["tickets.json is not read"]

    result = sync_source(store, Noting({}))
    assert result.ok and result.warnings == ["desk: tickets.json is not read"]
    assert result.as_dict()["warnings"] == ["desk: tickets.json is not read"]


def test_a_source_whose_warnings_fail_still_syncs(store):
    class Broken(ScriptedSource):
        def warnings(self):
            raise OSError("folder vanished")

    result = sync_source(store, Broken({"tickets": [conv(1), Checkpoint("tickets", "c")]}))
    assert result.ok and result.read == 1 and result.warnings == []
