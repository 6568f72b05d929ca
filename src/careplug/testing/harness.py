"""The harness contract: what an adapter's test kit gives the conformance suite.

The suite (``careplug.testing.conformance``) knows nothing about a particular CRM; each adapter
ships one ``AdapterHarness`` subclass that knows how to start its loopback fake, configure a
source against it, change the fake's data, inject faults and read back what was written.
Conversation ids used below are the source's external ids of conversations (tickets, cases).
"""

from __future__ import annotations

import abc
from typing import Any

from ..nudges.model import Nudge
from ..source import Source


class AdapterHarness(abc.ABC):
    """One adapter plus its fake. Used as a context manager around each suite test."""

    source_kind: str = ""
    #: record kinds the adapter syncs, compared between fake and store by the suite
    record_kinds: tuple[str, ...] = ("customer", "conversation", "message")
    #: the fault kinds the adapter must survive ("429", "500", "timeout")
    supports_faults: tuple[str, ...] = ("429", "500", "timeout")
    #: options for ``make_source`` that make the source checkpoint often (e.g. a small page size),
    #: so the suite can stop a sync after each checkpoint and resume it
    checkpoint_options: dict[str, Any] = {}
    #: how many unchanged conversations a sync from the final cursor may re-read, for CRMs whose
    #: change filters are inclusive at the cursor (0: the cursor is exact)
    boundary_rereads: int = 0

    def __enter__(self) -> "AdapterHarness":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- lifecycle ----------------------------------------------------------------------------

    @abc.abstractmethod
    def start(self) -> None:
        """Start the fake (and set the env vars holding the test credentials)."""

    @abc.abstractmethod
    def stop(self) -> None: ...

    @abc.abstractmethod
    def make_source(self, name: str = "crm", **options: Any) -> Source:
        """A configured source pointed at the fake, with test-speed retry and pacing settings.
        ``options`` override the harness's defaults (e.g. ``page_size``)."""

    @abc.abstractmethod
    def secrets(self) -> list[str]:
        """Every credential value the source was given: they must never reach logs, errors or
        the store."""

    # --- data ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def seed(self, conversations: int, *, seed: int = 0) -> None:
        """Fill the fake with ``conversations`` conversations, their customers, messages, ..."""

    @abc.abstractmethod
    def ids(self, kind: str) -> set[str]:
        """External ids of the records of ``kind`` the fake holds now (what a full sync must store)."""

    @abc.abstractmethod
    def add(self, conversations: int) -> set[str]:
        """Create new conversations (with messages) now; return their ids."""

    @abc.abstractmethod
    def touch(self, conversation_ids: set[str]) -> None:
        """Change these conversations now (a new message or a status change), bumping their
        modification time past every cursor handed out so far."""

    def delete(self, conversation_id: str) -> bool:
        """Delete a conversation in the fake; return False when the CRM has no deletions."""
        return False

    def merge(self, loser_id: str, winner_id: str) -> bool:
        """Merge one conversation (or customer) into another; False when unsupported."""
        return False

    def corrupt(self, conversation_id: str) -> None:
        """Make this conversation's payload malformed (a missing or ill-typed required field)."""
        raise NotImplementedError

    # --- faults and accounting ----------------------------------------------------------------

    #: how long a "timeout" fault holds a request before dropping it (longer than the source's timeout)
    timeout_fault_delay: float = 1.5

    def _fake(self, method: str):
        """The harness's ``FakeServer`` (kept as ``self.fake``), for the default implementations."""
        fake = getattr(self, "fake", None)
        if fake is None:
            raise NotImplementedError(f"{type(self).__name__} keeps no FakeServer as self.fake: implement {method}()")
        return fake

    def inject(self, fault: str, *, times: int = 1, retry_after: float | None = None,
               endpoint: str | None = None) -> None:
        """Queue a fault ("429", "500", "timeout") on the next requests (of ``endpoint``).
        The default queues it on ``self.fake``."""
        self._fake("inject").inject(fault, times=times, retry_after=retry_after, endpoint=endpoint,
                                    delay=self.timeout_fault_delay)

    def clear_faults(self) -> None:
        """Drop every queued fault (default: those of ``self.fake``)."""
        fake = self._fake("clear_faults")
        with fake.lock:
            fake.faults.clear()

    def enforce_rate_limit(self) -> None:
        """Turn on the fake's real (scaled-down) rate limits, to check the adapter paces itself."""

    def calls(self) -> dict[str, int]:
        """Requests per endpoint since the last ``reset_calls`` (default: ``self.fake.calls``)."""
        return dict(self._fake("calls").calls)

    def reset_calls(self) -> None:
        self._fake("reset_calls").reset_calls()

    def rate_limited_responses(self) -> int:
        """How many 429 (or the CRM's equivalent) answers the fake gave by its own limits
        (default: ``self.fake.rate_limited`` when the fake counts them, else 0)."""
        return int(getattr(getattr(self, "fake", None), "rate_limited", 0))

    # --- write-back ---------------------------------------------------------------------------

    def can_deliver(self) -> bool:
        return True

    @abc.abstractmethod
    def nudge_for(self, conversation_id: str, key: str) -> Nudge:
        """A nudge (task or note, as the adapter prefers) about an existing conversation."""

    @abc.abstractmethod
    def objects_with_marker(self, marker: str) -> list[Any]:
        """The CRM objects (tasks, notes, tickets) carrying this marker."""
