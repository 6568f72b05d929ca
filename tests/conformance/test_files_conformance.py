"""The built-in ``files`` source passes the adapter conformance suite."""

from careplug.testing.conformance import AdapterConformance
from careplug.testing.files_harness import FilesHarness


class TestFilesSourceConformance(AdapterConformance):
    harness = FilesHarness
