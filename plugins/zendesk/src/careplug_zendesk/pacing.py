"""Proactive pacing: stay under Zendesk's limits instead of running into 429s.

Zendesk limits an account per minute (by plan: 200 Team, 400 Growth/Professional, 700 Enterprise,
more with the High Volume add-on) and, separately, the incremental export endpoints to 10 requests
a minute (30 with High Volume). An incremental request counts against both. ``Pacer`` keeps one
sliding window per limit and sleeps before a request that would exceed either; ``hold`` fills a
window when Zendesk answered 429 anyway (another integration shares the account's allowance).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from careplug.pacing import SlidingWindow


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
