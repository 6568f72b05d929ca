"""careplug-hubspot: the HubSpot adapter for careplug (on hubspot-api-client)."""

from __future__ import annotations

from .source import HubSpotOptions, HubSpotSource

__all__ = ["HubSpotOptions", "HubSpotSource"]
