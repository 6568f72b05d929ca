"""Proactive pacing: never send more than ``requests`` in any ``per_seconds`` window.

Freshdesk limits requests per minute per account (by plan); waiting before the limit is cheaper
than being told to wait after it. The window itself is the SDK's ``careplug.pacing.SlidingWindow``
(thread-safe; ``clock`` and ``sleep`` are injectable for tests); this module adds the one window per
account that every source instance in the process shares.
"""

from __future__ import annotations

import threading

from careplug.pacing import SlidingWindow


class Pacer(SlidingWindow):
    def wait(self) -> float:
        """Block until one more request fits in the window; return the seconds waited."""
        before = self.waited
        self.acquire()
        return self.waited - before


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
