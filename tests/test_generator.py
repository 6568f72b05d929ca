"""The synthetic history generator: deterministic, streaming, and rich enough for every care rule."""

from __future__ import annotations

import itertools
import json
import gc
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from careplug.model import Channel, Direction, EventKind, IdentityKind, Status
from careplug.store import codec
from careplug.testing.generator import DEFAULT_SOURCES, generate, generate_for_source, write_files

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=timezone.utc)


def fingerprint(records):
    return [(r.source, r.kind, r.external_id, codec.encode(r)) for r in records]


@pytest.fixture(scope="module")
def history():
    return list(generate(3000, seed=7, now=NOW))


def of(history, kind):
    return [r for r in history if r.kind == kind]


def test_the_same_seed_and_now_give_the_same_records_in_the_same_order():
    assert fingerprint(generate(200, seed=3, now=NOW)) == fingerprint(generate(200, seed=3, now=NOW))


def test_another_seed_gives_another_history():
    assert fingerprint(generate(200, seed=3, now=NOW)) != fingerprint(generate(200, seed=4, now=NOW))


def test_a_naive_now_is_taken_as_utc():
    naive = NOW.replace(tzinfo=None)
    assert fingerprint(generate(50, seed=1, now=naive)) == fingerprint(generate(50, seed=1, now=NOW))


def test_parents_come_before_the_conversations_that_refer_to_them(history):
    first_conversation = next(i for i, r in enumerate(history) if r.kind == "conversation")
    assert {r.kind for r in history[:first_conversation]} == {"account", "agent", "customer"}
    assert {r.kind for r in history[first_conversation:]} <= {"conversation", "message", "event", "rating", "task"}


def test_references_point_at_generated_records_of_the_same_source(history):
    ids = {(r.source, r.kind, r.external_id) for r in history}
    for c in of(history, "conversation"):
        assert (c.source, "customer", c.customer_id) in ids
        assert (c.source, "account", c.account_id) in ids
        assert c.assignee is None or (c.source, "agent", c.assignee) in ids
    for r in history:
        if r.kind in ("message", "event", "rating", "task") and r.conversation_id:
            assert (r.source, "conversation", r.conversation_id) in ids
    assert len(ids) == len(history), "external ids are unique per source and kind"


def test_nothing_happens_after_now(history):
    for r in history:
        for name in ("created_at", "updated_at", "solved_at", "completed_at"):
            value = getattr(r, name, None)
            assert value is None or value <= NOW, (r, name)
        assert getattr(r, "created_at", None) is None or r.created_at.tzinfo is not None


def test_every_source_and_every_channel_appear_including_missed_calls_and_voicemail(history):
    conversations = of(history, "conversation")
    assert {c.source for c in conversations} == set(DEFAULT_SOURCES)
    assert {c.channel for c in conversations} >= {Channel.EMAIL, Channel.PHONE, Channel.CHAT, Channel.SOCIAL,
                                                   Channel.SMS, Channel.WEB_FORM}
    calls = [m for m in of(history, "message") if m.channel is Channel.PHONE and m.direction is Direction.INBOUND]
    assert any(m.answered_call is False and m.body.startswith("Missed call") for m in calls)
    assert any(m.answered_call is False and m.body.startswith("Voicemail") for m in calls)
    assert any(m.answered_call for m in calls)


def test_some_people_are_customers_in_several_sources_with_the_email_in_another_case_or_the_same_phone(history):
    by_email = defaultdict(list)
    by_phone = defaultdict(set)
    for c in of(history, "customer"):
        for kind, value in c.identities():
            if kind is IdentityKind.EMAIL:
                by_email[value].append(c)
            elif kind is IdentityKind.PHONE:
                by_phone[value].add(c.source)
    shared = [cs for cs in by_email.values() if len({c.source for c in cs}) > 1]
    assert shared, "the same email is in two sources"
    assert any(len({c.emails[0] for c in cs}) > 1 for cs in shared), "stored in a different case"
    assert any(len(cs) == 3 for cs in shared), "some people are in all three sources"
    assert any(len(sources) > 1 for sources in by_phone.values())


def test_accounts_have_tiers_and_some_key_accounts_went_quiet(history):
    accounts = of(history, "account")
    assert {a.tier for a in accounts} >= {"key", "enterprise", "standard"}
    quiet = {(a.source, a.external_id) for a in accounts if "quiet-risk" in a.tags}
    assert quiet and all(a.tier in ("key", "enterprise") for a in accounts if (a.source, a.external_id) in quiet)
    recent = [c for c in of(history, "conversation")
              if (c.source, c.account_id) in quiet and c.created_at > NOW - timedelta(days=44)]
    assert recent == [], "a quiet account had no conversation in the last weeks"


def test_agents_sit_in_teams_with_a_manager(history):
    agents = of(history, "agent")
    teams = defaultdict(list)
    for a in agents:
        teams[(a.source, a.groups[0])].append(a)
    for members in teams.values():
        managers = [a for a in members if a.manager is None]
        assert len(managers) == 1
        assert all(a.manager == managers[0].external_id for a in members if a is not managers[0])


def test_customers_arrive_mostly_on_weekdays_in_office_hours_in_several_time_zones(history):
    conversations = of(history, "conversation")
    weekend = sum(c.created_at.weekday() >= 5 for c in conversations)
    assert 0 < weekend < len(conversations) * 0.2
    utc_hours = Counter(c.created_at.hour for c in conversations)
    assert len(utc_hours) == 24, "time zones spread office hours over the whole UTC day"
    people = {c.external_id: c for c in of(history, "customer")}
    assert people  # (time zones are per person; hours in UTC cover the day only when several are used)


