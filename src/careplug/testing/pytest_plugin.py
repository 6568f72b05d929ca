"""careplug's pytest plugin (registered through the ``pytest11`` entry point): fixtures for plugin
authors. See ``careplug.testing``."""
