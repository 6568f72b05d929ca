"""neglected_lead: a new lead or first inquiry without a response within target."""

from __future__ import annotations

from datetime import timezone

from careplug.model import Channel, Status
from careplug.rules.neglected_lead import NeglectedLead, NeglectedLeadOptions

from conftest import context, ny


def rule(**options) -> NeglectedLead:
    return NeglectedLead(NeglectedLeadOptions(**options), context())


def test_a_lead_created_friday_evening_is_due_monday_in_business_time(journey):
    lead = journey.customer("salesforce", "L1", email="new@prospect.io", is_lead=True,
                            created_at=ny(2026, 3, 6, 18))
    journey.load()
    uid = journey.store.customer_uid("salesforce", "L1")
    r = rule(target="2h")
    hist = journey.history(f"customer:{uid}")
    assert r.assess(hist, ny(2026, 3, 7)).next_check_at == ny(2026, 3, 9, 10).astimezone(timezone.utc)
    [f] = r.evaluate(hist, ny(2026, 3, 9, 12))
    assert f.stage == "breach" and f.occurrence == f"lead:salesforce:{lead.external_id}"
    assert f.due_at == ny(2026, 3, 9, 11).astimezone(timezone.utc)


def test_a_reply_from_another_source_answers_the_lead(journey):
    journey.customer("salesforce", "L1", email="new@prospect.io", is_lead=True, created_at=ny(2026, 3, 2, 9))
    zd = journey.customer("zendesk", "Z1", email="new@prospect.io")
    conv = journey.conversation(zd, ny(2026, 3, 2, 9, 30))
    journey.inbound(conv, ny(2026, 3, 2, 9, 30), "Pricing question")
    journey.reply(conv, ny(2026, 3, 2, 10))
    journey.load()
    uid = journey.store.customer_uid("salesforce", "L1")
    assert rule().evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 2, 15)) == []


def test_a_first_inquiry_without_a_lead_record_counts(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    msg = journey.inbound(conv, ny(2026, 3, 2, 9), "Do you ship to Canada?")
    journey.load()
    uid = journey.store.customer_uid("zendesk", ada.external_id)
    [f] = rule().evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 2, 12))
    assert f.occurrence == f"first-inquiry:zendesk:{msg.external_id}"
    assert rule(first_inquiry=False).evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 2, 12)) == []


def test_leads_older_than_the_lookback_are_left_alone(journey):
    journey.customer("salesforce", "L1", is_lead=True, created_at=ny(2025, 1, 6, 9))
    journey.load()
    uid = journey.store.customer_uid("salesforce", "L1")
    assert rule(lookback="30d").evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 2)) == []


def test_an_old_lead_nobody_answered_does_not_hide_a_fresh_first_inquiry(journey):
    lead = journey.customer("zendesk", "L1", is_lead=True, created_at=ny(2026, 1, 20, 9))   # outside lookback
    conv = journey.conversation(lead, ny(2026, 3, 2, 9))
    inquiry = journey.inbound(conv, ny(2026, 3, 2, 9), "Do you ship to Canada?")
    journey.load()
    uid = journey.store.customer_uid("zendesk", "L1")
    [f] = rule(target="2h", lookback="30d").evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 2, 12))
    assert f.occurrence == f"first-inquiry:zendesk:{inquiry.external_id}"
    assert f.due_at == ny(2026, 3, 2, 11).astimezone(timezone.utc)


def test_a_lead_is_looked_at_again_when_it_leaves_the_lookback(journey, store):
    from datetime import datetime

    from careplug.check import evaluate_store
    from careplug.store import findings as store_findings

    lead = journey.customer("zendesk", "L1", is_lead=True, created_at=ny(2026, 2, 2, 9))   # inside 30d on 2 Mar
    conv = journey.conversation(lead, ny(2026, 3, 2, 9))
    inquiry = journey.inbound(conv, ny(2026, 3, 2, 9), "Do you ship to Canada?")
    journey.load()
    r = rule(target="2h", lookback="30d")
    [f] = evaluate_store(store, [r], ny(2026, 3, 2, 12)).new
    assert (f.occurrence, f.stage) == ("lead:zendesk:L1", "breach")
    # 2 Feb 09:00 EST + 30 days = 4 Mar 14:00 UTC: the lead leaves the lookback, and the subject is due
    assert store.due_subjects(datetime(2026, 3, 4, 14, 0, 0, tzinfo=timezone.utc)) == []
    assert store.due_subjects(datetime(2026, 3, 4, 14, 0, 1, tzinfo=timezone.utc)) == [f.subject]
    result = evaluate_store(store, [r], ny(2026, 3, 4, 12))
    assert [x.key for x in result.resolved] == [f.key]
    assert [x.occurrence for x in store_findings.open_findings(store)] == [
        f"first-inquiry:zendesk:{inquiry.external_id}"]


