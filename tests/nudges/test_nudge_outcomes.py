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
