"""careplug-zendesk: the Zendesk Support adapter for careplug (on zenpy)."""

from __future__ import annotations

from .source import ZendeskOptions, ZendeskSource

__all__ = ["ZendeskOptions", "ZendeskSource"]
