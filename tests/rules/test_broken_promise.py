"""broken_promise: commitments agents make, due when they said, kept only by a follow-up."""

from __future__ import annotations

from datetime import timezone

from careplug.model import Agent, Status
from careplug.rules.broken_promise import BrokenPromise, BrokenPromiseOptions
from careplug.store import bulk
from careplug.store.families import load_families

from conftest import context, ny


def rule(**options) -> BrokenPromise:
    return BrokenPromise(BrokenPromiseOptions(**options), context())


def utc(dt):
    return dt.astimezone(timezone.utc)


def test_a_promise_for_tomorrow_warns_two_hours_before_and_breaks_at_the_end_of_the_day(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9), "My export fails")
    promise = journey.reply(conv, ny(2026, 3, 2, 10), "Sorry about that. I'll get back to you tomorrow.")
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    r = rule()
    assert r.assess(hist, ny(2026, 3, 3, 9)).next_check_at == utc(ny(2026, 3, 3, 15))
    [warning] = r.evaluate(hist, ny(2026, 3, 3, 15, 30))
    assert warning.stage == "warning" and warning.due_at == utc(ny(2026, 3, 3, 17))
    [breach] = r.evaluate(hist, ny(2026, 3, 3, 17, 1))
    assert breach.stage == "breach" and breach.occurrence == promise.external_id
    assert breach.explain["due_phrase"] == "tomorrow" and breach.owner == "agent-7"


def test_a_follow_up_after_the_promise_keeps_it(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 10), "We'll call you by Friday.")
    journey.task(at=ny(2026, 3, 4, 11), conv=conv, type="call")
    assert rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 7, 9)) == []


def test_conditional_and_past_tense_promises_do_not_fire(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 10), "As promised, here is the report. If you send the logs we will dig deeper.")
    assert rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 9, 9)) == []


def test_an_undated_promise_is_due_after_the_default_business_time(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 6, 15))
    journey.reply(conv, ny(2026, 3, 6, 15), "Let me check with the team and follow up.")
    [f] = rule(undated_due="4h").evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"),
                                         ny(2026, 3, 9, 12))
    assert f.due_at == utc(ny(2026, 3, 9, 11))        # 2h on Friday, 2h on Monday (business time)


def test_the_promise_is_read_in_the_agents_time_zone(journey, store):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 19), assignee="agent-7")
    # 19:00 in New York is already Tuesday 09:00 in Tokyo, where the agent works
    journey.records.append(Agent("zendesk", "agent-7", name="Kei", time_zone="Asia/Tokyo"))
    journey.reply(conv, ny(2026, 3, 2, 19), "I'll get back to you tomorrow.")
    [f] = rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 5, 9))
    assert f.explain["read_in_zone"] == "Asia/Tokyo"
    assert f.due_at.isoformat() == "2026-03-04T08:00:00+00:00"   # Wednesday 17:00 in Tokyo


def test_a_colleagues_promise_is_read_in_the_colleagues_time_zone_by_every_loader(journey, store):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 19), assignee="agent-9")
    journey.records.append(Agent("zendesk", "agent-7", name="Kei", time_zone="Asia/Tokyo"))
    journey.records.append(Agent("zendesk", "agent-9", name="Bob", time_zone="America/New_York"))
    journey.reply(conv, ny(2026, 3, 2, 19), "I'll get back to you tomorrow.")      # written by agent-7
    subject = f"conversation:zendesk:{conv.external_id}"
    journey.load()
    uid = store.customer_uid("zendesk", ada.external_id)
    histories = [store.load_history(subject), bulk.load_histories(store, [subject])[subject],
                 load_families(store, [uid])[subject]]
    for hist in histories:
        assert set(hist.agents) == {"zendesk:agent-7", "zendesk:agent-9"}
        [f] = rule().evaluate(hist, ny(2026, 3, 5, 9))
        assert f.explain["read_in_zone"] == "Asia/Tokyo"
    assert set(load_families(store, [uid])[f"customer:{uid}"].agents) == {"zendesk:agent-7", "zendesk:agent-9"}


def test_the_promise_due_on_the_dst_weekend_is_exact(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 7, 10))
    journey.reply(conv, ny(2026, 3, 7, 10), "We'll get back to you within 24 hours.")
    [f] = rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 9, 9))
    assert f.due_at == utc(ny(2026, 3, 8, 11))


