"""The suite catches a broken adapter: each bug fails exactly the tests it should, nothing else.

The suite runs against ``broken_adapter.py`` in a pytest subprocess (so its failures do not fail
this run); the outcome of every generated test is read from its JUnit XML report.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).parent

#: each expected failure, with a phrase its failure message must contain (the right reason)
EXPECTED_FAILURES = {
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
}
EXPECTED_SKIPS = {"test_a_merge_leaves_the_store_as_the_crm_shows_it"}  # TinyDesk has no merges
EXPECTED_PASSES = {
    "test_first_sync_stores_every_record",
    "test_second_sync_reads_only_what_changed_since_the_final_cursor",
    "test_conversations_changed_during_a_sync_are_picked_up_by_the_next",
    "test_5xx_answers_are_retried",
    "test_timeouts_are_retried",
    "test_a_persistent_failure_fails_clearly_keeping_cursor_and_data",
    "test_find_delivered_reports_exactly_the_delivered_markers",
    "test_a_deleted_conversation_leaves_the_store",
}


def outcomes(report: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Outcome of each test case, and the failure text of the failed ones."""
    out, texts = {}, {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        name = case.get("name")
        out[name] = ("failed" if kinds & {"failure", "error"} else
                     "skipped" if "skipped" in kinds else "passed")
        texts[name] = "".join(f"{c.get('message', '')}\n{c.text or ''}" for c in case
                              if c.tag in ("failure", "error"))
    return out, texts


def test_the_suite_fails_the_broken_adapter_exactly_where_it_is_broken(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE / "broken_suite.py"), f"--junitxml={report}",
         "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit2"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert report.exists(), proc.stdout + proc.stderr
    got, failure_texts = outcomes(report)
    expected = {**{n: "failed" for n in EXPECTED_FAILURES}, **{n: "skipped" for n in EXPECTED_SKIPS},
                **{n: "passed" for n in EXPECTED_PASSES}}
    assert got == expected, proc.stdout[-4000:]
    assert proc.returncode == 1
    for name, reason in EXPECTED_FAILURES.items():
        assert reason in failure_texts[name], f"{name} failed for another reason:\n{failure_texts[name][-2000:]}"
