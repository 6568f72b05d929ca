"""unanswered: inquiries on every channel with no reply from a person within target."""

from __future__ import annotations

from datetime import timezone

import pytest
from pydantic import ValidationError

from careplug.model import AuthorRole, Channel, Direction, Message, Priority, Status
from careplug.rules.unanswered import Unanswered, UnansweredOptions

from conftest import context, ny


def rule(**options) -> Unanswered:
    return Unanswered(UnansweredOptions(**options), context())


def utc(dt):
    return dt.astimezone(timezone.utc)


def test_an_email_over_a_weekend_breaches_monday_after_four_business_hours(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 6, 15))              # Friday 15:00
    msg = journey.inbound(conv, ny(2026, 3, 6, 15))
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    r = rule()
    # Friday 17:00 -> 2 business hours used; warning at 3h = Monday 10:00; breach Monday 11:00
    assert r.evaluate(hist, ny(2026, 3, 7, 12)) == []
    assert r.assess(hist, ny(2026, 3, 7, 12)).next_check_at == utc(ny(2026, 3, 9, 10))
    [warning] = r.evaluate(hist, ny(2026, 3, 9, 10, 30))
    assert (warning.stage, warning.due_at, warning.occurrence) == ("warning", utc(ny(2026, 3, 9, 11)), msg.external_id)
    assert warning.next_check_at == utc(ny(2026, 3, 9, 11))
    [breach] = r.evaluate(hist, ny(2026, 3, 9, 12))
    assert breach.stage == "breach" and breach.key == warning.key
    assert breach.explain["business_time_elapsed"] == "5h" and breach.explain["wall_time_elapsed"] == "2d20h"  # DST: one hour less


def test_a_reply_from_a_person_clears_it_but_a_bot_or_internal_note_does_not(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 9, 1), "We got your message", role=AuthorRole.BOT)
    journey.reply(conv, ny(2026, 3, 2, 10), "customer seems angry", public=False)
    subject = f"conversation:zendesk:{conv.external_id}"
    [f] = rule().evaluate(journey.history(subject), ny(2026, 3, 2, 14))
    assert f.stage == "breach" and f.due_at == utc(ny(2026, 3, 2, 13))
    journey.reply(conv, ny(2026, 3, 2, 14, 30))
    assert rule().evaluate(journey.history(subject), ny(2026, 3, 2, 15)) == []


def test_the_next_reply_target_starts_at_the_first_inquiry_after_a_reply(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 10))
    follow = journey.inbound(conv, ny(2026, 3, 2, 11), "Still broken")
    journey.inbound(conv, ny(2026, 3, 2, 12), "Hello??")
    [f] = rule(next_reply="2h").evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"),
                                         ny(2026, 3, 2, 13, 30))
    assert f.occurrence == follow.external_id and f.due_at == utc(ny(2026, 3, 2, 13))
    assert f.explain["reply"] == "next reply"


def test_a_missed_call_counts_as_much_as_an_email_and_an_answered_call_is_answered(journey):
    ada = journey.customer()
    missed = journey.conversation(ada, ny(2026, 3, 2, 9), channel=Channel.PHONE)
    journey.inbound(missed, ny(2026, 3, 2, 9), "voicemail: please call me", answered_call=False)
    answered = journey.conversation(ada, ny(2026, 3, 2, 9), channel=Channel.PHONE)
    journey.inbound(answered, ny(2026, 3, 2, 9), "call", answered_call=True)
    r = rule(channel_targets={"phone": "1h"})
    [f] = r.evaluate(journey.history(f"conversation:zendesk:{missed.external_id}"), ny(2026, 3, 2, 11))
    assert f.channel == "phone" and f.due_at == utc(ny(2026, 3, 2, 10))
    assert r.evaluate(journey.history(f"conversation:zendesk:{answered.external_id}"), ny(2026, 3, 2, 11)) == []


def test_an_internal_note_on_a_phone_conversation_is_not_a_call_back_but_a_call_is(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), channel=Channel.PHONE)
    journey.inbound(conv, ny(2026, 3, 2, 9), "voicemail: please call me", answered_call=False)
    journey.reply(conv, ny(2026, 3, 2, 9, 30), "customer sounded upset", public=False)   # phone channel, a note
    subject = f"conversation:zendesk:{conv.external_id}"
    [f] = rule().evaluate(journey.history(subject), ny(2026, 3, 2, 14))
    assert f.stage == "breach" and f.due_at == utc(ny(2026, 3, 2, 13))
    journey.records.append(Message("zendesk", "call-back", conversation_id=conv.external_id,
                                   direction=Direction.OUTBOUND, public=False, author="agent-7",
                                   author_role=AuthorRole.AGENT, channel=Channel.PHONE,
                                   created_at=ny(2026, 3, 2, 14, 30), answered_call=False))  # no answer: still a call
    assert rule().evaluate(journey.history(subject), ny(2026, 3, 2, 15)) == []


def test_a_social_comment_with_an_urgent_priority_gets_the_tightest_target(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), channel=Channel.SOCIAL, priority=Priority.URGENT)
    journey.inbound(conv, ny(2026, 3, 2, 9), "@acme your app is down")
    r = rule(channel_targets={"social": "2h"}, priority_targets={"urgent": "30m"})
    [f] = r.evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 2, 9, 40))
    assert f.due_at == utc(ny(2026, 3, 2, 9, 30)) and f.explain["target"] == "30m"


