"""Commitment detection and due times, measured on the labelled corpus and pinned by examples."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from careplug.calendar import BusinessCalendar, CalendarOptions
from careplug.promises import find_commitments, is_commitment
from careplug.testing.promise_sets import measure as measure_set

DATA = Path(__file__).parent / "data"
NY = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 3, 2, 10, 15, tzinfo=NY)


def measure(path: Path) -> dict[str, float]:
    m = measure_set(path)
    return {"precision": m.precision, "recall": m.recall, "due_accuracy": m.due_accuracy, "sentences": m.sentences}


def test_the_corpus_has_at_least_200_labelled_sentences():
    rows = [json.loads(line) for line in (DATA / "promise_corpus.jsonl").read_text().splitlines()]
    assert len(rows) >= 200
    assert {"text", "sent_at", "timezone", "is_commitment", "expected_due"} <= set(rows[0])
    assert any(r["is_commitment"] for r in rows) and not all(r["is_commitment"] for r in rows)


def test_corpus_precision_recall_and_due_accuracy_meet_the_targets():
    m = measure(DATA / "promise_corpus.jsonl")
    assert m["precision"] >= 0.90, m
    assert m["recall"] >= 0.85, m
    assert m["due_accuracy"] >= 0.90, m


@pytest.mark.parametrize("name", ["promise_holdout.jsonl", "promise_holdout2.jsonl", "promise_holdout3.jsonl",
                                  "promise_holdout4.jsonl", "promise_holdout5.jsonl", "promise_holdout6.jsonl",
                                  "promise_holdout7.jsonl", "promise_holdout8.jsonl",
                                  "promise_holdout9.jsonl", "promise_holdout10.jsonl",
                                  "promise_holdout11.jsonl", "promise_holdout12.jsonl", "promise_holdout13.jsonl",
                                  "promise_holdout14.jsonl", "promise_holdout15.jsonl", "promise_holdout16.jsonl",
                                  "promise_holdout17.jsonl", "promise_holdout18.jsonl", "promise_holdout19.jsonl",
                                  "promise_holdout20.jsonl", "promise_holdout21.jsonl"])
def test_hold_out_sentences_written_after_the_extractor_meet_the_targets_too(name):
    m = measure(DATA / name)
    assert m["precision"] >= 0.90 and m["recall"] >= 0.85 and m["due_accuracy"] >= 0.90, m


@pytest.mark.parametrize("sentence", [
    "As promised, here is the refund confirmation.",
    "I can't promise anything at this point.",
    "If you send the logs we will take a look right away.",
    "Would you like me to call you tomorrow instead?",
    "Please get back to us by Friday with your account number.",
    "Let me know if you'd like us to call you tomorrow.",
    "I told you on Wednesday that we would check this.",
])
def test_negations_conditionals_past_tense_questions_and_requests_are_not_commitments(sentence):
    assert not is_commitment(sentence)


def test_tomorrow_is_due_at_the_end_of_the_next_day_in_the_team_zone():
    [c] = find_commitments("I'll get back to you tomorrow.", MONDAY, tz="America/New_York")
    assert c.due_at == datetime(2026, 3, 3, 17, tzinfo=NY) and c.phrase == "tomorrow"


def test_the_team_zone_decides_which_day_tomorrow_is():
    late_in_tokyo = datetime(2026, 3, 2, 23, 30, tzinfo=ZoneInfo("UTC"))   # Tuesday 08:30 in Tokyo
    [c] = find_commitments("I'll call you tomorrow.", late_in_tokyo, tz="Asia/Tokyo")
    assert c.due_at == datetime(2026, 3, 4, 17, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_hours_are_exact_across_a_dst_change():
    saturday = datetime(2026, 3, 7, 10, tzinfo=NY)
    [c] = find_commitments("We'll get back to you within 24 hours.", saturday, tz="America/New_York")
    assert c.due_at == datetime(2026, 3, 8, 11, tzinfo=NY)


def test_business_days_skip_weekends_and_the_calendar_holidays():
    cal = BusinessCalendar.from_options(CalendarOptions(timezone="America/New_York", country="US"))
    thursday = datetime(2026, 7, 2, 10, tzinfo=NY)                      # Friday July 3 is a holiday
    [c] = find_commitments("We'll reply within 2 business days.", thursday, tz=NY, calendar=cal)
    assert c.due_at == datetime(2026, 7, 7, 17, tzinfo=NY)


def test_an_undated_commitment_has_no_due_time():
    [c] = find_commitments("Let me check with the team and follow up.", MONDAY, tz=NY)
    assert c.due_at is None and not c.dated


def test_a_message_with_several_sentences_yields_each_commitment():
    text = "Thanks for the details. I'll call you at 3pm today. We'll also email the report by Friday."
    found = find_commitments(text, MONDAY, tz=NY)
    assert [c.due_at for c in found] == [datetime(2026, 3, 2, 15, tzinfo=NY), datetime(2026, 3, 6, 17, tzinfo=NY)]


@pytest.mark.parametrize("sentence,sent_at,phrase", [
    ("I'll update you later today.", datetime(2026, 3, 2, 17, 30, tzinfo=NY), "later today"),
    ("I'll send you the fix tonight.", datetime(2026, 3, 2, 19, tzinfo=NY), "tonight"),
    ("We'll get back to you by end of day.", datetime(2026, 3, 2, 17, tzinfo=NY), "end of day"),
])
def test_a_due_time_already_passed_when_the_promise_was_made_leaves_it_undated(sentence, sent_at, phrase):
    [c] = find_commitments(sentence, sent_at, tz=NY)
    assert c.due_at is None and c.phrase == phrase


@pytest.mark.parametrize("sentence", ["I'll update you by March 2.", "I'll update you on the 2nd of March.",
                                      "I'll send it by Monday, March 2."])
def test_a_calendar_date_equal_to_the_send_date_is_due_that_day_not_next_year(sentence):
    [c] = find_commitments(sentence, MONDAY, tz=NY)                     # MONDAY is 2 March 2026
    assert c.due_at == datetime(2026, 3, 2, 17, tzinfo=NY)


def test_a_calendar_date_already_passed_this_year_is_next_years():
    [c] = find_commitments("I'll update you by March 1.", MONDAY, tz=NY)
    assert c.due_at == datetime(2027, 3, 1, 17, tzinfo=NY)


@pytest.mark.parametrize("sentence", [
    "As discussed on the phone, I'll call you tomorrow at 3pm.",
    "I'll get back to you tomorrow; if you have questions in the meantime, just reply here.",
    "I'll call you tomorrow - if you need anything before then, just reply here.",
    "As agreed, we'll send the replacement by Friday.",
])
def test_a_commitment_beside_an_unrelated_past_tense_or_conditional_clause_is_still_a_commitment(sentence):
    assert is_commitment(sentence)


@pytest.mark.parametrize("sentence", [
    "If you send the logs we will get back to you tomorrow.",
    "If you send the logs, we will get back to you tomorrow.",
    "We'll refund you, if the item is unused.",
    "As promised, here is the refund confirmation.",
    "I can't promise anything.",
    "I told you we would call.",
])
def test_a_condition_negation_or_report_in_the_committing_clause_still_cancels_it(sentence):
    assert not is_commitment(sentence)


def test_the_due_time_is_read_from_the_committing_clause_not_its_neighbours():
    [c] = find_commitments("I'm out of the office tomorrow, but I'll call you on Friday.", MONDAY, tz=NY)
    assert c.due_at == datetime(2026, 3, 6, 17, tzinfo=NY) and c.phrase == "on friday"


def test_a_due_time_outside_the_committing_clause_is_used_when_the_clause_names_none():
    [c] = find_commitments("Tomorrow morning, I'll call you.", MONDAY, tz=NY)
    assert c.due_at == datetime(2026, 3, 3, 12, tzinfo=NY)
    [c] = find_commitments("As discussed on the phone, I'll call you tomorrow at 3pm.", MONDAY, tz=NY)
    assert c.due_at == datetime(2026, 3, 3, 15, tzinfo=NY)


@pytest.mark.parametrize("sentence,due", [
    ("We'll get back to you within 24h.", datetime(2026, 3, 3, 10, 15, tzinfo=NY)),
    ("I'll call you back in half an hour.", datetime(2026, 3, 2, 10, 45, tzinfo=NY)),
])
def test_abbreviated_hours_and_half_an_hour_are_exact(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz=NY)
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "I'll be out of office tomorrow.", "I'll be away tomorrow.", "I'll be on leave next week.",
])
def test_announcing_an_absence_is_not_a_commitment(sentence):
    assert not is_commitment(sentence)


def test_an_absence_beside_a_colleagues_promise_leaves_the_promise():
    [c] = find_commitments("I'll be away tomorrow, but my colleague will call you on Wednesday.", MONDAY, tz=NY)
    assert c.due_at == datetime(2026, 3, 4, 17, tzinfo=NY)


@pytest.mark.parametrize("sentence,due", [
    ("Tomorrow, I'll call you at 3pm.", datetime(2026, 3, 3, 15, tzinfo=NY)),
    ("On Friday, I'll send you the report at 9am.", datetime(2026, 3, 6, 9, tzinfo=NY)),
    ("Next Monday, our engineer will call you at 11am.", datetime(2026, 3, 9, 11, tzinfo=NY)),
])
def test_a_clock_time_in_the_committing_clause_falls_on_the_day_a_leading_clause_names(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz=NY)
    assert c.due_at == due


@pytest.mark.parametrize("sentence,due", [
    ("Sorry I missed your call on Friday, but I'll call you at 3pm.", datetime(2026, 3, 2, 15, tzinfo=NY)),
    ("Your order from March 1 is delayed, but I'll call you at 3pm.", datetime(2026, 3, 2, 15, tzinfo=NY)),
    ("We're closed tomorrow, but I'll call you at 3pm.", datetime(2026, 3, 2, 15, tzinfo=NY)),
    ("I'll call you at 2pm; our office is closed on Friday.", datetime(2026, 3, 2, 14, tzinfo=NY)),
    ("I'll call you at 2pm - our office is closed on Friday.", datetime(2026, 3, 2, 14, tzinfo=NY)),
])
def test_a_clock_time_stays_today_when_the_day_named_is_not_the_promises(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz=NY)
    assert c.due_at == due


def test_a_day_in_the_committing_clause_wins_over_a_day_elsewhere_and_an_absences_day_is_not_the_promises():
    [c] = find_commitments("I'm out of the office tomorrow, but I'll call you on Friday.", MONDAY, tz=NY)
    assert c.due_at == datetime(2026, 3, 6, 17, tzinfo=NY)
    [c] = find_commitments("I'm out tomorrow, but I'll call you at 3pm.", MONDAY, tz=NY)
    assert c.due_at == datetime(2026, 3, 2, 15, tzinfo=NY)


@pytest.mark.parametrize("sentence,due", [
    ("I'll have this done by Friday as I'll be away next week.", datetime(2026, 3, 6, 17, tzinfo=NY)),
    ("I'll finish the migration today since I'll be out tomorrow.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("We'll be out on Wednesday to replace the router.", datetime(2026, 3, 4, 17, tzinfo=NY)),
    ("Our technician will be out tomorrow to install the new meter.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("I'll be away tomorrow and will call you on Wednesday.", datetime(2026, 3, 4, 17, tzinfo=NY)),
])
def test_a_promise_that_mentions_an_absence_or_is_a_visit_is_a_commitment_due_when_it_says(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz=NY)
    assert c.due_at == due


@pytest.mark.parametrize("sentence,due", [
    ("I'll make sure the late fee is off your next invoice by Friday.", datetime(2026, 3, 6, 17, tzinfo=NY)),
    ("I'll make sure the old server is offline by Friday.", datetime(2026, 3, 6, 17, tzinfo=NY)),
    ("I'll be off the phone in 10 minutes and will call you right after.", datetime(2026, 3, 2, 10, 25, tzinfo=NY)),
    ("Once again sorry for the delay - I'll get back to you tomorrow.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("I'll call you tomorrow, but if I can't reach you I'll leave a voicemail.", datetime(2026, 3, 3, 17, tzinfo=NY)),
])
def test_things_switched_off_once_again_and_fallbacks_are_not_absences_or_conditions(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz=NY)
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "I'll be out of office tomorrow.", "I'll be away tomorrow.", "I'll be on leave next week.",
    "Our technician will be away next week.", "I'll be out next week to attend a conference.",
    "I'll be out tomorrow due to a doctor's appointment.", "I'll be out tomorrow to see a doctor.",
    "I'll be out on Friday to get my vaccine.",
])
def test_an_absence_that_is_the_whole_commitment_promises_nothing(sentence):
    assert not is_commitment(sentence)


@pytest.mark.parametrize("sentence", [
    "We'll ship the replacement tomorrow, but only if the payment clears.",
    "I'll call you back tomorrow - provided the engineer confirms the slot.",
    "We'll ship it tomorrow - as long as the stock arrives.",
    "I'll call you tomorrow; unless you'd rather we email.",
    "If the logs arrive today; we'll fix it tomorrow.",
])
def test_a_condition_on_the_promise_in_the_next_or_previous_independent_clause_cancels_it(sentence):
    assert not is_commitment(sentence)


@pytest.mark.parametrize("sentence", [
    "I'll get back to you tomorrow; if you have questions in the meantime, just reply here.",
    "I'll call you tomorrow - if you need anything before then just reply here.",
    "I'll call you tomorrow, but I'm out until noon.",
    "If you have questions, just reply; I'll call you tomorrow.",
])
def test_a_condition_addressed_to_the_customer_about_something_else_leaves_the_promise(sentence):
    [c] = find_commitments(sentence, MONDAY, tz=NY)
    assert c.due_at == datetime(2026, 3, 3, 17, tzinfo=NY)


@pytest.mark.parametrize("sentence", [
    "Our tech will call you within 2 business days to book the install.",
    "I'll be out tomorrow, but my colleague Priya will call you on Thursday.",
    "Our field technician will be out on Friday to swap the router.",
    "I should have the new licence keys for you by tomorrow.",
    "Escalating this to tier 2 now, they'll be in touch shortly.",
    "We're on it and will DM you with an update.",
    "I've passed this to our product team and will keep you updated on progress.",
    "gonna check w/ my lead and get back to u in a bit",
])
def test_colleagues_named_or_by_role_chat_shorthand_and_hedged_expectations_are_commitments(sentence):
    assert is_commitment(sentence)


@pytest.mark.parametrize("sentence", [
    "Kindly share the transaction ID and we will check and revert by tomorrow.",
    "Send us the logs and we'll take a look tomorrow.",
    "We'll need your invoice number before we can issue the credit.",
    "We should have told you about the outage earlier.",
    "I'm gonna be honest, this one is tricky.",
])
def test_a_request_the_promise_answers_what_we_need_from_the_customer_and_regrets_are_not(sentence):
    assert not is_commitment(sentence)


@pytest.mark.parametrize("sentence, due", [
    ("I'll have the migration finished by EOD tmrw.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("We will arrange the callback by tomorrow 11 AM.", datetime(2026, 3, 3, 11, tzinfo=NY)),
    ("I'll get you a proper answer by Weds.", datetime(2026, 3, 4, 17, tzinfo=NY)),
    ("I'll call you on Thurs at 2pm.", datetime(2026, 3, 5, 14, tzinfo=NY)),
    ("We'll update you Friday 3pm.", datetime(2026, 3, 6, 15, tzinfo=NY)),
])
def test_shorthand_days_and_a_time_right_after_the_day_are_read(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz="America/New_York")
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "no worries, ill ping you back in 30 mins",
    "An engineer will be with you on 19 March to fit the new router.",
    "Your account manager will reach out before the end of the week.",
    "I'm aiming to have your access set up by Friday.",
])
def test_chat_spelling_staff_named_by_a_or_your_and_aims_are_commitments(sentence):
    assert is_commitment(sentence)


@pytest.mark.parametrize("sentence", [
    "I'm ill today, sorry for the slow replies.",
    "You'll receive an automated email once the payment has cleared.",
    "I'll be travelling on Friday so replies may be slow.",
    "Your account manager will be out of office until Monday.",
    "Not sure I'll be able to get an answer today.",
    "We're planning to retire the old API next year.",
])
def test_illness_automated_notices_travel_absences_and_doubts_are_not(sentence):
    assert not is_commitment(sentence)


@pytest.mark.parametrize("sentence, due", [
    ("I will call you back at 2:30.", datetime(2026, 3, 2, 14, 30, tzinfo=NY)),      # sent 10:15: afternoon
    ("I'll call you tomorrow at 10.", datetime(2026, 3, 3, 10, tzinfo=NY)),
    ("I'll ring you back this arvo.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("I'll send the deck ahead of Thursday's call, by Wednesday at the latest.", datetime(2026, 3, 4, 17, tzinfo=NY)),
])
def test_times_without_am_pm_afternoons_and_a_deadline_beside_a_named_meeting(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz="America/New_York")
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "running a bit behind, will be there in 30 mins",
    "Driver's running late, he'll be with you by 10am",
    "The nurse will call you this afternoon to discuss.",
    "An officer will review it and contact you within 5 business days.",
    "fibre tech will be out on Monday to splice the cable",
    "I have requested the file and will write to you again next week.",
    "I will call the pharmacy today and let you know if the prescription is ready.",
])
def test_staff_of_any_trade_arrivals_and_if_meaning_whether_are_commitments(sentence):
    assert is_commitment(sentence)


@pytest.mark.parametrize("sentence", [
    "We'll send a replacement tomorrow, provided the courier confirms the return scan.",
    "Once the landlord approves the quote, we'll book the contractor in.",
    "The technician will be out tomorrow to see a doctor.",
    "Planned maintenance will take place on Sunday between 1am and 5am.",
    "Accounts will be suspended after 30 days without payment.",
])
def test_conditions_in_a_comma_clause_errands_and_notices_are_not_commitments(sentence):
    assert not is_commitment(sentence)


def test_the_quoted_history_of_an_email_reply_is_not_read_for_promises():
    text = ("Thanks Mark, that's perfect, no rush at all.\n\nOn Tue, Mar 1, 2026 at 5:02 PM Mark <m@x.com> wrote:\n"
            "> I'll upload the server logs tomorrow morning.")
    assert find_commitments(text, MONDAY, tz="America/New_York") == []
    assert find_commitments("Sure.\n-----Original Message-----\nFrom: us\nWe'll call you tomorrow.", MONDAY) == []
    [c] = find_commitments("I'll call you tomorrow.\n> We'll email you today.", MONDAY, tz="America/New_York")
    assert c.phrase == "tomorrow"


def test_a_title_does_not_end_the_sentence_and_a_negation_in_an_embedded_question_is_not_the_promise():
    [c] = find_commitments("I'll ask Dr. de Vries to have a look and I'll message you back this afternoon.", MONDAY,
                           tz="America/New_York")
    assert c.due_at == datetime(2026, 3, 2, 17, tzinfo=NY)
    assert is_commitment("I'll check with the identity team why the push isn't reaching your phone and get back to you.")


@pytest.mark.parametrize("sentence, due", [
    ("I'll get back to you on the 16th with the outcome.", datetime(2026, 3, 16, 17, tzinfo=NY)),
    ("Our installer will be out on the 1st to fit the meter.", datetime(2026, 4, 1, 17, tzinfo=NY)),
    ("I'll update you tomorrow po, before 12nn.", datetime(2026, 3, 3, 12, tzinfo=NY)),
    ("Will call her back Thurs w/ refund conf #.", datetime(2026, 3, 5, 17, tzinfo=NY)),
    ("Will mail the notice by Weds.", datetime(2026, 3, 4, 17, tzinfo=NY)),
    ("Our pathologist will phone you within 12 hours.", datetime(2026, 3, 2, 22, 15, tzinfo=NY)),
])
def test_a_day_of_the_month_alone_noon_shorthand_and_more_trades_are_read(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz="America/New_York")
    assert c.due_at == due


@pytest.mark.parametrize("sentence, due", [
    ("I'll call you tonight at 8.", datetime(2026, 3, 2, 20, tzinfo=NY)),
    ("I'll call you tomorrow evening at 7.", datetime(2026, 3, 3, 19, tzinfo=NY)),
    ("I'll ring you at 8 tomorrow night.", datetime(2026, 3, 3, 20, tzinfo=NY)),
    ("I'll meet you on the 2nd floor tomorrow.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("I'll chase them for the 2nd time tomorrow.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("No doubt we'll have it fixed by Friday.", datetime(2026, 3, 6, 17, tzinfo=NY)),
    ("I'm not sure what happened so I'll look into it today.", datetime(2026, 3, 2, 17, tzinfo=NY)),
])
def test_evening_hours_ordinals_that_are_no_dates_and_affirmative_doubt(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz="America/New_York")
    assert c.due_at == due


def test_a_sentence_may_end_with_an_abbreviation():
    [c] = find_commitments("I'll drop the parcel at Main St. Does that suit?", MONDAY, tz="America/New_York")
    assert c.sentence == "I'll drop the parcel at Main St."
    [c] = find_commitments("I'll send the invoice, receipts etc. We can talk tomorrow?", MONDAY, tz="America/New_York")
    assert c.sentence == "I'll send the invoice, receipts etc."


@pytest.mark.parametrize("sentence, due", [
    ("I verify with the courier first and then message you.", None),
    ("Noted, we revert back to you by EOD.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("Ok I escalate this to billing and get back to you tmrw.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("We come back to you within 2 hours.", datetime(2026, 3, 2, 12, 15, tzinfo=NY)),
])
def test_a_promise_in_the_present_tense_is_read(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz="America/New_York")
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "We verify every refund with the bank and then email you a receipt.",
    "I asked the courier and then messaged you.",
    "If I hear from them first then I update you.",
    "We revert to customers within 2 working days.",
    "Do we get back to you by phone or email?",
])
def test_routines_past_steps_and_conditions_in_the_present_tense_are_not(sentence):
    assert not is_commitment(sentence)


@pytest.mark.parametrize("sentence, due", [
    ("Our meter fitter will install it on the 4th.", datetime(2026, 3, 4, 17, tzinfo=NY)),
    ("The locksmith's van will come back within 40 mins.", datetime(2026, 3, 2, 10, 55, tzinfo=NY)),
    ("Your replacement card will be posted by Thursday.", datetime(2026, 3, 5, 17, tzinfo=NY)),
    ("Your bike will be ready by 4pm.", datetime(2026, 3, 2, 16, tzinfo=NY)),
    ("It'll be with you within 2 hours.", datetime(2026, 3, 2, 12, 15, tzinfo=NY)),
    ("We're rolling out the patch to your account tomorrow morning.", datetime(2026, 3, 3, 12, tzinfo=NY)),
    ("Our surveyor is coming out on Wednesday.", datetime(2026, 3, 4, 17, tzinfo=NY)),
    ("Posting the spare key to you tomorrow.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("They'll have the water back on by 6pm.", datetime(2026, 3, 2, 18, tzinfo=NY)),
    ("They'll reconnect the line on Friday.", datetime(2026, 3, 6, 17, tzinfo=NY)),
])
def test_anyone_of_the_team_the_thing_done_and_plans_in_the_present_progressive_are_commitments(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz="America/New_York")
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "The storm is coming tomorrow, so deliveries may be late.",
    "Calling all members: the pool reopens tomorrow.",
    "Popping out to the post office today.",
    "We are processing a high volume of claims this week.",
    "Refunds will be processed within 5 business days.",
    "Your bank will contact you within 3 days.",
    "The customer will ring back tomorrow.",
    "Noted that you'll drop the keys round on Friday.",
    "Prices will drop next month.",
    "I'm going to need a copy of the invoice before I can log it.",
    "We'll need the signed form first.",
    "I'll be travelling to our Leeds office on Thursday, so replies may be slow.",
])
def test_forecasts_routines_workloads_the_customers_own_plans_and_needs_are_not(sentence):
    assert not is_commitment(sentence)


def test_an_automated_notice_promises_nothing():
    text = ("[Automated] We have received your request. A member of our team will respond within 1 business "
            "day. Please do not reply to this email.")
    assert find_commitments(text, MONDAY, tz="America/New_York") == []


@pytest.mark.parametrize("sentence, due", [
    ("I'll post the form this afternoon, and I'll ring you about it tomorrow.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("I'll send the quote today and should have the go-ahead for you by Thursday.",
     datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("Following our call this morning: an engineer will be out tomorrow to fix it.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("I'll have the return for the year ended 5 April with you by 12 March.", datetime(2026, 3, 12, 17, tzinfo=NY)),
    ("I'll have a slot for you by tomorrow noon.", datetime(2026, 3, 3, 12, tzinfo=NY)),
    ("I'll ring you tomorrow at 9.30am.", datetime(2026, 3, 3, 9, 30, tzinfo=NY)),
    ("I'll ring you back at 2.30.", datetime(2026, 3, 2, 14, 30, tzinfo=NY)),
    ("We'll list it at 2.99 each on Friday.", datetime(2026, 3, 6, 17, tzinfo=NY)),
    ("I'll get the credit note raised by end of play.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("I'll send the quote over the morra.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("Our devs will ship it in next week's release.", datetime(2026, 3, 13, 17, tzinfo=NY)),
    ("Sorry for the mix-up 🙏 Driver will come back within 30 mins.", datetime(2026, 3, 2, 10, 45, tzinfo=NY)),
])
def test_the_first_promise_of_a_clause_a_due_date_and_times_written_as_people_write_them(sentence, due):
    c = find_commitments(sentence, MONDAY, tz="America/New_York")[0]
    assert c.due_at == due


@pytest.mark.parametrize("sentence, due", [
    ("Compliance will clear the hold within 24h.", datetime(2026, 3, 3, 10, 15, tzinfo=NY)),
    ("The prepaid label will be in your inbox by Wednesday.", datetime(2026, 3, 4, 17, tzinfo=NY)),
    ("A loan car will be waiting at the front desk by tomorrow 9 AM.", datetime(2026, 3, 3, 9, tzinfo=NY)),
    ("Ur prints will b ready to collect by 4pm today.", datetime(2026, 3, 2, 16, tzinfo=NY)),
    ("The overcharge of $12.50 will be credited to your card within 5 business days.",
     datetime(2026, 3, 9, 17, tzinfo=NY)),
    ("Our claims panel shall assess it and revert by Friday.", datetime(2026, 3, 6, 17, tzinfo=NY)),
    ("A loss adjuster is going to call you tomorrow.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("The glaziers will come and fit the pane on Thursday.", datetime(2026, 3, 5, 17, tzinfo=NY)),
    ("An installer will fit it on Friday and you don't need to be in.", datetime(2026, 3, 6, 17, tzinfo=NY)),
])
def test_anyone_or_anything_of_the_team_that_will_do_or_be_done_is_a_commitment(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz="America/New_York")
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "The clinic will be closed on Monday for the holiday.",
    "Your card will be charged on the 1st of each month.",
    "Your subscription will renew on 1 May.",
    "The link will expire in 24 hours.",
    "Your parcel will probably arrive on Friday.",
    "It will take 3 to 5 days.",
    "Deliveries will resume on Monday.",
    "The portal will log you out after 15 minutes.",
    "Your follow-up will be with Dr Shah instead.",
    "The courier says they'll try again on Wednesday.",
    "He said the parts will arrive Thursday.",
    "The assessor needs photos before they'll approve anything.",
    "No one from our team will be on site tomorrow because of the storm.",
    "The engineer will need access to the loft tomorrow.",
    "Pls share the booking ref and we'll check it for you.",
])
def test_notices_forecasts_other_peoples_words_and_what_the_team_needs_are_not(sentence):
    assert not is_commitment(sentence)


@pytest.mark.parametrize("sentence", [
    "The bank will contact you within 5 working days.",
    "The council will send their inspector next week.",
    "Apple will replace the device under warranty.",
    "The manufacturer will ship the part directly to you.",
    "The airline will rebook you on the next available flight.",
    "HMRC will write to you with the new tax code.",
])
def test_another_organisations_plan_relayed_is_not_the_teams_promise(sentence):
    assert not is_commitment(sentence)


@pytest.mark.parametrize("sentence", [
    "UPS will have it at your office by Thursday 10:30 AM since we've upgraded it to overnight.",
    "Our courier will drop it at the surgery tomorrow.",
    "Amazon will deliver the replacement to you by Thursday.",
    "I'll chase the bank and call you back tomorrow.",
])
def test_a_carrier_delivering_what_the_team_shipped_or_the_team_chasing_an_organisation_is(sentence):
    assert is_commitment(sentence)


@pytest.mark.parametrize("sentence, due", [
    ("We'll courier the part out today and email you the tracking tomorrow.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("The surgery will ring you tomorrow at 11 to go through the results.", datetime(2026, 3, 3, 11, tzinfo=NY)),
])
def test_the_first_of_two_dated_actions_and_a_bare_hour_before_a_purpose(sentence, due):
    assert find_commitments(sentence, MONDAY, tz="America/New_York")[0].due_at == due


@pytest.mark.parametrize("sentence, due", [
    ("We're now tiling the bathroom on Thursday instead.", datetime(2026, 3, 5, 17, tzinfo=NY)),
    ("He's ringing you at 4pm about the quote.", datetime(2026, 3, 2, 16, tzinfo=NY)),
    ("Part's on order and I'm back on site Wednesday to fit it.", datetime(2026, 3, 4, 17, tzinfo=NY)),
    ("The spare filters ship today, tracked.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("Will have all the badges printed by Thursday 3pm.", datetime(2026, 3, 5, 15, tzinfo=NY)),
    ("On my way, be there in 20 min.", datetime(2026, 3, 2, 10, 35, tzinfo=NY)),
    ("Our planner, Ana, is going to send the floor plan on Tuesday.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("Marcus will remote in on Friday to apply the patch.", datetime(2026, 3, 6, 17, tzinfo=NY)),
    ("We will share the new rates by Friday 12 noon.", datetime(2026, 3, 6, 12, tzinfo=NY)),
    ("The office will process it first thing Tuesday and you'll get an automated email after.",
     datetime(2026, 3, 3, 10, tzinfo=NY)),
    ("We'll have it signed off before the weekend, then the fitters start next Tuesday.",
     datetime(2026, 3, 6, 17, tzinfo=NY)),
    ("The kits will be couriered on Wednesday, so they're there for the session on the 12th.",
     datetime(2026, 3, 4, 17, tzinfo=NY)),
])
def test_plans_in_the_present_names_ending_in_s_and_the_time_of_the_first_action(sentence, due):
    c = find_commitments(sentence, MONDAY, tz="America/New_York")[0]
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "We are experiencing high call volumes today.",
    "I'm working from home tomorrow.",
    "You should have received a confirmation email by now.",
    "We will automatically refund you within 5 days.",
    "I'm back on Thursday.",
])
def test_states_arrivals_already_due_and_a_systems_doing_are_not(sentence):
    assert not is_commitment(sentence)


def test_a_log_pasted_into_a_reply_is_no_promise_of_the_team():
    text = "Here is what the agent printed: " + "ERROR at 12:00 will retry in 5 minutes, " * 50
    assert find_commitments(text, MONDAY, tz="America/New_York") == []


@pytest.mark.parametrize("sentence, due", [
    ("I'll ring you tomorrow to confirm, and if anything comes up meanwhile you can call the ward.",
     datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("I've looped in Priya, and she's going to run the review with your team on Wednesday 2pm.",
     datetime(2026, 3, 4, 14, tzinfo=NY)),
    ("He'll help you set it up on Friday.", datetime(2026, 3, 6, 17, tzinfo=NY)),
])
def test_an_aside_after_the_promise_and_what_a_colleague_is_going_to_do(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz="America/New_York")
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "I'll ring you tomorrow, if the results are back by then.",
    "Please note I'll be on MC tomorrow.",
])
def test_a_condition_without_an_aside_and_medical_leave_are_not(sentence):
    assert not is_commitment(sentence)


@pytest.mark.parametrize("sentence, due", [
    ("Our engineer will finish the patching on Thurs 2pm.", datetime(2026, 3, 5, 14, tzinfo=NY)),
    ("He'll be down at the yard Thursday to swap the battery.", datetime(2026, 3, 5, 17, tzinfo=NY)),
    ("We've got a plumber coming round tomorrow morning.", datetime(2026, 3, 3, 12, tzinfo=NY)),
])
def test_a_short_day_with_a_time_a_visit_and_someone_on_the_way(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz="America/New_York")
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "I'll be off site at the Leeds depot all day Friday.",
    "The consulate has confirmed they will post the visa back on Wednesday.",
    "The portal will be down tonight for maintenance.",
])
def test_off_site_a_third_partys_confirmed_plan_and_an_outage_are_not(sentence):
    assert not is_commitment(sentence)


@pytest.mark.parametrize("sentence, due", [
    ("Mr Okoye will take the Thursday class at 5pm.", datetime(2026, 3, 5, 17, tzinfo=NY)),
    ("The 12 boxes you ordered will be delivered to your shop on Thursday.", datetime(2026, 3, 5, 17, tzinfo=NY)),
    ("The lads are fitting the new gate tomorrow and I'll pop by later in the week.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("The spare parts are being couriered from our depot on Wednesday.", datetime(2026, 3, 4, 17, tzinfo=NY)),
])
def test_a_lesson_taken_a_delivery_of_what_you_ordered_and_work_in_progress_with_a_day(sentence, due):
    c = find_commitments(sentence, MONDAY, tz="America/New_York")[0]
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "I'm flying to our Dublin office tomorrow and will be offline most of the day.",
    "The supplier estimates the part will be available in around six weeks.",
    "It will take the whole afternoon.",
    "Our staff are enjoying a day off tomorrow.",
])
def test_travel_and_being_offline_a_suppliers_estimate_and_time_taken_are_not(sentence):
    assert not is_commitment(sentence)


def test_later_in_the_week_is_no_duration():
    [c] = find_commitments("I'll pop round later in the week.", MONDAY, tz="America/New_York")
    assert c.due_at is None


@pytest.mark.parametrize("sentence, due", [
    ("We'll be up on the roof at half 8 tomorrow.", datetime(2026, 3, 3, 8, 30, tzinfo=NY)),
    ("Our mechanic will be at the depot this afternoon to look at the lift.", datetime(2026, 3, 2, 17, tzinfo=NY)),
])
def test_half_past_the_hour_and_a_visit_to_look_at_something(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz="America/New_York")
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "Hopefully the council will approve the plans next week.",
    "He's actually on leave this week.",
])
def test_hopes_for_a_third_party_and_leave_are_not(sentence):
    assert not is_commitment(sentence)


@pytest.mark.parametrize("sentence, due", [
    ("As discussed we will send the revised quote on Monday.", datetime(2026, 3, 9, 17, tzinfo=NY)),
    ("I'll check with Fr. Doyle and confirm within the hour.", datetime(2026, 3, 2, 11, 15, tzinfo=NY)),
    ("I will send the statement for your Sunday delivery before the weekend.", datetime(2026, 3, 6, 17, tzinfo=NY)),
    ("I've arranged for our driver to collect the chair this afternoon.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("Will raise this with the registrar and come back to you.", None),
])
def test_a_promise_after_as_discussed_a_title_a_day_that_describes_and_arrangements(sentence, due):
    c = find_commitments(sentence, MONDAY, tz="America/New_York")[0]
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "The forecasters reckon the swell will drop off by Sunday.",
    "Tracking shows the courier will deliver it tomorrow.",
    "Just say the word and we'll add a card.",
    "Storms are forecast for Thursday, so expect some dropouts.",
])
def test_other_peoples_forecasts_an_offer_awaiting_a_yes_and_trouble_foretold_are_not(sentence):
    assert not is_commitment(sentence)


@pytest.mark.parametrize("sentence, due", [
    ("I'll email you today with the times for Thursday.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("I'll ring you this afternoon about tomorrow's visit.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("I'll get back to you next week about the Friday delivery.", datetime(2026, 3, 13, 17, tzinfo=NY)),
    ("I'll update you by 5pm today about the March 30 booking.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("I'll have it finished by EOD tmrw.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("I'll reply by end of day Wednesday.", datetime(2026, 3, 4, 17, tzinfo=NY)),
    ("I'll refund the 2 items today, the other 4 may take a few days.", datetime(2026, 3, 2, 17, tzinfo=NY)),
    ("Our driver is going to drop it off tomorrow.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("The engineer is gonna call you back tomorrow.", datetime(2026, 3, 3, 17, tzinfo=NY)),
    ("I'll ship it in 1.5 weeks.", datetime(2026, 3, 12, 17, tzinfo=NY)),
])
def test_the_day_named_first_is_the_promises_and_end_of_day_belongs_to_the_day_after_it(sentence, due):
    c = find_commitments(sentence, MONDAY, tz="America/New_York")[0]
    assert c.due_at == due


@pytest.mark.parametrize("sentence", [
    "The store will reopen on Tuesday at 9am.",
    "Your bank will be in touch within 3 days.",
    "Sarah will be on annual leave until Monday.",
    "Our engineers will be at a conference next week.",
    "We've got a storm coming tomorrow.",
    "I've arranged for you to collect it from the depot on Friday.",
    "Just to confirm, your flight leaves tomorrow at 6am.",
    "Everything ordered before 2pm ships today.",
    "I believe the technician will be with you by noon.",
    "According to the courier, a driver will collect it tomorrow.",
    "Your husband mentioned he'll call us tomorrow.",
    "Noted, your accountant will send us the figures by Friday.",
    "Sign up today and we'll send you 20% off your next order.",
    "The next available slot will be on Thursday.",
    "The heating will come on at 6am.",
])
def test_notices_other_peoples_plans_hedged_third_parties_and_offers_are_not(sentence):
    assert not is_commitment(sentence)


def test_words_quoted_from_the_customer_and_a_footer_promise_nothing():
    at = MONDAY
    assert find_commitments('From your message: "I\'ll pay the balance by Friday". Thanks!', at, tz="UTC") == []
    assert find_commitments("Hi Tom, you wrote: I'll pay the balance by Friday.", at, tz="UTC") == []
    assert find_commitments("Thanks,\nMaddie\nAcme Support | We'll respond to every ticket within 24 hours", at,
                            tz="UTC") == []


@pytest.mark.parametrize("text", ["I'll call you in 99999999999 days.", "We'll process it within 2000000 business days.",
                                  "", "!!!", "\u200f\u200e", "🙂" * 50])
def test_absurd_numbers_and_odd_text_read_without_error(text):
    for c in find_commitments(text, MONDAY, tz="UTC"):
        assert c.due_at is None
    assert is_commitment(None) is False


@pytest.mark.parametrize("sentence, due", [
    ("I'll have the audit re-run for Saturday and Sunday by tomorrow morning.", datetime(2026, 3, 3, 12, tzinfo=NY)),
    ("They'll be made up and fitted by 12 March.", datetime(2026, 3, 12, 17, tzinfo=NY)),
    ("We'll replace it next week, the engineer is off until Monday.", datetime(2026, 3, 13, 17, tzinfo=NY)),
])
def test_a_day_the_promise_is_due_by_and_things_made_for_the_customer(sentence, due):
    c = find_commitments(sentence, MONDAY, tz="America/New_York")[0]
    assert c.due_at == due


def test_a_request_to_drop_something_off_that_the_promise_answers_is_not_one():
    assert not is_commitment("Please drop the parcel at any locker by Friday and we'll process the return.")


@pytest.mark.parametrize("sentence, due", [
    ("I'll call you between 2 and 4 this afternoon.", datetime(2026, 3, 2, 16, tzinfo=NY)),
    ("The engineer will be with you tomorrow between 9 and 11am.", datetime(2026, 3, 3, 11, tzinfo=NY)),
    ("We'll deliver it between 8 and 1 on Friday.", datetime(2026, 3, 6, 13, tzinfo=NY)),
    ("I'll refund between 5 and 10 dollars today.", datetime(2026, 3, 2, 17, tzinfo=NY)),
])
def test_a_window_of_time_is_due_at_its_end_and_a_range_of_amounts_is_no_window(sentence, due):
    [c] = find_commitments(sentence, MONDAY, tz="America/New_York")
    assert c.due_at == due
