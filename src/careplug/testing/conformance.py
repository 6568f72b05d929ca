"""The adapter conformance suite: one generated pytest test class every source must pass.

Usage (in an adapter's tests, e.g. ``plugins/zendesk/tests/test_conformance.py``)::

    from careplug.testing.conformance import AdapterConformance
    from careplug_zendesk.harness import ZendeskHarness

    class TestZendeskConformance(AdapterConformance):
        harness = ZendeskHarness          # an AdapterHarness subclass (or any zero-argument factory)
        seed_conversations = 12           # optional: the size of the seeded fake (keep it small)

or, equivalently, ``TestZendeskConformance = conformance_suite(ZendeskHarness)``.

pytest collects every ``test_*`` method below for that class. Each test gets a fresh harness
(started, seeded with ``seed_conversations`` conversations, stopped afterwards) and a fresh
``careplug.store.Store`` in ``tmp_path``; syncs run through ``careplug.sync.sync_source``, exactly
as ``careplug sync`` does. What a harness cannot do is skipped with the reason, never passed:
``supports_faults`` lists the faults it can inject, ``delete``/``merge`` return False when the CRM
has no such thing, ``corrupt`` raises NotImplementedError, ``can_deliver()`` is False for a
read-only source, ``enforce_rate_limit`` left as the no-op default means the fake has no limits,
and ``secrets()`` returning nothing means the source takes no credentials.

What the suite checks (one test each; the names say the behaviour):

- the first sync stores every record the fake holds (per kind in ``harness.record_kinds``), each
  conversation read once;
- a second sync from the final cursor reads exactly the conversations added or changed since
  (no gaps, no repeats; ``harness.boundary_rereads`` tolerates inclusive cursors);
- stopping after checkpoint k (for every k, as Airbyte's ``test_read_sequential_slices``) and
  resuming with a new source instance leaves the same store as an uninterrupted sync
  (``harness.checkpoint_options`` makes the source checkpoint often, e.g. small pages);
- conversations changed while a sync runs are picked up by the next one;
- a 429 with Retry-After is honoured (the retry waits at least that long) and the sync completes;
  with ``harness.enforce_rate_limit()`` on, a first and a steady-state sync get no 429 at all;
- 5xx answers and timeouts are retried and the sync completes; a persistent failure ends in a
  ``careplug.errors.CareplugError`` naming the source, with the cursors kept at the last
  checkpoint and no record lost (a later sync, after the fault clears, catches up);
- a malformed record is quarantined with a reason and every other record is stored;
- a nudge delivered twice, or again by a fresh source after a crash between the CRM write and
  the ledger, is one object in the CRM (``harness.objects_with_marker``), and ``find_delivered``
  reports it;
- deleted and merged conversations leave the store (skipped when the harness says unsupported);
- no credential (``harness.secrets()``) appears in logs at DEBUG, in error messages, in reprs of
  the source and its options, or in the bytes of the store files.

Settings a test class may override: ``seed_conversations`` (default 8), ``changed`` (how many
conversations a second sync adds and touches, default 2 each), ``max_resume_points`` (checkpoints
resumed from, sampled evenly when there are more; default 10), ``retry_after`` (seconds of the
injected Retry-After, default 1.0).
"""
