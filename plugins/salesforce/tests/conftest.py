"""Shared fixtures of the Salesforce adapter's tests."""

from __future__ import annotations

import pytest

from careplug_salesforce.harness import SalesforceHarness


@pytest.fixture
def org():
    """A loopback Salesforce org (the real simple-salesforce client against the fake) seeded with 10 cases."""
    h = SalesforceHarness()
    with h:
        h.seed(10)
        yield h
