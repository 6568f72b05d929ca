from datetime import timedelta

import pytest

from careplug.durations import format_duration, parse_duration


@pytest.mark.parametrize("text, expected", [
    ("30m", timedelta(minutes=30)), ("4h", timedelta(hours=4)), ("2d", timedelta(days=2)), ("1w", timedelta(weeks=1)),
    ("1h30m", timedelta(minutes=90)), ("1d 12h", timedelta(hours=36)), ("2 days", timedelta(days=2)),
    ("90 minutes", timedelta(minutes=90)), ("1 hour and 15 minutes", timedelta(minutes=75)), ("45", timedelta(seconds=45)),
    (120, timedelta(minutes=2)), (timedelta(hours=1), timedelta(hours=1)),
])
def test_durations_as_admins_write_them(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "4 fortnights", "h4", "4h soon", True, None])
def test_anything_else_is_refused_with_the_accepted_form(text):
    with pytest.raises(ValueError, match="duration|unit"):
        parse_duration(text)


def test_formatting_for_people():
    assert format_duration(timedelta(hours=26, minutes=5)) == "1d2h5m"
    assert format_duration(timedelta(seconds=42)) == "42s" and format_duration(-timedelta(hours=2)) == "-2h"
