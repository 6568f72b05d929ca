"""unhappy: bad ratings and complaints need a follow-up from a person."""

from __future__ import annotations

from datetime import timezone

from careplug.model import Status
from careplug.rules.unhappy import Unhappy, UnhappyOptions

from conftest import context, ny


def rule(**options) -> Unhappy:
    return Unhappy(UnhappyOptions(**options), context())


def test_a_bad_rating_on_a_solved_conversation_needs_a_follow_up_within_target(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 7, 2, 9))
    journey.inbound(conv, ny(2026, 7, 2, 9))
    journey.reply(conv, ny(2026, 7, 2, 10))
    journey.status(conv, ny(2026, 7, 2, 10), Status.SOLVED)
    rating = journey.rating(conv, ny(2026, 7, 2, 15), comment="slow and unhelpful")
    subject = f"conversation:zendesk:{conv.external_id}"
    # 2h on Thursday; Friday July 3 is a holiday; the weekend; 6h more on Monday -> Monday 15:00
    [f] = rule().evaluate(journey.history(subject), ny(2026, 7, 6, 16))
    assert f.stage == "breach" and f.occurrence == f"rating:zendesk:{rating.external_id}"
    assert f.due_at == ny(2026, 7, 6, 15).astimezone(timezone.utc)
    journey.reply(conv, ny(2026, 7, 6, 16, 30), "So sorry to hear that, can we make it right?")
    assert rule().evaluate(journey.history(subject), ny(2026, 7, 6, 17)) == []


def test_a_complaint_in_an_inbound_message_is_unhappy(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9), "This is unacceptable, I want to speak to a manager")
    [f] = rule(target="2h").evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 2, 12))
    assert f.occurrence.startswith("complaint:") and f.due_at == ny(2026, 3, 2, 11).astimezone(timezone.utc)


def test_a_new_complaint_after_the_first_was_answered_needs_its_own_follow_up(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9), "This is unacceptable")
    journey.reply(conv, ny(2026, 3, 2, 10), "Sorry! Fixed.")
    again = journey.inbound(conv, ny(2026, 3, 3, 9), "Broken again. Disappointed, I want to complain")
    journey.inbound(conv, ny(2026, 3, 3, 10), "Furious now")
    [f] = rule(target="2h").evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 3, 12))
    # the first complaint nobody followed up, not the first one ever (answered) nor the last
    assert f.occurrence == f"complaint:{again.external_id}"
    assert f.due_at == ny(2026, 3, 3, 11).astimezone(timezone.utc)


def test_a_good_rating_is_not_unhappy(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.rating(conv, ny(2026, 3, 2, 10), bad=False, score=0.9)
    assert rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 9)) == []


def test_a_rating_given_to_the_customer_is_recovered_by_a_touch_in_any_source(journey):
    zd = journey.customer("zendesk", "z1", email="ada@example.com")
    hs = journey.customer("hubspot", "h1", email="ada@example.com")
    journey.rating(None, ny(2026, 3, 2, 10), customer=zd)
    journey.load()
    uid = journey.store.customer_uid("zendesk", "z1")
    [f] = rule().evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 3, 12))
    assert f.subject == f"customer:{uid}"
    journey.task(source="hubspot", at=ny(2026, 3, 3, 13), customer=hs, type="call")
    assert rule().evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 3, 14)) == []


def test_complaint_keywords_match_as_whole_words_in_any_case_as_a_word_boundary_regex_would():
    rule = Unhappy(UnhappyOptions(complaint_keywords=["unacceptable", "speak to a manager", "@support", " refund"]),
                   context())
    assert rule._is_complaint("This is UNACCEPTABLE.")
    assert rule._is_complaint("can I speak to a manager?")
    assert not rule._is_complaint("an unacceptablement")             # part of a longer word
    assert not rule._is_complaint("xunacceptable")
    assert rule._is_complaint("xunacceptable and unacceptable")       # the second one counts
    # a keyword that starts with a non-word character: \b before it needs a word character there
    assert rule._is_complaint("hey@support now") and not rule._is_complaint("ask @support now")
    assert rule._is_complaint("a refund please") and not rule._is_complaint(" refund at the start")


def test_complaint_keywords_match_their_inflected_forms():
    rule = Unhappy(UnhappyOptions(), context())
    assert rule._is_complaint("I complained twice already")
    assert rule._is_complaint("Still complaining about the same bug")
    assert rule._is_complaint("Two COMPLAINTS and no answer")
    assert rule._is_complaint("He complains every week")
    assert not rule._is_complaint("the complainant's lawyer")        # another word
    custom = Unhappy(UnhappyOptions(complaint_keywords=["escalate"]), context())
    assert custom._is_complaint("escalated again") and custom._is_complaint("Escalating this")
    assert not custom._is_complaint("an escalator")


def test_scope_applies_to_a_rating_given_to_the_customer(journey):
    zd = journey.customer("zendesk", "z1", tier="smb")
    journey.rating(None, ny(2026, 3, 2, 10), customer=zd)
    journey.load()
    uid = journey.store.customer_uid("zendesk", "z1")
    hist = journey.history(f"customer:{uid}")
    assert len(rule().evaluate(hist, ny(2026, 3, 3, 12))) == 1
    assert rule(scope={"tiers": ["enterprise"]}).evaluate(hist, ny(2026, 3, 3, 12)) == []
    assert rule(scope={"sources": ["hubspot"]}).evaluate(hist, ny(2026, 3, 3, 12)) == []
    assert rule(scope={"channels": ["email"]}).evaluate(hist, ny(2026, 3, 3, 12)) == []   # not a conversation
