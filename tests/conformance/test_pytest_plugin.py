"""The fixtures careplug's pytest plugin gives plugin authors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from careplug.source import Source
from careplug.store import Store
from careplug.testing.files_harness import FilesHarness


def test_careplug_store_is_an_empty_store_in_tmp_path(careplug_store: Store, tmp_path: Path) -> None:
    assert careplug_store.counts() == {}
    assert str(tmp_path) in careplug_store.url


def test_careplug_make_source_builds_a_registered_kind_with_validated_options(
        careplug_make_source, tmp_path: Path) -> None:
    source = careplug_make_source("files", name="exports", path=str(tmp_path))
    assert isinstance(source, Source) and source.kind == "files" and source.name == "exports"
    with pytest.raises(ValueError, match="not_an_option"):
        careplug_make_source("files", path=str(tmp_path), not_an_option=1)


def test_careplug_sync_stores_what_the_source_reads(careplug_make_source, careplug_sync,
                                                   careplug_store: Store, tmp_path: Path) -> None:
    (tmp_path / "conversations.jsonl").write_text(json.dumps({"id": "t1", "subject": "Hello"}) + "\n")
    result = careplug_sync(careplug_make_source("files", path=str(tmp_path)))
    assert result.ok and [r.external_id for r in careplug_store.iter_records("conversation")] == ["t1"]


def test_careplug_sync_fails_the_test_naming_the_failed_stream(careplug_make_source, careplug_sync,
                                                              tmp_path: Path) -> None:
    source = careplug_make_source("files", path=str(tmp_path / "missing"))
    with pytest.raises(pytest.fail.Exception, match="does not exist"):
        careplug_sync(source)
    assert not careplug_sync(source, ok=False).ok


def test_careplug_harness_starts_and_seeds_a_harness(careplug_harness) -> None:
    crm = careplug_harness(FilesHarness, seed=3)
    assert len(crm.ids("conversation")) == 3
