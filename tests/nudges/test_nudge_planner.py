"""The built-in planner: who gets what, where, due when — a pure function of finding and policy."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import careplug
from careplug.nudges.model import Action, Nudge, nudge_key
from careplug.nudges.planner import plan
from careplug.nudges.policy import NudgePolicy
from careplug.plugins import Plugins

from nudge_app import finding

HIERARCHY = {"managers": {"alice": "maria", "crm:7": "crm:9"},
             "teams": {"billing": {"default_owner": "carol", "lead": "lena"}}}


def policy(**data) -> NudgePolicy:
    return NudgePolicy.model_validate({"hierarchy": HIERARCHY, **data})


def test_a_warning_is_a_task_for_the_owner_due_when_the_finding_breaches():
    f = finding(1, owner="alice")
    (n,) = plan(f, policy())
    assert (n.action, n.target, n.assignee, n.escalation) == (Action.TASK, "crm", "alice", False)
    assert n.due_at == f.due_at and n.conversation_id == "1"
    assert n.key == nudge_key(f.key, "warning", "task", "crm")


def test_a_breach_escalates_to_the_owners_manager_an_hour_after_detection_at_the_latest():
    f = finding(1, owner="alice", stage="breach")
    (n,) = plan(f, policy())
    assert (n.assignee, n.escalation) == ("maria", True)
    assert n.title.startswith("Escalation:") and "Owner: alice (escalated to maria)" in n.body
    assert n.due_at == f.due_at + timedelta(hours=1)


def test_source_qualified_hierarchy_entries_win():
    (n,) = plan(finding(1, owner="7", stage="breach"), policy())
    assert n.assignee == "crm:9"


def test_without_a_manager_a_breach_goes_to_the_team_lead():
    (n,) = plan(finding(1, owner="bob", group="billing", stage="breach"), policy())
    assert (n.assignee, n.escalation) == ("lena", True)


def test_without_a_manager_or_lead_a_breach_stays_with_the_owner():
    (n,) = plan(finding(1, owner="bob", stage="breach"), policy())
    assert (n.assignee, n.escalation) == ("bob", False)


def test_an_unassigned_finding_goes_to_its_teams_default_owner_then_the_default_owner():
    assert plan(finding(1, owner=None, group="billing"), policy())[0].assignee == "carol"
    assert plan(finding(1, owner=None), policy(default_owner="dora"))[0].assignee == "dora"


def test_assign_to_a_named_team_or_person():
    stages = {"breach": {"actions": ["task"], "assign_to": "team:billing"},
              "critical": {"actions": ["task"], "assign_to": "person:ceo"}}
    assert plan(finding(1, stage="breach"), policy(stages=stages))[0].assignee == "lena"
    assert plan(finding(1, stage="critical"), policy(stages=stages))[0].assignee == "ceo"


def test_a_rule_can_map_a_stage_to_a_note_a_tag_and_a_notification():
    rules = {"unanswered": {"warning": {"actions": ["note", {"action": "tag", "tags": ["waiting"]},
                                                   {"action": "notify", "notifier": "slack"}]}}}
    notes = plan(finding(1), policy(rules=rules))
    assert [(n.action.value, n.target, n.tags) for n in notes] == [
        ("note", "crm", []), ("tag", "crm", ["waiting"]), ("notify", "slack", [])]
    assert plan(finding(1, rule="other"), policy(rules=rules))[0].action is Action.TASK


def test_a_note_needs_a_conversation_and_is_left_out_without_one():
    f = replace(finding(1), subject="customer:crm/5", conversation_id=None)
    assert plan(f, policy(stages={"warning": {"actions": ["note", "task"]}}))[0].action is Action.TASK


def test_a_stage_without_actions_or_a_resolved_finding_plans_nothing():
    assert plan(finding(1, stage="info"), policy()) == []
    assert plan(finding(1), policy(stages={"warning": {"actions": []}})) == []
    assert plan(replace(finding(1), resolved_at=finding(1).due_at), policy()) == []


def test_replanning_the_same_finding_and_stage_gives_the_same_nudges():
    assert plan(finding(1), policy()) == plan(finding(1), policy())


def test_the_builtin_planner_runs_last_so_a_plugin_planner_decides_first():
    plugins = Plugins(builtins=("careplug.nudges.planner",), load_entry_points=False)
    f = finding(1)
    assert plugins.plan_follow_up(f, policy())[0].assignee == "alice"

    class Mine:
        @careplug.hookimpl
        def careplug_plan_follow_up(self, finding, policy):
            return [Nudge(nudge_key(finding.key, finding.stage, "note", "crm"), finding.key, finding.stage,
                          Action.NOTE, "crm", "mine")]

    plugins.register(Mine(), name="mine")
    assert [n.title for n in plugins.plan_follow_up(f, policy())] == ["mine"]


def test_managers_from_the_crm_fill_gaps_but_the_config_wins():
    from_crm = {"crm:alice": "crm-boss", "crm:bob": "bobs-boss"}
    bound = policy().bind(managers=from_crm)
    assert plan(finding(1, owner="alice", stage="breach"), bound)[0].assignee == "maria"
    assert plan(finding(1, owner="bob", stage="breach"), bound)[0].assignee == "bobs-boss"
