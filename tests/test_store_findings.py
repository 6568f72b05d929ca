"""The findings table: saved, read back, listed open, resolved once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from careplug.finding import Finding, Severity
from careplug.store import Store
from careplug.store import findings as store_findings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "care.db"))
    yield s
    s.close()


def _finding(occurrence: str = "m1", stage: str = "warning", subject: str = "conversation:zd:1") -> Finding:
    return Finding(rule="unanswered", subject=subject, occurrence=occurrence, stage=stage,
                   severity=Severity.WARNING, summary="no reply", started_at=T0,
                   due_at=T0 + timedelta(hours=4), detected_at=T0 + timedelta(hours=3),
                   next_check_at=T0 + timedelta(hours=4), explain={"target": "4h"})


def test_a_saved_finding_reads_back_equal(store):
    f = _finding()
    store_findings.save(store, [f])
    assert store_findings.get(store, f.key) == f


def test_saving_the_same_key_again_replaces_the_stage(store):
    store_findings.save(store, [_finding()])
    store_findings.save(store, [_finding(stage="breach")])
    assert [f.stage for f in store_findings.open_findings(store)] == ["breach"]


def test_open_findings_filter_by_rule_and_subject(store):
    store_findings.save(store, [_finding("m1"), _finding("m2", subject="conversation:zd:2")])
    assert len(store_findings.open_findings(store, rule="unanswered")) == 2
    assert [f.occurrence for f in store_findings.open_findings(store, subject="conversation:zd:2")] == ["m2"]
    assert store_findings.open_findings(store, rule="unhappy") == []
    assert set(store_findings.open_by_subject(store, ["conversation:zd:1"])) == {"conversation:zd:1"}


def test_mark_resolved_closes_open_findings_once(store):
    f = _finding()
    store_findings.save(store, [f])
    at = T0 + timedelta(hours=5)
    first = store_findings.mark_resolved(store, [f.key, "unknown|x|y"], at)
    second = store_findings.mark_resolved(store, [f.key], at + timedelta(hours=1))
    assert [r.key for r in first] == [f.key] and second == []
    assert store_findings.open_findings(store) == []
    assert store_findings.get(store, f.key).resolved_at == at
    assert [r.key for r in store_findings.resolved_since(store, at)] == [f.key]
    assert store_findings.resolved_since(store, at + timedelta(seconds=1)) == []


def test_mark_resolved_takes_each_keys_own_time(store):
    a, b = _finding("m1"), _finding("m2")
    store_findings.save(store, [a, b])
    times = {a.key: T0 + timedelta(hours=1), b.key: T0 + timedelta(hours=2), "unknown|x|y": T0}
    done = store_findings.mark_resolved(store, times)
    assert {f.key: f.resolved_at for f in done} == {a.key: T0 + timedelta(hours=1), b.key: T0 + timedelta(hours=2)}
    assert store_findings.get(store, a.key).resolved_at == T0 + timedelta(hours=1)
    assert store_findings.get(store, b.key).resolved_at == T0 + timedelta(hours=2)
    assert [f.key for f in store_findings.resolved_since(store, T0 + timedelta(hours=2))] == [b.key]
