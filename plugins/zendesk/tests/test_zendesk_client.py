"""The client: zenpy over careplug's transport — base URL, bounded Retry-After, retries, clear errors;
and the fake, driven by plain zenpy, behaving as Zendesk does for zenpy."""

from __future__ import annotations

import pytest
from careplug.errors import AuthError, RateLimitExhausted, RetriableError
from careplug.testing.fakes.zendesk import FakeZendesk
from zenpy import Zenpy
from zenpy.lib.exception import APIException, RecordNotFoundException

from careplug_zendesk.client import ZendeskClient, endpoint_name
from careplug_zendesk.pacing import Pacer, SlidingWindow

TOKEN = "zd-client-test-secret"


@pytest.fixture
def fake():
    f = FakeZendesk(email="bot@acme.example", token=TOKEN)
    f.seed(25, comments_per_ticket=3, agents=3)
    with f:
        yield f


def client(fake: FakeZendesk, **kw) -> ZendeskClient:
    settings = dict(subdomain="acme", source="support", base_url=fake.url, email=fake.email, token=fake.token,
                    timeout=1.0, max_attempts=3, backoff=0.01, max_retry_wait=2.0,
                    pacer=Pacer(per_minute=10_000, incremental_per_minute=10_000))
    settings.update(kw)
    return ZendeskClient(**settings)


def test_requests_go_to_the_base_url_and_pages_are_the_documented_json(fake):
    page = client(fake).export_tickets(start_time=0, cursor=None, per_page=10)
    assert len(page["tickets"]) == 10 and page["end_of_stream"] is False and page["after_cursor"]
    assert fake.calls["incremental.tickets"] == 1


def test_a_429_within_the_bound_is_waited_out_and_retried(fake):
    fake.inject("429", endpoint="incremental.tickets", retry_after=1)
    slept: list[float] = []
    page = client(fake, sleep=slept.append).export_tickets(start_time=0, cursor=None, per_page=1000)
    assert slept == [1.0], "the retry waits exactly the Retry-After"
    assert len(page["tickets"]) == 25 and fake.calls["incremental.tickets"] == 2


def test_a_retry_after_longer_than_the_bound_stops_at_once_with_rate_limit_exhausted(fake):
    fake.inject("429", endpoint="incremental.tickets", retry_after=600)
    slept: list[float] = []
    with pytest.raises(RateLimitExhausted) as err:
        client(fake, sleep=slept.append).export_tickets(start_time=0, cursor=None, per_page=1000, stream="tickets")
    assert slept == [], "nothing waited: neither careplug nor zenpy (which never saw the 429)"
    assert "support:tickets" in str(err.value) and "incremental/tickets/cursor" in str(err.value)
    assert "600" in str(err.value) and fake.calls["incremental.tickets"] == 1


def test_5xx_answers_are_retried_then_fail_as_retriable_naming_the_endpoint(fake):
    fake.inject("503", endpoint="incremental.ticket_events", times=100)
    with pytest.raises(RetriableError) as err:
        client(fake).export_ticket_events(start_time=0, per_page=1000, stream="ticket_events")
    assert fake.calls["incremental.ticket_events"] == 3
    assert "support:ticket_events" in str(err.value) and "503" in str(err.value)


def test_a_timeout_is_retried(fake):
    fake.inject("timeout", endpoint="incremental.users", delay=1.5)
    page = client(fake).export_users(start_time=0, cursor=None, per_page=1000)
    assert len(page["users"]) == len(fake.users) and fake.calls["incremental.users"] == 2


def test_wrong_credentials_are_an_auth_error_without_the_secret(fake):
    with pytest.raises(AuthError) as err:
        client(fake, token="wrong-" + TOKEN).export_tickets(start_time=0, cursor=None, per_page=10)
    assert TOKEN not in str(err.value) and "401" in str(err.value)


def test_a_missing_record_stays_zenpys_record_not_found(fake):
    c = client(fake)
    with pytest.raises(RecordNotFoundException):
        c.comments(1)


def test_endpoint_names_hide_ids():
    assert endpoint_name("/api/v2/tickets/123/comments.json") == "tickets/{id}/comments"
    assert endpoint_name("/api/v2/job_statuses/8b726e606741012ffc2d782bcb7848fe.json") == "job_statuses/{id}"


def test_a_sliding_window_sleeps_only_when_full():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    window = SlidingWindow(2, 60, clock=lambda: now[0], sleep=sleep)
    window.acquire(); window.acquire()
    assert slept == []
    window.acquire()
    assert slept == [60.0]


# --- the fake, driven by plain zenpy (no careplug code in between; zenpy's own netloc override) -------


def test_zenpy_follows_the_cursor_export_to_its_end(fake, monkeypatch):
    """zenpy's own generator follows ``after_url`` until ``end_of_stream``."""
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", f"127.0.0.1:{fake.port}")
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    zenpy = Zenpy(subdomain="acme", email=fake.email, token=TOKEN)
    ids = [t.id for t in zenpy.tickets.incremental(start_time=0, per_page=7)]
    assert sorted(ids) == sorted(fake.tickets) and fake.calls["incremental.tickets"] == 4


def test_zenpy_reads_every_satisfaction_rating_and_agent_through_cursor_pages(fake, monkeypatch):
    for i in range(130):
        fake.add_user(name=f"agent {i}", role="agent")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", f"127.0.0.1:{fake.port}")
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    zenpy = Zenpy(subdomain="acme", email=fake.email, token=TOKEN)
    agents = [u.id for u in zenpy.users(role="agent")]
    assert sorted(agents) == sorted(u["id"] for u in fake.users.values() if u["role"] == "agent")
    assert fake.calls["users.list"] == 2


def test_the_fake_answers_errors_that_zenpy_raises_as_its_own_types(fake, monkeypatch):
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", f"127.0.0.1:{fake.port}")
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    with pytest.raises(RecordNotFoundException):
        Zenpy(subdomain="acme", email=fake.email, token=TOKEN).tickets(id=1)
    with pytest.raises(APIException):
        Zenpy(subdomain="acme", email=fake.email, token="wrong").tickets(id=next(iter(fake.tickets)))


def test_links_naming_the_accounts_host_are_mapped_to_the_base_url(monkeypatch):
    f = FakeZendesk(email="bot@acme.example", token=TOKEN, public_links=True)
    f.seed(5, comments_per_ticket=1, agents=120)
    with f:
        agents = client(f).users_with_role("agent")        # two pages: links.next names acme.zendesk.com
        assert len(agents) == 119 and f.calls["users.list"] == 2


def test_an_oauth_token_is_sent_as_a_bearer_token():
    f = FakeZendesk(email="bot@acme.example", token=TOKEN, oauth_token="oauth-secret")
    f.seed(3, comments_per_ticket=1, agents=2)
    with f:
        c = client(f, email=None, token=None, oauth_token="oauth-secret")
        assert len(c.export_tickets(start_time=0, cursor=None, per_page=10)["tickets"]) == 3


def test_when_zendesk_says_no_requests_are_left_the_client_waits_instead_of_meeting_a_429(fake):
    fake.rate_limit("api", 4, 2.0)      # an account minute, scaled down, that careplug's own window does not know
    c = client(fake)                     # paced at 10,000 a minute: only Zendesk's headers can hold it back
    for tid in sorted(fake.tickets)[:9]:
        c.comments(tid)
    assert fake.rate_limited == 0 and fake.calls["tickets.comments"] == 9
