"""``run_nudges``: turn open findings into nudges, and deliver each exactly once.

One run, in order:

1. **Plan** every open finding at its current stage (``careplug_plan_follow_up``; the built-in
   planner is ``careplug.nudges.planner``) and record the new nudges as *planned*. A key already
   in the ledger is not planned again: at most one nudge per finding, stage, action and target;
   one not yet written (planned, or failed) is re-addressed when its conversation was reassigned.
2. **Clear**: open nudges whose finding cleared, moved on to another stage, or is gone, are
   cancelled if nothing reached the CRM (planned; or pending/failed with no marker found there),
   and closed in the CRM (``Source.cancel``) if something did. So are the undelivered nudges of
   a finding planned in this run that its stage's policy no longer asks for (actions turned off).
   When a finding clears after its nudge was delivered, the time to action is recorded
   (``careplug.nudges.outcomes``).
3. **Deliver** what is due, per target, in batches: quiet hours (the assignee's business hours)
   and per-person daily caps hold nudges back as *planned* for a later run; each batch is
   committed *pending* before ``careplug_deliver_nudges`` writes it, and *delivered* after.
   ``careplug_nudge_delivered`` is called once per nudge, when its delivery is recorded.

A target that fails (CRM down, bad credentials) fails only its own nudges: they stay in the
ledger (*failed*, retried next run, up to ``limits.max_attempts``) and the failure is reported;
the other targets are delivered. With ``dry_run`` nothing is written anywhere — no CRM call, no
ledger row — and the result lists what would be written, where, and to whom.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from typing import Any

from ..errors import DeliveryError
from ..finding import Finding
from ..store import findings as findings_store
from ..store import ledger as rows_
from . import failpoints
from .ledger import Ledger, LedgerRow
from .model import Nudge, NudgeState, Receipt, comeback_key
from .outcomes import outcome_of
from .policy import NudgePolicy
from .routing import Router

log = logging.getLogger(__name__)

__all__ = ["run_nudges", "NudgeResult", "NudgeLine"]


@dataclass(slots=True)
class NudgeLine:
    """One thing a run did (or, in a dry run, would do) with one nudge.

    ``op``: ``create`` (written to the CRM / sent), ``exists`` (a retry found it already there),
    ``retry`` (dry run: a pending/failed nudge to deliver again), ``cancel`` (never written:
    the finding cleared first), ``close`` (its CRM object closed: the finding cleared),
    ``defer`` (held back: quiet hours, the daily cap, or a target not created in this run),
    ``fail`` (the target failed).
    """

    op: str
    key: str
    action: str
    target: str
    assignee: str | None
    title: str
    finding_key: str
    stage: str
    escalation: bool = False
    due_at: str | None = None
    conversation_id: str | None = None
    external_ref: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, op: str, nudge: Nudge, reason: str | None = None) -> "NudgeLine":
        return cls(op, nudge.key, nudge.action.value, nudge.target, nudge.assignee, nudge.title,
                   nudge.finding_key, nudge.stage, nudge.escalation,
                   nudge.due_at.isoformat() if nudge.due_at else None, nudge.conversation_id,
                   nudge.external_ref, reason)

    def render(self) -> str:
        who = f" for {self.assignee}" if self.assignee else ""
        esc = " (escalation)" if self.escalation else ""
        due = f", due {self.due_at}" if self.due_at else ""
        where = f" on conversation {self.conversation_id}" if self.conversation_id else ""
        why = f" — {self.reason}" if self.reason else ""
        return f"{self.op:<6} {self.action} in {self.target}{where}{who}{esc}{due}: {self.title}{why}"


@dataclass
class NudgeResult:
    """What one ``run_nudges`` did (or would do): ``planned`` — the nudges planned for the first
    time in this run; ``lines`` — one ``NudgeLine`` per nudge written, found, cancelled, closed,
    deferred or failed (in a dry run: what would be); ``failures`` — readable target and plugin
    failures (``ok`` is False when there are any)."""

    dry_run: bool = False
    planned: list[Nudge] = field(default_factory=list)
    lines: list[NudgeLine] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def count(self, op: str) -> int:
        return sum(1 for line in self.lines if line.op == op)

    @property
    def ok(self) -> bool:
        return not self.failures

    def counts(self) -> dict[str, int]:
        ops = ("create", "exists", "retry", "cancel", "close", "defer", "fail")
        return {"planned": len(self.planned), **{op: self.count(op) for op in ops}}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``ok``, ``dry_run``, the counts (``planned``, ``create``, ``exists``, ``retry``,
        ``cancel``, ``close``, ``defer``, ``fail``), ``nudges`` (the lines) and ``failures``."""
        return {"ok": self.ok, "dry_run": self.dry_run, **self.counts(),
                "nudges": [asdict(line) for line in self.lines], "failures": list(self.failures)}

    def render(self) -> str:
        c = self.counts()
        head = ("dry run — nothing written. " if self.dry_run else "") + (
            f"nudges: {c['planned']} planned, {c['create'] + c['retry']} to deliver, {c['exists']} already there, "
            f"{c['cancel']} cancelled, {c['close']} closed, {c['defer']} deferred, {c['fail']} failed")
        return "\n".join([head, *("  " + line.render() for line in self.lines),
                          *("  failure: " + f for f in self.failures)])


