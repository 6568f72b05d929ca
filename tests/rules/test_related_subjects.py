"""A committed change marks every subject whose history holds it: its conversation, the
conversation's customer (one customer across every source) and every account that customer belongs
to, even when the batch carries the child record alone (a messages export without its tickets)."""

from __future__ import annotations

from careplug.check import evaluate_store
from careplug.model import Deletion
from careplug.rules.neglected_lead import NeglectedLead, NeglectedLeadOptions
from careplug.rules.quiet_customer import QuietCustomer, QuietCustomerOptions
from careplug.rules.unanswered import Unanswered, UnansweredOptions
from careplug.store import findings as store_findings

from conftest import context, ny


def settle(store):
    """Everything evaluated: only what the next batch changes is dirty afterwards."""
    store.mark_evaluated({s: None for s in store.dirty_subjects()}, ny(2026, 3, 1))
    assert store.dirty_subjects() == []


def test_a_reply_synced_alone_marks_its_conversation_and_the_conversations_customer(journey, store):
    ada = journey.customer("zendesk", "z1", email="ada@example.com")
    journey.customer("hubspot", "h1", email="ada@example.com")          # the same person
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    settle(store)
    uid = store.customer_uid("zendesk", "z1")

    journey.reply(conv, ny(2026, 3, 2, 16))                              # a message, no conversation
    journey.load()

    assert store.dirty_subjects() == sorted([f"conversation:zendesk:{conv.external_id}", f"customer:{uid}"])


def test_an_event_rating_or_task_synced_alone_marks_the_customer_too(journey, store):
    ada = journey.customer("zendesk", "z1")
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.load()
    uid = store.customer_uid("zendesk", "z1")
    for add in (lambda: journey.rating(conv, ny(2026, 3, 3, 9)),
                lambda: journey.task(source="zendesk", at=ny(2026, 3, 3, 10), conv=conv)):
        settle(store)
        add()
        store.commit_batch("zendesk", "children", journey.records[-1:], cursor=None)   # the child alone
        journey.records = []
        assert f"customer:{uid}" in store.dirty_subjects()


def test_a_customer_level_rating_or_task_marks_its_customer(journey, store):
    ada = journey.customer("zendesk", "z1", account_id="acc")
    journey.account("zendesk", "acc")
    journey.load()
    settle(store)
    uid = store.customer_uid("zendesk", "z1")

    journey.task(source="zendesk", at=ny(2026, 3, 3, 10), customer=ada)   # no conversation
    journey.load()

    assert store.dirty_subjects() == sorted([f"customer:{uid}", "account:zendesk:acc"])


def test_a_task_logged_on_an_account_marks_the_account_and_only_it(journey, store):
    # a Salesforce Task with WhatId = the account and no WhoId: in the account's history only
    journey.account("salesforce", "acc1")
    ada = journey.customer("salesforce", "c1", account_id="acc1")
    journey.conversation(ada, ny(2026, 3, 2, 9), account_id="acc1")
    journey.load()
    settle(store)

    task = journey.task(source="salesforce", at=ny(2026, 3, 3, 10), account_id="acc1")
    result = store.commit_batch("salesforce", "tasks", [task], cursor=None)
    journey.records = []
    assert result.subjects == {"account:salesforce:acc1"}
    assert store.dirty_subjects() == ["account:salesforce:acc1"]

    settle(store)
    task.subject = "Call back, rescheduled"                              # changed: marked again
    assert store.commit_batch("salesforce", "tasks", [task], cursor=None).subjects == {"account:salesforce:acc1"}
    settle(store)
    assert store.commit_batch("salesforce", "tasks", [task], cursor=None).subjects == set()   # unchanged

    store.commit_batch("salesforce", "deletions", [Deletion("salesforce", task.external_id, record_kind="task")],
                       cursor=None)
    assert store.dirty_subjects() == ["account:salesforce:acc1"]