def test_time_pending_on_the_customer_does_not_count(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.status(conv, ny(2026, 3, 2, 10), Status.PENDING)
    journey.status(conv, ny(2026, 3, 3, 10), Status.OPEN)       # 8 business hours pending
    subject = f"conversation:zendesk:{conv.external_id}"
    [f] = rule().evaluate(journey.history(subject), ny(2026, 3, 3, 14))
    # 1h before the pause + 3h after = 4h at Tuesday 13:00
    assert f.due_at == utc(ny(2026, 3, 3, 13)) and f.explain["paused"] == "8h"
    assert f.explain["pauses"][0]["status"] == "pending"


def test_while_still_pending_the_clock_is_stopped_and_no_check_is_scheduled(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.status(conv, ny(2026, 3, 2, 10), Status.PENDING)
    a = rule().assess(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 9, 9))
    assert a.findings == [] and a.next_check_at is None


def test_the_due_time_skips_a_public_holiday(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 7, 2, 15))          # Thursday before the July 3 holiday
    journey.inbound(conv, ny(2026, 7, 2, 15))
    [f] = rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 7, 6, 12))
    assert f.due_at == utc(ny(2026, 7, 6, 11))


def test_the_due_time_is_exact_across_the_spring_dst_change(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 6, 16))          # Friday before DST starts on Sunday
    journey.inbound(conv, ny(2026, 3, 6, 16))
    [f] = rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 9, 13))
    assert f.due_at == utc(ny(2026, 3, 9, 12))                    # 1h Friday + 3h Monday, in EDT
    assert f.due_at.hour == 16                                    # 12:00 EDT is 16:00 UTC, not 17:00


def test_scope_filters_conversations_by_channel_and_tags(journey):
    ada = journey.customer(tags=["vip"])
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), tags=["billing"])
    journey.inbound(conv, ny(2026, 3, 2, 9))
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    now = ny(2026, 3, 2, 16)
    assert rule(scope={"channels": ["chat"]}).evaluate(hist, now) == []
    assert rule(scope={"exclude_tags": ["billing"]}).evaluate(hist, now) == []
    assert len(rule(scope={"tags": ["vip"]}).evaluate(hist, now)) == 1


def test_a_solved_conversation_stops_the_clock(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.status(conv, ny(2026, 3, 2, 9, 5), Status.SOLVED)
    assert rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 3, 9)) == []


@pytest.mark.parametrize("options, message", [
    ({"first_reply": "soon"}, "bad duration"),
    ({"first_reply": "0m"}, "longer than zero"),
    ({"channel_targets": {"fax": "1h"}}, "fax"),
    ({"stages": [{"name": "warning", "at": 1.5}]}, "between 0 and 1"),
    ({"stages": [{"name": "w"}]}, "exactly one of at"),
    ({"stages": [{"name": "w", "at": 0.5}, {"name": "w", "before": "1h"}]}, "unique"),
    ({"pause_on": ["sleeping"]}, "unknown status"),
    ({"first_replies": "4h"}, "Extra inputs"),
])
def test_wrong_options_are_rejected_with_a_clear_message(options, message):
    with pytest.raises(ValidationError, match=message):
        UnansweredOptions(**options)


def test_business_time_is_shown_in_hours_so_a_day_of_open_hours_does_not_read_as_a_working_day(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))               # Monday 09:00
    journey.inbound(conv, ny(2026, 3, 2, 9))
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    # "1d" on the 09:00-17:00 calendar is 24 open hours: Monday to Wednesday 17:00 = 24h, due Thursday
    [f] = rule(first_reply="1d").evaluate(hist, ny(2026, 3, 5, 12))  # Thursday 12:00: 27 open hours
    assert (f.stage, f.due_at) == ("breach", utc(ny(2026, 3, 4, 17)))
    assert f.explain["target"] == "24h" and f.explain["business_time_elapsed"] == "27h"
    assert f.explain["remaining"] == "-3h" and f.explain["wall_time_elapsed"] == "3d3h"   # wall time keeps days
    assert f.summary.endswith("since Mon 2 Mar 09:00 EST (target 24h)")
    # on the round-the-clock calendar a day is a day
    always = Unanswered(UnansweredOptions(first_reply="1d", calendar="always"), context())
    [g] = always.evaluate(hist, ny(2026, 3, 5, 12))
    assert g.explain["target"] == "1d" and g.explain["business_time_elapsed"] == "3d3h"


def test_a_summary_names_when_the_wait_began_and_the_target_so_a_stored_finding_never_goes_stale(journey):
    """A stored finding, a nudge's title and a CRM task keep their summary: it says since when,
    not for how long (``--explain`` counts the elapsed time when asked)."""
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9), channel=Channel.SOCIAL)
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    [early] = rule().evaluate(hist, ny(2026, 3, 2, 14))
    [late] = rule().evaluate(hist, ny(2026, 3, 4, 14))
    assert early.summary == late.summary == "social inquiry waiting for a first reply since Mon 2 Mar 09:00 EST (target 4h)"
    assert early.explain["clock_elapsed"] != late.explain["clock_elapsed"]
