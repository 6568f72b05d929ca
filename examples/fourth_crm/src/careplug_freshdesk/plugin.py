"""The careplug plugin: registers the Freshdesk source (entry point group ``careplug``)."""

from __future__ import annotations

from collections.abc import Callable

import careplug

from .source import FreshdeskSource


@careplug.hookimpl
def careplug_register_sources(register: Callable[[type], None]) -> None:
    register(FreshdeskSource)
