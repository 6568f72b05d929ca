"""Names one table of careplug.toml uses that another must define (rules, sources, calendars,
notifiers, teams): a typo is a config error at the key that holds it, with its line and the
closest name, never a silently ignored table or a rule that can never fire."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from careplug import ConfigError
from careplug.config import parse
from careplug.plugins import Plugins


def problems_of(text: str) -> list:
    with pytest.raises(ConfigError) as info:
        parse(textwrap.dedent(text).lstrip("\n"), file="careplug.toml", plugins=Plugins())
    return info.value.problems


def where(problems: list) -> list[tuple[str, int | None]]:
    return [(p.path, p.line) for p in problems]


def test_a_per_rule_nudge_table_must_name_an_installed_rule():
    [problem] = problems_of("""
        [rules.broken_promise]

        [nudges.rules.broken_promis.breach]
        actions = []
    """)
    assert where([problem]) == [("nudges.rules.broken_promis", 3)]
    assert problem.message == "no rule named 'broken_promis'" and problem.hint == "did you mean 'broken_promise'?"


def test_a_per_rule_nudge_table_for_an_installed_rule_is_fine_even_unconfigured():
    parse('[nudges.rules.unhappy.breach]\nactions = ["note"]\n', plugins=Plugins())


def test_a_scope_must_name_configured_sources():
    [problem] = problems_of("""
        [sources.zendesk]
        type = "files"
        path = "export"

        [rules.unanswered]
        scope = { sources = ["Zendesk", "zendsk"] }
    """)
    assert where([problem]) == [("rules.unanswered.scope.sources.1", 6)]
    assert problem.message == "no source named 'zendsk'" and problem.hint == "did you mean 'zendesk'?"


def test_a_scope_source_with_no_sources_configured_says_how_to_define_one():
    [problem] = problems_of('[rules.unanswered]\nscope = { sources = "hubspot" }\n')
    assert where([problem]) == [("rules.unanswered.scope.sources.0", 2)]
    assert "[sources.NAME]" in problem.hint


def test_an_unknown_files_encoding_is_reported_at_its_key():
    [problem] = problems_of("""
        [sources.zendesk]
        type = "files"
        path = "export"
        encoding = "utf-9"
    """)
    assert where([problem]) == [("sources.zendesk.encoding", 4)]
    assert "unknown text encoding 'utf-9'" in problem.message


def test_calendars_of_quiet_hours_and_people_are_reported_at_their_own_keys():
    problems = problems_of("""
        [calendars.support]
        timezone = "UTC"

        [nudges]
        default_owner = "x"

        [nudges.people."maria@example.com"]
        email = "maria@example.com"
        calendar = "emea"

        [nudges.quiet_hours]
        enabled = true
        calendar = "suport"
    """)
    assert where(problems) == [('nudges.people.maria@example.com.calendar', 9), ("nudges.quiet_hours.calendar", 13)]
    assert problems[1].message == "no [calendars.suport]" and problems[1].hint == "did you mean 'support'?"


def test_a_notifier_named_in_an_action_is_reported_at_the_action():
    [problem] = problems_of("""
        [nudges.stages.breach]
        actions = [
          "task",
          { action = "notify", notifier = "slak" },
        ]
    """)
    assert where([problem]) == [("nudges.stages.breach.actions.1.notifier", 4)]


def test_reference_checks_still_run_when_nudges_has_other_problems():
    """Every problem at once: a bad limit or a bad stage does not hide an undefined calendar."""
    problems = problems_of("""
        [nudges.stages.breach]
        actions = [{ action = "task", due_in = "soon" }]

        [nudges.limits]
        per_person_per_day = 0

        [nudges.quiet_hours]
        calendar = "support"
    """)
    assert where(problems) == [("nudges.stages.breach.actions.0.due_in", 2),
                               ("nudges.limits.per_person_per_day", 5), ("nudges.quiet_hours.calendar", 8)]


def test_a_check_of_a_whole_rule_table_points_at_the_key_it_names():
    [problem] = problems_of("""
        [rules.quiet_customer]
        after = "30d"
        scope = { tiers = ["gold"], channels = ["email"] }
    """)
    assert where([problem]) == [("rules.quiet_customer.scope.channels", 3)]


def test_the_cli_reports_the_key_and_line_in_json(tmp_path):
    (tmp_path / "careplug.toml").write_text('[nudges]\ndefault_owner = "x"\n\n[nudges.quiet_hours]\n'
                                            'enabled = true\ncalendar = "support"\n')
    proc = subprocess.run([sys.executable, "-m", "careplug", "--json", "validate"], cwd=tmp_path,
                          capture_output=True, text=True, env=os.environ)
    assert proc.returncode == 3
    [problem] = json.loads(proc.stdout)["problems"]
    assert (problem["path"], problem["line"]) == ("nudges.quiet_hours.calendar", 6)


def test_a_name_from_the_environment_is_not_shown(monkeypatch):
    monkeypatch.setenv("CAREPLUG_TEST_CALENDAR", "s3cr3t-calendar")
    [problem] = problems_of('[nudges.quiet_hours]\ncalendar = "${CAREPLUG_TEST_CALENDAR}"\n')
    assert problem.path == "nudges.quiet_hours.calendar" and "s3cr3t" not in str(problem)
