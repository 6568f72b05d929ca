"""The built-in ``files`` source passes the adapter conformance suite, from JSON Lines and CSV."""

from careplug.testing.conformance import AdapterConformance
from careplug.testing.files_harness import CsvFilesHarness, FilesHarness


class TestFilesSourceConformance(AdapterConformance):
    harness = FilesHarness


class TestCsvFilesSourceConformance(AdapterConformance):
    harness = CsvFilesHarness
