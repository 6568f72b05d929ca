"""The conformance suite pointed at the two broken adapters. Not collected by the normal test run
(the file name does not start with ``test_``); ``test_broken_adapter.py`` runs it in a subprocess."""

from broken_adapter import BrokenHarness
from sloppy_adapter import SloppyHarness

from careplug.testing.conformance import conformance_suite

TestBrokenAdapter = conformance_suite(BrokenHarness)
TestSloppyAdapter = conformance_suite(SloppyHarness)
