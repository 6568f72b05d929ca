"""quiet_customer: key customers and accounts nobody reached out to for too long."""

from __future__ import annotations

from datetime import timezone

import pytest
from pydantic import ValidationError

from careplug.rules.quiet_customer import QuietCustomer, QuietCustomerOptions

from conftest import context, ny


def rule(**options) -> QuietCustomer:
    return QuietCustomer(QuietCustomerOptions(**options), context())


def test_a_key_account_without_a_touch_for_thirty_days_is_quiet(journey):
    acme = journey.account("salesforce", "acc1", tier="key", owner="olga", value=90000)
    ada = journey.customer("salesforce", "c1", account_id="acc1")
    conv = journey.conversation(ada, ny(2026, 1, 5, 9), account_id="acc1")
    last = journey.reply(conv, ny(2026, 1, 5, 10))
    hist = journey.history("account:salesforce:acc1")
    r = rule(level="account", after="30d", tiers=["key"], min_value=50000)
    assert r.evaluate(hist, ny(2026, 1, 25, 10)) == []
    # warning at 80 % = 24 days; breach at 30 days (wall time, across the weekend and holidays)
    [w] = r.evaluate(hist, ny(2026, 1, 29, 11))
    assert w.stage == "warning" and w.due_at == ny(2026, 2, 4, 10).astimezone(timezone.utc)
    [b] = r.evaluate(hist, ny(2026, 2, 5, 9))
    assert b.stage == "breach" and b.owner == "olga" and b.account_id == acme.external_id
    assert b.occurrence == f"quiet-since-{int(last.created_at.timestamp())}"


def test_a_touch_in_another_source_ends_the_quiet_spell(journey):
    zd = journey.customer("zendesk", "z1", email="ada@example.com", tier="key")
    hs = journey.customer("hubspot", "h1", email="ada@example.com")
    conv = journey.conversation(zd, ny(2026, 1, 5, 9))
    journey.reply(conv, ny(2026, 1, 5, 10))
    journey.task(source="hubspot", at=ny(2026, 2, 1, 10), customer=hs, type="call")
    journey.load()
    uid = journey.store.customer_uid("zendesk", "z1")
    [f] = rule(tiers=["key"]).evaluate(journey.history(f"customer:{uid}"), ny(2026, 3, 10))
    assert f.started_at == ny(2026, 2, 1, 10).astimezone(timezone.utc)


def test_customers_outside_the_filter_are_ignored(journey):
    ada = journey.customer(tier="smb")
    journey.conversation(ada, ny(2026, 1, 5, 9))
    journey.load()
    uid = journey.store.customer_uid("zendesk", ada.external_id)
    assert rule(tiers=["key"]).evaluate(journey.history(f"customer:{uid}"), ny(2026, 6, 1)) == []
    assert rule(level="account").evaluate(journey.history(f"customer:{uid}"), ny(2026, 6, 1)) == []


def test_scope_filters_customers_by_source_tier_and_tags(journey):
    ada = journey.customer(tier="key", tags=["vip"])
    journey.conversation(ada, ny(2026, 1, 5, 9))
    journey.load()
    uid = journey.store.customer_uid("zendesk", ada.external_id)
    hist = journey.history(f"customer:{uid}")
    assert len(rule().evaluate(hist, ny(2026, 6, 1))) == 1
    assert len(rule(scope={"sources": ["zendesk"], "tiers": ["key"], "tags": ["vip"]}).evaluate(hist, ny(2026, 6, 1))) == 1
    assert rule(scope={"sources": ["hubspot"]}).evaluate(hist, ny(2026, 6, 1)) == []
    assert rule(scope={"tiers": ["enterprise"]}).evaluate(hist, ny(2026, 6, 1)) == []
    assert rule(scope={"exclude_tags": ["vip"]}).evaluate(hist, ny(2026, 6, 1)) == []


def test_a_conversation_filter_in_its_scope_is_refused_with_a_clear_message():
    with pytest.raises(ValidationError, match="do not apply to quiet_customer"):
        QuietCustomerOptions(scope={"channels": ["chat"]})


def test_tiers_tags_and_scope_match_in_any_case_as_crms_write_them(journey):
    ada = journey.customer(tier="Enterprise", tags=["VIP"])
    journey.conversation(ada, ny(2026, 1, 5, 9))
    journey.load()
    uid = journey.store.customer_uid("zendesk", ada.external_id)
    hist = journey.history(f"customer:{uid}")
    assert len(rule(tiers=["enterprise"], tags=["vip"]).evaluate(hist, ny(2026, 6, 1))) == 1
    assert len(rule(scope={"tiers": ["ENTERPRISE"], "tags": ["Vip"], "sources": ["Zendesk"]}).evaluate(hist, ny(2026, 6, 1))) == 1
    assert rule(scope={"exclude_tags": ["vip"]}).evaluate(hist, ny(2026, 6, 1)) == []


def test_a_call_logged_on_the_account_ends_its_quiet_spell(journey):
    # a Salesforce Task whose WhatId is the account and that names no contact (WhoId empty): a
    # touch of the account, not of any one of its people
    journey.account("salesforce", "acc1", tier="key", value=90000)
    ada = journey.customer("salesforce", "c1", account_id="acc1")
    conv = journey.conversation(ada, ny(2026, 1, 5, 9), account_id="acc1")
    journey.reply(conv, ny(2026, 1, 5, 10))
    journey.task(source="salesforce", id="k1", subject="QBR call", account_id="acc1", at=ny(2026, 1, 20, 10))
    hist = journey.history("account:salesforce:acc1")
    assert [t.external_id for t in hist.tasks] == ["k1"]
    # last touch 20 Jan 10:00 -> warning (80 % of 30 d) 13 Feb 10:00: nothing yet on 10 Feb
    assert rule(level="account", after="30d").evaluate(hist, ny(2026, 2, 10)) == []
    [w] = rule(level="account", after="30d").evaluate(hist, ny(2026, 2, 13, 11))
    assert w.stage == "warning" and w.occurrence == f"quiet-since-{int(ny(2026, 1, 20, 10).timestamp())}"

    # Ada's own history does not hold it: the call names the account, not her; her quiet spell
    # (since the reply of 5 Jan) goes on
    uid = journey.store.customer_uid("salesforce", "c1")
    mine = journey.history(f"customer:{uid}")
    assert mine.tasks == []
    [w] = rule(level="customer", after="30d").evaluate(mine, ny(2026, 2, 10))
    assert w.stage == "breach" and w.occurrence == f"quiet-since-{int(ny(2026, 1, 5, 10).timestamp())}"
