"""The Salesforce source's reading contract: describe-driven field lists, exact (SystemModstamp, Id)
cursors across ties and pages, the Bulk API 2.0 first sync, sessions, and the errors it raises."""

from __future__ import annotations

import logging
import os

import pytest
from careplug.errors import AuthError, FatalSourceError
from careplug.model import Checkpoint, Conversation, Deletion, Quarantined
from careplug.store import Store
from careplug.sync import sync_source
from careplug.testing.fakes.salesforce import FakeSalesforce

from careplug_salesforce.harness import SalesforceHarness
from careplug_salesforce.source import SalesforceOptions


def items(source, stream, cursor=None):
    return list(source.fetch(stream, cursor))


def test_a_field_the_org_lacks_is_left_out_of_the_query_not_fatal(org, caplog):
    caplog.set_level(logging.INFO)
    org.fake.missing_fields.add(("Case", "Origin"))
    got = [i for i in items(org.make_source(), "cases") if isinstance(i, Conversation)]
    assert len(got) == len(org.ids("conversation")) and all(c.channel.value == "other" for c in got)
    assert "Case.Origin is not in this org" in caplog.text


def test_a_missing_cursor_field_is_a_clear_fatal_error(org):
    org.fake.missing_fields.add(("Case", "SystemModstamp"))
    with pytest.raises(FatalSourceError, match="Case.SystemModstamp is not readable"):
        items(org.make_source(), "cases")


def test_every_selected_object_is_described_in_one_call(org):
    source = org.make_source()
    for stream in source.selected_streams():
        items(source, stream)
    assert org.fake.calls["composite.batch"] == 1 and org.fake.calls["describe"] == 0


def test_rows_sharing_a_modstamp_across_pages_are_neither_lost_nor_repeated():
    with SalesforceHarness(fake=FakeSalesforce()) as h:
        stamp = h.fake.tick()
        for i in range(450):                       # a data load: 450 cases, one millisecond
            h.fake.insert("Case", {"Subject": f"c{i}"}, at=stamp)
        source = h.make_source(batch_size=200, streams=["cases"])
        first = items(source, "cases")
        checkpoints = [i for i in first if isinstance(i, Checkpoint)]
        assert len(checkpoints) == 3 and len({c.cursor["id"] for c in checkpoints}) == 3
        cases = [i.external_id for i in first if isinstance(i, Conversation)]
        assert len(cases) == len(set(cases)) == 450
        # resume from the middle checkpoint: exactly the rest, though every row has the same stamp
        rest = [i.external_id for i in items(h.make_source(batch_size=200), "cases", checkpoints[0].cursor)
                if isinstance(i, Conversation)]
        assert rest == cases[200:]
        assert [i for i in items(h.make_source(), "cases", checkpoints[-1].cursor)] == []


def test_a_large_first_sync_runs_as_a_bulk_2_job_and_stores_what_soql_would(org, tmp_path):
    bulk_store, soql_store = Store(str(tmp_path / "bulk.db")), Store(str(tmp_path / "soql.db"))
    org.reset_calls()
    bulk = sync_source(bulk_store, org.make_source(bulk_threshold=5, streams=["cases", "emails"]))
    assert bulk.ok and org.fake.calls["bulk.create"] == 2 and org.fake.calls["queryMore"] == 0
    sync_source(soql_store, org.make_source(streams=["cases", "emails"]))
    assert bulk_store.snapshot() == soql_store.snapshot()
    assert bulk_store.cursors("crm") == soql_store.cursors("crm")
    org.touch({sorted(org.ids("conversation"))[0]})
    org.reset_calls()
    again = sync_source(bulk_store, org.make_source(bulk_threshold=5, streams=["cases"]))
    assert again.read == 1 and org.fake.calls["bulk.create"] == 0      # incremental syncs use SOQL


