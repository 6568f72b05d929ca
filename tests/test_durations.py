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
