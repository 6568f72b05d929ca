from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from careplug.testing.fakes.hubspot import FakeHubSpot

from careplug_hubspot.source import HubSpotOptions, HubSpotSource

TOKEN_ENV = "CAREPLUG_TEST_HS_TOKEN"


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as f:
        os.environ[TOKEN_ENV] = f.token
        yield f
    os.environ.pop(TOKEN_ENV, None)


@pytest.fixture
def make_source(fake: FakeHubSpot):
    def make(**options) -> HubSpotSource:
        settings = dict(token_env=TOKEN_ENV, host=fake.url, timeout=1.0, backoff=0.01, max_retry_wait=5.0,
                        max_attempts=3, burst_limit=10_000, search_per_second=10_000)
        settings.update(options)
        return HubSpotSource("hubspot", HubSpotOptions(**settings))
    return make