def test_deleted_and_merged_cases_come_as_deletions(org):
    loser, winner, gone = sorted(org.ids("conversation"))[:3]
    cursor = [i for i in items(org.make_source(), "cases") if isinstance(i, Checkpoint)][-1].cursor
    org.merge(loser, winner)
    org.delete(gone)
    deletions = {d.external_id: d for d in items(org.make_source(), "cases", cursor) if isinstance(d, Deletion)}
    assert deletions[loser].merged_into == winner and deletions[gone].merged_into is None


def test_a_malformed_case_is_quarantined_with_the_reason(org):
    bad = sorted(org.ids("conversation"))[0]
    org.corrupt(bad)
    q = [i for i in items(org.make_source(), "cases") if isinstance(i, Quarantined)]
    assert [x.external_id for x in q] == [bad] and "CreatedDate is not a Salesforce datetime" in q[0].reason


def test_an_expired_session_is_renewed_by_logging_in_again(org):
    source = org.make_source()
    items(source, "users")
    org.fake.expire_session()
    assert [i for i in items(source, "accounts") if not isinstance(i, Checkpoint)]
    assert org.fake.logins == 2


def test_an_expired_bare_session_is_an_auth_error_that_says_what_to_do(org):
    os.environ["CAREPLUG_TEST_SF_SESSION"] = next(iter(org.fake.sessions))
    try:
        source = org.make_source(auth="session", session_id_env="CAREPLUG_TEST_SF_SESSION")
        items(source, "users")
        org.fake.expire_session()
        with pytest.raises(AuthError, match="configure a login flow"):
            items(source, "accounts")
    finally:
        os.environ.pop("CAREPLUG_TEST_SF_SESSION")


def test_a_wrong_password_is_an_auth_error_without_the_password(org):
    os.environ["CAREPLUG_TEST_SF_WRONG"] = "not-the-password"
    try:
        with pytest.raises(AuthError) as err:
            items(org.make_source(password_env="CAREPLUG_TEST_SF_WRONG"), "users")
        assert "INVALID_LOGIN" in str(err.value) and "not-the-password" not in str(err.value)
    finally:
        os.environ.pop("CAREPLUG_TEST_SF_WRONG")


def test_the_jwt_bearer_flow_logs_in_with_a_private_key(org, tmp_path):
    pytest.importorskip("jwt")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    os.environ["CAREPLUG_TEST_SF_CONSUMER_KEY"] = "3MVG9fake"
    try:
        source = org.make_source(auth="jwt", consumer_key_env="CAREPLUG_TEST_SF_CONSUMER_KEY",
                                 private_key_file=str(tmp_path / "key.pem"))
        assert [i for i in items(source, "users") if not isinstance(i, Checkpoint)]
        assert org.fake.calls["login.oauth2"] == 1
    finally:
        os.environ.pop("CAREPLUG_TEST_SF_CONSUMER_KEY")


def test_options_refuse_plain_http_to_a_remote_host_and_secrets_as_env_names():
    with pytest.raises(ValueError, match="loopback"):
        SalesforceOptions(instance_url="http://acme.my.salesforce.com")
    with pytest.raises(ValueError, match="environment variable"):
        SalesforceOptions(password_env="hunter2!")
    with pytest.raises(ValueError, match="instance_url"):
        SalesforceOptions(auth="session")


def test_an_expired_query_locator_is_queried_again_after_the_last_row_read():
    with SalesforceHarness(fake=FakeSalesforce()) as h:
        stamp = h.fake.tick()
        for i in range(700):
            h.fake.insert("Case", {"Subject": f"c{i}"}, at=stamp)
        source = h.make_source(batch_size=200)
        seen = []
        for item in source.fetch("cases", None):
            if isinstance(item, Conversation):
                seen.append(item.external_id)
                if len(seen) == 250:
                    h.fake.locators.clear()          # Salesforce dropped the cursor (15 minutes idle)
        assert len(seen) == len(set(seen)) == 700
        assert h.fake.calls["queryAll"] == 2


