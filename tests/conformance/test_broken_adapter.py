"""The suite catches broken adapters: each bug fails exactly the tests it should, nothing else,
and between the two broken adapters every test of the suite is shown to fail for some bug.

The suite runs against ``broken_adapter.py`` and ``sloppy_adapter.py`` in one pytest subprocess
(``broken_suite.py``, so their failures do not fail this run); the outcome of every generated test
is read from its JUnit XML report.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from careplug.testing.conformance import AdapterConformance

HERE = Path(__file__).parent
SUITE = {name for name in dir(AdapterConformance) if name.startswith("test_")}
MERGES = "test_a_merge_leaves_the_store_as_the_crm_shows_it"   # TinyDesk has no merges: skipped

#: per broken adapter: each expected failure, with a phrase its failure text must contain (the right reason)
EXPECTED_FAILURES = {
    "TestBrokenAdapter": {
        # bug 1: checkpoints before the page's records are yielded
        "test_resuming_from_every_checkpoint_gives_the_store_of_an_uninterrupted_sync": "and resumed",
        # bug 2: ignores Retry-After, does not pace itself
        "test_429_retry_after_is_honoured": "did not wait as told",
        "test_own_pacing_keeps_a_steady_state_sync_free_of_429s": "429",
        # bug 3: writes nudges without looking their markers up
        "test_the_same_nudge_delivered_twice_is_one_object_in_the_crm": "2 objects carry careplug:",
        "test_redelivery_after_a_crash_before_the_ledger_is_one_object": "the retry wrote the nudge again",
        # bug 4: logs its token
        "test_credentials_never_reach_logs_errors_or_the_store": "a credential appears in a log line",
        # bug 5: crashes on a malformed ticket
        "test_a_malformed_record_is_quarantined_and_the_rest_synced": "KeyError: 'subject'",
    },
    "TestSloppyAdapter": {
        # bug 1: asks one second early on every request
        "test_first_sync_stores_every_record": "read twice in one sync",
        "test_second_sync_reads_only_what_changed_since_the_final_cursor": "repeats:",
        # bug 2: saves the server time of its last request as the cursor
        "test_conversations_changed_during_a_sync_are_picked_up_by_the_next": "message: missing",
        # (no pacing either, though it honours Retry-After)
        "test_own_pacing_keeps_a_steady_state_sync_free_of_429s": "does not pace itself",
        # bug 3: raw, unretried HTTP errors and timeouts
        "test_5xx_answers_are_retried": "HTTPError: 500 Server Error",
        "test_timeouts_are_retried": "ReadTimeout",
        "test_a_persistent_failure_fails_clearly_keeping_cursor_and_data": "must raise a careplug error, not HTTPError",
        # bug 4: ignores deletions
        "test_a_deleted_conversation_leaves_the_store": "not in",
        # bug 5: never finds its markers
        "test_the_same_nudge_delivered_twice_is_one_object_in_the_crm": "2 objects carry careplug:",
        "test_redelivery_after_a_crash_before_the_ledger_is_one_object": "the retry wrote the nudge again",
        "test_find_delivered_reports_exactly_the_delivered_markers": "assert set() ==",
    },
}


def outcomes(report: Path) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """Outcome of each (class, test), and the failure text of the failed ones."""
    out, texts = {}, {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        key = (case.get("classname", "").rsplit(".", 1)[-1], case.get("name"))
        out[key] = ("failed" if kinds & {"failure", "error"} else
                    "skipped" if "skipped" in kinds else "passed")
        texts[key] = "".join(f"{c.get('message', '')}\n{c.text or ''}" for c in case
                             if c.tag in ("failure", "error"))
    return out, texts


def test_every_suite_test_fails_for_some_broken_adapter() -> None:
    failing = set().union(*EXPECTED_FAILURES.values())
    assert SUITE - {MERGES} <= failing, f"no broken adapter shows these can fail: {sorted(SUITE - failing)}"


def test_the_suite_fails_the_broken_adapters_exactly_where_they_are_broken(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE / "broken_suite.py"), f"--junitxml={report}",
         "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit2"],
        capture_output=True, text=True, timeout=400, cwd=tmp_path)
    assert report.exists(), proc.stdout + proc.stderr
    got, failure_texts = outcomes(report)
    expected = {}
    for cls, failures in EXPECTED_FAILURES.items():
        for name in SUITE:
            expected[(cls, name)] = ("failed" if name in failures else "skipped" if name == MERGES else "passed")
    assert got == expected, proc.stdout[-4000:]
    assert proc.returncode == 1
    for cls, failures in EXPECTED_FAILURES.items():
        for name, reason in failures.items():
            text = failure_texts[(cls, name)]
            assert reason in text, f"{cls}.{name} failed for another reason:\n{text[-2000:]}"
