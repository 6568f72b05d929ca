"""Follow-up nudges: planning, the exactly-once ledger, delivery."""
