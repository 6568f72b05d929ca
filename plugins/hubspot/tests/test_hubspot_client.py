"""The client: the real hubspot-api-client against the fake, every failure one careplug error."""

from __future__ import annotations

import pytest
from careplug.errors import AuthError, FatalSourceError, RateLimitExhausted, RetriableError
from careplug.testing.fakes.hubspot import FakeHubSpot
from hubspot.crm.tickets.exceptions import ApiException

from careplug_hubspot.client import HubSpotClient, MissingScope
from careplug_hubspot.pacing import Pacer, SlidingWindow


def client(fake: FakeHubSpot, token: str | None = None, **kw) -> HubSpotClient:
    settings = dict(timeout=1.0, max_attempts=3, backoff=0.01, max_retry_wait=5.0)
    settings.update(kw)
    return HubSpotClient(token=token or fake.token, host=fake.url, source="hs",
                         pacer=Pacer(burst=1000, burst_seconds=10, search_per_second=1000), **settings)


def test_the_fake_answers_the_real_client_library_with_its_own_exception_types(fake: FakeHubSpot):
    fake.seed(5, engagements_per_ticket=0)
    api = HubSpotClient(token=fake.token, host=fake.url, source="hs",
                        pacer=Pacer(burst=10, burst_seconds=1, search_per_second=10)).hubspot.crm.tickets.search_api
    page = api.do_search(public_object_search_request={"limit": 2, "properties": ["subject"]})
    assert page.total == 5 and len(page.results) == 2 and page.paging.next.after == "2"
    with pytest.raises(ApiException) as info:
        api.do_search(public_object_search_request={"limit": 201})
    assert info.value.status == 400


def test_search_pages_are_followed_to_the_end_and_the_cap_is_a_400(fake: FakeHubSpot):
    fake.seed(450, engagements_per_ticket=0)
    c = client(fake)
    ids, after = [], None
    while True:
        page = c.search("tickets", {"limit": 200, **({"after": after} if after else {})})
        ids += [r["id"] for r in page["results"]]
        after = (page.get("paging") or {}).get("next", {}).get("after")
        if not after:
            break
    assert sorted(ids) == sorted(fake.objects["tickets"])
    with pytest.raises(FatalSourceError, match="400"):
        c.search("tickets", {"limit": 200, "after": "10000"})


def test_5xx_and_timeouts_are_retried_then_fail_as_one_retriable_error(fake: FakeHubSpot):
    c = client(fake)
    fake.inject("503", times=2)
    assert c.owners(limit=10, after=None) == {"results": []}
    fake.inject("timeout", times=1, delay=1.5)
    assert c.search("tickets", {"limit": 1})["total"] == 0     # a POST: urllib3 would not have retried it
    fake.inject("500", times=10)
    with pytest.raises(RetriableError, match="hs: search:tickets: HubSpot answered 500"):
        c.search("tickets", {"limit": 1})


def test_a_429_waits_as_told_and_a_daily_limit_ends_the_stream(fake: FakeHubSpot):
    slept: list[float] = []
    c = client(fake, sleep=slept.append)
    fake.inject("429", times=1, retry_after=2)
    c.owners(limit=10, after=None)
    assert slept == [2.0]
    fake.daily_limit = fake.daily_used
    with pytest.raises(RateLimitExhausted, match="daily"):
        c.owners(limit=10, after=None)


def test_a_retry_after_longer_than_careplug_waits_stops_cleanly(fake: FakeHubSpot):
    fake.inject("429", times=1, retry_after=600)
    with pytest.raises(RateLimitExhausted, match="longer than max_retry_wait"):
        client(fake).owners(limit=10, after=None)


def test_a_wrong_token_is_an_auth_error_that_does_not_show_the_token(fake: FakeHubSpot):
    with pytest.raises(AuthError) as info:
        client(fake, token="pat-wrong-secret").owners(limit=10, after=None)
    assert "pat-wrong-secret" not in str(info.value) and "401" in str(info.value)


def test_a_missing_scope_is_its_own_error(fake: FakeHubSpot):
    fake.threads_scope = False
    with pytest.raises(MissingScope, match="scope"):
        client(fake).get("/conversations/v3/conversations/threads", {}, endpoint="threads")


def test_a_sliding_window_waits_only_when_full():
    now = [0.0]
    waits: list[float] = []
    window = SlidingWindow(2, 10.0, clock=lambda: now[0], sleep=lambda s: (waits.append(s), now.__setitem__(0, now[0] + s)))
    window.acquire(); window.acquire()
    assert waits == []
    now[0] = 4.0
    window.acquire()
    assert waits == [6.0]


def test_pacing_keeps_a_sync_under_the_fakes_enforced_limits(fake: FakeHubSpot):
    fake.enforce_limits(burst=8, per_seconds=1.0, search_per_second=4)
    c = HubSpotClient(token=fake.token, host=fake.url, source="hs",
                      pacer=Pacer(burst=8, burst_seconds=1.0, search_per_second=4))
    for _ in range(10):
        c.search("tickets", {"limit": 1})
    for _ in range(12):
        c.owners(limit=1, after=None)
    assert fake.rate_limited == 0


def test_a_spent_daily_allowance_in_the_headers_stops_before_calling_again(fake: FakeHubSpot):
    c = client(fake)
    fake.daily_limit = fake.daily_used + 1          # this call is the last one of the day
    c.owners(limit=10, after=None)
    assert c.pacer.daily_remaining == 0
    calls = fake.total_calls()
    with pytest.raises(RateLimitExhausted, match="Daily-Remaining"):
        c.owners(limit=10, after=None)
    assert fake.total_calls() == calls


def test_few_requests_left_in_the_burst_window_make_the_pacer_wait_out_the_interval():
    now = [0.0]
    waits: list[float] = []
    pacer = Pacer(burst=100, burst_seconds=10, search_per_second=4, clock=lambda: now[0],
                  sleep=lambda s: (waits.append(s), now.__setitem__(0, now[0] + s)))
    pacer.observe({"X-HubSpot-RateLimit-Remaining": "50", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})
    pacer.before(search=False)
    assert waits == []
    pacer.observe({"X-HubSpot-RateLimit-Remaining": "1", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})
    pacer.before(search=False)
    assert waits == [10.0]