def test_a_login_refused_for_exhausted_limits_stops_cleanly_not_as_bad_credentials(org):
    from careplug.errors import RateLimitExhausted

    org.fake.refuse_logins = "REQUEST_LIMIT_EXCEEDED"
    with pytest.raises(RateLimitExhausted, match="REQUEST_LIMIT_EXCEEDED"):
        items(org.make_source(), "users")


def test_a_call_logged_on_an_account_reaches_the_accounts_history_and_ends_its_quiet_spell(tmp_path):
    # WhatId = the Account, no WhoId (Salesforce fills AccountId from WhatId): a Task on the account,
    # naming no contact nor case, in the account's history and no one else's
    from datetime import timedelta

    from careplug.model import Task
    from careplug.rules.quiet_customer import QuietCustomer, QuietCustomerOptions

    with SalesforceHarness(fake=FakeSalesforce()) as h:
        acc = h.fake.insert("Account", {"Name": "Acme", "Tier__c": "key"})
        contact = h.fake.insert("Contact", {"LastName": "Lovelace", "Email": "ada@acme.example", "AccountId": acc})
        store = Store(str(tmp_path / "care.db"))
        sync_source(store, h.make_source(streams=["accounts", "contacts", "tasks"]))
        store.mark_evaluated({s: None for s in store.dirty_subjects()}, h.fake.clock)
        rule = QuietCustomer(QuietCustomerOptions(level="account", after="30d"))
        when = h.fake.clock + timedelta(days=25)     # 25 days after the account was first seen: past 80 %
        [warning] = rule.evaluate(store.load_history(f"account:crm:{acc}"), when)
        assert warning.stage == "warning"

        five_days = 5 * 24 * 3600 * 1000
        called = h.fake.insert("Task", {"Subject": "QBR call", "WhatId": acc, "AccountId": acc,
                                        "TaskSubtype": "Call", "Status": "Completed"}, at=h.fake.tick(five_days))
        sync_source(store, h.make_source(streams=["accounts", "contacts", "tasks"]))

        assert store.dirty_subjects() == [f"account:crm:{acc}"]
        hist = store.load_history(f"account:crm:{acc}")
        [task] = hist.tasks
        assert isinstance(task, Task) and task.external_id == called and task.done and task.type == "call"
        assert (task.account_id, task.customer_id, task.conversation_id) == (acc, None, None)
        assert store.load_history(f"customer:{store.customer_uid('crm', contact)}").tasks == []
        assert rule.evaluate(hist, when) == []       # 20 days after the call


def test_a_draft_email_on_a_case_is_not_an_agent_reply_until_it_is_sent(tmp_path):
    from careplug.model import Direction, Message
    with SalesforceHarness(fake=FakeSalesforce()) as h:
        contact = h.fake.insert("Contact", {"FirstName": "Ann", "LastName": "Lee", "Email": "ann@example.com"})
        case = h.fake.insert("Case", {"Subject": "Broken", "Origin": "Email", "ContactId": contact})
        h.fake.insert("EmailMessage", {"ParentId": case, "Incoming": True, "Status": "0", "TextBody": "Help!",
                                       "MessageDate": h.fake.tick()})
        # an agent starts a reply and saves it: EmailMessage.Status '5' (Draft), nothing was sent
        draft = h.fake.insert("EmailMessage", {"ParentId": case, "Incoming": False, "Status": "5",
                                               "TextBody": "Dear Ann, (unfinished)", "MessageDate": h.fake.tick()})
        got = [i for i in h.make_source(streams=["emails"]).fetch("emails", None) if isinstance(i, Message)]
        assert [m.direction for m in got] == [Direction.INBOUND], "a draft is no reply"
        store = Store(str(tmp_path / "s.db"))
        assert sync_source(store, h.make_source(streams=["emails"])).ok
        assert store.get("crm", "message", draft) is None
        h.fake.update("EmailMessage", draft, {"Status": "3"})          # sent: Salesforce stamps it again
        assert sync_source(store, h.make_source(streams=["emails"])).ok
        sent = store.get("crm", "message", draft)
        assert isinstance(sent, Message) and sent.direction is Direction.OUTBOUND
