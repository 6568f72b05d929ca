"""An example third-party care rule: a conversation of a VIP customer left without an assignee.

Install it next to careplug (``pip install -e examples/custom_rule``) and enable it::

    [rules.vip_unassigned]
    tiers = ["vip", "key"]
    after = "30m"
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

import careplug
from careplug import Finding, Rule, RuleOptions, Severity
from careplug.durations import parse_duration


class VipUnassignedOptions(RuleOptions):
    tiers: list[str] = Field(default_factory=lambda: ["vip"], description="Customer tiers this rule watches")
    after: timedelta = Field(timedelta(minutes=30), description="How long a VIP conversation may stay unassigned")

    @field_validator("after", mode="before")
    @classmethod
    def _duration(cls, value):
        return parse_duration(value)


class VipUnassigned(Rule):
    name = "vip_unassigned"
    Options = VipUnassignedOptions
    subjects = ("conversation",)
    description = "A VIP's open conversation has had no assignee for too long."

    def evaluate(self, history, now):
        conv = history.conversation
        tier = history.tier()
        if conv is None or conv.assignee or conv.status.is_done or tier not in self.options.tiers:
            return []
        due = conv.created_at + self.options.after
        if now < due:
            return [Finding(self.name, history.subject, conv.external_id, "pending", Severity.INFO,
                            f"VIP conversation unassigned (due {due:%H:%M} UTC)", started_at=conv.created_at,
                            due_at=due, next_check_at=due, source=conv.source, conversation_id=conv.external_id,
                            customer_uid=history.customer_uid, channel=conv.channel.value)]
        return [Finding(self.name, history.subject, conv.external_id, "breach", Severity.BREACH,
                        f"VIP conversation #{conv.external_id} has no assignee", started_at=conv.created_at,
                        due_at=due, source=conv.source, conversation_id=conv.external_id,
                        customer_uid=history.customer_uid, group=conv.group, channel=conv.channel.value)]


@careplug.hookimpl
def careplug_register_rules(register):
    register(VipUnassigned)
