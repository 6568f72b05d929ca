"""The Salesforce client careplug uses: the real ``simple-salesforce``, retried with tenacity, watching
the org's daily API allowance, and failing with one careplug error type.

Construction (``connect``): a session id / OAuth access token (``Salesforce(instance_url=...,
session_id=...)``), username + password + security token (SOAP login against ``domain``), or the
JWT bearer flow (consumer key + private key). With a login flow configured, simple-salesforce logs in
again by itself when Salesforce answers ``401 INVALID_SESSION_ID``; with a bare session that answer is
an ``AuthError``. simple-salesforce always builds ``https://`` URLs; an ``instance_url`` of
``http://127.0.0.1:PORT`` (a loopback fake, tests only) mounts a transport adapter on the session that
sends every request — login included — to that address over plain HTTP.

Every call goes through ``SalesforceClient.call``: check the allowance, send with a timeout, read
``Sforce-Limit-Info`` (simple-salesforce parses it into ``api_usage``), and translate failures:

- ``RateLimitExhausted`` — ``403 REQUEST_LIMIT_EXCEEDED`` (Salesforce's "allowance used up", not a
  429), or the last ``api-usage=N/M`` reached ``usage_stop`` × M: careplug stops *before* the org's
  integrations starve;
- ``RetriableError`` — 5xx, 429/503 (Retry-After honoured, bounded), timeouts and connection errors;
  retried here with exponential backoff, raised after ``max_attempts``;
- ``AuthError`` — 401 that a login could not cure, or a failed login;
- ``FatalSourceError`` — any other 4xx (``INVALID_FIELD``, ``MALFORMED_QUERY``, ...).

Only reads are retried blindly. A write that failed transiently is retried by the write-back after
looking its markers up (see ``writeback.py``), never here. Messages name the source, stream and
endpoint; no session id, password, token or key is ever part of one.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from careplug.retry import retrying
from careplug.errors import AuthError, FatalSourceError, RateLimitExhausted, RetriableError, SourceError
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceOperationError,
    SalesforceRefusedRequest,
)

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class LoopbackAdapter(HTTPAdapter):
    """Sends every request to ``base`` (``http://127.0.0.1:PORT``) whatever host it names: the
    https URLs simple-salesforce builds reach a plain-HTTP loopback fake."""

    def __init__(self, base: str):
        super().__init__(max_retries=0)
        parts = urlsplit(base)
        self.netloc = parts.netloc

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(("http", self.netloc, parts.path, parts.query, parts.fragment))
        return super().send(request, **kwargs)


class QueryLocatorInvalid(FatalSourceError):
    """queryMore was refused with ``INVALID_QUERY_LOCATOR`` (the locator expired after 15 minutes
    idle, or the user holds too many open cursors): the query must be issued again."""


class Credentials:
    """What to log in with; values are secrets and never appear in ``repr``."""

    __slots__ = ("mode", "_values")

    def __init__(self, mode: str, **values: str | None):
        self.mode = mode
        self._values = values

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def __repr__(self) -> str:
        return f"<Credentials {self.mode}>"


class SalesforceClient:
    """One configured connection to a Salesforce org."""

    def __init__(self, *, credentials: Credentials, source: str, domain: str = "login",
                 instance_url: str | None = None, version: str = "59.0", timeout: float = 60.0,
                 max_attempts: int = 5, backoff: float = 1.0, max_retry_wait: float = 60.0,
                 usage_stop: float = 0.8, sleep: Callable[[float], None] | None = None):
        self.source = source
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self.usage_stop = usage_stop
        self._sleep = sleep
        self.calls: dict[str, int] = {}
        self.last_headers: dict[str, str] = {}
        self.session = requests.Session()
        self.session.hooks["response"].append(self._remember_headers)
        if instance_url and instance_url.startswith("http://"):
            self.session.mount("https://", LoopbackAdapter(instance_url))
        self.sf: Salesforce | None = None
        self.sf = self.call("login", lambda timeout=None: self._login(credentials, domain, instance_url, version))

    def _remember_headers(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last_headers = {k.lower(): v for k, v in response.headers.items()}

    def _login(self, c: Credentials, domain: str, instance_url: str | None, version: str) -> Salesforce:
        common: dict[str, Any] = {"version": version, "session": self.session, "domain": domain}
        try:
            if c.mode == "session":
                return Salesforce(instance_url=instance_url, session_id=c.get("session_id"), **common)
            if c.mode == "jwt":
                return Salesforce(username=c.get("username"), consumer_key=c.get("consumer_key"),
                                  privatekey_file=c.get("private_key_file"), privatekey=c.get("private_key"),
                                  **common)     # the token endpoint is on ``domain`` (login, test, My Domain)
            return Salesforce(username=c.get("username"), password=c.get("password"),
                              security_token=c.get("security_token") or "", **common)
        except SalesforceAuthenticationFailed as exc:
            raise self._login_failure(exc, f"login ({c.mode}) to Salesforce domain {domain!r}") from None
        except requests.RequestException as exc:
            raise RetriableError(f"login: network error ({type(exc).__name__})", source=self.source) from None

    def _login_failure(self, exc: SalesforceAuthenticationFailed, what: str,
                       stream: str | None = None) -> SourceError:
        code = getattr(exc, "code", "") or "login failed"
        where = dict(source=self.source, stream=stream)
        if isinstance(code, int) and (code >= 500 or code == 429):
            return RetriableError(f"{what}: Salesforce answered {code}",
                                  retry_after=_retry_after(self.last_headers) if code in (429, 503) else None, **where)
        if code == "REQUEST_LIMIT_EXCEEDED":
            return RateLimitExhausted(f"{what}: Salesforce refused the login with REQUEST_LIMIT_EXCEEDED (the org's "
                                      "login or API allowance is used up); cursors are kept", **where)
        return AuthError(f"{what} was refused ({code}); check the credentials in the configured environment "
                         "variables", **where)

    # --- the one way to call Salesforce -----------------------------------------------------------

    @property
    def usage(self) -> tuple[int, int] | None:
        """The last ``api-usage=N/M`` Salesforce reported: (used, allowance), or None."""
        u = self.sf.api_usage.get("api-usage") if self.sf is not None else None
        return (u.used, u.total) if u is not None else None

    def call(self, endpoint: str, fn: Callable[..., Any], *args: Any, stream: str | None = None,
             retry: bool = True, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)`` (a simple-salesforce method) with the allowance check and, for
        reads, retries. ``endpoint`` names the call in errors and counts."""

        def attempt() -> Any:
            self._check_allowance(endpoint, stream)
            self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
            try:
                return fn(*args, timeout=self.timeout, **kwargs)
            except SalesforceError as exc:
                raise self._translate(exc, endpoint, stream) from None
            except SalesforceAuthenticationFailed as exc:     # the session expired; logging in again failed
                raise self._login_failure(exc, f"{endpoint}: logging in again", stream) from None
            except requests.RequestException as exc:     # timeouts, resets, refused connections
                raise RetriableError(f"{endpoint}: network error ({type(exc).__name__})",
                                     source=self.source, stream=stream) from None

        if not retry:
            return attempt()
        return retrying(max_attempts=self.max_attempts, backoff=self.backoff, max_wait=self.max_retry_wait,
                        log=log, sleep=self._sleep)(attempt)

    def pause(self, seconds: float) -> None:
        """Wait before a write is attempted again (bounded by ``max_retry_wait``)."""
        (self._sleep or time.sleep)(min(max(0.0, seconds), self.max_retry_wait))

    def _check_allowance(self, endpoint: str, stream: str | None) -> None:
        usage = self.usage
        if self.usage_stop < 1 and usage and usage[1] and usage[0] >= self.usage_stop * usage[1]:
            raise RateLimitExhausted(
                f"{endpoint}: stopping before the call: the org has used {usage[0]} of its {usage[1]} daily API "
                f"requests, at or past the configured share usage_stop={self.usage_stop:g}; cursors are kept and "
                "the next run resumes", source=self.source, stream=stream)

    def _translate(self, exc: SalesforceError, endpoint: str, stream: str | None) -> SourceError:
        status = getattr(exc, "status", 0) or 0
        code, message = _error_of(getattr(exc, "content", None))
        where = dict(source=self.source, stream=stream)
        if isinstance(exc, SalesforceRefusedRequest) and code == "REQUEST_LIMIT_EXCEEDED":
            return RateLimitExhausted(f"{endpoint}: Salesforce refused the call with 403 REQUEST_LIMIT_EXCEEDED "
                                      f"({message}): the org's API allowance is used up; cursors are kept and the "
                                      "next run resumes", **where)
        if code == "INVALID_QUERY_LOCATOR":
            return QueryLocatorInvalid(f"{endpoint}: Salesforce answered {status} INVALID_QUERY_LOCATOR ({message})",
                                       **where)
        if isinstance(exc, SalesforceExpiredSession):
            return AuthError(f"{endpoint}: Salesforce answered 401 {code or 'INVALID_SESSION_ID'}: the session "
                             "expired or is invalid; configure a login flow (username/password or JWT) so careplug "
                             "can renew it", **where)
        if status in (429, 503) or status >= 500 or isinstance(exc, SalesforceOperationError):
            if isinstance(exc, SalesforceOperationError) and not status:
                return FatalSourceError(f"{endpoint}: {str(exc)[:300]}", **where)
            wait = _retry_after(self.last_headers) if status in (429, 503) else None
            if wait is not None and wait > self.max_retry_wait:
                return RateLimitExhausted(f"{endpoint}: Salesforce asked to wait {wait:.0f}s, longer than "
                                          f"max_retry_wait={self.max_retry_wait:.0f}s", **where)
            return RetriableError(f"{endpoint}: Salesforce answered {status} {code} ({message})",
                                  retry_after=wait, **where)
        return FatalSourceError(f"{endpoint}: Salesforce answered {status} {code}: {message}", **where)

    # --- endpoints --------------------------------------------------------------------------------

    def query_pages(self, soql: str, *, include_deleted: bool = True, batch_size: int = 2000,
                    stream: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """The pages of ``soql`` (``queryAll`` when ``include_deleted``), ``batch_size`` records each.

        The same steps as simple-salesforce's ``query_all_iter`` (``query``, then ``query_more``
        with ``nextRecordsUrl`` until ``done``), one retried call per page, so a transient failure on
        page 40 costs one more request, not the 39 before it."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"}
        endpoint = "queryAll" if include_deleted else "query"
        result = self.call(endpoint, self.sf.query, soql, include_deleted=include_deleted, headers=headers,
                           stream=stream)
        while True:
            yield list(result.get("records") or [])
            if result.get("done", True):
                return
            result = self.call("queryMore", self.sf.query_more, result["nextRecordsUrl"], identifier_is_url=True,
                               headers=headers, stream=stream)

    def count(self, soql: str, *, stream: str | None = None) -> int:
        return int(self.call("query", self.sf.query, soql, include_deleted=True, stream=stream)["totalSize"])

    def describe_many(self, objects: list[str], *, stream: str | None = None) -> dict[str, dict[str, Any]]:
        """Describe up to 25 objects in one composite batch call."""
        out: dict[str, dict[str, Any]] = {}
        version = self.sf.sf_version
        for i in range(0, len(objects), 25):
            chunk = objects[i:i + 25]
            body = {"batchRequests": [{"method": "GET", "url": f"v{version}/sobjects/{o}/describe"} for o in chunk]}
            data = self.call("composite.batch", self.sf.restful, "composite/batch", method="POST", json=body,
                             stream=stream)
            for obj, res in zip(chunk, data.get("results") or []):
                if res.get("statusCode") == 200:
                    out[obj] = res["result"]
                else:
                    code, message = _error_of(res.get("result"))
                    raise FatalSourceError(f"describe {obj}: {res.get('statusCode')} {code}: {message} (is the "
                                           "object enabled and readable by the integration user?)",
                                           source=self.source, stream=stream)
        return out

    def collection(self, method: str, body: dict[str, Any], *, path: str = "composite/sobjects",
                   stream: str | None = None) -> list[dict[str, Any]]:
        """One sObject Collections request (create: POST, update: PATCH, upsert: PATCH with the
        object and external id field in ``path``). Not retried: see the module docstring."""
        endpoint = f"collections.{'create' if method == 'POST' else 'upsert' if path.count('/') > 1 else 'update'}"
        return self.call(endpoint, self.sf.restful, path, method=method, json=body, stream=stream, retry=False) or []

    def bulk_query(self, obj: str, soql: str, *, page_size: int, poll_seconds: float,
                   stream: str | None = None) -> Iterator[dict[str, str]]:
        """Rows (CSV strings) of a Bulk API 2.0 ``queryAll`` job: create, poll until JobComplete,
        then read the results ``page_size`` rows at a time (``Sforce-Locator``)."""
        from simple_salesforce.bulk2 import Operation

        client = getattr(self.sf.bulk2, obj)._client   # the library's Bulk 2.0 client for ``obj``
        job = self.call("bulk.create", lambda timeout=None: client.create_job(Operation.query_all, soql),
                        stream=stream)
        self.call("bulk.wait", lambda timeout=None: client.wait_for_job(job["id"], True, poll_seconds),
                  stream=stream)
        locator = ""
        while True:
            page = self.call("bulk.results", lambda timeout=None, loc=locator: client.get_query_results(
                job["id"], loc, page_size), stream=stream)
            yield from csv.DictReader(io.StringIO(page["records"]))
            locator = page["locator"]
            if not locator:
                return

    def close(self) -> None:
        self.session.close()


def _error_of(content: Any) -> tuple[str, str]:
    """(errorCode, message) of a Salesforce error body ``[{"message", "errorCode"}]``."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode") or ""), str(first.get("message") or "")[:300]
    if isinstance(content, dict):
        return str(content.get("errorCode") or content.get("error") or ""), str(
            content.get("message") or content.get("error_description") or "")[:300]
    return "", str(content or "")[:200]


def _retry_after(headers: dict[str, str]) -> float | None:
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            return None
    return None
