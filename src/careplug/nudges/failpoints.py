"""Failpoints for crash tests: ``CAREPLUG_FAILPOINT=<name>`` kills this process (SIGKILL, no
cleanup, no flush) when the code reaches ``hit(<name>)``. Unset, ``hit`` is one dict lookup."""

from __future__ import annotations

import os
import signal

ENV = "CAREPLUG_FAILPOINT"


def hit(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
