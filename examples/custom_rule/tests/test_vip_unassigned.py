"""The example rule, tested the way a plugin author would: through careplug's plugin manager."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import careplug_vip

from careplug import Account, Conversation, Customer, History
from careplug.plugins import Plugins

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def vip_history(assignee=None):
    conv = Conversation("desk", "7", customer_id="c1", account_id="a1", assignee=assignee, created_at=T0)
    return History("conversation:desk:7", customers=[Customer("desk", "c1", account_id="a1")],
                   account=Account("desk", "a1", tier="vip"), conversations=[conv])


def rule():
    plugins = Plugins(load_entry_points=False, builtins=())
    plugins.register(careplug_vip, name="vip")
    cls = plugins.rules()["vip_unassigned"]
    return cls(cls.Options.model_validate({"after": "30m"}))


def test_an_unassigned_vip_conversation_breaches_after_the_target():
    [finding] = rule().evaluate(vip_history(), T0 + timedelta(minutes=31))
    assert (finding.stage, finding.due_at) == ("breach", T0 + timedelta(minutes=30))


def test_before_the_target_it_asks_to_be_checked_again_at_the_due_time():
    [finding] = rule().evaluate(vip_history(), T0 + timedelta(minutes=10))
    assert finding.stage == "pending" and finding.next_check_at == T0 + timedelta(minutes=30)


def test_an_assigned_conversation_is_fine():
    assert rule().evaluate(vip_history(assignee="agent-1"), T0 + timedelta(hours=5)) == []
