"""The Freshdesk client against the loopback fake: paging, errors, pacing."""

from __future__ import annotations

import pytest

from careplug.errors import AuthError, FatalSourceError, RateLimitExhausted, RetriableError
from careplug.plugins import Plugins

from careplug_freshdesk import plugin
from careplug_freshdesk.client import FreshdeskClient
from careplug_freshdesk.fake import FakeFreshdesk
from careplug_freshdesk.pacing import Pacer
from careplug_freshdesk.source import FreshdeskSource

KEY = "fd-key-for-client-tests"


@pytest.fixture
def fake():
    with FakeFreshdesk(api_key=KEY) as f:
        yield f


def client(fake: FakeFreshdesk, **kw) -> FreshdeskClient:
    return FreshdeskClient(fake.url, kw.pop("key", KEY), source="desk", timeout=0.5, backoff=0.01,
                           max_attempts=3, max_retry_wait=2.0, **kw)


def test_get_all_follows_the_link_header_to_the_last_page(fake) -> None:
    tickets = {fake.create_ticket(f"t{i}", replies=0) for i in range(7)}
    got = client(fake).get_all("/api/v2/tickets", {"per_page": 3, "order_by": "updated_at"})
    assert {t["id"] for t in got} == tickets
    assert fake.calls["tickets.list"] == 3


def test_a_wrong_key_is_an_auth_error_that_does_not_show_the_key(fake) -> None:
    with pytest.raises(AuthError) as err:
        client(fake, key="wrong-key-123").request("GET", "/api/v2/tickets", stream="tickets")
    assert "desk:tickets" in str(err.value) and "wrong-key-123" not in str(err.value)


def test_a_page_beyond_300_is_a_fatal_error_naming_the_endpoint(fake) -> None:
    with pytest.raises(FatalSourceError, match="/api/v2/tickets: HTTP 400"):
        client(fake).request("GET", "/api/v2/tickets", params={"page": 301})


def test_5xx_until_the_attempts_run_out_is_a_retriable_error(fake) -> None:
    fake.inject("503", times=3)
    with pytest.raises(RetriableError, match="failed 3 times, last: HTTP 503"):
        client(fake).request("GET", "/api/v2/tickets")


def test_a_retry_after_longer_than_max_retry_wait_stops_the_stream(fake) -> None:
    fake.inject("429", retry_after=30)
    with pytest.raises(RateLimitExhausted, match="rate limited for 30s"):
        client(fake).request("GET", "/api/v2/tickets")


def test_the_pacer_waits_once_the_window_is_full() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(2, 10.0, clock=lambda: now[0], sleep=sleep)
    assert [pacer.wait(), pacer.wait()] == [0.0, 0.0]
    now[0] = 4.0
    assert pacer.wait() == pytest.approx(6.0) and slept == [pytest.approx(6.0)]


def test_the_plugin_registers_the_freshdesk_source() -> None:
    plugins = Plugins(load_entry_points=False, builtins=())
    plugins.register(plugin, name="careplug-freshdesk")
    assert plugins.sources() == {"freshdesk": FreshdeskSource}
