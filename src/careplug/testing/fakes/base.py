"""A small stateful HTTP server on 127.0.0.1 for faking CRM APIs, with fault injection and call counts.

A fake subclasses ``FakeServer`` and declares routes::

    class FakeZendesk(FakeServer):
        @route("GET", r"/api/v2/users/(?P<id>\\d+)\\.json", name="users.show")
        def show_user(self, req: Request) -> Response:
            return Response.json({"user": self.users[int(req.params["id"])]})

Faults are queued with ``inject``: the next ``times`` requests that match ``endpoint`` (a route
name, or None for any) get the fault instead of the handler: ``"429"`` (with Retry-After and the
fake's own rate-limit body), ``"500"``/``"502"``/``"503"``, or ``"timeout"`` (the server holds the
request for ``delay`` seconds, then drops the connection). ``calls`` counts handled requests per
route name (faulted ones too), so tests and benchmarks can assert API efficiency.

``rate_limit(group, requests, per_seconds)`` enforces a real sliding-window limit on routes of a
group (429 when exceeded), so an adapter's own pacing can be checked.
"""

from __future__ import annotations

import collections
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> "Response":
        return cls(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})


def route(method: str, pattern: str, *, name: str, group: str | None = None) -> Callable:
    """Declare a handler for ``method`` and a full-match regex on the path."""

    def mark(fn: Callable) -> Callable:
        fn._route = (method.upper(), re.compile(pattern), name, group)  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass
class Fault:
    kind: str
    endpoint: str | None
    times: int
    retry_after: float | None = None
    delay: float = 2.0


class FakeServer:
    """Base of the loopback CRM fakes. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern, str, str | None, Callable]] = []
        for attr in dir(type(self)):
            fn = getattr(type(self), attr)
            spec = getattr(fn, "_route", None)
            if spec:
                self.routes.append((*spec, getattr(self, attr)))
        self.calls: collections.Counter[str] = collections.Counter()
        self.faults: list[Fault] = []
        self.limits: dict[str, tuple[int, float]] = {}
        self._hits: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.lock = threading.RLock()
        self.requests: list[tuple[str, str]] = []   # (method, route name), in order
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "FakeServer":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start the fake first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- test controls ------------------------------------------------------------------------

    def inject(self, kind: str, *, endpoint: str | None = None, times: int = 1,
               retry_after: float | None = None, delay: float = 2.0) -> None:
        with self.lock:
            self.faults.append(Fault(kind, endpoint, times, retry_after, delay))

    def rate_limit(self, group: str, requests: int, per_seconds: float) -> None:
        with self.lock:
            self.limits[group] = (requests, per_seconds)

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()
            self.requests.clear()

    def total_calls(self, prefix: str = "") -> int:
        return sum(n for name, n in self.calls.items() if name.startswith(prefix))

    # --- what subclasses override -------------------------------------------------------------

    def rate_limited_response(self, retry_after: float) -> Response:
        """The CRM's own answer when a rate limit is hit (default: 429 with Retry-After)."""
        return Response.json({"error": "rate limited"}, 429, {"Retry-After": _fmt_seconds(retry_after)})

    def error_response(self, status: int) -> Response:
        return Response.json({"error": "server error"}, status)

    def authorize(self, req: Request) -> Response | None:
        """Return a 401 response when the request lacks valid credentials, else None."""
        return None

    # --- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        req = Request(h.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                      {k.lower(): v for k, v in h.headers.items()}, body)
        for method, pattern, name, group, handler in self.routes:
            if method != h.command:
                continue
            m = pattern.fullmatch(parts.path)
            if m is None:
                continue
            req.params = m.groupdict()
            response = self._respond(name, group, handler, req)
            if response is None:        # a timeout fault: drop the connection
                h.close_connection = True
                return
            self._send(h, response)
            return
        self._send(h, Response.json({"error": f"no fake route for {h.command} {parts.path}"}, 404))

    def _respond(self, name: str, group: str | None, handler: Callable, req: Request) -> Response | None:
        with self.lock:
            self.calls[name] += 1
            self.requests.append((req.method, name))
            fault = self._take_fault(name)
        if fault is not None:
            if fault.kind == "timeout":
                time.sleep(fault.delay)
                return None
            if fault.kind == "429":
                return self.rate_limited_response(fault.retry_after if fault.retry_after is not None else 1)
            return self.error_response(int(fault.kind))
        if group is not None:
            wait = self._over_limit(group)
            if wait is not None:
                return self.rate_limited_response(wait)
        denied = self.authorize(req)
        if denied is not None:
            return denied
        try:
            with self.lock:
                return handler(req)
        except Exception as exc:  # a bug in a fake must show up clearly in the test
            return Response.json({"error": f"fake crashed: {type(exc).__name__}: {exc}"}, 599)

    def _take_fault(self, name: str) -> Fault | None:
        for fault in self.faults:
            if fault.endpoint in (None, name) and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _over_limit(self, group: str) -> float | None:
        limit = self.limits.get(group)
        if limit is None:
            return None
        requests, per = limit
        now = time.monotonic()
        with self.lock:
            hits = self._hits[group]
            while hits and now - hits[0] >= per:
                hits.popleft()
            if len(hits) >= requests:
                return max(0.01, per - (now - hits[0]))
            hits.append(now)
        return None

    server_name = "FakeCRM"

    def _send(self, h: BaseHTTPRequestHandler, response: Response) -> None:
        """Status line, headers and body in one write: written apart, Nagle's algorithm and the
        client's delayed ACK stall every keep-alive request by ~40 ms."""
        headers = {"Content-Length": str(len(response.body)), "Content-Type": "application/json",
                   **response.headers}
        head = f"HTTP/1.1 {response.status} {h.responses.get(response.status, ('',))[0]}\r\n"
        head += f"Server: {self.server_name}\r\nDate: {h.date_time_string()}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        h.wfile.write(head.encode("latin-1") + response.body)


def _fmt_seconds(seconds: float) -> str:
    return str(max(1, int(round(seconds)))) if seconds >= 1 else f"{seconds:.2f}"
