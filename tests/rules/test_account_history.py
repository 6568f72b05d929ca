"""An account subject's history: the account, its customers (the records that name the account and
every record linked to the same person in other sources), all their conversations in every source
and the conversations stamped with the account, with every child, and the customers' customer-level
ratings and tasks. ``Store.load_history`` and ``bulk.load_histories`` build the same one."""

from __future__ import annotations

from careplug.store import bulk

from conftest import ny

FIELDS = ("customer_uid", "customers", "account", "conversations", "messages", "events", "ratings", "tasks",
          "agents")


def acme(journey):
    """Account acc1 with two contacts; Ada also writes in through Zendesk; Bob belongs elsewhere."""
    journey.account("salesforce", "acc1")
    journey.account("salesforce", "acc2")
    ada = journey.customer("salesforce", "c1", account_id="acc1", email="ada@acme.com")
    cy = journey.customer("salesforce", "c2", account_id="acc1", email="cy@acme.com")
    ada_zd = journey.customer("zendesk", "z1", email="ada@acme.com")          # the same person as c1
    bob = journey.customer("salesforce", "c3", account_id="acc2", email="bob@other.com")
    convs = {
        "stamped": journey.conversation(ada, ny(2026, 3, 2, 9), id="sf-stamped", account_id="acc1"),
        "unstamped": journey.conversation(cy, ny(2026, 3, 3, 9), id="sf-unstamped"),
        "zendesk": journey.conversation(ada_zd, ny(2026, 3, 1, 9), id="zd-1"),
        "bob-for-acme": journey.conversation(bob, ny(2026, 3, 4, 9), id="sf-bob-acme", account_id="acc1"),
        "bob-own": journey.conversation(bob, ny(2026, 3, 5, 9), id="sf-bob-own"),
    }
    for name, conv in convs.items():
        journey.inbound(conv, conv.created_at, id=f"m-{name}")
        journey.reply(conv, conv.created_at.replace(hour=10), id=f"r-{name}")
    journey.rating(convs["zendesk"], ny(2026, 3, 1, 11))
    journey.task(source="zendesk", at=ny(2026, 3, 6, 9), customer=ada_zd)        # customer-level, Zendesk
    journey.rating(None, ny(2026, 3, 6, 10), customer=cy)                         # customer-level, Salesforce
    journey.task(source="salesforce", at=ny(2026, 3, 6, 11), customer=bob)        # Bob's: not acme's
    journey.load()
    return convs


def test_an_account_history_holds_its_customers_with_all_their_conversations_in_every_source(journey, store):
    acme(journey)
    hist = store.load_history("account:salesforce:acc1")

    assert hist.account.external_id == "acc1" and hist.customer_uid is None
    assert [(c.source, c.external_id) for c in hist.customers] == [
        ("salesforce", "c1"), ("salesforce", "c2"), ("zendesk", "z1")]
    assert [c.external_id for c in hist.conversations] == [                       # in time order
        "zd-1", "sf-stamped", "sf-unstamped", "sf-bob-acme"]
    assert [m.external_id for m in hist.messages] == [
        "m-zendesk", "r-zendesk", "m-stamped", "r-stamped", "m-unstamped", "r-unstamped", "m-bob-for-acme",
        "r-bob-for-acme"]
    assert [(r.conversation_id, r.customer_id) for r in hist.ratings] == [("zd-1", "z1"), (None, "c2")]
    assert [(t.source, t.customer_id) for t in hist.tasks] == [("zendesk", "z1")]


def test_an_account_without_customers_has_its_stamped_conversations_only(journey, store):
    journey.account("salesforce", "acc1")
    someone = journey.customer("salesforce", "c9")
    journey.conversation(someone, ny(2026, 3, 2, 9), id="sf-1", account_id="acc1")
    journey.conversation(someone, ny(2026, 3, 2, 10), id="sf-2")
    journey.load()
    hist = store.load_history("account:salesforce:acc1")
    assert hist.customers == [] and [c.external_id for c in hist.conversations] == ["sf-1"]
    assert store.load_history("account:salesforce:missing") is None


def test_bulk_account_histories_equal_the_stores_own(journey, store):
    acme(journey)
    ada = store.customer_uid("salesforce", "c1")
    bob = store.customer_uid("salesforce", "c3")
    subjects = ["account:salesforce:acc1", "account:salesforce:acc2", f"customer:{ada}", f"customer:{bob}",
                "conversation:salesforce:sf-bob-acme", "conversation:zendesk:zd-1"]
    for wanted in (subjects, subjects[:2], subjects[:1]):      # alone and beside customers and conversations
        got = bulk.load_histories(store, wanted)
        assert set(got) == set(wanted)
        for subject in wanted:
            want = store.load_history(subject)
            for name in FIELDS:
                assert getattr(got[subject], name) == getattr(want, name), (wanted, subject, name)
