"""Proactive pacing: stay under HubSpot's limits instead of running into 429s.

HubSpot limits a private app per portal with a rolling burst window (100 or 150 requests per 10
seconds by tier) and a daily allowance, and the CRM search endpoints separately (a few requests
per second, with no rate-limit headers on their answers). ``Pacer`` keeps one sliding window per
limit and sleeps before a request that would exceed it; ``observe`` reads the
``X-HubSpot-RateLimit-*`` headers of every answer so a window shared with other apps in the
portal (which careplug cannot see) still slows careplug down when HubSpot says little is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from careplug.pacing import SlidingWindow


class Pacer:
    """The burst window (every endpoint) and the search window (CRM search only)."""

    def __init__(self, *, burst: int, burst_seconds: float, search_per_second: int,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.burst = SlidingWindow(burst, burst_seconds, clock=clock, sleep=sleep)
        self.search = SlidingWindow(search_per_second, 1.0, clock=clock, sleep=sleep)
        self.daily_remaining: int | None = None

    def before(self, *, search: bool) -> None:
        (self.search if search else self.burst).acquire()

    def after(self, *, search: bool) -> None:
        (self.search if search else self.burst).done()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn from ``X-HubSpot-RateLimit-Remaining`` / ``-Interval-Milliseconds`` / ``-Daily-Remaining``."""
        lower = {k.lower(): v for k, v in headers.items()}
        daily = lower.get("x-hubspot-ratelimit-daily-remaining")
        if daily is not None and daily.strip().isdigit():
            self.daily_remaining = int(daily)
        remaining = lower.get("x-hubspot-ratelimit-remaining")
        interval = lower.get("x-hubspot-ratelimit-interval-milliseconds")
        if remaining is not None and remaining.strip().isdigit() and int(remaining) <= 1:
            seconds = int(interval) / 1000 if interval and interval.strip().isdigit() else self.burst.per_seconds
            self.burst.hold(seconds)

    @property
    def waited(self) -> float:
        return self.burst.waited + self.search.waited