def test_a_task_stamped_with_an_account_and_filed_on_a_customer_marks_both(journey, store):
    journey.account("salesforce", "acc1")
    journey.account("salesforce", "acc2")
    bob = journey.customer("salesforce", "c2", email="bob@other.com", account_id="acc2")
    journey.load()
    settle(store)
    bob_uid = store.customer_uid("salesforce", "c2")

    journey.task(source="salesforce", at=ny(2026, 3, 3, 10), customer=bob, account_id="acc1")
    journey.load()
    assert store.dirty_subjects() == sorted([f"customer:{bob_uid}", "account:salesforce:acc1",
                                             "account:salesforce:acc2"])


def test_a_task_moved_off_an_account_marks_the_account_it_left(journey, store):
    journey.account("salesforce", "acc1")
    journey.account("salesforce", "acc2")
    ada = journey.customer("salesforce", "c1", account_id="acc2")
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), account_id="acc2")
    task = journey.task(source="salesforce", at=ny(2026, 3, 3, 10), account_id="acc1")
    journey.load()
    settle(store)

    task.conversation_id = conv.external_id              # associated with the case later, AccountId kept
    store.commit_batch("salesforce", "tasks", [task], cursor=None)
    assert "account:salesforce:acc1" in store.dirty_subjects()
    assert store.load_history("account:salesforce:acc1").tasks == []

    settle(store)
    task.conversation_id, task.account_id = None, "acc2"                # and back, on the other account
    store.commit_batch("salesforce", "tasks", [task], cursor=None)
    assert {"account:salesforce:acc1", "account:salesforce:acc2"} <= set(store.dirty_subjects())


def test_a_reply_on_a_conversation_of_an_account_customer_marks_the_account(journey, store):
    journey.account("salesforce", "acc1")
    ada = journey.customer("salesforce", "c1", account_id="acc1")
    stamped = journey.conversation(ada, ny(2026, 3, 2, 9), account_id="acc1")
    unstamped = journey.conversation(ada, ny(2026, 3, 2, 10))           # the case carries no account_id
    journey.load()
    for conv in (stamped, unstamped):
        settle(store)
        journey.reply(conv, ny(2026, 3, 2, 16))
        journey.load()
        assert "account:salesforce:acc1" in store.dirty_subjects(), conv.external_id


def test_a_change_in_another_source_of_an_account_customer_marks_the_account(journey, store):
    journey.account("salesforce", "acc1")
    journey.customer("salesforce", "c1", account_id="acc1", email="ada@acme.com")
    zd = journey.customer("zendesk", "z1", email="ada@acme.com")                 # the same person
    conv = journey.conversation(zd, ny(2026, 3, 2, 9))
    journey.load()

    settle(store)
    journey.reply(conv, ny(2026, 3, 2, 16))                              # a Zendesk reply, alone
    journey.load()
    assert "account:salesforce:acc1" in store.dirty_subjects()

    settle(store)
    zd.name = "Ada Lovelace"                                             # the Zendesk record itself
    journey.records.append(zd)
    journey.load()
    assert "account:salesforce:acc1" in store.dirty_subjects()

    settle(store)
    conv.subject = "Changed"                                             # a Zendesk conversation
    journey.records.append(conv)
    journey.load()
    assert "account:salesforce:acc1" in store.dirty_subjects()


def test_an_unchanged_record_marks_nothing(journey, store):
    ada = journey.customer("zendesk", "z1", account_id="acc")
    journey.account("zendesk", "acc")
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    reply = journey.reply(conv, ny(2026, 3, 2, 16))
    journey.load()
    settle(store)
    journey.records = [ada, conv, reply]
    journey.load()
    assert store.dirty_subjects() == []


