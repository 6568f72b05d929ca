"""The conformance suite pointed at the broken adapter. Not collected by the normal test run (the
file name does not start with ``test_``); ``test_broken_adapter.py`` runs it in a subprocess."""

from broken_adapter import BrokenHarness

from careplug.testing.conformance import conformance_suite

TestBrokenAdapter = conformance_suite(BrokenHarness)