def test_scope_picks_which_leads_and_inquiries_count(journey):
    ada = journey.customer("zendesk", "Z1")
    spam = journey.conversation(ada, ny(2026, 3, 2, 9), channel=Channel.WEB_FORM, tags=["spam"])
    journey.inbound(spam, ny(2026, 3, 2, 9), "cheap watches")
    chat = journey.conversation(ada, ny(2026, 3, 2, 10), channel=Channel.CHAT)
    real = journey.inbound(chat, ny(2026, 3, 2, 10), "Do you ship to Canada?")
    journey.customer("salesforce", "L1", is_lead=True, created_at=ny(2026, 3, 2, 8))     # the same person
    journey.load()
    uid = journey.store.customer_uid("zendesk", "Z1")
    hist = journey.history(f"customer:{uid}")
    now = ny(2026, 3, 2, 15)
    assert [f.occurrence for f in rule().evaluate(hist, now)] == ["lead:salesforce:L1"]
    assert rule(scope={"sources": ["hubspot"]}).evaluate(hist, now) == []
    # a lead record has no channel: with a channel filter only matching inquiries count
    assert [f.occurrence for f in rule(scope={"channels": ["chat"]}).evaluate(hist, now)] == [
        f"first-inquiry:zendesk:{real.external_id}"]
    assert [f.occurrence for f in rule(scope={"sources": ["zendesk"], "exclude_tags": ["spam"]}).evaluate(hist, now)] == [
        f"first-inquiry:zendesk:{real.external_id}"]


def test_a_first_inquiry_set_to_pending_waits_on_the_prospect_as_unanswered_does(journey):
    """pause_on applies (the documented default, written out or not): time the first inquiry's
    conversation spends pending on the prospect does not count; ``pause_on = []`` never pauses."""
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9), "Do you ship to Canada?")
    journey.status(conv, ny(2026, 3, 2, 9, 30), Status.PENDING)
    journey.load()
    uid = journey.store.customer_uid("zendesk", ada.external_id)
    subject = f"customer:{uid}"
    # still pending: the clock is stopped, no check is scheduled for the due time
    a = rule(target="2h").assess(journey.history(subject), ny(2026, 3, 2, 15))
    assert a.findings == []
    assert a.next_check_at is None or a.next_check_at > ny(2026, 3, 31).astimezone(timezone.utc)
    journey.status(conv, ny(2026, 3, 3, 9, 30), Status.OPEN)        # 8 business hours pending
    hist = journey.history(subject)
    for options in ({}, {"pause_on": ["pending", "on_hold"]}):
        [f] = rule(target="2h", **options).evaluate(hist, ny(2026, 3, 3, 14))
        # 30m before the pause + 1h30m after = 2h at Tuesday 11:00
        assert f.due_at == ny(2026, 3, 3, 11).astimezone(timezone.utc), options
        assert f.explain["paused"] == "8h" and f.explain["pauses"][0]["status"] == "pending"
    [f] = rule(target="2h", pause_on=[]).evaluate(hist, ny(2026, 3, 3, 14))
    assert f.due_at == ny(2026, 3, 2, 11).astimezone(timezone.utc)


def test_a_first_inquiry_s_finding_and_its_nudge_name_the_customer(journey):
    """A customer subject has no conversation for the nudge to sit on: its title is all the
    assignee sees, so it says who is waiting (the name, else the email), as a lead's does."""
    from careplug.nudges.planner import plan
    from careplug.nudges.policy import NudgePolicy

    ada = journey.customer(name="Ada Lovelace")
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9), "Do you ship to Canada?")
    nameless = journey.customer("zendesk", "c-anon", email="grace@example.com", name="")
    other = journey.conversation(nameless, ny(2026, 3, 2, 9), channel=Channel.CHAT)
    journey.inbound(other, ny(2026, 3, 2, 9), "Hi?")
    journey.load()
    [f] = rule().evaluate(journey.history(f"customer:{journey.store.customer_uid('zendesk', ada.external_id)}"),
                          ny(2026, 3, 2, 12))
    assert f.summary.startswith("first inquiry from Ada Lovelace (email, zendesk): no response since ")
    (nudge,) = plan(f, NudgePolicy.model_validate({"default_target": "zendesk"}))
    assert "Ada Lovelace" in nudge.title
    [f] = rule().evaluate(journey.history(f"customer:{journey.store.customer_uid('zendesk', 'c-anon')}"),
                          ny(2026, 3, 2, 12))
    assert f.summary.startswith("first inquiry from grace@example.com (chat, zendesk): ")


def test_a_lead_without_a_name_is_named_by_its_email(journey):
    journey.customer("salesforce", "L1", email="new@prospect.io", name="", is_lead=True,
                     created_at=ny(2026, 3, 2, 9))
    journey.load()
    [f] = rule().evaluate(journey.history(f"customer:{journey.store.customer_uid('salesforce', 'L1')}"),
                          ny(2026, 3, 2, 12))
    assert f.summary.startswith("new lead new@prospect.io (salesforce): ")
