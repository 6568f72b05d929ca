"""careplug-salesforce passes the adapter conformance suite against the loopback Salesforce fake."""

from __future__ import annotations

from careplug.testing.conformance import AdapterConformance

from careplug_salesforce.harness import SalesforceHarness


class TestSalesforceConformance(AdapterConformance):
    harness = SalesforceHarness
    seed_conversations = 8
