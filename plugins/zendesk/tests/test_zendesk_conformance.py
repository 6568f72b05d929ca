"""careplug-zendesk passes the adapter conformance suite against the loopback Zendesk fake."""

from __future__ import annotations

from careplug.testing.conformance import AdapterConformance

from careplug_zendesk.harness import ZendeskHarness


class TestZendeskConformance(AdapterConformance):
    harness = ZendeskHarness
    seed_conversations = 10
