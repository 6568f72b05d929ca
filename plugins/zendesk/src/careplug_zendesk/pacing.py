"""Proactive pacing: stay under Zendesk's limits instead of running into 429s.

Zendesk limits an account per minute (by plan: 200 Team, 400 Growth/Professional, 700 Enterprise,
more with the High Volume add-on) and, separately, the incremental export endpoints to 10 requests
a minute (30 with High Volume). An incremental request counts against both. ``Pacer`` keeps one
sliding window per limit and sleeps before a request that would exceed either; ``hold`` fills a
window when Zendesk answered 429 anyway (another integration shares the account's allowance).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable


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

    def hold(self, seconds: float) -> None:
        """Fill the window so the next acquisition waits ``seconds``."""
        with self._lock:
            until = self._clock() + seconds - self.per_seconds
            self._hits = collections.deque([until] * self.requests)


class Pacer:
    """The account window and the incremental-export window."""

    def __init__(self, *, per_minute: int, incremental_per_minute: int, window_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.account = SlidingWindow(per_minute, window_seconds, clock=clock, sleep=sleep)
        self.incremental = SlidingWindow(incremental_per_minute, window_seconds, clock=clock, sleep=sleep)

    def before(self, *, incremental: bool) -> None:
        if incremental:
            self.incremental.acquire()
        self.account.acquire()

    def hold(self, seconds: float, *, incremental: bool) -> None:
        (self.incremental if incremental else self.account).hold(seconds)

    @property
    def waited(self) -> float:
        return self.account.waited + self.incremental.waited
