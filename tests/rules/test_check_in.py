"""check_in: a follow-up some days after solving, for the chosen segments."""

from __future__ import annotations

from datetime import timedelta, timezone

from careplug.model import Priority, Status
from careplug.rules.check_in import CheckIn, CheckInOptions

from conftest import context, ny


def rule(**options) -> CheckIn:
    return CheckIn(CheckInOptions(**options), context())


def test_three_days_after_solving_a_check_in_is_due_and_two_days_later_breached(journey):
    ada = journey.customer(tier="enterprise")
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), priority=Priority.HIGH)
    journey.reply(conv, ny(2026, 3, 2, 10))
    journey.status(conv, ny(2026, 3, 6, 12), Status.SOLVED)           # Friday noon, before the DST change
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    r = rule(scope={"tiers": ["enterprise"]})
    assert r.assess(hist, ny(2026, 3, 7)).next_check_at == ny(2026, 3, 9, 13).astimezone(timezone.utc)
    [due] = r.evaluate(hist, ny(2026, 3, 9, 14))                      # 72 real hours = Monday 13:00 EDT
    assert due.stage == "due" and due.severity.value == "info"
    [breach] = r.evaluate(hist, ny(2026, 3, 11, 14))
    assert breach.stage == "breach" and breach.due_at == ny(2026, 3, 11, 13).astimezone(timezone.utc)


def test_a_touch_after_solving_is_the_check_in(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.status(conv, ny(2026, 3, 2, 12), Status.SOLVED)
    journey.reply(conv, ny(2026, 3, 2, 12), "Solved! Closing this.")           # the solving reply is not
    journey.reply(conv, ny(2026, 3, 5, 10), "Just checking in: all good?")
    assert rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 9)) == []


def test_segments_outside_the_scope_get_no_check_in(journey):
    ada = journey.customer(tier="smb")
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.status(conv, ny(2026, 3, 2, 12), Status.SOLVED)
    assert rule(scope={"tiers": ["enterprise"]}).evaluate(
        journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 20)) == []


def test_a_conversation_solved_longer_ago_than_max_age_is_no_longer_followed(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.status(conv, ny(2026, 3, 2, 12), Status.SOLVED)
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    assert len(rule(max_age="14d").evaluate(hist, ny(2026, 3, 15))) == 1
    assert rule(max_age="14d").evaluate(hist, ny(2026, 3, 17)) == []


def test_closing_a_solved_conversation_later_does_not_restart_the_check_in_clock(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.status(conv, ny(2026, 3, 2, 12), Status.SOLVED)
    journey.status(conv, ny(2026, 3, 6, 12), Status.CLOSED, frm=Status.SOLVED)    # auto-closed 4 days later
    conv.solved_at = ny(2026, 3, 6, 12)          # a CRM that stamps the ticket's last update (Zendesk)
    journey.records.append(conv)
    [f] = rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 7, 13))
    assert f.stage == "breach" and f.occurrence == f"solved-{int(ny(2026, 3, 2, 12).timestamp())}"
    assert f.due_at == ny(2026, 3, 7, 12).astimezone(timezone.utc)


def test_an_open_check_in_finding_is_looked_at_again_when_it_expires(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.status(conv, ny(2026, 3, 2, 12), Status.SOLVED)
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    a = rule(max_age="14d").assess(hist, ny(2026, 3, 8, 12))          # breached, no stage ahead
    assert [f.stage for f in a.findings] == ["breach"]
    # 14 x 24 real hours after solving (13:00 in New York: the clocks moved on March 8), and a second
    assert a.next_check_at == ny(2026, 3, 2, 12).astimezone(timezone.utc) + timedelta(days=14, seconds=1)
    assert rule(max_age="14d").evaluate(hist, a.next_check_at) == []   # then it expires
