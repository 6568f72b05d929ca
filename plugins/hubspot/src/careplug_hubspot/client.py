"""The HubSpot client careplug uses: the real ``hubspot-api-client``, paced, retried with tenacity,
and failing with one careplug error type.

Construction: ``hubspot.Client.create(access_token=..., host=..., retry=Retry(0))`` — ``host``
becomes ``configuration.host`` of every generated API (the EU data centre, or a loopback fake in
tests) and urllib3's own retries are turned off: they skip POSTs (every search and batch call)
and leak ``MaxRetryError``. The generated API objects are built once (each ``client.crm...``
access builds a new ``ApiClient`` and connection pool).

Every call goes through ``HubSpotClient.call``: pace (burst or search window), send with a
timeout, read the ``X-HubSpot-RateLimit-*`` headers, and parse the JSON answer (``_preload_content
=False``: careplug maps documented JSON, not generated models). Failures become:

- ``RetriableError`` — 429 (burst/secondly), 5xx, timeouts, connection errors; retried here with
  exponential backoff (a 429's Retry-After / interval honoured, bounded by ``max_retry_wait``),
  and raised after ``max_attempts`` — except batch creates, which are never repeated blindly (the
  write-back looks its markers up first);
- ``RateLimitExhausted`` — the DAILY allowance is gone, or HubSpot asks for a longer wait than
  ``max_retry_wait``;
- ``AuthError`` — 401;
- ``MissingScope`` (a ``FatalSourceError``) — 403 ``MISSING_SCOPES``;
- ``FatalSourceError`` — any other 4xx.

Messages name the source, stream and endpoint; the token is never part of one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from careplug.retry import retrying
import urllib3
from careplug.errors import AuthError, FatalSourceError, RateLimitExhausted, RetriableError, SourceError
from hubspot import Client
from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsApiException
from hubspot.crm.objects.exceptions import ApiException as ObjectsApiException
from hubspot.crm.owners.exceptions import ApiException as OwnersApiException
from hubspot.crm.pipelines.exceptions import ApiException as PipelinesApiException
from urllib3.util.retry import Retry

from .pacing import Pacer

log = logging.getLogger(__name__)

#: every generated package has its own ApiException class: one per API careplug calls
API_EXCEPTIONS = (ObjectsApiException, AssociationsApiException, OwnersApiException, PipelinesApiException)


class MissingScope(FatalSourceError):
    """The private app lacks a scope this call needs (403 MISSING_SCOPES)."""


class HubSpotClient:
    """One configured connection to a HubSpot portal."""

    def __init__(self, *, token: str, host: str | None, source: str, pacer: Pacer,
                 timeout: float = 30.0, max_attempts: int = 5, backoff: float = 1.0,
                 max_retry_wait: float = 60.0, sleep: Callable[[float], None] | None = None):
        kwargs: dict[str, Any] = {"access_token": token, "retry": Retry(total=0, connect=0, read=0, redirect=0,
                                                                       status=0, raise_on_status=False)}
        if host:
            kwargs["host"] = host.rstrip("/")
        self.hubspot = Client.create(**kwargs)
        self.source = source
        self.pacer = pacer
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        self.calls: dict[str, int] = {}
        crm = self.hubspot.crm
        self.objects_search = crm.objects.search_api
        self.objects_batch = crm.objects.batch_api
        self.objects_basic = crm.objects.basic_api
        self.associations_batch = crm.associations.v4.batch_api
        self.owners_api = crm.owners.owners_api
        self.pipelines_api = crm.pipelines.pipelines_api
        self._raw = self.objects_search.api_client     # for endpoints the client has no API class for

    # --- the one way to call HubSpot ------------------------------------------------------------

    def call(self, endpoint: str, fn: Callable[..., Any], *args: Any, stream: str | None = None,
             search: bool = False, retry: bool = True, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)`` (a generated API method) with pacing and retries; return the
        parsed JSON body. ``endpoint`` names the call in errors and counts. ``retry=False`` for a
        write that is not idempotent: a timeout or 5xx may hide a write HubSpot made, so the
        ``RetriableError`` goes to the caller, which looks its markers up before writing again."""

        def attempt() -> Any:
            if self.pacer.daily_remaining is not None and self.pacer.daily_remaining <= 0:
                raise RateLimitExhausted(f"{endpoint}: HubSpot's daily API allowance is used up "
                                         f"(X-HubSpot-RateLimit-Daily-Remaining: 0); not calling", source=self.source,
                                         stream=stream)
            self.pacer.before(search=search)
            self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
            try:
                response = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
            except API_EXCEPTIONS as exc:
                self.pacer.after(search=search)
                raise self._translate(exc, endpoint, stream) from None
            except urllib3.exceptions.HTTPError as exc:    # timeouts, resets, refused connections
                self.pacer.after(search=search)
                raise RetriableError(f"{endpoint}: network error ({type(exc).__name__})",
                                     source=self.source, stream=stream) from None
            self.pacer.after(search=search)
            self.pacer.observe(dict(response.headers))
            data = response.data
            return json.loads(data) if data else {}

        if not retry:
            return attempt()
        return retrying(max_attempts=self.max_attempts, backoff=self.backoff, max_wait=self.max_retry_wait,
                        log=log, sleep=self._sleep)(attempt)

    def pause(self, seconds: float) -> None:
        """Wait before a write is attempted again (bounded by ``max_retry_wait``)."""
        (self._sleep or time.sleep)(min(max(0.0, seconds), self.max_retry_wait))

    def _translate(self, exc: Exception, endpoint: str, stream: str | None) -> SourceError:
        status = getattr(exc, "status", 0) or 0
        headers = {k.lower(): v for k, v in dict(getattr(exc, "headers", None) or {}).items()}
        body = _json(getattr(exc, "body", None))
        message = str(body.get("message") or getattr(exc, "reason", "") or "no message")[:300]
        where = dict(source=self.source, stream=stream)
        if status == 429:
            policy = body.get("policyName") or ""
            if policy == "DAILY":
                return RateLimitExhausted(f"{endpoint}: HubSpot's daily API allowance is used up ({message})", **where)
            wait = _retry_after(headers)
            if wait is not None and wait > self.max_retry_wait:
                return RateLimitExhausted(f"{endpoint}: HubSpot asked to wait {wait:.0f}s, longer than "
                                          f"max_retry_wait={self.max_retry_wait:.0f}s", **where)
            if wait is not None:
                self.pacer.burst.hold(wait) if policy != "SECONDLY" else self.pacer.search.hold(wait)
            return RetriableError(f"{endpoint}: rate limited by HubSpot ({policy or '429'})",
                                  retry_after=wait, **where)
        if status >= 500 or status == 0:
            return RetriableError(f"{endpoint}: HubSpot answered {status or 'no status'} ({message})", **where)
        if status == 401:
            return AuthError(f"{endpoint}: HubSpot rejected the access token (401 {body.get('category', '')}); "
                             f"check the private app token in the configured environment variable", **where)
        if status == 403 and body.get("category") == "MISSING_SCOPES":
            return MissingScope(f"{endpoint}: the private app lacks a required scope ({message})", **where)
        return FatalSourceError(f"{endpoint}: HubSpot answered {status} {body.get('category', '')}: {message}",
                                **where)

    # --- endpoints --------------------------------------------------------------------------------

    def search(self, object_type: str, body: dict[str, Any], *, stream: str | None = None) -> dict[str, Any]:
        return self.call(f"search:{object_type}", self.objects_search.do_search, object_type, body,
                         stream=stream, search=True)

    def batch_create(self, object_type: str, inputs: list[dict[str, Any]], *, stream: str | None = None) -> dict:
        """Not retried here: a lost answer may hide created objects (see ``WriteBack``)."""
        return self.call(f"batch_create:{object_type}", self.objects_batch.create, object_type,
                         {"inputs": inputs}, stream=stream, retry=False)

    def batch_read(self, object_type: str, ids: list[str], properties: list[str], *,
                   stream: str | None = None) -> dict:
        """``POST /crm/v3/objects/{type}/batch/read`` (<= 100 ids): reads the records themselves,
        not the search index, so it sees a write made a moment ago."""
        return self.call(f"batch_read:{object_type}", self.objects_batch.read, object_type,
                         {"inputs": [{"id": i} for i in ids], "properties": properties}, stream=stream)

    def batch_update(self, object_type: str, inputs: list[dict[str, Any]], *, stream: str | None = None) -> dict:
        return self.call(f"batch_update:{object_type}", self.objects_batch.update, object_type,
                         {"inputs": inputs}, stream=stream)

    def associations(self, from_type: str, to_type: str, inputs: list[dict[str, Any]], *,
                     stream: str | None = None) -> dict[str, Any]:
        return self.call(f"associations:{from_type}->{to_type}", self.associations_batch.get_page,
                         from_type, to_type, {"inputs": inputs}, stream=stream)

    def archived(self, object_type: str, *, limit: int, after: str | None, stream: str | None = None) -> dict:
        """A page of deleted (archived) objects: ``GET /crm/v3/objects/{type}?archived=true``."""
        kwargs: dict[str, Any] = {"limit": limit, "archived": True}
        if after:
            kwargs["after"] = after
        return self.call(f"archived:{object_type}", self.objects_basic.get_page, object_type, stream=stream, **kwargs)

    def owners(self, *, limit: int, after: str | None, stream: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"limit": limit}
        if after:
            kwargs["after"] = after
        return self.call("owners", self.owners_api.get_page, stream=stream, **kwargs)

    def pipelines(self, object_type: str, *, stream: str | None = None) -> dict[str, Any]:
        return self.call(f"pipelines:{object_type}", self.pipelines_api.get_all, object_type, stream=stream)

    def get(self, path: str, query: dict[str, Any], *, endpoint: str, stream: str | None = None) -> dict[str, Any]:
        """A GET the client has no API class for (the conversations inbox), through the same
        generated ApiClient (urllib3, auth, host, exceptions)."""

        def fn(**kwargs: Any) -> Any:
            return self._raw.call_api(path, "GET", query_params=[(k, v) for k, v in query.items() if v is not None],
                                      header_params={"Accept": "application/json"}, auth_settings=["oauth2"],
                                      _return_http_data_only=True, **kwargs)

        return self.call(endpoint, fn, stream=stream)

    def close(self) -> None:
        for api in (self.objects_search, self.objects_batch, self.objects_basic, self.associations_batch, self.owners_api,
                    self.pipelines_api):
            try:
                api.api_client.rest_client.pool_manager.clear()
            except Exception:  # pragma: no cover - closing is best effort
                pass


def _json(body: Any) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(headers: dict[str, str]) -> float | None:
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
    interval = headers.get("x-hubspot-ratelimit-interval-milliseconds")
    if interval and interval.strip().isdigit():
        return int(interval) / 1000
    return None
