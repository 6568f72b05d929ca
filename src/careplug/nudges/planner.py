"""The built-in planner: ``careplug_plan_follow_up`` configured by ``[nudges]`` (``NudgePolicy``).

Written exactly like a third-party plugin: a module-level hook implementation, ``trylast`` so any
other planner that returns a list decides first.

For a finding at a stage it returns one ``Nudge`` per action of that stage's policy:

- **who**: ``assign_to = "owner"`` → the finding's owner (the conversation's assignee, else the
  account owner, as the check engine and ``run_nudges`` fill it), else the default owner of the
  finding's team (``group``), else ``[nudges] default_owner``. ``"manager"`` → the owner's manager
  (``[nudges.hierarchy] managers``, then the CRM's agent records), else the team lead, else the
  owner (an escalation with nowhere to go still reaches someone). ``"team:<name>"`` → that team's
  lead; ``"person:<id>"`` → that person.
- **where**: task/note/tag go to the action's ``target``, else the finding's source, else
  ``default_target`` (also when the finding's source cannot take nudges); notify goes to its
  notifier. A note or tag needs a conversation in its target; without one it is left out.
- **when due** (tasks): ``due_in`` after the finding's due time (or its detection), so the same
  finding always gets the same due time; quiet hours delay delivery, never the due time.

Planning is a pure function of the finding and the policy: re-planning gives the same nudges
with the same keys (``nudge_key``), which the ledger turns into "already planned".
"""

from __future__ import annotations

from datetime import timedelta

import careplug

from ..finding import Finding
from .model import Action, Nudge, nudge_key
from .policy import ActionSpec, NudgePolicy, StagePolicy

PRE_BREACH = ("warning", "info")


@careplug.hookimpl(trylast=True)
def careplug_plan_follow_up(finding: Finding, policy: object) -> list[Nudge] | None:
    if not isinstance(policy, NudgePolicy):
        return None
    return plan(finding, policy)


def plan(finding: Finding, policy: NudgePolicy) -> list[Nudge]:
    """The nudges for ``finding`` at its current stage (empty: nothing to do)."""
    if not policy.enabled or finding.resolved_at is not None:
        return []
    stage = policy.stage_policy(finding.rule, finding.stage, getattr(finding.severity, "value", finding.severity))
    if stage is None or not stage.actions:
        return []
    owner = resolve_owner(finding, policy)
    assignee, escalation = resolve_assignee(stage, owner, finding, policy)
    nudges = []
    for spec in stage.actions:
        nudge = _nudge(finding, spec, policy, assignee, owner, escalation)
        if nudge is not None:
            nudges.append(nudge)
    return nudges


def resolve_owner(finding: Finding, policy: NudgePolicy) -> str | None:
    """The finding's owner (assignee → account owner, as filled in), else its team's default owner,
    else the configured default owner."""
    if finding.owner:
        return finding.owner
    team = policy.team(finding.group)
    if team and team.default_owner:
        return team.default_owner
    return policy.default_owner


def resolve_assignee(stage: StagePolicy, owner: str | None, finding: Finding,
                     policy: NudgePolicy) -> tuple[str | None, bool]:
    """``(assignee, is_escalation)`` for a stage's ``assign_to``."""
    rule = stage.assign_to
    if rule == "owner":
        return owner, False
    if rule.startswith("person:"):
        return rule[len("person:"):], True
    if rule.startswith("team:"):
        team = policy.team(rule[len("team:"):])
        return (team.lead if team and team.lead else owner), True
    manager = policy.manager_of(owner, finding.source)
    if manager:
        return manager, True
    team = policy.team(finding.group)
    if team and team.lead and team.lead != owner:
        return team.lead, True
    return owner, False


def _target(finding: Finding, spec: ActionSpec, policy: NudgePolicy) -> str | None:
    if spec.action is Action.NOTIFY:
        return spec.notifier
    if spec.target:
        return spec.target
    deliverable = policy.deliverable
    if finding.source and (deliverable is None or finding.source in deliverable or not policy.default_target):
        return finding.source  # (a source that cannot deliver fails loudly at delivery, never silently)
    return policy.default_target


def _due(finding: Finding, spec: ActionSpec) -> object:
    pre_breach = finding.stage in PRE_BREACH
    due_in = spec.due_in if spec.due_in is not None else (timedelta(0) if pre_breach else timedelta(hours=1))
    if spec.due_from == "finding_due" and finding.due_at is not None:
        anchor = finding.due_at
        if not pre_breach and finding.detected_at is not None and finding.detected_at > anchor:
            anchor = finding.detected_at  # detected long after the breach: due counts from now-ish
    else:
        anchor = finding.detected_at or finding.started_at
    return anchor + due_in


def _nudge(finding: Finding, spec: ActionSpec, policy: NudgePolicy, assignee: str | None,
           owner: str | None, escalation: bool) -> Nudge | None:
    target = _target(finding, spec, policy)
    if not target:
        return None
    in_own_source = target == finding.source
    conversation_id = finding.conversation_id if in_own_source else None
    if spec.action in (Action.NOTE, Action.TAG) and not conversation_id:
        return None
    title = finding.summary if not escalation else f"Escalation: {finding.summary}"
    lines = [finding.summary, "",
             f"Rule: {finding.rule} ({finding.stage}, {getattr(finding.severity, 'value', finding.severity)})",
             f"Subject: {finding.subject}"]
    if finding.due_at is not None:
        lines.append(f"Due: {finding.due_at.isoformat()}")
    if escalation and owner and owner != assignee:
        lines.append(f"Owner: {owner} (escalated to {assignee})")
    nudge = Nudge(
        key=nudge_key(finding.key, finding.stage, spec.action.value, target),
        finding_key=finding.key,
        stage=finding.stage,
        action=spec.action,
        target=target,
        title=title,
        body="\n".join(lines),
        assignee=assignee,
        escalation=escalation,
        due_at=_due(finding, spec) if spec.action is Action.TASK else None,  # type: ignore[arg-type]
        conversation_id=conversation_id,
        account_id=finding.account_id if in_own_source else None,
        tags=list(spec.tags) or ([f"careplug_{finding.rule}_{finding.stage}"] if spec.action is Action.TAG else []),
    )
    nudge.extra.update({"rule": finding.rule, "subject": finding.subject, "severity":
                        getattr(finding.severity, "value", finding.severity), "owner": owner,
                        "group": finding.group, "customer_uid": finding.customer_uid,
                        # where the finding lives, for a notifier to link to (nudge.conversation_id is
                        # an id in the *target*, so None when the target is another system)
                        "source": finding.source, "conversation_id": finding.conversation_id,
                        "account_id": finding.account_id})
    person = policy.person(assignee, finding.source)
    if person and person.email:
        nudge.extra["assignee_email"] = person.email
    return nudge
