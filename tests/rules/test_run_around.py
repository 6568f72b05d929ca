"""run_around: bounced between teams, or repeating themselves across sources."""

from __future__ import annotations

from careplug.model import EventKind, Status
from careplug.rules.run_around import RunAround, RunAroundOptions

from conftest import context, ny


def rule(**options) -> RunAround:
    return RunAround(RunAroundOptions(**options), context())


def test_a_conversation_passed_through_three_groups_is_a_run_around(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), group="billing")
    journey.event(conv, ny(2026, 3, 2, 10), EventKind.GROUP, "billing", "tech")
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    assert rule().evaluate(hist, ny(2026, 3, 2, 11)) == []
    third = journey.event(conv, ny(2026, 3, 2, 12), EventKind.GROUP, "tech", "sales")
    [f] = rule().evaluate(journey.history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 2, 13))
    assert f.occurrence == "groups" and f.started_at == third.created_at
    assert f.explain["seen"] == ["billing", "tech", "sales"]


def test_solving_the_conversation_ends_the_run_around(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    for i, (a, b) in enumerate([("a1", "a2"), ("a2", "a3"), ("a3", "a4")]):
        journey.event(conv, ny(2026, 3, 2, 10 + i), EventKind.ASSIGNEE, a, b)
    subject = f"conversation:zendesk:{conv.external_id}"
    assert [f.occurrence for f in rule().evaluate(journey.history(subject), ny(2026, 3, 2, 14))] == ["agents"]
    journey.status(conv, ny(2026, 3, 2, 15), Status.SOLVED)
    assert rule().evaluate(journey.history(subject), ny(2026, 3, 2, 16)) == []


def test_a_customer_repeating_the_same_subject_in_two_sources_is_a_run_around(journey):
    zd = journey.customer("zendesk", "z1", email="ada@example.com")
    hs = journey.customer("hubspot", "h1", email="ADA@example.com")       # the same person
    journey.conversation(zd, ny(2026, 3, 2, 9), subject="Cannot log in to my account")
    journey.conversation(hs, ny(2026, 3, 4, 9), subject="Re: cannot log in")
    third = journey.conversation(zd, ny(2026, 3, 6, 9), subject="STILL cannot log in!!")
    journey.conversation(zd, ny(2026, 3, 6, 10), subject="Invoice copy")
    journey.load()
    uid = journey.store.customer_uid("zendesk", "z1")
    assert uid == journey.store.customer_uid("hubspot", "h1")
    [f] = rule().evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 6, 12))
    assert f.started_at == third.created_at and len(f.explain["conversations"]) == 3
    assert {c["source"] for c in f.explain["conversations"]} == {"zendesk", "hubspot"}


def test_repeats_outside_the_window_are_not_a_run_around(journey):
    ada = journey.customer()
    for day in (2, 12, 22):
        journey.conversation(ada, ny(2026, 3, day, 9), subject="Cannot log in")
    journey.load()
    uid = journey.store.customer_uid("zendesk", ada.external_id)
    assert rule(repeat_window="7d").evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 23)) == []


def test_a_fourth_contact_counts_with_the_two_before_it_even_when_the_first_three_were_solved(journey):
    ada = journey.customer()
    for day in (2, 5, 7):
        c = journey.conversation(ada, ny(2026, 3, day, 9), subject="Cannot log in")
        journey.status(c, ny(2026, 3, day, 10), Status.SOLVED)
    journey.load()
    uid = journey.store.customer_uid("zendesk", ada.external_id)
    assert rule().evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 10, 12)) == []   # all solved
    fourth = journey.conversation(ada, ny(2026, 3, 11, 9), subject="Cannot log in")
    [f] = rule().evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 11, 12))
    # the 5th, the 7th and the 11th: three within 7 days, the last one still open
    assert [c["opened"][:10] for c in f.explain["conversations"]] == ["2026-03-05", "2026-03-07", "2026-03-11"]
    assert f.started_at == fourth.created_at and f.conversation_id == fourth.external_id


def test_ping_pong_transfers_are_counted_by_the_transfer_options(journey):
    """support -> billing -> support -> billing is two distinct groups but three hand-offs the
    customer lived through: max_groups (distinct) does not see it, max_group_transfers does; the
    same for agents 1 -> 2 -> 1 -> 2 and max_agent_transfers."""
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), group="support", assignee="agt-1")
    for i, (a, b) in enumerate([("support", "billing"), ("billing", "support"), ("support", "billing")]):
        journey.event(conv, ny(2026, 3, 2, 10 + i), EventKind.GROUP, a, b)
    for i, (a, b) in enumerate([("agt-1", "agt-2"), ("agt-2", "agt-1"), ("agt-1", "agt-2")]):
        journey.event(conv, ny(2026, 3, 2, 10 + i, 30), EventKind.ASSIGNEE, a, b)
    hist = journey.history(f"conversation:zendesk:{conv.external_id}")
    now = ny(2026, 3, 2, 14)
    assert rule(max_groups=3, max_agents=3).evaluate(hist, now) == []       # distinct: two of each
    assert rule().evaluate(hist, now) == []                                  # the defaults count no transfers
    groups, agents = rule(max_group_transfers=3, max_agent_transfers=3).evaluate(hist, now)
    assert (groups.occurrence, groups.started_at) == ("groups", ny(2026, 3, 2, 12))
    assert (agents.occurrence, agents.started_at) == ("agents", ny(2026, 3, 2, 12, 30))
    assert groups.summary == "passed through 2 groups in 3 transfers: support -> billing -> support -> billing"
    assert groups.explain["transfers"] == 3 and groups.explain["threshold"] == "3 groups or 3 group transfers"
    assert rule(max_group_transfers=4, max_agent_transfers=4).evaluate(hist, now) == []


def test_unassigned_between_two_agents_is_one_transfer_and_back_to_the_same_agent_none(journey):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), assignee=None)
    for i, (a, b) in enumerate([(None, "agt-1"), ("agt-1", None), (None, "agt-1"), ("agt-1", None),
                                (None, "agt-2")]):
        journey.event(conv, ny(2026, 3, 2, 10 + i), EventKind.ASSIGNEE, a, b)
    subject = f"conversation:zendesk:{conv.external_id}"
    assert rule(max_agent_transfers=2).evaluate(journey.history(subject), ny(2026, 3, 2, 16)) == []   # 1 transfer
    second = journey.event(conv, ny(2026, 3, 2, 16), EventKind.ASSIGNEE, "agt-2", "agt-3")
    [f] = rule(max_agent_transfers=2).evaluate(journey.history(subject), ny(2026, 3, 2, 17))
    assert f.started_at == second.created_at and f.explain["transfers"] == 2
    assert f.summary == "passed through 3 agents in 2 transfers: agt-1 -> agt-2 -> agt-3"
