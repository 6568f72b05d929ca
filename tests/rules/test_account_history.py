"""An account subject's history: the account, its customers (the records that name the account and
every record linked to the same person in other sources), all their conversations in every source
and the conversations stamped with the account, with every child, the customers' customer-level
ratings and tasks, and the tasks on no conversation stamped with the account (a call logged on the
account). ``Store.load_history`` and ``bulk.load_histories`` build the same one; the customers'
histories (``families.load_families`` too) do not hold what names only the account."""

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
    # logged on the account itself: naming no contact, naming another account's contact, naming
    # one of its own (held once); an open one; one logged on Bob's account
    journey.task(source="salesforce", at=ny(2026, 3, 7, 9), account_id="acc1", id="k-acme")
    journey.task(source="salesforce", at=ny(2026, 3, 7, 10), account_id="acc1", customer=bob, id="k-bob-for-acme")
    journey.task(source="salesforce", at=ny(2026, 3, 7, 11), account_id="acc1", customer=ada, id="k-ada")
    journey.task(source="salesforce", at=ny(2026, 3, 7, 12), account_id="acc1", done=False, id="k-acme-open")
    journey.task(source="salesforce", at=ny(2026, 3, 7, 13), account_id="acc2", id="k-other")
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
    assert [(t.source, t.external_id) for t in hist.tasks] == [
        ("zendesk", hist.tasks[0].external_id), ("salesforce", "k-acme"), ("salesforce", "k-bob-for-acme"),
        ("salesforce", "k-ada"), ("salesforce", "k-acme-open")]
    assert hist.tasks[0].customer_id == "z1"


def test_what_names_only_the_account_is_in_no_customers_history(journey, store):
    acme(journey)
    ada, bob = store.customer_uid("salesforce", "c1"), store.customer_uid("salesforce", "c3")
    only_acme = {"k-acme", "k-acme-open", "k-other"}
    ada_tasks = [t.external_id for t in store.load_history(f"customer:{ada}").tasks]
    assert "k-ada" in ada_tasks and len(ada_tasks) == 2 and not only_acme & set(ada_tasks)   # + her Zendesk one
    bob_tasks = [t.external_id for t in store.load_history(f"customer:{bob}").tasks]
    assert "k-bob-for-acme" in bob_tasks and len(bob_tasks) == 2 and not only_acme & set(bob_tasks)
    # Bob's account: his tasks (the one stamped with Acme too) and its own
    assert [t.external_id for t in store.load_history("account:salesforce:acc2").tasks] == [*bob_tasks, "k-other"]


def test_an_account_with_nothing_but_a_call_logged_on_it(journey, store):
    journey.account("salesforce", "acc1")
    journey.task(source="salesforce", at=ny(2026, 3, 7, 9), account_id="acc1", id="k1")
    journey.load()
    hist = store.load_history("account:salesforce:acc1")
    assert hist.customers == [] and hist.conversations == [] and [t.external_id for t in hist.tasks] == ["k1"]
    got = bulk.load_histories(store, ["account:salesforce:acc1"])["account:salesforce:acc1"]
    assert got.tasks == hist.tasks


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
    assert len(got["account:salesforce:acc1"].tasks) == 5


def test_family_customer_histories_equal_the_stores_own(journey, store):
    from careplug.store.families import load_families

    acme(journey)
    uids = [store.customer_uid("salesforce", c) for c in ("c1", "c2", "c3")]
    families = load_families(store, uids)
    assert {f"customer:{uid}" for uid in uids} <= set(families)
    for subject, got in families.items():
        want = store.load_history(subject)
        for name in FIELDS:
            assert getattr(got, name) == getattr(want, name), (subject, name)