def test_a_lone_reply_resolves_the_customers_neglected_lead_finding(journey, store):
    ada = journey.customer("zendesk", "z1")
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9), "Do you ship to Canada?")
    journey.load()
    rules = [NeglectedLead(NeglectedLeadOptions(target="2h"), context())]
    assert [f.stage for f in evaluate_store(store, rules, ny(2026, 3, 2, 15)).new] == ["breach"]

    journey.reply(conv, ny(2026, 3, 2, 16))                              # the next sync: the reply only
    journey.load()
    result = evaluate_store(store, rules, ny(2026, 3, 2, 16, 5))

    assert [f.rule for f in result.resolved] == ["neglected_lead"]
    assert store_findings.open_findings(store) == []


def test_a_lone_reply_resolves_an_account_level_quiet_customer_finding(journey, store):
    journey.account("salesforce", "acc1", tier="key", value=90000)
    ada = journey.customer("salesforce", "c1", account_id="acc1")
    conv = journey.conversation(ada, ny(2026, 1, 5, 9))                  # no account_id on the case
    journey.reply(conv, ny(2026, 1, 5, 10))
    journey.load()
    rules = [QuietCustomer(QuietCustomerOptions(level="account"), context())]
    assert [f.subject for f in evaluate_store(store, rules, ny(2026, 2, 10)).new] == ["account:salesforce:acc1"]

    journey.reply(conv, ny(2026, 2, 11, 10))                             # the reply only
    journey.load()
    result = evaluate_store(store, rules, ny(2026, 2, 11, 11))

    assert [f.subject for f in result.resolved] == ["account:salesforce:acc1"]
    assert store_findings.open_findings(store) == []


def test_a_call_logged_on_the_account_alone_resolves_its_quiet_customer_finding(journey, store):
    journey.account("salesforce", "acc1", tier="key", value=90000)
    ada = journey.customer("salesforce", "c1", account_id="acc1")
    conv = journey.conversation(ada, ny(2026, 1, 5, 9))
    journey.reply(conv, ny(2026, 1, 5, 10))
    journey.load()
    rules = [QuietCustomer(QuietCustomerOptions(level="account"), context())]
    assert [f.subject for f in evaluate_store(store, rules, ny(2026, 2, 10)).new] == ["account:salesforce:acc1"]

    journey.task(source="salesforce", at=ny(2026, 2, 11, 10), account_id="acc1")   # QBR call, on the account
    journey.load()
    result = evaluate_store(store, rules, ny(2026, 2, 11, 11))

    assert [f.subject for f in result.resolved] == ["account:salesforce:acc1"]
    assert store_findings.open_findings(store) == []


def test_a_deleted_reply_marks_its_conversation_and_customer_and_the_inquiry_is_unanswered_again(journey, store):
    ada = journey.customer("zendesk", "z1", account_id="acc")
    journey.account("zendesk", "acc")
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    reply = journey.reply(conv, ny(2026, 3, 2, 10))
    journey.load()
    settle(store)
    uid = store.customer_uid("zendesk", "z1")

    store.commit_batch("zendesk", "deletions", [Deletion("zendesk", reply.external_id, record_kind="message")],
                       cursor=None)

    assert store.dirty_subjects() == sorted([f"conversation:zendesk:{conv.external_id}", f"customer:{uid}",
                                             "account:zendesk:acc"])
    rule = Unanswered(UnansweredOptions(), context())
    [f] = rule.evaluate(store.load_history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 2, 14))
    assert f.stage == "breach"


def test_a_deleted_conversation_marks_its_customer_and_account(journey, store):
    ada = journey.customer("zendesk", "z1", account_id="acc")
    journey.account("zendesk", "acc")
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), account_id="acc")
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    settle(store)
    uid = store.customer_uid("zendesk", "z1")

    store.commit_batch("zendesk", "deletions", [Deletion("zendesk", conv.external_id)], cursor=None)

    assert store.dirty_subjects() == sorted([f"conversation:zendesk:{conv.external_id}", f"customer:{uid}",
                                             "account:zendesk:acc"])


