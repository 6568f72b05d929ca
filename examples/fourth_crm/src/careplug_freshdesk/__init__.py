"""careplug-freshdesk (example): a careplug source for a Freshdesk-like helpdesk (API v2 shapes).

Built step by step in ``docs/writing-an-adapter.md``: ``fake`` (the loopback API the tests run
against), ``client`` (HTTP, retries, pacing, errors), ``mapping`` (payloads → records),
``source`` (the Source: streams, cursors, checkpoints, write-back), ``plugin`` (registration),
``harness`` (what the conformance suite needs).
"""
