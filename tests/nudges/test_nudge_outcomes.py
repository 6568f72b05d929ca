"""Outcomes: time to action per nudge, a summary per rule, and nudges in a customer's history."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from careplug.model import Conversation, Customer
from careplug.nudges import outcomes
from careplug.nudges.delivery import run_nudges
from careplug.plugins import Plugins

from nudge_app import T0, finding, make_app, resolve, save


def test_the_summary_counts_acted_on_nudges_per_rule_with_median_time_to_action(crm, store_path):
    app = make_app(store_path, crm.url)
    fs = [finding(1), finding(2), finding(3), finding(4, rule="broken_promise")]
    save(app.store, *fs)
    run_nudges(app, T0)
    for f, minutes in zip(fs[:2], (10, 30)):
        resolve(app.store, f, T0 + timedelta(minutes=minutes))
    run_nudges(app, T0 + timedelta(hours=1))
    s = outcomes.summary(app.store)
    assert (s.delivered, s.acted_on, s.open) == (4, 2, 2)
    assert s.median_s == 20 * 60
    assert s.by_rule["unanswered"]["acted_on"] == 2 and s.by_rule["broken_promise"]["acted_on"] == 0
    assert "4 delivered, 2 acted on (median time to action 20m" in s.render()
    assert outcomes.summary(app.store, since=T0 + timedelta(days=1)).delivered == 0


def test_a_customers_history_shows_their_nudges_through_the_history_hook(crm, store_path):
    app = make_app(store_path, crm.url)
    app.store.commit_batch("crm", "customers", [Customer("crm", "c1", name="Ada", emails=["ada@example.com"])])
    app.store.commit_batch("crm", "conversations", [Conversation("crm", "1", customer_id="c1")])
    uid = app.store.customer_uid("crm", "c1")
    save(app.store, replace(finding(1), customer_uid=uid), finding(2))
    run_nudges(app, T0)
    plugins = Plugins(builtins=("careplug.nudges.outcomes",), load_entry_points=False)
    items = plugins.relationship_history(uid, app.store)
    assert [(i.kind, i.source) for i in items] == [("nudge", "crm")]
    assert items[0].summary.startswith("task for alice (delivered)")


def test_time_to_action_runs_to_the_reply_that_cleared_the_finding_not_to_the_check_that_saw_it(crm, store_path):
    from careplug.check import evaluate_store
    from careplug.model import AuthorRole, Channel, Direction, Message, Status
    from careplug.nudges.ledger import Ledger
    from careplug.rules.unanswered import Unanswered, UnansweredOptions

    app = make_app(store_path, crm.url)
    rules = [Unanswered(UnansweredOptions(first_reply="4h"), None)]          # wall time
    app.store.commit_batch("crm", "all", [
        Customer("crm", "c1", name="Ada", emails=["ada@example.com"]),
        Conversation("crm", "1", customer_id="c1", channel=Channel.EMAIL, status=Status.OPEN, assignee="alice",
                     created_at=T0 - timedelta(hours=5), updated_at=T0 - timedelta(hours=5)),
        Message("crm", "m1", conversation_id="1", direction=Direction.INBOUND, author_role=AuthorRole.CUSTOMER,
                channel=Channel.EMAIL, created_at=T0 - timedelta(hours=5), body="Hello?")], cursor=None)
    [f] = evaluate_store(app.store, rules, T0).new                              # breached an hour ago
    run_nudges(app, T0)                                                          # the nudge is delivered at T0
    app.store.commit_batch("crm", "all", [
        Message("crm", "m2", conversation_id="1", direction=Direction.OUTBOUND, author_role=AuthorRole.AGENT,
                author="alice", channel=Channel.EMAIL, created_at=T0 + timedelta(minutes=25), body="Sorry!")],
        cursor=None)
    [resolved] = evaluate_store(app.store, rules, T0 + timedelta(hours=3)).resolved
    assert resolved.key == f.key
    run_nudges(app, T0 + timedelta(hours=3))
    [row] = Ledger(app.store).rows(finding_keys=[f.key])
    assert row.delivered_at == T0.timestamp() and row.outcome["time_to_action_s"] == 25 * 60
    assert outcomes.summary(app.store).median_s == 25 * 60
