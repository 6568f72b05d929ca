"""Proactive pacing: never send more than ``requests`` in any ``per_seconds`` window.

Freshdesk limits requests per minute per account (by plan); waiting before the limit is cheaper
than being told to wait after it. Thread-safe; ``clock`` and ``sleep`` are injectable for tests.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable


class Pacer:
    def __init__(self, requests: int, per_seconds: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if requests < 1 or per_seconds <= 0:
            raise ValueError("a pacer needs requests >= 1 and per_seconds > 0")
        self.requests, self.per_seconds = requests, per_seconds
        self.clock, self.sleep = clock, sleep
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until one more request fits in the window; return the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self.clock()
                while self._sent and now - self._sent[0] >= self.per_seconds:
                    self._sent.popleft()
                if len(self._sent) < self.requests:
                    self._sent.append(now)
                    return waited
                pause = self.per_seconds - (now - self._sent[0])
                self.sleep(pause)
                waited += pause


_shared: dict[tuple[str, int, float], Pacer] = {}
_shared_lock = threading.Lock()


def shared_pacer(account: str, requests: int, per_seconds: float) -> Pacer:
    """The one pacer of an account in this process: the allowance belongs to the account, so two
    source instances (two runs, or a sync and a delivery) must draw from the same window."""
    key = (account, requests, per_seconds)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Pacer(requests, per_seconds)
        return _shared[key]