def test_a_conversation_moved_to_another_customer_and_account_marks_the_old_ones_too(journey, store):
    ada = journey.customer("zendesk", "z1", email="ada@example.com", account_id="acme")
    bob = journey.customer("zendesk", "z2", email="bob@example.com", account_id="globex")
    journey.account("zendesk", "acme")
    journey.account("zendesk", "globex")
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), account_id="acme")
    journey.load()
    settle(store)
    ada_uid, bob_uid = store.customer_uid("zendesk", "z1"), store.customer_uid("zendesk", "z2")

    conv.customer_id, conv.account_id = bob.external_id, "globex"       # merged into Bob's ticket list
    journey.records.append(conv)
    journey.load()

    assert store.dirty_subjects() == sorted([
        f"conversation:zendesk:{conv.external_id}", f"customer:{ada_uid}", f"customer:{bob_uid}",
        "account:zendesk:acme", "account:zendesk:globex"])


def test_a_message_or_task_moved_elsewhere_marks_where_it_was(journey, store):
    ada = journey.customer("zendesk", "z1", email="ada@example.com", account_id="acme")
    bob = journey.customer("zendesk", "z2", email="bob@example.com")
    journey.account("zendesk", "acme")
    first = journey.conversation(ada, ny(2026, 3, 2, 9))
    second = journey.conversation(ada, ny(2026, 3, 2, 9))
    moving = journey.inbound(first, ny(2026, 3, 2, 9))
    task = journey.task(source="zendesk", at=ny(2026, 3, 2, 10), customer=ada)         # on the customer
    journey.load()
    settle(store)
    ada_uid, bob_uid = store.customer_uid("zendesk", "z1"), store.customer_uid("zendesk", "z2")

    moving.conversation_id = second.external_id            # merged into the other ticket
    store.commit_batch("zendesk", "messages", [moving], cursor=None)
    assert f"conversation:zendesk:{first.external_id}" in store.dirty_subjects()

    settle(store)
    task.customer_id = bob.external_id                     # filed on the wrong contact, moved
    store.commit_batch("zendesk", "tasks", [task], cursor=None)
    assert {f"customer:{ada_uid}", f"customer:{bob_uid}", "account:zendesk:acme"} <= set(store.dirty_subjects())


def test_a_changed_customer_or_account_record_marks_the_conversations_whose_histories_hold_it(journey, store):
    zd = journey.customer("zendesk", "z1", email="ada@example.com", account_id="acme")
    hs = journey.customer("hubspot", "h1", email="ada@example.com")           # the same person
    acme = journey.account("zendesk", "acme", tier="smb")
    ticket = journey.conversation(zd, ny(2026, 3, 2, 9))
    deal = journey.conversation(hs, ny(2026, 3, 2, 9))
    journey.load()
    settle(store)
    uid = store.customer_uid("zendesk", "z1")
    both = {f"conversation:zendesk:{ticket.external_id}", f"conversation:hubspot:{deal.external_id}"}

    hs.tier = "enterprise"                       # scope reads it: the conversations may come into scope
    store.commit_batch("hubspot", "contacts", [hs], cursor=None)
    assert both | {f"customer:{uid}"} <= set(store.dirty_subjects())

    settle(store)
    acme.tier = "enterprise"
    store.commit_batch("zendesk", "organizations", [acme], cursor=None)
    assert both | {"account:zendesk:acme"} <= set(store.dirty_subjects())


def test_a_new_record_of_an_existing_customer_marks_that_customers_conversations(journey, store):
    zd = journey.customer("zendesk", "z1", email="ada@example.com")
    ticket = journey.conversation(zd, ny(2026, 3, 2, 9))
    journey.load()
    settle(store)
    uid = store.customer_uid("zendesk", "z1")

    # a CRM connected later knows her as an enterprise contact: her tickets' histories now say so
    journey.customer("salesforce", "s1", email="ada@example.com", tier="enterprise")
    journey.load()

    assert store.customer_uid("salesforce", "s1") == uid
    assert f"conversation:zendesk:{ticket.external_id}" in store.dirty_subjects()
    assert store.load_history(f"conversation:zendesk:{ticket.external_id}").tier() == "enterprise"