def test_a_same_day_promise_made_after_its_time_is_not_broken_at_once_but_due_like_an_undated_one(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 17, 30))
    journey.reply(conv, ny(2026, 3, 2, 17, 30), "I'll update you later today.")      # after end of day
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    assert rule().evaluate(hist, ny(2026, 3, 2, 17, 31)) == []
    # undated_due (8h business time) from Monday 17:30: the whole of Tuesday's business day
    [f] = rule().evaluate(hist, ny(2026, 3, 3, 17, 1))
    assert f.stage == "breach" and f.due_at == utc(ny(2026, 3, 3, 17))
    assert f.explain["due_phrase"] == "later today (passed when promised): undated: default 8h"


def test_tonight_said_after_the_evening_began_is_due_like_an_undated_promise(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 19))
    journey.reply(conv, ny(2026, 3, 2, 19), "I'll send you the fix tonight.")          # "tonight" reads 18:00
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    assert rule().evaluate(hist, ny(2026, 3, 2, 19, 1)) == []
    [f] = rule().evaluate(hist, ny(2026, 3, 3, 17, 1))
    assert f.stage == "breach" and f.due_at == utc(ny(2026, 3, 3, 17))


def test_a_promise_after_an_as_discussed_clause_fires_at_the_time_it_names(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 10), "As discussed on the phone, I'll call you tomorrow at 3pm.")
    [f] = rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 3, 16))
    assert f.stage == "breach" and f.due_at == utc(ny(2026, 3, 3, 15))


def test_a_promise_followed_by_an_unrelated_conditional_clause_fires(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 10),
                  "I'll get back to you tomorrow; if you have questions in the meantime, just reply here.")
    [f] = rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 3, 18))
    assert f.stage == "breach" and f.due_at == utc(ny(2026, 3, 3, 17))


def test_the_promise_is_due_when_its_own_clause_says_not_when_a_neighbouring_clause_does(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))                                   # Monday
    journey.reply(conv, ny(2026, 3, 2, 10), "I'm out of the office tomorrow, but I'll call you on Friday.")
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    assert rule().evaluate(hist, ny(2026, 3, 3, 18)) == []
    [f] = rule().evaluate(hist, ny(2026, 3, 6, 17, 1))
    assert f.stage == "breach" and f.due_at == utc(ny(2026, 3, 6, 17))


def test_a_pause_across_the_due_time_pushes_it_back_by_the_wall_time_paused(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 10), "We'll get back to you within 6 hours.")      # due 16:00
    journey.status(conv, ny(2026, 3, 2, 15), Status.PENDING)
    journey.status(conv, ny(2026, 3, 2, 20), Status.OPEN)
    r = rule(pause_on=["pending"], stages=[])
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    # 5 hours ran before the pause; the last one runs from 20:00
    assert r.evaluate(hist, ny(2026, 3, 2, 20, 30)) == []
    [f] = r.evaluate(hist, ny(2026, 3, 2, 22))
    assert f.stage == "breach" and f.due_at == utc(ny(2026, 3, 2, 21))
    assert f.explain["promised_due_at"] == utc(ny(2026, 3, 2, 16)).isoformat()


def test_a_warning_reached_stays_while_the_conversation_is_paused_and_the_due_time_waits(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 10), "We'll get back to you within 6 hours.")      # warning at 14:00
    journey.status(conv, ny(2026, 3, 2, 15), Status.PENDING)
    r = rule(pause_on=["pending"])
    a = r.assess(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 2, 18))
    [f] = a.findings
    assert f.stage == "warning" and f.due_at is None and a.next_check_at is None
    assert "on hold" in f.summary


def test_a_clock_time_promise_after_a_leading_day_fires_on_that_day(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))                                   # Monday
    journey.reply(conv, ny(2026, 3, 2, 10), "Tomorrow, I'll call you at 3pm.")
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    assert [f.stage for f in rule().evaluate(hist, ny(2026, 3, 2, 15, 1))] == []
    [f] = rule().evaluate(hist, ny(2026, 3, 3, 15, 1))
    assert f.stage == "breach" and f.due_at == utc(ny(2026, 3, 3, 15))


def test_a_promise_restricted_by_a_condition_after_but_does_not_fire(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 10), "We'll ship the replacement tomorrow, but only if the payment clears.")
    assert rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 9, 9)) == []
