"""careplug-hubspot passes the adapter conformance suite against the loopback HubSpot fake."""

from __future__ import annotations

from careplug.testing.conformance import AdapterConformance

from careplug_hubspot.harness import HubSpotHarness


class TestHubSpotConformance(AdapterConformance):
    harness = HubSpotHarness
    seed_conversations = 10
