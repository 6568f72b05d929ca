"""The built-in ``files`` source: JSON Lines and CSV exports, incremental cursors, quarantine, outbox."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from careplug.model import Channel, Checkpoint, Direction, Quarantined, Status
from careplug.nudges.model import Action, Nudge, nudge_key
from careplug.plugins import Plugins
from careplug.source import iter_records
from careplug.sources.files import FilesOptions, FilesSource
from careplug.store import Store
from careplug.sync import sync_source, sync_stream
from careplug.testing.generator import write_files

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=timezone.utc)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "data"


def source(path, name="desk", **options) -> FilesSource:
    return FilesSource(name, FilesOptions(path=str(path), **options))


def write_jsonl(path: Path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def append_jsonl(path: Path, rows) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


def conv_rows(start: int, n: int):
    return [{"id": f"t{i}", "subject": f"ticket {i}", "channel": "email", "status": "open",
             "created_at": "2026-11-20T09:00:00Z"} for i in range(start, start + n)]


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "store.db"))
    yield s
    s.close()


# --- registration and options ------------------------------------------------------------------


def test_the_files_source_is_registered_like_any_plugin():
    plugins = Plugins(load_entry_points=False)
    assert plugins.sources()["files"] is FilesSource
    assert "careplug_register_sources" in plugins.infos["careplug.sources.files"].hooks


def test_unknown_options_and_bad_values_are_rejected_with_a_clear_message():
    with pytest.raises(ValidationError, match="extra"):
        FilesOptions(path="x", pth="y")
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        FilesOptions(path="x", time_zone="Mars/Olympus")
    with pytest.raises(ValidationError, match="unknown stream"):
        FilesOptions(path="x", streams=["tickets"])
    with pytest.raises(ValidationError, match="exactly one character"):
        FilesOptions(path="x", delimiter=";;")


@pytest.mark.parametrize("encoding, says", [("utf-9", "unknown text encoding 'utf-9'"),
                                             ("base64", "'base64' is not a text encoding")])
def test_an_encoding_python_cannot_read_text_with_is_refused(encoding, says):
    with pytest.raises(ValidationError, match=says):
        FilesOptions(path="x", encoding=encoding)
    assert FilesOptions(path="x", encoding="UTF-8-sig").encoding == "UTF-8-sig"


def test_a_relative_path_is_relative_to_the_config_file_s_folder(tmp_path):
    src = FilesSource("desk", FilesOptions(path="data/desk"), base_dir=str(tmp_path))
    assert src.path == str(tmp_path / "data" / "desk")
    assert src.outbox == str(tmp_path / "data" / "desk" / "outbox.jsonl")


# --- reading ----------------------------------------------------------------------------------


def test_the_example_export_syncs_without_a_single_quarantined_row(store):
    result = sync_source(store, source(EXAMPLES, name="helpdesk"))
    assert result.ok and store.quarantined() == []
    counts = store.counts()
    assert counts["conversation"] == 10 and counts["customer"] == 3 and counts["message"] > 20


def test_jsonl_and_csv_exports_of_the_same_history_give_the_same_store(tmp_path):
    write_files(tmp_path / "j", 120, seed=2, now=NOW)
    write_files(tmp_path / "c", 120, seed=2, now=NOW, format="csv")
    stores = []
    for fmt in ("j", "c"):
        s = Store(str(tmp_path / f"{fmt}.db"))
        for name in ("zendesk", "salesforce", "hubspot"):
            assert sync_source(s, source(tmp_path / fmt / name, name=name)).ok
        assert s.quarantined() == []
        stores.append(s)
    assert stores[0].snapshot() == stores[1].snapshot()
    assert len(stores[0].snapshot()) > 1000


def test_csv_cells_hold_lists_booleans_and_timestamps_in_the_configured_time_zone(tmp_path):
    (tmp_path / "customers.csv").write_text(
        "id,name,emails,phones,is_lead,created_at\n"
        "c1,Ada Lovelace,ADA@Example.com;ada.l@work.example,+44 20 7946 0000,yes,2026-09-21 17:00:00\n"
        "c2,Grace Hopper,grace@example.com,,0,2026-09-21T17:00:00+02:00\n", encoding="utf-8")
    records = list(iter_records(source(tmp_path, time_zone="Europe/Berlin").fetch("customers", None)))
    ada, grace = records
    assert ada.emails == ["ADA@Example.com", "ada.l@work.example"] and ada.is_lead is True
    assert ada.created_at == datetime(2026, 9, 21, 15, 0, tzinfo=timezone.utc), "naive: Europe/Berlin (CEST)"
    assert grace.phones == [] and grace.is_lead is False
    assert grace.created_at == datetime(2026, 9, 21, 15, 0, tzinfo=timezone.utc), "an offset wins"


def test_records_carry_the_configured_source_name_and_typed_fields(tmp_path):
    write_jsonl(tmp_path / "messages.jsonl", [{"id": 7, "conversation_id": "t1", "direction": "outbound",
                                               "channel": "phone", "answered_call": False,
                                               "created_at": "2026-11-20T09:00:00Z", "body": "hi"}])
    (msg,) = iter_records(source(tmp_path, name="desk").fetch("messages", None))
    assert (msg.source, msg.external_id, msg.direction, msg.channel) == ("desk", "7", Direction.OUTBOUND, Channel.PHONE)
    assert msg.answered_call is False and msg.created_at.tzinfo is not None


def test_malformed_rows_are_quarantined_with_file_line_and_reason_and_the_rest_is_synced(tmp_path, store):
    (tmp_path / "conversations.jsonl").write_text("\n".join([
        json.dumps(conv_rows(1, 1)[0]),
        '{"id": "t2", "subject": broken',
        json.dumps({"id": "t3", "channel": "fax"}),
        json.dumps({"subject": "no id"}),
        json.dumps({"id": "t5", "colour": "red"}),
        json.dumps({"id": "t6", "created_at": "last tuesday"}),
        json.dumps(["not", "an", "object"]),
        json.dumps(conv_rows(8, 1)[0]),
    ]) + "\n", encoding="utf-8")
    (tmp_path / "customers.csv").write_text("id,name,emails\nc1,Ada,ada@example.com\nc2,Grace\n", encoding="utf-8")
    result = sync_source(store, source(tmp_path))
    assert result.ok
    assert {r[2] for r in store.snapshot()} == {"t1", "t8", "c1"}
    reasons = sorted(q["reason"] for q in store.quarantined())
    assert reasons == [
        "conversations.jsonl line 2: not valid JSON: Expecting value at column 25",
        "conversations.jsonl line 3: channel: Input should be 'email', 'phone', 'chat', 'social', 'sms', "
        "'web_form', 'api' or 'other' (got 'fax')",
        "conversations.jsonl line 4: missing 'id'",
        "conversations.jsonl line 5: unknown field(s) 'colour' for a conversation",
        "conversations.jsonl line 6: created_at: Input should be a valid datetime or date, invalid character in year "
        "(got 'last tuesday')",
        "conversations.jsonl line 7: expected an object, got list",
        "customers.csv line 3: has 2 cells, the header has 3",
    ]


def test_appended_lines_are_picked_up_and_only_they_are_read(tmp_path, store):
    path = tmp_path / "conversations.jsonl"
    write_jsonl(path, conv_rows(0, 5))
    src = source(tmp_path)
    assert sync_stream(store, src, "conversations").read == 5
    assert sync_stream(store, src, "conversations").read == 0
    append_jsonl(path, conv_rows(5, 3) + [{**conv_rows(0, 1)[0], "status": "solved"}])
    again = sync_stream(store, src, "conversations")
    assert again.read == 4 and again.changed == {"conversation": 4}
    assert store.count("conversation") == 8
    assert store.get("desk", "conversation", "t0").status is Status.SOLVED, "the last row wins"


def test_a_rewritten_or_truncated_file_is_read_again_from_the_top(tmp_path, store):
    path = tmp_path / "conversations.jsonl"
    write_jsonl(path, conv_rows(0, 6))
    src = source(tmp_path)
    sync_stream(store, src, "conversations")
    rows = conv_rows(0, 6)
    rows[0]["subject"] = "renamed"                 # the same size or larger: only the fingerprint tells
    write_jsonl(path, rows)
    result = sync_stream(store, src, "conversations")
    assert result.read == 6 and result.changed == {"conversation": 1}
    write_jsonl(path, conv_rows(100, 1))           # shorter than the stored offset
    assert sync_stream(store, src, "conversations").read == 1
    assert store.count("conversation") == 7


def test_checkpoints_come_every_n_records_and_cover_only_complete_lines(tmp_path):
    write_jsonl(tmp_path / "conversations.jsonl", conv_rows(0, 10))
    items = list(source(tmp_path, checkpoint_every=3).fetch("conversations", None))
    checkpoints = [i for i in items if isinstance(i, Checkpoint)]
    assert [c.cursor["line"] for c in checkpoints] == [3, 6, 9, 10]
    size = (tmp_path / "conversations.jsonl").stat().st_size
    assert checkpoints[-1].cursor["offset"] == size


def test_resuming_from_any_checkpoint_reads_exactly_the_rest(tmp_path):
    write_jsonl(tmp_path / "conversations.jsonl", conv_rows(0, 10))
    src = source(tmp_path, checkpoint_every=3)
    items = list(src.fetch("conversations", None))
    for k, item in enumerate(items):
        if isinstance(item, Checkpoint):
            before = [i.external_id for i in iter_records(items[:k])]
            after = [i.external_id for i in iter_records(src.fetch("conversations", item.cursor))]
            assert before + after == [f"t{i}" for i in range(10)]


def test_a_last_line_without_newline_is_read_but_the_cursor_stays_before_it(tmp_path, store):
    path = tmp_path / "conversations.jsonl"
    write_jsonl(path, conv_rows(0, 2))
    with open(path, "a") as f:
        f.write(json.dumps(conv_rows(2, 1)[0]))            # complete JSON, no newline yet
    src = source(tmp_path)
    assert sync_stream(store, src, "conversations").read == 3
    with open(path, "a") as f:
        f.write("\n" + json.dumps(conv_rows(3, 1)[0])[:10])  # the next line is half written
    result = sync_stream(store, src, "conversations")
    assert result.read == 1 and result.changed == {} and store.quarantined() == []
    with open(path, "a") as f:
        f.write(json.dumps(conv_rows(3, 1)[0])[10:] + "\n")
    assert sync_stream(store, src, "conversations").read == 1
    assert store.count("conversation") == 4


def test_a_missing_file_is_an_empty_stream_and_a_missing_folder_an_error(tmp_path, store):
    write_jsonl(tmp_path / "conversations.jsonl", conv_rows(0, 1))
    result = sync_source(store, source(tmp_path))
    assert result.ok and result.read == 1
    missing = sync_source(store, source(tmp_path / "nope"))
    assert not missing.ok and "does not exist" in missing.streams[0].error


def test_the_format_option_picks_one_kind_of_file(tmp_path):
    write_jsonl(tmp_path / "conversations.jsonl", conv_rows(0, 2))
    (tmp_path / "conversations.csv").write_text("id,subject\nx1,from csv\n")
    auto = [r.external_id for r in iter_records(source(tmp_path).fetch("conversations", None))]
    csv_only = [r.external_id for r in iter_records(source(tmp_path, format="csv").fetch("conversations", None))]
    assert (auto, csv_only) == (["t0", "t1"], ["x1"])


def test_semicolon_delimited_csv_with_a_bom(tmp_path):
    (tmp_path / "customers.csv").write_bytes("\ufeffid;name;emails\nc1;Ada;a@x.com,b@x.com\n".encode())
    (c,) = iter_records(source(tmp_path, delimiter=";", list_separator=",").fetch("customers", None))
    assert (c.external_id, c.emails) == ("c1", ["a@x.com", "b@x.com"])


def test_deletions_remove_conversations_with_their_children(tmp_path, store):
    write_jsonl(tmp_path / "conversations.jsonl", conv_rows(0, 2))
    write_jsonl(tmp_path / "messages.jsonl", [{"id": "m1", "conversation_id": "t0", "body": "x"}])
    sync_source(store, source(tmp_path))
    write_jsonl(tmp_path / "deletions.jsonl", [{"id": "t0", "record_kind": "conversation"}])
    sync_source(store, source(tmp_path))
    assert {r[2] for r in store.snapshot()} == {"t1"}


# --- the outbox --------------------------------------------------------------------------------


def nudge(n: int) -> Nudge:
    key = nudge_key(f"unanswered:conversation:desk:t{n}", "breach", "task", "desk")
    return Nudge(key=key, finding_key=f"unanswered:conversation:desk:t{n}", stage="breach", action=Action.TASK,
                 target="desk", title=f"Reply to t{n}", conversation_id=f"t{n}", assignee="agent-1",
                 due_at=NOW + timedelta(hours=2))


def outbox_lines(src: FilesSource):
    with open(src.outbox) as f:
        return [json.loads(line) for line in f]


def test_deliver_writes_each_nudge_once_with_its_marker(tmp_path):
    src = source(tmp_path)
    assert src.can_deliver
    receipts = src.deliver([nudge(1), nudge(2)])
    assert [r.existed for r in receipts] == [False, False]
    lines = outbox_lines(src)
    assert [line["marker"] for line in lines] == [nudge(1).marker, nudge(2).marker]
    assert lines[0]["type"] == "nudge" and lines[0]["title"] == "Reply to t1" and lines[0]["action"] == "task"
    again = src.deliver([nudge(1), nudge(2), nudge(3)])
    assert [r.existed for r in again] == [True, True, False]
    assert again[0].external_ref == receipts[0].external_ref
    assert len(outbox_lines(src)) == 3, "a retry writes nothing twice"
    assert set(src.find_delivered([nudge(2), nudge(4)])) == {nudge(2).key}


def test_cancel_appends_one_cancellation_per_nudge(tmp_path):
    src = source(tmp_path)
    src.deliver([nudge(1)])
    src.cancel([nudge(1)])
    src.cancel([nudge(1)])
    assert [(line["type"], line["marker"]) for line in outbox_lines(src)] == [
        ("nudge", nudge(1).marker), ("cancel", nudge(1).marker)]


def test_a_line_torn_by_a_crash_is_not_a_delivery_and_does_not_corrupt_the_next(tmp_path):
    src = source(tmp_path)
    os.makedirs(tmp_path, exist_ok=True)
    torn = json.dumps({"type": "nudge", "marker": nudge(1).marker})[:25]
    Path(src.outbox).write_text(torn)
    assert src.find_delivered([nudge(1)]) == {}
    src.deliver([nudge(1)])
    with open(src.outbox) as f:
        assert f.read().splitlines()[0] == torn
    assert [line["marker"] for line in map(json.loads, open(src.outbox).read().splitlines()[1:])] == [nudge(1).marker]


def test_quarantined_items_name_the_stream(tmp_path):
    (tmp_path / "ratings.jsonl").write_text("{oops\n")
    item, checkpoint = source(tmp_path).fetch("ratings", None)
    assert isinstance(item, Quarantined) and item.stream == "ratings" and item.reason.startswith("ratings.jsonl line 1")
    assert isinstance(checkpoint, Checkpoint) and checkpoint.cursor["line"] == 1


def test_a_line_that_is_not_valid_utf8_is_quarantined_and_the_rest_synced(tmp_path, store):
    good = [json.dumps(r).encode() for r in conv_rows(0, 2)]
    (tmp_path / "conversations.jsonl").write_bytes(good[0] + b"\n" + b'{"id": "t9", "subject": "caf\xe9"}\n'
                                                    + good[1] + b"\n")
    result = sync_source(store, source(tmp_path))
    assert result.ok and store.count("conversation") == 2
    (q,) = store.quarantined()
    assert q["reason"].startswith("conversations.jsonl line 2: not valid utf-8 text: invalid continuation byte")


def test_a_file_no_stream_reads_is_named_with_the_names_that_are_read(tmp_path, store):
    """customers.json (a JSON array) next to conversations.jsonl is not silently ignored."""
    write_jsonl(tmp_path / "conversations.jsonl", conv_rows(0, 1))
    (tmp_path / "customers.json").write_text('[{"id": "c1"}]')
    (tmp_path / "message.jsonl").write_text("")
    (tmp_path / "tickets-2026.csv").write_text("id\n")
    result = sync_source(store, source(tmp_path))
    assert result.ok and result.read == 1
    assert result.warnings == [
        f"desk: customers.json in {tmp_path} is not read: the customers stream is read from customers.jsonl or "
        "customers.csv (JSON Lines: one object per line, not a JSON array)",
        f"desk: message.jsonl in {tmp_path} is not read: the messages stream is read from messages.jsonl or "
        "messages.csv",
        f"desk: tickets-2026.csv in {tmp_path} is not read: the files source reads <stream>.jsonl or <stream>.csv "
        "for the streams accounts, agents, customers, conversations, messages, events, ratings, tasks, deletions "
        "(docs/files-format.md)",
    ]


def test_a_second_file_for_a_stream_is_named_with_the_one_that_is_read(tmp_path):
    write_jsonl(tmp_path / "conversations.jsonl", conv_rows(0, 1))
    (tmp_path / "conversations.csv").write_text("id\nx1\n")
    assert source(tmp_path).warnings() == [
        f"conversations.csv in {tmp_path} is not read: the conversations stream is read from conversations.jsonl "
        "(format 'auto'; one file per stream)"]
    assert source(tmp_path, format="csv").warnings() == [
        f"conversations.jsonl in {tmp_path} is not read: the conversations stream is read from conversations.csv "
        "(format 'csv'; one file per stream)"]


def test_the_outbox_hidden_files_other_files_and_streams_left_out_on_purpose_are_not_warned_about(tmp_path):
    write_jsonl(tmp_path / "conversations.jsonl", conv_rows(0, 1))
    (tmp_path / "customers.csv").write_text("id\nc1\n")
    (tmp_path / "outbox.jsonl").write_text("")
    (tmp_path / ".customers.json.swp").write_text("")
    (tmp_path / "README.md").write_text("exports from the helpdesk")
    (tmp_path / "careplug.db").write_bytes(b"")
    (tmp_path / "zendesk").mkdir()
    assert source(tmp_path).warnings() == []
    assert source(tmp_path, streams=["conversations"]).warnings() == []
    assert source(EXAMPLES).warnings() == []
