"""Each team counts business time on its own calendar: ``[calendars.NAME] groups`` names the teams
(conversation groups) whose clocks run on it; a rule that names its own ``calendar`` counts every
conversation on that one."""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone

import pytest

from careplug.calendar import BusinessCalendar, CalendarOptions
from careplug.config import ConfigError, load
from careplug.rules.broken_promise import BrokenPromise, BrokenPromiseOptions
from careplug.rules.context import RuleContext
from careplug.rules.neglected_lead import NeglectedLead, NeglectedLeadOptions
from careplug.rules.unanswered import Unanswered, UnansweredOptions
from careplug.rules.unhappy import Unhappy, UnhappyOptions

from conftest import ny


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def two_teams() -> RuleContext:
    """New York 09:00-17:00 by default; the EMEA team (group "emea") Berlin 08:00-18:00."""
    return RuleContext({
        "default": BusinessCalendar.from_options(
            CalendarOptions(timezone="America/New_York", hours={"mon-fri": "09:00-17:00"}), name="default"),
        "emea": BusinessCalendar.from_options(
            CalendarOptions(timezone="Europe/Berlin", hours={"mon-fri": "08:00-18:00"}, groups=["EMEA"]),
            name="emea"),
    }, default_calendar="default")


def _waiting(journey, group: str | None):
    ada = journey.customer(email=f"{group}@example.com")
    conv = journey.conversation(ada, utc(2026, 3, 2, 7), group=group)        # Monday 07:00 UTC
    journey.inbound(conv, utc(2026, 3, 2, 7))
    return journey.history(f"conversation:zendesk:{conv.external_id}")


def test_a_conversation_of_a_team_with_a_calendar_counts_on_it_and_others_on_the_default(journey):
    rule = Unanswered(UnansweredOptions(first_reply="4h"), two_teams())
    berlin = _waiting(journey, "emea")          # 08:00 in Berlin: open; due 12:00 Berlin = 11:00 UTC
    new_york = _waiting(journey, "billing")     # 02:00 in New York: opens 09:00 EST; due 13:00 = 18:00 UTC
    now = utc(2026, 3, 2, 20)
    [f_berlin] = rule.evaluate(berlin, now)
    [f_ny] = rule.evaluate(new_york, now)
    assert f_berlin.due_at == utc(2026, 3, 2, 11) and f_berlin.explain["calendar"] == "emea"
    assert f_ny.due_at == utc(2026, 3, 2, 18) and f_ny.explain["calendar"] == "default"
    assert f_berlin.summary.endswith("since Mon 2 Mar 08:00 CET (target 4h)")
    assert f_ny.summary.endswith("since Mon 2 Mar 02:00 EST (target 4h)")


def test_groups_match_in_any_case_and_a_conversation_without_a_group_uses_the_default(journey):
    rule = Unanswered(UnansweredOptions(first_reply="4h"), two_teams())
    [f] = rule.evaluate(_waiting(journey, "Emea"), utc(2026, 3, 2, 20))
    assert f.explain["calendar"] == "emea"
    [f] = rule.evaluate(_waiting(journey, None), utc(2026, 3, 2, 20))
    assert f.explain["calendar"] == "default"


def test_a_rule_that_names_its_own_calendar_counts_every_team_on_it(journey):
    rule = Unanswered(UnansweredOptions(first_reply="4h", calendar="default"), two_teams())
    [f] = rule.evaluate(_waiting(journey, "emea"), utc(2026, 3, 2, 20))
    assert f.due_at == utc(2026, 3, 2, 18) and f.explain["calendar"] == "default"
    wall = Unanswered(UnansweredOptions(first_reply="4h", calendar="always"), two_teams())
    [f] = wall.evaluate(_waiting(journey, "emea"), utc(2026, 3, 2, 20))
    assert f.due_at == utc(2026, 3, 2, 11) and f.explain["calendar"] == "always"


def test_team_calendars_apply_without_a_default_calendar(journey):
    only_emea = RuleContext({"emea": two_teams().calendars["emea"]})
    rule = Unanswered(UnansweredOptions(first_reply="4h"), only_emea)
    [f] = rule.evaluate(_waiting(journey, "emea"), utc(2026, 3, 2, 20))
    assert f.explain["calendar"] == "emea" and f.explain["target"] == "4h"
    [f] = rule.evaluate(_waiting(journey, "billing"), utc(2026, 3, 2, 20))
    assert f.explain["calendar"] == "always" and f.due_at == utc(2026, 3, 2, 11)


def test_an_undated_promise_is_due_on_its_teams_calendar(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, utc(2026, 3, 2, 16), group="emea")
    journey.inbound(conv, utc(2026, 3, 2, 16))
    journey.reply(conv, utc(2026, 3, 2, 16), "Let me check with the team and follow up.")  # 17:00 Berlin
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    rule = BrokenPromise(BrokenPromiseOptions(undated_due="2h"), two_teams())
    [f] = rule.evaluate(hist, utc(2026, 3, 4, 12))
    # one open hour on Monday (17:00-18:00 Berlin), one on Tuesday from 08:00: 09:00 Berlin = 08:00 UTC
    assert f.due_at == utc(2026, 3, 3, 8)
    assert f.explain["dates_calendar"] == "emea"


def test_a_bad_rating_and_a_first_inquiry_count_on_their_teams_calendar(journey):
    ada = journey.customer(email="lead@example.com", is_lead=True)
    conv = journey.conversation(ada, utc(2026, 3, 2, 7), group="emea")
    journey.inbound(conv, utc(2026, 3, 2, 7))
    journey.rating(conv, utc(2026, 3, 2, 7))
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    [f] = Unhappy(UnhappyOptions(target="4h"), two_teams()).evaluate(hist, utc(2026, 3, 2, 20))
    assert f.explain["calendar"] == "emea" and f.due_at == utc(2026, 3, 2, 11)
    lead = journey.history(f"customer:{hist.customer_uid}")
    findings = NeglectedLead(NeglectedLeadOptions(target="4h", first_inquiry=True), two_teams()).evaluate(
        lead, utc(2026, 3, 2, 20))
    assert [(f.occurrence.split(":")[0], f.explain["calendar"], f.due_at) for f in findings] == [
        ("first-inquiry", "emea", utc(2026, 3, 2, 11))]


def test_a_team_on_two_calendars_is_a_config_error_with_its_key_path(tmp_path):
    (tmp_path / "careplug.toml").write_text(textwrap.dedent("""
        [calendars.emea]
        timezone = "Europe/Berlin"
        groups = ["emea", "billing"]

        [calendars.us]
        timezone = "America/New_York"
        groups = ["Billing"]
    """))
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "careplug.toml")
    [problem] = info.value.problems
    assert problem.path == "calendars.us.groups" and "already on [calendars.emea]" in problem.message
    assert problem.line == 8
