"""The [nudges] table: defaults, shorthand, and validation messages that say what to write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from careplug.nudges.model import Action
from careplug.nudges.policy import NudgePolicy, parse_duration


def problem(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        NudgePolicy.model_validate(data)
    return str(info.value)


def test_without_a_table_warnings_go_to_the_owner_and_breaches_to_the_manager():
    p = NudgePolicy()
    assert p.stage_policy("any", "warning").assign_to == "owner"
    assert p.stage_policy("any", "breach").assign_to == "manager"
    assert [a.action for a in p.stage_policy("any", "breach").actions] == [Action.TASK]


def test_configuring_one_stage_keeps_the_defaults_of_the_others():
    p = NudgePolicy.model_validate({"stages": {"warning": {"actions": "note"}}})
    assert [a.action for a in p.stage_policy("r", "warning").actions] == [Action.NOTE]
    assert p.stage_policy("r", "breach").assign_to == "manager"


def test_a_stage_named_after_the_severity_applies_to_custom_stage_names():
    assert NudgePolicy().stage_policy("r", "second_reminder", "breach").assign_to == "manager"
    assert NudgePolicy().stage_policy("r", "second_reminder", "info") is None


@pytest.mark.parametrize("text,expected", [("90m", 5400), ("1h30m", 5400), ("2 days", 172800), ("PT2H", 7200),
                                           ("45s", 45)])
def test_durations_read_like_people_write_them(text, expected):
    p = NudgePolicy.model_validate({"stages": {"warning": {"actions": [{"action": "task", "due_in": text}]}}})
    assert p.stages["warning"].actions[0].due_in == timedelta(seconds=expected)


@pytest.mark.parametrize("text", [45, "45"])
def test_a_duration_without_a_unit_is_refused_as_in_every_rule(text):
    with pytest.raises(ValidationError, match="unit"):
        NudgePolicy.model_validate({"stages": {"warning": {"actions": [{"action": "task", "due_in": text}]}}})


@pytest.mark.parametrize("data,message", [
    ({"stages": {"warning": {"actions": ["call"]}}}, "stages.warning.actions.0.action"),
    ({"stages": {"warning": {"actions": [{"action": "notify"}]}}}, "needs notifier"),
    ({"stages": {"warning": {"actions": [{"action": "note", "due_in": "1h"}]}}}, "due_in is only for task"),
    ({"stages": {"warning": {"actions": [{"action": "task", "due_in": "2 fortnights"}]}}}, "unknown unit 'fortnight'"),
    ({"stages": {"warning": {"actions": ["task", "task"]}}}, "listed twice"),
    ({"stages": {"breach": {"assign_to": "boss"}}}, "owner, manager, team:<name>, person:<id>"),
    ({"hierarchy": {"managers": {"alice": "alice"}}}, "their own manager"),
    ({"limits": {"per_person_per_day": 0}}, "limits.per_person_per_day"),
    ({"quiet_hours": {"enable": True}}, "quiet_hours.enable"),
])
def test_mistakes_are_reported_with_their_key_and_what_to_write(data, message):
    assert message in problem(data)


def test_names_the_rest_of_the_config_must_define_are_checked():
    p = NudgePolicy.model_validate({
        "default_target": "outbox",
        "stages": {"breach": {"actions": [{"action": "notify", "notifier": "slack"}], "assign_to": "team:x"}},
        "people": {"kenji": {"calendar": "tokyo"}}})
    problems = p.check_references(sources={"zendesk"}, notifiers=set(), calendars=set())
    assert problems == ["nudges.default_target: no source or notifier named 'outbox'",
                        "nudges.stages.breach.actions[0].notifier: no [notifiers.slack]",
                        "nudges.stages.breach.assign_to: no [nudges.hierarchy.teams.x]",
                        "nudges.people.kenji.calendar: no [calendars.tokyo]"]


def test_parse_duration_rejects_what_it_cannot_read():
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration("soon")
