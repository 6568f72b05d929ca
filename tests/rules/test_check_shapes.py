"""A rule or a careplug_detect_neglect plugin returning the wrong shape fails only its own part of a
check: the other rules' findings are stored, the run is not ok, and nothing crashes."""

from __future__ import annotations

import types
from datetime import datetime, timedelta, timezone

import careplug
from careplug import AuthorRole, Conversation, Direction, Finding, Message, Rule, Severity
from careplug.check import evaluate_store
from careplug.plugins import Plugins
from careplug.rules.base import Assessment
from careplug.store import findings as store_findings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SUBJECT = "conversation:desk:t1"


class Good(Rule):
    name = "good"

    def evaluate(self, history, now):
        return [Finding(self.name, history.subject, "x", "breach", Severity.BREACH, "s", started_at=T0)]


def seed(store):
    store.commit_batch("desk", "tickets", [
        Conversation("desk", "t1", created_at=T0),
        Message("desk", "m1", conversation_id="t1", direction=Direction.INBOUND,
                author_role=AuthorRole.CUSTOMER, created_at=T0)], cursor={"n": 1})


def test_a_detect_neglect_plugin_returning_a_bare_finding_fails_only_itself(careplug_store):
    seed(careplug_store)
    module = types.ModuleType("crm_sla")

    @careplug.hookimpl
    def careplug_detect_neglect(subject, history, now):
        return Finding("crm_sla", subject, "sla", "breach", Severity.BREACH, "sla", started_at=T0)  # no [ ]

    module.careplug_detect_neglect = careplug_detect_neglect
    plugins = Plugins(load_entry_points=False, builtins=())
    plugins.register(module, name="crm_sla")

    result = evaluate_store(careplug_store, [Good(Rule.Options())], T0 + timedelta(hours=1), plugins=plugins)

    assert [f.rule for f in store_findings.open_findings(careplug_store)] == ["good"]
    assert result.failures == [
        f"plugin 'crm_sla' failed in careplug_detect_neglect on {SUBJECT}: ShapeError: returned a Finding, "
        "not a list of Finding (return [] or None for none)"]


def test_a_rule_returning_none_in_its_list_fails_only_itself(careplug_store):
    seed(careplug_store)

    class Sloppy(Rule):
        name = "sloppy"

        def evaluate(self, history, now):
            return [None]

    result = evaluate_store(careplug_store, [Sloppy(Rule.Options()), Good(Rule.Options())], T0 + timedelta(hours=1))
    assert [f.rule for f in store_findings.open_findings(careplug_store)] == ["good"]
    assert result.failures == [f"rule 'sloppy' failed on {SUBJECT}: ShapeError: returned a list holding None "
                               "at index 0, not only Finding objects"]


def test_a_rule_whose_assessment_holds_none_fails_only_itself(careplug_store):
    seed(careplug_store)

    class SloppyAssess(Rule):
        name = "sloppy_assess"

        def assess(self, history, now):
            return Assessment([None])

    result = evaluate_store(careplug_store, [SloppyAssess(Rule.Options()), Good(Rule.Options())],
                            T0 + timedelta(hours=1))
    assert [f.rule for f in store_findings.open_findings(careplug_store)] == ["good"]
    assert len(result.failures) == 1 and result.failures[0].startswith("rule 'sloppy_assess' failed")
