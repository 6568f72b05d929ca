"""The rule clock: business time minus pauses, whatever order or overlap the pauses come in."""

from datetime import datetime, timezone

from careplug.calendar import BusinessCalendar, CalendarOptions
from careplug.rules.clock import Clock, Pause

ALWAYS = BusinessCalendar.always()


def ts(hour: int) -> float:
    return datetime(2026, 6, 1, hour, tzinfo=timezone.utc).timestamp()     # a Monday


def hours(seconds: float) -> float:
    return seconds / 3600


def test_overlapping_pauses_count_each_paused_hour_once():
    clock = Clock(ALWAYS, [Pause(ts(1), ts(3), "pending"), Pause(ts(2), ts(4), "on_hold")])
    assert hours(clock.active(ts(0), ts(6))) == 3.0          # paused 01:00-04:00
    assert hours(clock.paused(ts(0), ts(6))) == 3.0
    assert clock.at(ts(0), 3 * 3600) == ts(6)                # 00-01 and 04-06 run
    assert clock.active(ts(0), clock.at(ts(0), 3 * 3600)) == 3 * 3600


def test_the_same_pause_twice_is_one_pause():
    clock = Clock(ALWAYS, [Pause(ts(1), ts(3), "pending"), Pause(ts(1), ts(3), "pending")])
    assert hours(clock.active(ts(0), ts(6))) == 4.0


def test_pauses_out_of_order_give_the_same_due_time_as_in_order():
    early, late = Pause(ts(1), ts(2), "pending"), Pause(ts(3), ts(4), "pending")
    assert Clock(ALWAYS, [late, early]).at(ts(0), 3 * 3600) == Clock(ALWAYS, [early, late]).at(ts(0), 3 * 3600) == ts(5)


def test_a_pause_still_open_stops_the_clock_only_from_when_it_began():
    clock = Clock(ALWAYS, [Pause(ts(10), None, "pending"), Pause(ts(1), ts(2), "pending")])
    assert clock.at(ts(0), 3 * 3600) == ts(4)
    assert clock.at(ts(0), 12 * 3600) is None                # due only once the pause ends
    assert hours(clock.active(ts(0), ts(12))) == 9.0


def test_a_pause_inside_a_pause_still_open_is_swallowed():
    clock = Clock(ALWAYS, [Pause(ts(1), None, "pending"), Pause(ts(2), ts(3), "on_hold")])
    assert clock.pauses == [Pause(ts(1), None, "pending")]


def test_no_clock_time_to_run_is_due_at_the_start_even_while_paused():
    # a warning "2h before" a 1h target sits at clock time 0
    assert Clock(ALWAYS, [Pause(ts(0), None, "pending")]).at(ts(1), 0) == ts(1)
    assert Clock(ALWAYS, [Pause(ts(0), ts(5), "pending")]).at(ts(1), 0) == ts(1)


def test_business_hours_and_pauses_together():
    nine_to_five = BusinessCalendar.from_options(CalendarOptions(timezone="UTC", hours={"mon-fri": "09:00-17:00"}))
    clock = Clock(nine_to_five, [Pause(ts(12), ts(14), "pending"), Pause(ts(13), ts(15), "on_hold")])
    assert hours(clock.active(ts(9), ts(17))) == 5.0         # 09-12 and 15-17
    assert clock.at(ts(9), 5 * 3600) == ts(17)
