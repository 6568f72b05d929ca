"""The loopback Salesforce fake, driven by the real simple-salesforce over HTTP: it answers what the
library expects (pagination followed to the end, errors raised as the library's own exception types)."""

from __future__ import annotations

import pytest
import requests
from careplug.testing.fakes.salesforce import FakeSalesforce
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceMalformedRequest, SalesforceRefusedRequest

from careplug_salesforce.client import LoopbackAdapter


@pytest.fixture
def fake():
    with FakeSalesforce() as f:
        for i in range(4500):
            f.insert("Contact", {"LastName": f"Person {i}", "Email": f"p{i}@example.com"})
        yield f


def client(fake: FakeSalesforce, session_id: str | None = None) -> Salesforce:
    session = requests.Session()
    session.mount("https://", LoopbackAdapter(fake.url))
    return Salesforce(instance_url=fake.url, session_id=session_id or next(iter(fake.sessions)), session=session)


def test_query_all_iter_follows_next_records_url_to_the_end_in_batches_of_2000(fake):
    sf = client(fake)
    rows = list(sf.query_all_iter("SELECT Id, Email FROM Contact ORDER BY Id", include_deleted=True))
    assert len(rows) == 4500 and len({r["Id"] for r in rows}) == 4500
    assert rows[0]["attributes"]["type"] == "Contact" and rows[0]["attributes"]["url"].endswith(rows[0]["Id"])
    assert fake.calls["queryAll"] == 1 and fake.calls["queryMore"] == 2     # 2,000 + 2,000 + 500


def test_the_batch_size_header_sets_the_page_and_is_clamped_to_200(fake):
    sf = client(fake)
    first = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=50"})
    assert first["totalSize"] == 4500 and len(first["records"]) == 200 and not first["done"]
    assert first["nextRecordsUrl"].startswith("/services/data/v")


def test_query_hides_deleted_rows_and_query_all_shows_them(fake):
    sf = client(fake)
    victim = sorted(fake.objects["Contact"])[0]
    fake.delete("Contact", victim)
    soql = f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{victim}'"
    assert sf.query(soql)["totalSize"] == 0
    assert sf.query_all(soql, include_deleted=True)["records"][0]["IsDeleted"] is True


def test_cursor_predicate_orders_ties_by_id(fake):
    sf = client(fake)
    rows = sf.query_all("SELECT Id, SystemModstamp FROM Contact ORDER BY SystemModstamp, Id LIMIT 3")["records"]
    ts = rows[0]["SystemModstamp"].replace("+0000", "Z")
    after = sf.query_all(f"SELECT Id FROM Contact WHERE (SystemModstamp > {ts} OR (SystemModstamp = {ts} AND "
                         f"Id > '{rows[0]['Id']}')) ORDER BY SystemModstamp, Id LIMIT 2")["records"]
    assert [r["Id"] for r in after] == [rows[1]["Id"], rows[2]["Id"]]


def test_errors_come_as_the_librarys_exception_types_with_salesforce_bodies(fake):
    sf = client(fake)
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.query("SELECT Nope__c FROM Contact")
    assert bad.value.content[0]["errorCode"] == "INVALID_FIELD"
    fake.daily_limit = fake.api_used
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT Id FROM Contact")
    assert refused.value.status == 403 and refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    fake.expire_session()
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM Contact")
    assert expired.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_every_answer_reports_api_usage_which_the_library_parses(fake):
    sf = client(fake)
    sf.query("SELECT Id FROM Contact LIMIT 1")
    assert sf.api_usage["api-usage"].used == fake.api_used and sf.api_usage["api-usage"].total == fake.daily_limit


def test_password_login_and_renewal_after_an_expired_session(fake):
    session = requests.Session()
    session.mount("https://", LoopbackAdapter(fake.url))
    sf = Salesforce(username=fake.username, password=fake.password, security_token=fake.security_token,
                    session=session)
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 4500
    fake.expire_session()
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 4500     # logged in again by itself
    assert fake.logins == 2


def test_collections_create_update_and_upsert_answer_per_record_in_order(fake):
    sf = client(fake)
    case = fake.insert("Case", {"Subject": "Help"})
    created = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Task"}, "Subject": "a", "WhatId": case},
        {"attributes": {"type": "Task"}, "Subject": "b", "WhatId": "500000000000000BAD"}]})
    assert created[0]["success"] and not created[1]["success"]
    assert created[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Task"}, "Id": created[0]["id"], "Status": "Completed"}]})
    assert fake.objects["Task"][created[0]["id"]]["IsClosed"] is True
    body = {"records": [{"attributes": {"type": "Task"}, "Careplug_Key__c": "careplug:k1", "Subject": "x"}]}
    first = sf.restful("composite/sobjects/Task/Careplug_Key__c", method="PATCH", json=body)
    again = sf.restful("composite/sobjects/Task/Careplug_Key__c", method="PATCH", json=body)
    assert first[0]["created"] is True and again[0]["created"] is False and first[0]["id"] == again[0]["id"]
    too_many = {"records": [{"attributes": {"type": "Task"}, "Subject": str(i)} for i in range(201)]}
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite/sobjects", method="POST", json=too_many)


def test_a_bulk_2_query_job_runs_through_the_librarys_bulk2_client(fake):
    sf = client(fake)
    rows = []
    for page in sf.bulk2.Contact.query_all("SELECT Id, Email FROM Contact", max_records=2000, wait=0):
        rows += page.strip().splitlines()[1:]
    assert len(rows) == 4500
    assert fake.calls["bulk.create"] == 1 and fake.calls["bulk.results"] == 3
