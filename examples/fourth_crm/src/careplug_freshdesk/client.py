"""HTTP to Freshdesk: authentication, pacing, retries, and one careplug error per way of failing.

- 429: wait ``Retry-After`` (bounded by ``max_retry_wait``; longer means the allowance is gone:
  ``RateLimitExhausted``) and retry.
- 5xx, timeouts, connection errors: retried with exponential backoff (tenacity), then
  ``RetriableError``.
- 401/403: ``AuthError``; any other 4xx: ``FatalSourceError``.

Messages name the source, stream and endpoint, never the API key (it travels only in the
``Authorization`` header, which nothing logs).
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from careplug.errors import AuthError, FatalSourceError, RateLimitExhausted, RetriableError

from .pacing import Pacer

log = logging.getLogger(__name__)


class _Transient(Exception):
    """One failed attempt worth retrying; ``retry_after`` is the server's word, if it gave one."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.retry_after = retry_after


class FreshdeskClient:
    def __init__(self, base_url: str, api_key: str, *, source: str, timeout: float = 30.0,
                 max_attempts: int = 5, backoff: float = 1.0, max_retry_wait: float = 120.0,
                 pacer: Pacer | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.timeout, self.max_attempts, self.backoff = timeout, max_attempts, backoff
        self.max_retry_wait = max_retry_wait
        self.pacer = pacer
        self.session = requests.Session()
        self.session.auth = (api_key, "X")

    def __repr__(self) -> str:
        return f"<FreshdeskClient {self.base_url}>"

    def close(self) -> None:
        self.session.close()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return exc.retry_after
        return self.backoff * 2 ** (state.attempt_number - 1)

    def request(self, method: str, path: str, *, stream: str | None = None, **kw: Any) -> requests.Response:
        """One API call, retried as the module docstring says; the successful response."""
        retrying = Retrying(stop=stop_after_attempt(self.max_attempts), wait=self._wait,
                            retry=retry_if_exception_type(_Transient), reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(method, path, stream, **kw)
        except _Transient as exc:
            raise RetriableError(f"{method} {path} failed {self.max_attempts} times, last: {exc}",
                                 source=self.source, stream=stream) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, path: str, stream: str | None, **kw: Any) -> requests.Response:
        if self.pacer is not None:
            self.pacer.wait()
        log.debug("%s %s %s", method, path, kw.get("params") or "")
        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kw)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise _Transient(type(exc).__name__) from None
        status = response.status_code
        if status == 429:
            wait = _seconds(response.headers.get("Retry-After"))
            if wait is not None and wait > self.max_retry_wait:
                raise RateLimitExhausted(f"{method} {path}: rate limited for {wait:.0f}s, more than "
                                         f"max_retry_wait={self.max_retry_wait:.0f}s", source=self.source, stream=stream)
            raise _Transient("429 Too Many Requests", wait if wait is not None else self.backoff)
        if status >= 500:
            raise _Transient(f"HTTP {status}")
        if status in (401, 403):
            raise AuthError(f"{method} {path}: HTTP {status}: check the API key and its role",
                            source=self.source, stream=stream)
        if status >= 400:
            raise FatalSourceError(f"{method} {path}: HTTP {status}: {response.text[:300]}",
                                   source=self.source, stream=stream)
        return response

    def get_all(self, path: str, params: dict[str, Any], *, stream: str | None = None) -> list[dict[str, Any]]:
        """Every page of a list endpoint, following the ``Link: rel="next"`` header."""
        items: list[dict[str, Any]] = []
        response = self.request("GET", path, params=params, stream=stream)
        while True:
            items.extend(response.json())
            nxt = response.links.get("next", {}).get("url")
            if not nxt:
                return items
            response = self.request("GET", nxt.removeprefix(self.base_url), stream=stream)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
