"""Retrying a CRM's transient errors the same way in every adapter.

A ``RetriableError`` (429, 5xx, timeouts, resets) is retried up to ``max_attempts`` times. The wait
is the error's ``retry_after`` when the CRM sent one, else exponential backoff (``backoff``, 2×,
4×, ...), and never more than ``max_wait``: a CRM asking for an hour does not stall a run for an
hour (the adapter raises ``RateLimitExhausted`` for that instead). The last error is re-raised as is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import tenacity

from .errors import RetriableError

__all__ = ["retrying", "retry_wait"]


def retry_wait(*, backoff: float, max_wait: float) -> Callable[[tenacity.RetryCallState], float]:
    """A tenacity ``wait``: Retry-After first, else exponential backoff, both capped at ``max_wait``."""

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), max_wait)
        return min(backoff * (2 ** (state.attempt_number - 1)), max_wait)

    return wait


def retrying(*, max_attempts: int, backoff: float, max_wait: float, log: logging.Logger,
             sleep: Callable[[float], None] | None = None) -> tenacity.Retrying:
    """A ``tenacity.Retrying`` for ``RetriableError`` that logs each retry (never a secret: the
    errors' messages are careplug's own)."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(RetriableError),
        stop=tenacity.stop_after_attempt(max_attempts),
        wait=retry_wait(backoff=backoff, max_wait=max_wait),
        reraise=True,
        sleep=sleep or tenacity.nap.sleep,
        before_sleep=lambda rs: log.warning("%s; retrying (attempt %d of %d)", rs.outcome.exception(),
                                            rs.attempt_number, max_attempts),
    )
