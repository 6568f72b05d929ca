"""The plugin module careplug loads through the ``careplug`` entry point: it registers the source,
exactly as any third-party adapter would."""

from __future__ import annotations

import careplug

from .source import SalesforceSource


@careplug.hookimpl
def careplug_register_sources(register):
    register(SalesforceSource)
