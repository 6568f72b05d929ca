"""Business calendars: open time counted exactly across nights, weekends, holidays and DST."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from careplug.calendar import BusinessCalendar, CalendarOptions

NY = ZoneInfo("America/New_York")
H = timedelta(hours=1)


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


def calendar(**kw) -> BusinessCalendar:
    base = {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"}}
    return BusinessCalendar.from_options(CalendarOptions(**{**base, **kw}))


def test_elapsed_within_one_day_counts_only_open_hours():
    cal = calendar()
    assert cal.elapsed(ny(2026, 3, 2, 8), ny(2026, 3, 2, 10, 30)) == timedelta(hours=1, minutes=30)


def test_elapsed_over_midnight_skips_the_night():
    cal = calendar()
    assert cal.elapsed(ny(2026, 3, 3, 16), ny(2026, 3, 4, 10)) == 2 * H


def test_elapsed_over_a_weekend_skips_saturday_and_sunday():
    cal = calendar()
    assert cal.elapsed(ny(2026, 3, 6, 15), ny(2026, 3, 9, 11)) == 4 * H


def test_a_public_holiday_is_closed():
    cal = calendar(country="US")  # 2026-07-03 (Friday) is the observed Independence Day
    assert cal.is_holiday(date(2026, 7, 3))
    assert cal.elapsed(ny(2026, 7, 2, 16), ny(2026, 7, 6, 10)) == 2 * H


def test_a_subdivision_holiday_is_closed_only_there():
    # Patriots' Day (third Monday of April) is a holiday in Massachusetts, not in New York
    ma = calendar(country="US", subdivision="MA")
    nys = calendar(country="US", subdivision="NY")
    assert ma.is_holiday(date(2026, 4, 20)) and not nys.is_holiday(date(2026, 4, 20))


def test_custom_holidays_close_and_open_dates_reopen():
    cal = calendar(country="US", holidays=["2026-12-24"], open_dates=["2026-07-03"])
    assert not cal.is_open(ny(2026, 12, 24, 10))
    assert cal.is_open(ny(2026, 7, 3, 10))


def test_hours_are_wall_clock_hours_across_the_spring_dst_change():
    cal = calendar(hours={"daily": "09:00-17:00"})
    # 2026-03-08: clocks go from 02:00 to 03:00 in New York; 9-to-5 is still 8 real hours
    assert cal.elapsed(ny(2026, 3, 7, 9), ny(2026, 3, 9, 9)) == 16 * H
    assert cal.add(ny(2026, 3, 7, 16), 2 * H) == ny(2026, 3, 8, 10).astimezone(timezone.utc)


def test_a_24h_day_has_23_real_hours_in_spring_and_25_in_autumn():
    cal = calendar(hours={"daily": "24h"})
    assert cal.elapsed(ny(2026, 3, 8), ny(2026, 3, 9)) == 23 * H
    assert cal.elapsed(ny(2026, 11, 1), ny(2026, 11, 2)) == 25 * H


def test_an_opening_or_closing_time_the_spring_gap_skips_takes_effect_when_the_clocks_jump():
    # New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00 UTC; "02:30" never shows on the
    # wall clock, which reads 03:00 from the jump on: open from then, 3 real hours to 06:00
    sunday = calendar(hours={"sun": "02:30-06:00"})
    assert sunday.next_open(ny(2026, 3, 8, 0)) == datetime(2026, 3, 8, 7, tzinfo=timezone.utc)
    assert sunday.elapsed(ny(2026, 3, 8, 0), ny(2026, 3, 8, 12)) == 3 * H
    # London, 2026-03-29: 01:00 GMT jumps to 02:00 BST; closing at "01:30" closes at the jump
    london = ZoneInfo("Europe/London")
    early = calendar(timezone="Europe/London", hours={"sun": "00:00-01:30"})
    assert not early.is_open(datetime(2026, 3, 29, 2, 15, tzinfo=london))
    assert early.elapsed(datetime(2026, 3, 28, 23, tzinfo=london), datetime(2026, 3, 29, 12, tzinfo=london)) == H
    # a week later, as written
    assert early.elapsed(datetime(2026, 4, 5, 0, tzinfo=london), datetime(2026, 4, 5, 12, tzinfo=london)) == 1.5 * H


def test_add_lands_in_the_next_open_interval():
    cal = calendar()
    # Friday 16:00 + 3 open hours = Monday 11:00
    assert cal.add(ny(2026, 3, 6, 16), 3 * H) == ny(2026, 3, 9, 11).astimezone(timezone.utc)
    # from a closed time, the clock starts at the next opening
    assert cal.add(ny(2026, 3, 7, 12), 1 * H) == ny(2026, 3, 9, 10).astimezone(timezone.utc)


def test_add_a_target_that_ends_exactly_at_closing_stays_on_that_day():
    cal = calendar()
    assert cal.add(ny(2026, 3, 2, 9), 8 * H) == ny(2026, 3, 2, 17).astimezone(timezone.utc)


def test_several_intervals_a_day_skip_the_lunch_break():
    cal = calendar(hours={"mon-fri": "09:00-12:00, 13:00-17:00"})
    assert cal.elapsed(ny(2026, 3, 2, 11), ny(2026, 3, 2, 14)) == 2 * H
    assert cal.add(ny(2026, 3, 2, 11), 2 * H) == ny(2026, 3, 2, 14).astimezone(timezone.utc)
    assert not cal.is_open(ny(2026, 3, 2, 12, 30))


def test_next_open_is_the_instant_itself_when_open():
    cal = calendar()
    t = ny(2026, 3, 2, 10)
    assert cal.next_open(t) == t
    assert cal.next_open(ny(2026, 3, 6, 18)) == ny(2026, 3, 9, 9).astimezone(timezone.utc)


def test_add_and_elapsed_are_inverse_over_years():
    cal = calendar(country="US")
    start = ny(2025, 12, 31, 15, 17)
    for hours in (1, 7, 8, 9, 40, 1000, 5000):
        end = cal.add(start, hours * H)
        assert cal.elapsed(start, end) == hours * H


def test_a_later_query_before_the_first_one_is_still_exact():
    cal = calendar()
    cal.elapsed(ny(2030, 1, 7, 9), ny(2030, 1, 7, 10))
    assert cal.elapsed(ny(2020, 1, 6, 9), ny(2020, 1, 7, 9)) == 8 * H


def test_a_span_that_starts_before_every_earlier_query_is_exact():
    # the end is already covered by the running totals and the start is not: the totals are rebuilt
    # from an earlier day, and the end's position must not be the one from before the rebuild
    cal = calendar()
    cal.elapsed(ny(2026, 3, 4, 9), ny(2026, 3, 4, 10))
    assert cal.elapsed(ny(2025, 12, 5, 9), ny(2026, 3, 4, 10)) == calendar().elapsed(
        ny(2025, 12, 5, 9), ny(2026, 3, 4, 10))
    assert cal.elapsed(ny(2025, 12, 5, 9), ny(2025, 12, 8, 9)) == 8 * H


def test_always_open_calendar_counts_wall_time():
    cal = BusinessCalendar.always()
    start = datetime(2026, 3, 7, 23, tzinfo=timezone.utc)
    assert cal.elapsed(start, start + 50 * H) == 50 * H
    assert cal.add(start, 50 * H) == start + 50 * H


@pytest.mark.parametrize("options, message", [
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"hours": {"mon": "9-5"}}, "HH:MM-HH:MM"),
    ({"hours": {"funday": "09:00-17:00"}}, "unknown day"),
    ({"hours": {"mon": "17:00-09:00"}}, "ends before it starts"),
    ({"hours": {"mon": "09:00-12:00, 11:00-17:00"}}, "overlap"),
    ({"country": "XX"}, "no country"),
    ({"subdivision": "CA"}, "needs a country"),
    ({"opening": "x"}, "Extra inputs"),
])
def test_bad_calendar_options_are_rejected_with_a_clear_message(options, message):
    with pytest.raises(ValidationError, match=message):
        CalendarOptions(**options)


@pytest.mark.parametrize("hours", [{}, {"mon-fri": "closed"}, {"daily": "off", "sat": ""}])
def test_a_calendar_that_is_never_open_is_refused_when_the_config_is_validated(hours):
    """No clock could ever run on it: every rule on it would fail at run time instead."""
    with pytest.raises(ValidationError, match="never open") as info:
        CalendarOptions(hours=hours)
    [error] = info.value.errors()
    assert error["loc"] == ("hours",) and "always" in error["msg"]


def test_an_unknown_subdivision_is_named_with_the_country_s_subdivisions():
    with pytest.raises(ValidationError) as info:
        CalendarOptions(country="US", subdivision="ZZ")
    [error] = info.value.errors()
    assert error["loc"] == ("subdivision",)
    assert "no subdivision 'ZZ' of US" in error["msg"] and "no country" not in error["msg"]
    assert "CA" in error["msg"] and "NY" in error["msg"]            # the valid ones are listed
    with pytest.raises(ValidationError, match="did you mean 'BY'"):
        CalendarOptions(country="DE", subdivision="by")
    with pytest.raises(ValidationError, match="no country 'de' \\(did you mean 'DE'\\?\\)"):
        CalendarOptions(country="de")


def test_a_subdivision_may_be_given_by_the_name_the_holidays_package_also_takes():
    assert CalendarOptions(country="GB", subdivision="England").subdivision == "England"
    assert CalendarOptions(country="GB", subdivision="ENG").subdivision == "ENG"


def test_every_bad_opening_hours_entry_is_reported_at_once():
    with pytest.raises(ValidationError) as info:
        CalendarOptions(hours={"mon": "17:00-09:00", "tue": "25:00-26:00", "wed": "09:00-17:00", "funday": "10:00-12:00"})
    found = {tuple(e["loc"]): e["msg"] for e in info.value.errors()}
    assert ("hours", "mon") in found and ("hours", "tue") in found and ("hours", "funday", "[key]") in found
    assert len(found) == 3
