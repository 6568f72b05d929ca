import textwrap
from datetime import timedelta

import pytest

from careplug.durations import format_duration, parse_duration


@pytest.mark.parametrize("text, expected", [
    ("30m", timedelta(minutes=30)), ("4h", timedelta(hours=4)), ("2d", timedelta(days=2)), ("1w", timedelta(weeks=1)),
    ("1h30m", timedelta(minutes=90)), ("1d 12h", timedelta(hours=36)), ("2 days", timedelta(days=2)),
    ("90 minutes", timedelta(minutes=90)), ("1 hour and 15 minutes", timedelta(minutes=75)), ("45s", timedelta(seconds=45)),
    (timedelta(hours=1), timedelta(hours=1)),
])
def test_durations_as_admins_write_them(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("value", [4, "4", " 4 ", 0, "0", 1.5, "1.5"])
def test_a_bare_number_is_refused_because_the_unit_is_what_the_admin_meant(value):
    """`next_reply = 4` is not four seconds: the admin is asked to write the unit."""
    with pytest.raises(ValueError, match="needs a unit") as info:
        parse_duration(value, bare_seconds=False)
    assert "h'" in str(info.value) and "s' for seconds" in str(info.value)


def test_the_api_reads_a_bare_number_as_seconds():
    assert parse_duration("45") == timedelta(seconds=45)
    assert parse_duration(120) == timedelta(minutes=2)


@pytest.mark.parametrize("snippet", ["next_reply = 4", 'first_reply = "4"', "first_reply = 0.5",
                                     'stages = [{ name = "last-call", before = 30 }]'])
def test_a_rule_duration_without_a_unit_is_a_config_error(snippet):
    from careplug import ConfigError
    from careplug.config import parse

    with pytest.raises(ConfigError) as info:
        parse("[rules.unanswered]\n" + snippet + "\n")
    [problem] = info.value.problems
    assert problem.path.startswith("rules.unanswered.") and "needs a unit" in problem.message


@pytest.mark.parametrize("text", ["", "soon", "4 fortnights", "h4", "4h soon", True, None, "500ms", "2hs"])
def test_anything_else_is_refused_with_the_accepted_form(text):
    with pytest.raises(ValueError, match="duration|unit"):
        parse_duration(text)


def test_formatting_for_people():
    assert format_duration(timedelta(hours=26, minutes=5)) == "1d2h5m"
    assert format_duration(timedelta(seconds=42)) == "42s" and format_duration(-timedelta(hours=2)) == "-2h"


@pytest.mark.parametrize("text, expected", [
    ("PT4H", timedelta(hours=4)), ("PT30M", timedelta(minutes=30)), ("PT1H30M", timedelta(minutes=90)),
    ("P2D", timedelta(days=2)), ("P1DT12H", timedelta(hours=36)), ("P1W", timedelta(weeks=1)),
    ("P1W2D", timedelta(days=9)), ("PT1.5H", timedelta(minutes=90)), ("PT45S", timedelta(seconds=45)),
    ("pt2h", timedelta(hours=2)), (" PT4H ", timedelta(hours=4)),
])
def test_iso_8601_durations_are_read_by_the_same_parser(text, expected):
    assert parse_duration(text, bare_seconds=False) == expected


@pytest.mark.parametrize("text, says", [
    ("P1M", "no fixed length"), ("P1Y", "no fixed length"), ("P1Y2M", "no fixed length"),
    ("P", "bad duration"), ("PT", "bad duration"), ("P1DT", "bad duration"), ("PT4", "bad duration"),
    ("P4H", "bad duration"), ("PT1D", "bad duration"), ("-PT1H", "bad duration"), ("PT1H 30m", "bad duration"),
])
def test_iso_8601_durations_without_a_fixed_length_or_malformed_are_refused(text, says):
    with pytest.raises(ValueError, match=says):
        parse_duration(text, bare_seconds=False)


@pytest.mark.parametrize("text", ["PT4H", "P1DT2H", "90 minutes", "1h30m"])
def test_every_duration_in_careplug_toml_takes_the_same_forms(text):
    """A rule's target, a stage's `before` and a nudge's `due_in` are read by one parser: what one
    accepts, the others accept too."""
    from careplug.config import parse

    config = parse(textwrap.dedent(f"""
        [rules.unanswered]
        first_reply = "{text}"
        stages = [{{ name = "last-call", before = "1m" }}]
        [rules.check_in]
        after = "{text}"
        [rules.broken_promise]
        stages = [{{ name = "soon", before = "{text}" }}]
        [nudges.stages.breach]
        actions = [{{ action = "task", due_in = "{text}" }}]
    """))
    expected = parse_duration(text, bare_seconds=False)
    assert config.rules["unanswered"].first_reply == expected == config.rules["check_in"].after
    assert config.rules["broken_promise"].stages[0].before == expected
    assert config.nudges.stages["breach"].actions[0].due_in == expected


@pytest.mark.parametrize("text", ["P1M", "pt", "4", "soon"])
def test_a_duration_one_field_refuses_every_field_refuses_with_the_same_words(text):
    from careplug import ConfigError
    from careplug.config import parse

    with pytest.raises(ConfigError) as info:
        parse(f'[rules.unanswered]\nfirst_reply = "{text}"\n[nudges.stages.breach]\n'
              f'actions = [{{ action = "task", due_in = "{text}" }}]\n')
    rule, nudge = sorted(info.value.problems, key=lambda p: p.line)
    assert (rule.path, nudge.path) == ("rules.unanswered.first_reply", "nudges.stages.breach.actions.0.due_in")
    assert rule.message == nudge.message
