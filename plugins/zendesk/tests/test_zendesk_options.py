"""Options: clear validation errors, secrets only by environment variable name."""

from __future__ import annotations

import pytest
from careplug.errors import AuthError
from pydantic import ValidationError

from careplug_zendesk.source import ZendeskOptions, ZendeskSource


def test_the_subdomain_is_the_account_name_only():
    with pytest.raises(ValidationError, match="account name only"):
        ZendeskOptions(subdomain="acme.zendesk.com")


def test_unknown_streams_and_keys_are_errors():
    with pytest.raises(ValidationError, match="unknown streams"):
        ZendeskOptions(subdomain="acme", streams=["tickets", "chats"])
    with pytest.raises(ValidationError):
        ZendeskOptions(subdomain="acme", api_token="do-not-put-secrets-here")


def test_page_size_is_capped_at_zendesks_maximum():
    with pytest.raises(ValidationError):
        ZendeskOptions(subdomain="acme", page_size=1001)


def test_missing_credentials_name_the_variables_not_values(monkeypatch):
    for name in ("ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_OAUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    source = ZendeskSource("support", ZendeskOptions(subdomain="acme"))
    with pytest.raises(AuthError, match="ZENDESK_OAUTH_TOKEN.*ZENDESK_EMAIL.*ZENDESK_API_TOKEN"):
        list(source.fetch("tickets", None))


def test_the_plugin_registers_the_zendesk_source_through_its_entry_point():
    from careplug.plugins import get_plugins

    assert get_plugins().sources().get("zendesk") is ZendeskSource
