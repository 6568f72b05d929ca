"""The Freshdesk example adapter passes careplug's adapter conformance suite."""

from careplug.testing.conformance import AdapterConformance

from careplug_freshdesk.harness import FreshdeskHarness


class TestFreshdeskConformance(AdapterConformance):
    harness = FreshdeskHarness
