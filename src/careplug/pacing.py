"""Proactive pacing for adapters: a sliding-window rate limiter, so a sync stays under a CRM's
limits instead of running into 429s. Adapters keep one window per documented limit (Zendesk's
account minute and incremental-export minute, HubSpot's burst and search windows, ...)."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """At most ``requests`` acquisitions in any ``per_seconds`` window."""

    def __init__(self, requests: int, per_seconds: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if requests < 1 or per_seconds <= 0:
            raise ValueError("a window needs requests >= 1 and per_seconds > 0")
        self.requests, self.per_seconds = requests, per_seconds
        self._clock, self._sleep = clock, sleep
        self._hits: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self.waited = 0.0

    def delay(self) -> float:
        """Seconds to wait before one more request fits (0 when it fits now)."""
        now = self._clock()
        while self._hits and now - self._hits[0] >= self.per_seconds:
            self._hits.popleft()
        if len(self._hits) < self.requests:
            return 0.0
        return self.per_seconds - (now - self._hits[0])

    def acquire(self) -> None:
        with self._lock:
            wait = self.delay()
            while wait > 0:
                self.waited += wait
                self._sleep(wait)
                wait = self.delay()
            self._hits.append(self._clock())

    def done(self) -> None:
        """The request just answered: count it from now (the server saw it no earlier than it was
        sent and no later than now, so counting from the answer is the safe side of the window)."""
        with self._lock:
            if self._hits:
                self._hits[-1] = max(self._hits[-1], self._clock())

    def hold(self, seconds: float) -> None:
        """Fill the window so the next acquisition waits ``seconds`` (the CRM said none are left)."""
        with self._lock:
            until = self._clock() + seconds - self.per_seconds
            self._hits = collections.deque([until] * self.requests)
