"""The Zendesk client careplug uses: the real ``zenpy``, over a requests transport that paces,
retries with tenacity and fails with one careplug error type.

Construction: ``Zenpy(subdomain=..., email=..., token=... | oauth_token=..., session=...)`` with a
``requests.Session`` of our own, on which ``Transport`` (a ``requests.adapters.HTTPAdapter``) is
mounted for ``https://`` and ``http://``. zenpy builds every URL as
``https://{subdomain}.zendesk.com/api/v2/...``; with a ``base_url`` (a proxy, or the loopback fake
in tests) the transport rewrites that prefix, so zenpy itself is untouched (its only other hook,
the process-wide ``ZENPY_FORCE_NETLOC``/``ZENPY_FORCE_SCHEME`` variables, would redirect every
Zenpy in the process).

Why a transport: zenpy 2.0.57 answers a 429 by sleeping ``Retry-After`` seconds, one second at a
time, for as long as Zendesk asks and as often as it asks (``ratelimit_budget`` bounds the sum over
the client's lifetime, then raises ``RatelimitBudgetExceeded``). Below zenpy, each request is:

1. paced (``Pacer``: the incremental-export window and the account window, which also holds when
   Zendesk's ``X-Rate-Limit-Remaining`` says the account's minute is used up),
2. sent with a timeout, and
3. judged: 429 → ``RetriableError`` carrying Retry-After, or ``RateLimitExhausted`` when Zendesk
   asks for longer than ``max_retry_wait``; 5xx, timeouts and connection errors →
   ``RetriableError``; retried here (tenacity, exponential backoff, Retry-After honoured) up to
   ``max_attempts``, then raised. zenpy therefore never sees a 429 or a 5xx and never sleeps.
   Writes are the exception: a timeout or a 5xx may hide a write Zendesk made, so a write is sent
   once and its ``RetriableError`` raised to the write-back, which looks its markers up before
   writing again — unless the call says it is idempotent (adding or removing tags).

Any other 4xx goes back to zenpy, which raises its own types (``APIException``,
``RecordNotFoundException``); ``ZendeskClient.call`` turns those into ``AuthError`` (401),
``FatalSourceError`` (403 and other 4xx) or lets the caller handle ``RecordNotFoundException``.
Messages name the source, stream and endpoint; credentials live only in the session's auth.

Pages: the export methods return the *raw page* (the documented JSON) that zenpy fetched —
``generator._response_json`` of the generator zenpy returns — and never iterate the generator past
it, so one call is one page and the source checkpoints page by page.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import tenacity
from careplug.retry import retrying
from careplug.errors import AuthError, FatalSourceError, RateLimitExhausted, RetriableError, SourceError
from requests.adapters import HTTPAdapter
from zenpy import Zenpy
from zenpy.lib.exception import APIException, RecordNotFoundException, ZenpyException

from .pacing import Pacer

log = logging.getLogger(__name__)

_ID = re.compile(r"/(?:\d+|[0-9a-f]{32})(?=/|\.json|$)")


def endpoint_name(path: str) -> str:
    """``/api/v2/tickets/123/comments.json`` → ``tickets/{id}/comments`` (for errors and counts)."""
    path = _ID.sub("/{id}", path)
    path = path.split("/api/v2/", 1)[-1]
    return path.removesuffix(".json")


class Transport(HTTPAdapter):
    """The requests transport under zenpy: base-URL rewrite, pacing, retries, error translation."""

    def __init__(self, client: "ZendeskClient"):
        super().__init__(pool_connections=4, pool_maxsize=4, max_retries=0)
        self.client = client

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        c = self.client
        original = request
        if c.base_url:
            parts = urlsplit(request.url or "")
            base = urlsplit(c.base_url)
            request = request.copy()
            request.url = urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, ""))
        path = urlsplit(original.url or "").path
        endpoint = endpoint_name(path)
        incremental = "/incremental/" in path
        stream = c.stream

        def attempt() -> requests.Response:
            c.pacer.before(incremental=incremental)
            c.calls[endpoint] = c.calls.get(endpoint, 0) + 1
            try:
                response = super(Transport, self).send(request, **{**kwargs, "timeout": c.timeout})
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
                raise RetriableError(f"{endpoint}: network error ({type(exc).__name__})",
                                     source=c.source, stream=stream) from None
            status = response.status_code
            if status == 429:
                wait = _retry_after(response.headers.get("Retry-After"))
                response.close()
                if wait is not None and wait > c.max_retry_wait:
                    raise RateLimitExhausted(
                        f"{endpoint}: Zendesk asked to wait {wait:.0f}s (Retry-After), longer than "
                        f"max_retry_wait={c.max_retry_wait:.0f}s", source=c.source, stream=stream)
                if wait is not None:
                    c.pacer.hold(wait, incremental=incremental)
                raise RetriableError(f"{endpoint}: rate limited by Zendesk (429)", retry_after=wait,
                                     source=c.source, stream=stream)
            if status >= 500:
                response.close()
                raise RetriableError(f"{endpoint}: Zendesk answered {status}", source=c.source, stream=stream)
            c.observe(response.headers, incremental=incremental)
            # zenpy picks its response handler by the account's host in the URL: show it the URL it asked for
            response.request, response.url = original, original.url or response.url
            return response

        if request.method not in ("GET", "HEAD") and not c.idempotent:
            return attempt()        # a lost answer may hide a write: the caller looks before writing again
        return retrying(max_attempts=c.max_attempts, backoff=c.backoff, max_wait=c.max_retry_wait, log=log,
                        sleep=c.sleep)(attempt)


class ZendeskClient:
    """One configured connection to a Zendesk account."""

    def __init__(self, *, subdomain: str, source: str, pacer: Pacer, email: str | None = None,
                 token: str | None = None, oauth_token: str | None = None, base_url: str | None = None,
                 timeout: float = 30.0, max_attempts: int = 5, backoff: float = 1.0, max_retry_wait: float = 60.0,
                 sleep: Callable[[float], None] | None = None):
        self.source = source
        self.subdomain = subdomain
        self.base_url = base_url.rstrip("/") if base_url else None
        self.pacer = pacer
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self.sleep = sleep or tenacity.nap.sleep
        self.calls: dict[str, int] = {}
        self._local = threading.local()
        session = requests.Session()
        transport = Transport(self)
        session.mount("https://", transport)
        session.mount("http://", transport)
        self.session = session
        credentials: dict[str, Any] = {"oauth_token": oauth_token} if oauth_token else {"email": email, "token": token}
        # ratelimit_budget: a second bound on zenpy's own 429 sleep, which the transport never lets it reach
        self.zenpy = Zenpy(subdomain=subdomain, session=session, timeout=timeout,
                           ratelimit_budget=max(1, int(max_retry_wait)), disable_cache=True, **credentials)

    # --- the one way to call zenpy ----------------------------------------------------------------

    @property
    def stream(self) -> str | None:
        return getattr(self._local, "stream", None)

    @property
    def idempotent(self) -> bool:
        """Whether the write under way may be sent again blindly (adding tags: yes; a comment: no)."""
        return getattr(self._local, "idempotent", False)

    @contextlib.contextmanager
    def for_stream(self, stream: str | None, *, idempotent: bool = False) -> Iterator[None]:
        previous = self.stream, self.idempotent
        self._local.stream, self._local.idempotent = stream, idempotent
        try:
            yield
        finally:
            self._local.stream, self._local.idempotent = previous

    def observe(self, headers: Any, *, incremental: bool) -> None:
        """Zendesk says how much of the account's minute is left (``X-Rate-Limit-Remaining``): when
        nothing is (other integrations share it), hold the window until ``ratelimit-reset``."""
        remaining = str(headers.get("X-Rate-Limit-Remaining") or "").strip()
        if remaining.isdigit() and int(remaining) <= 0:
            reset = _retry_after(headers.get("ratelimit-reset"))
            self.pacer.hold(reset if reset is not None else self.pacer.account.per_seconds, incremental=False)

    def call(self, what: str, fn: Callable[..., Any], *args: Any, stream: str | None = None,
             idempotent: bool = False, **kwargs: Any) -> Any:
        """Run a zenpy call; translate zenpy's errors (the transport raises careplug's itself).
        Reads are retried; a write only when ``idempotent`` (sending it twice changes nothing)."""
        with self.for_stream(stream, idempotent=idempotent):
            try:
                return fn(*args, **kwargs)
            except SourceError:
                raise
            except RecordNotFoundException:
                raise
            except APIException as exc:
                error = self._translate(exc, what, stream)
                error.status = getattr(getattr(exc, "response", None), "status_code", None)  # type: ignore[attr-defined]
                raise error from None
            except requests.exceptions.RequestException as exc:
                raise RetriableError(f"{what}: network error ({type(exc).__name__})", source=self.source,
                                     stream=stream) from None
            except ZenpyException as exc:
                raise FatalSourceError(f"{what}: zenpy could not handle Zendesk's answer ({exc})"[:400],
                                       source=self.source, stream=stream) from None

    def _translate(self, exc: APIException, what: str, stream: str | None) -> SourceError:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", 0) or 0
        try:
            body = response.json() if response is not None else {}
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        error = body.get("error")
        detail = body.get("description") or (error if isinstance(error, str) else "") or "no message"
        if isinstance(error, dict):
            detail = error.get("message") or error.get("title") or detail
        where = dict(source=self.source, stream=stream)
        if status == 401:
            return AuthError(f"{what}: Zendesk rejected the credentials (401: {detail}); check the email and API "
                             f"token (or OAuth token) in the configured environment variables", **where)
        if status == 403:
            return FatalSourceError(f"{what}: forbidden (403: {detail}); the user needs the admin role for "
                                    f"incremental exports and agent access to tickets", **where)
        return FatalSourceError(f"{what}: Zendesk answered {status}: {str(detail)[:300]}", **where)

    # --- reads ------------------------------------------------------------------------------------

    @staticmethod
    def _page(generator: Any) -> dict[str, Any]:
        page = getattr(generator, "_response_json", None)
        if not isinstance(page, dict):
            raise ZenpyException(f"expected a result page, got {type(generator).__name__}")
        return page

    def export_tickets(self, *, start_time: int | None, cursor: str | None, per_page: int,
                       stream: str | None = None) -> dict[str, Any]:
        """One page of ``GET incremental/tickets/cursor.json``."""
        z = self.zenpy
        kwargs = {"cursor": cursor} if cursor else {"start_time": start_time or 0}
        return self.call("incremental/tickets/cursor", lambda: self._page(
            z.tickets.incremental(paginate_by_time=False, per_page=per_page, **kwargs)), stream=stream)

    def export_users(self, *, start_time: int | None, cursor: str | None, per_page: int,
                     stream: str | None = None) -> dict[str, Any]:
        """One page of ``GET incremental/users/cursor.json``."""
        z = self.zenpy
        kwargs = {"cursor": cursor} if cursor else {"start_time": start_time or 0}
        return self.call("incremental/users/cursor", lambda: self._page(
            z.users.incremental(paginate_by_time=False, per_page=per_page, **kwargs)), stream=stream)

    def export_ticket_events(self, *, start_time: int, per_page: int, stream: str | None = None) -> dict[str, Any]:
        """One page of ``GET incremental/ticket_events.json?include=comment_events``."""
        z = self.zenpy
        return self.call("incremental/ticket_events", lambda: self._page(
            z.tickets.events(start_time=start_time, include="comment_events", per_page=per_page)), stream=stream)

    def export_organizations(self, *, start_time: int, per_page: int, stream: str | None = None) -> dict[str, Any]:
        """One page of ``GET incremental/organizations.json``."""
        z = self.zenpy
        return self.call("incremental/organizations", lambda: self._page(
            z.organizations.incremental(start_time=start_time, per_page=per_page)), stream=stream)

    def export_calls(self, *, start_time: int, per_page: int, stream: str | None = None) -> dict[str, Any]:
        """One page of ``GET channels/voice/stats/incremental/calls.json`` (Zendesk Talk)."""
        z = self.zenpy
        return self.call("channels/voice/stats/incremental/calls", lambda: self._page(
            z.talk.calls.incremental(start_time=start_time, per_page=per_page)), stream=stream)

    def satisfaction_ratings(self, *, start_time: int, stream: str | None = None) -> list[dict[str, Any]]:
        """Every rating changed since ``start_time`` (cursor pages of 100, followed by zenpy)."""
        z = self.zenpy

        def read() -> list[dict[str, Any]]:
            return [r.to_dict() for r in z.satisfaction_ratings(start_time=start_time or None, sort_order="asc")]

        return self.call("satisfaction_ratings", read, stream=stream)

    def users_with_role(self, role: str, *, stream: str | None = None) -> list[dict[str, Any]]:
        z = self.zenpy
        return self.call(f"users?role={role}", lambda: [u.to_dict() for u in z.users(role=role)], stream=stream)

    def comments(self, ticket_id: int, *, stream: str | None = None) -> list[dict[str, Any]]:
        """Every comment of one ticket (the per-ticket way; careplug uses it only in benchmarks)."""
        z = self.zenpy
        return self.call("tickets/{id}/comments", lambda: [c.to_dict() for c in z.tickets.comments(ticket_id)],
                         stream=stream)

    def tickets_by_external_id(self, external_id: str, *, stream: str | None = None) -> list[dict[str, Any]]:
        z = self.zenpy
        return self.call("tickets?external_id", lambda: [t.to_dict() for t in z.tickets(external_id=external_id)],
                         stream=stream)

    def show_many(self, ids: list[int], *, stream: str | None = None) -> list[dict[str, Any]]:
        z = self.zenpy
        return self.call("tickets/show_many", lambda: [t.to_dict() for t in z.tickets(ids=ids)], stream=stream)

    # --- writes -----------------------------------------------------------------------------------

    def create_many(self, tickets: list[Any], *, stream: str | None = None) -> Any:
        """``POST tickets/create_many.json`` (<= 100 zenpy Tickets) → the queued JobStatus. Sent once:
        after a lost answer the caller looks the markers up (see ``WriteBack``)."""
        z = self.zenpy
        return self.call("tickets/create_many", lambda: z.tickets.create(tickets), stream=stream)

    def update_many(self, tickets: list[Any], *, stream: str | None = None, idempotent: bool = False) -> Any:
        """``PUT tickets/update_many.json`` (<= 100 zenpy Tickets) → the queued JobStatus. Retried
        only when ``idempotent`` (tags added or removed, nothing else)."""
        z = self.zenpy
        return self.call("tickets/update_many", lambda: z.tickets.update(tickets), stream=stream,
                         idempotent=idempotent)

    def job_status(self, job_id: str, *, stream: str | None = None) -> dict[str, Any]:
        z = self.zenpy
        return self.call("job_statuses/{id}", lambda: z.job_status(id=job_id).to_dict(), stream=stream)

    def unfinished_jobs(self, *, stream: str | None = None, max_pages: int = 20) -> int:
        """How many background jobs ``GET job_statuses.json`` lists as ``queued`` or ``working``, on
        every page (``next_page``; Zendesk keeps a job's status about an hour, and does not say where
        unfinished jobs sort), at most ``max_pages``."""

        def read() -> int:
            url: str | None = f"https://{self.subdomain}.zendesk.com/api/v2/job_statuses.json"
            unfinished = 0
            for _ in range(max_pages):
                if not url:
                    break
                response = self.session.get(url, timeout=self.timeout)
                response.raise_for_status()
                page = response.json()
                unfinished += sum(1 for j in page.get("job_statuses") or [] if j.get("status") in ("queued", "working"))
                url = page.get("next_page")
            return unfinished

        return self.call("job_statuses", read, stream=stream)

    def close(self) -> None:
        self.session.close()


def _retry_after(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None