def run_nudges(app: Any, now: datetime, *, dry_run: bool = False) -> NudgeResult:
    """Plan, clear and deliver nudges for ``app`` (``careplug.app.App`` or anything with
    ``store``, ``plugins``, ``sources``, ``notifiers``, ``policy`` and ``calendar(name)``) at ``now``.

    A run that writes holds the store's ``nudges`` lock (beside the ``run`` lock a CLI command
    holds): two runs that overlap — two scheduled jobs, or a library caller beside the CLI — cannot
    both plan and write the same nudge; the second raises ``StoreLocked``. A dry run writes
    nothing and takes no lock."""
    if dry_run:
        return _Run(app, now, dry_run).run()
    with app.store.run_lock(name="nudges"):
        return _Run(app, now, dry_run).run()


class _Run:
    def __init__(self, app: Any, now: datetime, dry_run: bool):
        self.app = app
        self.now = now
        self.dry_run = dry_run
        self.store = app.store
        self.plugins = app.plugins
        self.ledger = Ledger(self.store)
        # this run's routes to its App's sources and notifiers: not a registered plugin, as one
        # plugin set may serve several Apps, and one App's router must never answer for another
        self.router = Router(app.sources, app.notifiers)
        policy = app.policy
        if policy is None or isinstance(policy, dict):
            policy = NudgePolicy.model_validate(policy or {})
        self.policy: NudgePolicy = policy
        self.result = NudgeResult(dry_run=dry_run)
        self._calendars: dict[str | None, Any] = {}
        self._counted: dict[str, int] = {}
        self._weighed: set[str] = set()        # keys of the rows deliver() weighs in this run
        self._considered: dict[str, str] = {}       # finding key → stage, for findings planned in this run
        self._asked: set[str] = set()               # every key this run's plan asks for, new or not
        self._refreshed: dict[str, Nudge] = {}      # dry run: nudges re-addressed, not written
        self._unasked: set[str] = set()             # dry run: keys cancelled, not written

    def run(self) -> NudgeResult:
        with self.plugins.recording() as hook_failures:
            planned = self.plan()
            self.clear()
            if self.policy.enabled:  # disabled: nothing new is written; cleared findings still close theirs
                self.deliver(planned)
        self.result.failures += [failure.describe() for failure in hook_failures]
        return self.result

    # --- 1. plan ------------------------------------------------------------------------------

    def plan(self) -> list[Nudge]:
        if not self.policy.enabled:
            return []
        deliverable = getattr(self.app, "deliverable_targets", None)
        if deliverable is None:
            deliverable = {n for n, s in self.app.sources.items() if getattr(s, "can_deliver", False)}
            deliverable |= set(self.app.notifiers)
        policy = self.policy.bind(deliverable=deliverable,
                                  managers=self._agent_managers())
        planned: dict[str, Nudge] = {}
        open_findings = findings_store.open_findings(self.store)
        with self.store.engine.connect() as conn:
            links = rows_.customer_ids(conn, (f.customer_uid for f in open_findings if f.customer_uid))
        for finding in open_findings:
            self._fill_owner(finding)
            with self.plugins.recording() as planner_failures:
                nudges = self.plugins.plan_follow_up(finding, policy)
            considered = not planner_failures   # a planner that raised asked for nothing: not considered
            for nudge in nudges:
                if not isinstance(nudge, Nudge):
                    self.result.failures.append(f"a planner returned {type(nudge).__name__} for {finding.key!r}, "
                                                "not a Nudge: ignored")
                    considered = False
                    continue
                if nudge.customer_id is None and finding.customer_uid:
                    nudge.customer_id = links.get(finding.customer_uid, {}).get(nudge.target)
                planned.setdefault(nudge.key, nudge)
            if considered:
                self._considered[finding.key] = finding.stage
        existing = self.ledger.existing(planned)
        if self._comebacks(planned, existing, {f.key: f for f in open_findings}):
            planned = {n.key: n for n in planned.values()}
            existing = self.ledger.existing(planned)
        self._asked = set(planned)
        new = [n for k, n in planned.items() if k not in existing]
        self.result.planned = new
        self._readdress(existing, planned)
        if not self.dry_run:
            self.ledger.record(new, self.now)
        return new

    @staticmethod
    def _comebacks(planned: dict[str, Nudge], existing: dict[str, LedgerRow], findings: dict[str, Finding]) -> bool:
        """Re-key the nudges of findings that cleared and came back: the key the plan asks for was
        cancelled (the earlier episode's nudge closed, or dropped before delivery) *before* the
        finding was detected again. Such a finding is neglect anew and gets its nudge anew, once
        (``comeback_key``). A finding that only moved between stages keeps its detection time, so
        its earlier stage's cancelled nudge is not re-sent. Whether any nudge was re-keyed."""
        moved = False
        for key, nudge in planned.items():
            row = existing.get(key)
            finding = findings.get(nudge.finding_key)
            if (row is None or row.state is not NudgeState.CANCELLED or row.cancelled_at is None
                    or finding is None or finding.detected_at is None
                    or finding.detected_at.timestamp() <= row.cancelled_at):
                continue
            nudge.key = comeback_key(key, finding.detected_at)
            moved = True
        return moved

    def _readdress(self, existing: dict[str, LedgerRow], planned: dict[str, Nudge]) -> None:
        """A nudge not yet written (planned, or failed) goes to whom the planner now names: its
        conversation may have been reassigned while it waited (quiet hours, a daily cap, a failing
        target). Assignee, escalation, title, body and extra are taken from the new plan; the key
        and the due time stay. Quiet hours and caps are then judged for the new assignee."""
        changed: list[Nudge] = []
        for key, row in existing.items():
            if row.state not in (NudgeState.PLANNED, NudgeState.FAILED):
                continue
            old, now_ = row.nudge, planned[key]
            if ((old.assignee, old.escalation, old.title, old.body, old.extra)
                    == (now_.assignee, now_.escalation, now_.title, now_.body, now_.extra)):
                continue
            old.assignee, old.escalation, old.title, old.body = now_.assignee, now_.escalation, now_.title, now_.body
            old.extra = dict(now_.extra)
            changed.append(old)
        if self.dry_run:
            self._refreshed = {n.key: n for n in changed}
        else:
            self.ledger.refresh(changed, self.now)

    def _agent_managers(self) -> dict[str, str]:
        return {f"{a.source}:{a.external_id}": a.manager
                for a in self.store.iter_records("agent") if getattr(a, "manager", None)}

    def _fill_owner(self, finding: Finding) -> None:
        """Owner resolution, store part: the conversation's assignee, else the account owner
        (the planner goes on with the team default and the configured default owner)."""
        if finding.owner or not finding.source:
            return
        if finding.conversation_id:
            conv = self.store.get(finding.source, "conversation", finding.conversation_id)
            if conv is not None and getattr(conv, "assignee", None):
                finding.owner = conv.assignee
                finding.group = finding.group or conv.group
                return
            if conv is not None and not finding.account_id:
                finding.account_id = conv.account_id
        if finding.account_id:
            account = self.store.get(finding.source, "account", finding.account_id)
            if account is not None and getattr(account, "owner", None):
                finding.owner = account.owner

    # --- 2. clear -----------------------------------------------------------------------------

    def clear(self) -> None:
        by_target: dict[str, list[tuple[LedgerRow, str, float | None]]] = defaultdict(list)
        stale = self.ledger.stale()
        for item in stale + self._not_asked({row.key for row, _, _ in stale}):
            by_target[item[0].nudge.target].append(item)
        for target, items in by_target.items():
            try:
                self._clear_target(target, items)
            except Exception as exc:  # one CRM down must not stop the others
                message = _error(exc)
                self.result.failures.append(f"target {target!r}: closing nudges failed: {message}")
                if not self.dry_run:
                    self.ledger.note_error([row.key for row, _, _ in items if row.state is NudgeState.DELIVERED],
                                           f"closing failed: {message}", self.now)

    def _not_asked(self, stale: set[str]) -> list[tuple[LedgerRow, str, float | None]]:
        """Undelivered nudges of findings planned in this run, still at the nudge's stage, that
        the plan no longer asks for (the stage's actions were turned off or changed): cleared like
        a cleared finding's. Findings not planned in this run (a planner failed, or one opened
        since) are left alone."""
        if not self._considered:
            return []
        why = "the stage's policy no longer asks for it"
        out = [(row, why, None) for row in self.ledger.rows(finding_keys=self._considered,
                                                            states=(NudgeState.PLANNED, NudgeState.PENDING,
                                                                    NudgeState.FAILED))
               if row.key not in self._asked and row.key not in stale
               and self._considered.get(row.nudge.finding_key) == row.nudge.stage]
        if self.dry_run:
            self._unasked = {row.key for row, _, _ in out}
        return out

    def _clear_target(self, target: str, items: list[tuple[LedgerRow, str, float | None]]) -> None:
        never = [(r, w, t) for r, w, t in items if r.state is NudgeState.PLANNED]
        unsure = [(r, w, t) for r, w, t in items if r.state in (NudgeState.PENDING, NudgeState.FAILED)]
        written = [(r, w, t) for r, w, t in items if r.state is NudgeState.DELIVERED]
        if self.dry_run:
            for row, why, _ in never:
                self.result.lines.append(NudgeLine.of("cancel", row.nudge, _why(why)))
            for row, why, _ in unsure:
                self.result.lines.append(NudgeLine.of("cancel", row.nudge, _why(why) + "; closed instead "
                                                      "if its marker is found in the CRM"))
            for row, why, _ in written:
                self.result.lines.append(NudgeLine.of("close", row.nudge, _why(why)))
            return
        if unsure:
            found = self.router.find_delivered(target, [r.nudge for r, _, _ in unsure])
            for row, why, at in unsure:
                if row.key in found:
                    row.nudge.external_ref = found[row.key].external_ref
                    # written before the run died: it was delivered, so it closes as delivered
                    row.delivered_at = found[row.key].delivered_at.timestamp()
                    written.append((row, why, at))
                else:
                    never.append((row, why, at))
        for why in sorted({w for _, w, _ in never}):
            rows = [row for row, w, _ in never if w == why]
            cancelled = set(self.ledger.cancel([row.key for row in rows], self.now, _why(why)))
            self.result.lines.extend(NudgeLine.of("cancel", row.nudge, _why(why)) for row in rows
                                     if row.key in cancelled)
        if written:
            self.router.cancel(target, [r.nudge for r, _, _ in written])
            closed = set(self.ledger.close([(row, outcome_of(row, why, at)) for row, why, at in written], self.now))
            self.result.lines.extend(NudgeLine.of("close", row.nudge, _why(why)) for row, why, _ in written
                                     if row.key in closed)

    # --- 3. deliver ---------------------------------------------------------------------------

    def deliver(self, new: Sequence[Nudge]) -> None:
        limits = self.policy.limits
        if self.dry_run:
            rows = [(self._refreshed.get(r.key, r.nudge), r.state) for r in self.ledger.deliverable(limits.max_attempts)
                    if r.key not in self._unasked]
            rows += [(n, NudgeState.PLANNED) for n in new]
        else:
            rows = [(r.nudge, r.state) for r in self.ledger.deliverable(limits.max_attempts)]
        rows.sort(key=lambda item: (not item[0].escalation, item[0].due_at is None,
                                    item[0].due_at or self.now, item[0].key))
        due: dict[str, list[Nudge]] = defaultdict(list)
        deferred: dict[str, datetime] = {}
        taken: dict[str, int] = defaultdict(int)
        self._weighed = {nudge.key for nudge, _ in rows}
        for nudge, state in rows:
            reason, until = self._hold(nudge, taken, started=state is NudgeState.PENDING)
            if reason:
                self.result.lines.append(NudgeLine.of("defer", nudge, reason))
                if until is not None:
                    deferred[nudge.key] = until
                continue
            if nudge.assignee:
                taken[nudge.assignee] += 1
            due[nudge.target].append(nudge)
            if self.dry_run:
                op = "create" if state is NudgeState.PLANNED else "retry"
                self.result.lines.append(NudgeLine.of(op, nudge, None if op == "create" else
                                                      f"{state.value}: looked up by marker before writing"))
        self._report_given_up()
        if self.dry_run:
            return
        self.ledger.defer(deferred)
        missing = self._not_created()
        for target in sorted(due):
            nudges = due[target]
            if target in missing:          # kept pending, no attempt spent: the caller reports why
                self.result.lines.extend(NudgeLine.of("defer", n, f"{target} could not be created in this run")
                                         for n in nudges)
                continue
            for i in range(0, len(nudges), limits.batch_size):
                if not self._deliver_batch(target, nudges[i:i + limits.batch_size]):
                    for nudge in nudges[i + limits.batch_size:]:
                        self.result.lines.append(NudgeLine.of("defer", nudge, f"{target} failed earlier in this run"))
                    break

    def _not_created(self) -> set[str]:
        """Targets configured in the App but not created in this run (``App.source_failures``)."""
        names = {*getattr(self.app, "source_failures", {}), *getattr(self.app, "notifier_failures", {})}
        return {n for n in names if n not in self.app.sources and n not in self.app.notifiers}

    def _report_given_up(self) -> None:
        """Nudges that failed ``max_attempts`` times are no longer retried: say so on every run
        until someone fixes the target (or the finding clears), so none is lost silently."""
        limit = self.policy.limits.max_attempts
        given_up: dict[str, list[LedgerRow]] = defaultdict(list)
        for row in self.ledger.rows(states=[NudgeState.FAILED]):
            if row.attempts >= limit:
                given_up[row.nudge.target].append(row)
        for target, rows in sorted(given_up.items()):
            self.result.failures.append(
                f"target {target!r}: {len(rows)} nudges failed {limit} times and are no longer retried "
                f"(last error: {rows[-1].error})")

    def _hold(self, nudge: Nudge, taken: dict[str, int],
              started: bool = False) -> tuple[str | None, datetime | None]:
        """Why ``nudge`` must wait (quiet hours, daily cap), and until when; (None, None) to go.
        A ``started`` nudge (left pending by a run that died) was admitted under the cap when it
        was started, so the cap is not applied to it again."""
        source = nudge.extra.get("source")
        calendar = self._calendar(self.policy.calendar_for(nudge.assignee, source))
        if self.policy.quiet_hours.enabled and calendar is not None and not calendar.is_open(self.now):
            until = calendar.next_open(self.now)
            who = nudge.assignee or "the team"
            return f"quiet hours: {who} is out of business hours until {until.isoformat()}", until
        cap = self.policy.limits.per_person_per_day
        exempt = started or (nudge.escalation and self.policy.limits.escalations_exempt)
        if cap and nudge.assignee and not exempt:
            tz = calendar.tz if calendar is not None else self.now.tzinfo
            local = self.now.astimezone(tz)
            day_start = datetime.combine(local.date(), time(0), tzinfo=tz)
            if nudge.assignee not in self._counted:
                self._counted[nudge.assignee] = self.ledger.count_for(nudge.assignee, day_start,
                                                                     self._weighed)
            already = self._counted[nudge.assignee] + taken[nudge.assignee]
            if already >= cap:
                return f"daily cap: {nudge.assignee} already has {already} nudges today (cap {cap})", None
        return None, None

    def _calendar(self, name: str | None) -> Any:
        if name not in self._calendars:
            lookup = getattr(self.app, "calendar", None)
            calendar = None
            if lookup is not None:
                try:
                    calendar = lookup(name)
                except KeyError:
                    log.warning("no calendar named %r: quiet hours use the default calendar", name)
                    calendar = lookup(None)
            self._calendars[name] = calendar
        return self._calendars[name]

    def _deliver_batch(self, target: str, batch: list[Nudge]) -> bool:
        """Deliver one batch to ``target``; False when the target failed."""
        failpoints.hit("nudges.before_pending")
        keys = set(self.ledger.begin([n.key for n in batch], self.now))
        failpoints.hit("nudges.after_pending")
        nudges = [n for n in batch if n.key in keys]
        if not nudges:
            return True
        try:
            receipts = self.plugins.deliver_nudges(target, nudges)   # a plugin that owns the target
            if receipts is None:
                receipts = self.router.careplug_deliver_nudges(target, nudges)
            if receipts is None:
                raise LookupError(f"no source or notifier named {target!r} can deliver nudges "
                                  "(set [nudges] default_target, or an action's target)")
            by_key = {r.key: r for r in receipts}
            missing = [n.key for n in nudges if n.key not in by_key]
            if missing:
                raise LookupError(f"{target!r} returned no receipt for {len(missing)} of {len(nudges)} nudges")
        except Exception as exc:
            message = _error(exc)
            partial = {r.key: r for r in getattr(exc, "receipts", None) or []} if isinstance(exc, DeliveryError) else {}
            done = [n for n in nudges if n.key in partial]
            if done:
                self._record_delivered(done, partial)
            failed = [n for n in nudges if n.key not in partial]
            self.ledger.failed([n.key for n in failed], message, self.now)
            self.result.failures.append(f"target {target!r}: delivering {len(failed)} nudges failed: {message}")
            for nudge in failed:
                self.result.lines.append(NudgeLine.of("fail", nudge, message))
            return False
        failpoints.hit("nudges.after_write")
        self._record_delivered(nudges, by_key)
        return True

    def _record_delivered(self, nudges: list[Nudge], by_key: dict[str, Receipt]) -> None:
        ordered: list[Receipt] = [by_key[n.key] for n in nudges]
        moved = set(self.ledger.delivered(nudges, ordered, self.now))
        failpoints.hit("nudges.after_delivered")
        for nudge, receipt in zip(nudges, ordered):
            if nudge.key in moved:
                self.result.lines.append(NudgeLine.of("exists" if receipt.existed else "create", nudge))
                self.plugins.nudge_delivered(nudge, receipt)


def _why(why: str) -> str:
    return {"resolved": "the finding cleared", "superseded": "the finding moved to another stage",
            "gone": "the finding no longer exists"}.get(why, why)


def _error(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