def test_agent_replies_contain_promises_some_kept_and_some_broken(history):
    messages = of(history, "message")
    by_conversation = defaultdict(list)
    for m in messages:
        by_conversation[(m.source, m.conversation_id)].append(m)
    promised = kept = chased = 0
    for thread in by_conversation.values():
        promise = next((i for i, m in enumerate(thread) if m.direction is Direction.OUTBOUND
                        and any(p in m.body for p in ("get back to you", "call you by", "follow up within",
                                                      "on Monday", "in two days"))), None)
        if promise is None:
            continue
        promised += 1
        later = thread[promise + 1:]
        kept += any(m.body.startswith("As promised") for m in later)
        chased += any("You said you'd get back to me" in m.body for m in later)
    assert promised and kept and chased


def test_reassignments_pending_and_on_hold_periods_are_events(history):
    events = of(history, "event")
    groups = Counter((e.source, e.conversation_id) for e in events if e.type is EventKind.GROUP)
    assert max(groups.values()) >= 3, "some conversations are passed between teams"
    statuses = {e.to_value for e in events if e.type is EventKind.STATUS}
    assert {Status.PENDING.value, Status.ON_HOLD.value, Status.OPEN.value, Status.SOLVED.value} <= statuses
    assert any(e.type is EventKind.ASSIGNEE for e in events)


def test_ratings_good_and_bad_some_bad_ones_followed_up(history):
    ratings = of(history, "rating")
    assert any(r.bad for r in ratings) and any(not r.bad for r in ratings)
    apologies = {(m.source, m.conversation_id) for m in of(history, "message") if "let you down" in m.body}
    bad = {(r.source, r.conversation_id) for r in ratings if r.bad}
    assert bad & apologies and bad - apologies


def test_tasks_done_and_open_and_leads_with_and_without_a_response(history):
    tasks = of(history, "task")
    assert any(t.done for t in tasks) and any(not t.done and t.due_at < NOW for t in tasks)
    leads = {(c.source, c.external_id) for c in of(history, "customer") if c.is_lead}
    answered = {(m.source, m.conversation_id) for m in of(history, "message") if m.direction is Direction.OUTBOUND}
    lead_conversations = [(c.source, c.external_id) for c in of(history, "conversation")
                          if (c.source, c.customer_id) in leads and "lead" in c.tags]
    assert any(c in answered for c in lead_conversations) and any(c not in answered for c in lead_conversations)


def test_some_customers_are_still_waiting_for_a_reply_at_now(history):
    messages = defaultdict(list)
    for m in of(history, "message"):
        if m.public:
            messages[(m.source, m.conversation_id)].append(m)
    waiting = [c for c in of(history, "conversation")
               if not c.status.is_done and messages[(c.source, c.external_id)]
               and messages[(c.source, c.external_id)][-1].direction is Direction.INBOUND
               and c.created_at > NOW - timedelta(days=3)]
    assert len(waiting) >= 10


def test_generate_for_source_gives_exactly_that_source_s_part_of_the_history():
    full = [r for r in generate(300, seed=5, now=NOW) if r.source == "hubspot"]
    assert fingerprint(generate_for_source("hubspot", 300, seed=5, now=NOW)) == fingerprint(full)


def test_other_source_names_and_a_single_source_work():
    records = list(generate(40, seed=1, now=NOW, sources=("helpdesk",)))
    assert {r.source for r in records} == {"helpdesk"}
    assert any(r.kind == "conversation" for r in records)


def _peak_blocks(n: int) -> int:
    """The most memory blocks alive while streaming ``n`` conversations (sampled)."""
    gc.collect()
    base, peak = sys.getallocatedblocks(), 0
    for i, _record in enumerate(generate(n, seed=2, now=NOW)):
        if i % 500 == 0:
            peak = max(peak, sys.getallocatedblocks() - base)
    return peak


def test_memory_does_not_grow_with_the_number_of_conversations():
    small, large = _peak_blocks(3_000), _peak_blocks(12_000)
    assert large < small * 1.3 + 5_000, (small, large)


def test_write_files_writes_one_files_source_folder_per_source(tmp_path):
    stats = write_files(tmp_path, 30, seed=1, now=NOW)
    assert set(stats["sources"]) == set(DEFAULT_SOURCES)
    for source, folder in stats["sources"].items():
        with open(f"{folder}/conversations.jsonl") as f:
            rows = [json.loads(line) for line in f]
        assert rows and all("id" in row and "source" not in row for row in rows)
    assert stats["records"]["conversation"] == 30
    csv_stats = write_files(tmp_path / "csv", 30, seed=1, now=NOW, format="csv")
    assert csv_stats["records"] == stats["records"]
    assert (tmp_path / "csv" / "zendesk" / "messages.csv").read_text().startswith("id,conversation_id,")


@pytest.mark.parametrize("n", [0, 1, 7])
def test_tiny_histories_are_valid(n):
    records = list(itertools.islice(generate(n, seed=0, now=NOW), 100_000))
    assert sum(r.kind == "conversation" for r in records) == n


def test_write_files_with_a_negative_count_makes_no_folder(tmp_path):
    with pytest.raises(ValueError, match="conversations >= 0"):
        write_files(tmp_path / "out", -5)
    assert not (tmp_path / "out").exists()
