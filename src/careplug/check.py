"""The check engine: run the care rules over the subjects that changed or fell due, and keep the
findings table in step with what they report.

One run (``run_check``):

1. subjects = dirty ∪ due (``store.dirty_subjects`` / ``store.due_subjects(now)``), or every subject
   with ``full=True``;
2. for each subject, its history (``store.bulk.load_histories``: a few queries per chunk of
   subjects, never one per subject), every enabled rule whose ``subjects`` include the subject's
   kind, then ``careplug_detect_neglect`` (plugins);
3. diff against the subject's stored open findings: new -> saved; stage or due time changed ->
   updated (keeping the first ``detected_at``); no longer reported -> resolved at the instant its
   condition cleared (the reply, the solve, the completed task: ``_clearing_times`` re-evaluates
   only that finding's rule over the history as it stood at each change since ``detected_at``;
   ``now`` when time passing cleared it or that cannot be told), and ``careplug_finding_resolved``
   called once, after the transaction commits;
4. ``store.mark_evaluated``: the subject is clean, and its next due time is the earliest
   ``next_check_at`` of its assessments and findings.

A rule that raises is reported in ``CheckResult.failures`` and the others go on; the findings it
reported before stay as they were (a failure is not a recovery), and the subject is due again at
once: the next run retries it. With ``dry_run=True`` nothing is
written. With ``dry_run=True, since=timedelta`` the rules are *replayed* over stored history: each
subject is evaluated at every instant in the window where something happened or a stage fell due,
seeing only the history up to that instant, to show what would have fired (``replay``).

``explain(app, key, now)`` prints the timeline that led to a finding and its clock math.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time as _time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import CareplugError, NotFound
from .finding import Finding, subject_kind
from .history import History
from .model import EventKind, Priority, Status
from .rules.base import Assessment
from .rules.context import RuleContext
from .shapes import list_of
from .store import bulk
from .store import findings as store_findings
from .store import meta as store_meta
from .store.families import load_families

log = logging.getLogger(__name__)

__all__ = ["CheckResult", "Explanation", "run_check", "explain", "replay", "make_rule_context", "assess"]

CHUNK = 1000


def make_rule_context(app: Any) -> RuleContext:
    """What every rule gets as ``context``: the App's calendars, ``default`` as the default."""
    return RuleContext.from_app(app)


def assess(rule: Any, history: History, now: datetime) -> Assessment:
    """A rule's findings and next check time; rules without ``assess`` are revisited at their
    findings' ``next_check_at``."""
    return _assessor(rule)(history, now)


def _assessor(rule: Any) -> Any:
    fn = getattr(rule, "assess", None)
    return fn if fn is not None else lambda history, now: _from_evaluate(rule, history, now)


def _from_evaluate(rule: Any, history: History, now: datetime) -> Assessment:
    findings = list_of(rule.evaluate(history, now), Finding)   # or ShapeError: what it returned instead
    out = Assessment(findings)
    for f in findings:
        if f.next_check_at is not None:
            out.wake(f.next_check_at.timestamp())
    return out


# --- results -----------------------------------------------------------------------------------


@dataclass
class CheckResult:
    """What a run did. ``findings`` are the open findings of the evaluated subjects (for a replay:
    every finding that would have fired in the window, at the stage it reached). ``new``,
    ``updated`` and ``resolved`` list the changes; a large run started with
    ``keep_findings=False`` keeps only their counts (``n_new``, ``n_updated``, ``n_resolved``)."""

    now: datetime
    evaluated: int = 0
    new: list[Finding] = field(default_factory=list)
    updated: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    dry_run: bool = False
    since: timedelta | None = None
    seconds: float = 0.0
    n_new: int = 0
    n_updated: int = 0
    n_resolved: int = 0
    fired: list[dict[str, Any]] = field(default_factory=list)   # replay: (finding, stage, at)
    notes: list[str] = field(default_factory=list)              # what the run chose to do, for people
    open_at_start: int = 0                                       # replay: already open when the window began

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "dry_run": self.dry_run,
            "since": None if self.since is None else self.since.total_seconds(),
            "evaluated": self.evaluated, "new": max(self.n_new, len(self.new)),
            "updated": max(self.n_updated, len(self.updated)),
            "resolved": max(self.n_resolved, len(self.resolved)),
            "open": sum(1 for f in self.findings if f.resolved_at is None),
            "findings": [finding_dict(f) for f in self.findings],
            "resolved_findings": [finding_dict(f) for f in self.resolved],
            "fired": self.fired, "open_at_start": self.open_at_start, "notes": list(self.notes),
            "failures": list(self.failures),
        }


def finding_dict(f: Finding) -> dict[str, Any]:
    def iso(dt: datetime | None) -> str | None:
        return None if dt is None else dt.isoformat()

    return {"key": f.key, "rule": f.rule, "subject": f.subject, "occurrence": f.occurrence, "stage": f.stage,
            "severity": getattr(f.severity, "value", f.severity), "summary": f.summary,
            "started_at": iso(f.started_at), "due_at": iso(f.due_at), "detected_at": iso(f.detected_at),
            "resolved_at": iso(f.resolved_at), "next_check_at": iso(f.next_check_at),
            "customer_uid": f.customer_uid, "source": f.source, "conversation_id": f.conversation_id,
            "owner": f.owner, "group": f.group, "channel": f.channel}


# --- evaluating one subject ----------------------------------------------------------------------


@dataclass
class _Outcome:
    findings: dict[str, Finding]
    next_check_at: datetime | None
    failed_rules: set[str]
    plugin_failed: bool


class _Evaluator:
    def __init__(self, rules: list[Any], plugins: Any | None, result: CheckResult):
        self.rules = rules
        self.plugins = plugins
        self.result = result
        self.by_kind: dict[str, list[Any]] = {}
        self.rule_names = {r.name for r in rules}
        for rule in rules:
            for kind in getattr(rule, "subjects", ("conversation",)):
                self.by_kind.setdefault(kind, []).append(rule)
        # (rule, its assess) per subject kind, looked up once rather than per subject
        self._assessors = {kind: [(rule, _assessor(rule)) for rule in group] for kind, group in self.by_kind.items()}
        self._named = {(kind, rule.name): a for kind, group in self._assessors.items() for rule, a in group}
        self._reported: set[str] = set(result.failures)

    def kinds(self) -> set[str]:
        return set(self.by_kind)

    def evaluate(self, subject: str, history: History, now: datetime) -> _Outcome:
        found: dict[str, Finding] = {}
        failed: set[str] = set()
        wake: datetime | None = None
        for rule, assess_ in self._assessors.get(subject_kind(subject), ()):
            try:
                a = assess_(history, now)
                findings = list_of(a.findings, Finding)   # a bare Finding, [None]: this rule's failure
            except Exception as exc:  # one broken rule must not stop the others
                failed.add(rule.name)
                failure = f"rule {rule.name!r} failed on {subject}: {type(exc).__name__}: {exc}"
                if failure not in self._reported:       # once per run, however often the subject is retried
                    self._reported.add(failure)
                    self.result.failures.append(failure)
                    log.exception("rule %s failed on %s", rule.name, subject)
                continue
            for f in findings:
                found[f.key] = f
            if a.next_check_at is not None and (wake is None or a.next_check_at < wake):
                wake = a.next_check_at
        plugin_failed = False
        if self.plugins is not None:
            with self.plugins.recording() as hook_failures:
                for f in self.plugins.detect_neglect(subject, history, now):
                    found[f.key] = f
                    if f.next_check_at is not None and (wake is None or f.next_check_at < wake):
                        wake = f.next_check_at
            plugin_failed = bool(hook_failures)
            self.result.failures += [hf.describe(f"on {subject}") for hf in hook_failures]
        return _Outcome(found, wake, failed, plugin_failed)

    def keys_of(self, subject: str, history: History, now: datetime, rule: str | None) -> set[str] | None:
        """The keys one rule (``None``: the plugins' ``careplug_detect_neglect``) reports on ``subject``
        at ``now``; None when it cannot tell: the rule does not watch this kind of subject, there are
        no plugins, or it raised (not a failure of the run: ``_clearing_times`` then keeps the run's
        time)."""
        try:
            if rule is not None:
                assess_ = self._named.get((subject_kind(subject), rule))
                return None if assess_ is None else {f.key for f in list_of(assess_(history, now).findings, Finding)}
            if self.plugins is None:
                return None
            with self.plugins.recording() as hook_failures:
                keys = {f.key for f in self.plugins.detect_neglect(subject, history, now)}
            return None if hook_failures else keys
        except Exception:  # as when it cannot tell
            log.debug("%s failed on %s as of %s", rule or "a plugin", subject, now, exc_info=True)
            return None


def notify_resolved(plugins: Any, findings: Iterable[Finding], result: CheckResult) -> None:
    """``careplug_finding_resolved`` for each finding (once, after the transaction that resolved
    it committed); a plugin that raises is a failure of this check."""
    for f in findings:
        with plugins.recording() as hook_failures:
            plugins.finding_resolved(f)
        result.failures += [hf.describe(f"for {f.key}") for hf in hook_failures]


def _changed(old: Finding, new: Finding) -> bool:
    """Whether the stored finding must be rewritten: its stage, timing, or who and where it is
    routed to (a nudge goes to the finding's owner and group; a reassigned conversation moves it).
    Summaries and explanations alone do not count: they tell the elapsed time, new at every run."""
    return (old.stage, old.severity, old.due_at, old.next_check_at, old.owner, old.group) != (
        new.stage, new.severity, new.due_at, new.next_check_at, new.owner, new.group)


# --- the run -----------------------------------------------------------------------------------


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_check(app: Any, now: datetime, *, full: bool = False, dry_run: bool = False,
              since: timedelta | None = None, workers: int | None = None) -> CheckResult:
    """Evaluate the enabled rules (``app.rules``) over changed and due subjects (every subject
    with ``full``: ``careplug.sweep``, on ``workers`` processes), store the findings' changes and
    each subject's next due time.
    ``CheckResult.findings`` is then every open finding in the store. ``dry_run`` writes nothing and
    lists what the same check would leave open (the stored open findings with this run's changes);
    ``dry_run`` with ``since`` replays the window instead (see ``replay``). When the enabled rules'
    options or the calendars changed since the last check, every subject is evaluated, dry run or
    not: a preview of a retuned rule shows its verdicts on the whole store."""
    if since is not None:
        if not dry_run:
            raise CareplugError("--since replays stored history and needs --dry-run")
        return replay(app, now, since)
    fingerprint = rules_fingerprint(app)
    changed = (not full and fingerprint is not None
               and store_meta.get_value(app.store, RULES_KEY) not in (None, fingerprint))
    if changed:                 # a rule enabled or retuned: its verdicts on unchanged subjects are due now
        full = True
    if full and not dry_run:
        from .sweep import sweep_store

        result = sweep_store(app.store, list(app.rules), now, plugins=app.plugins, workers=workers)
    else:
        result = evaluate_store(app.store, list(app.rules), now, plugins=app.plugins, full=full, dry_run=dry_run)
    if changed:
        result.notes.append("the rules or calendars changed since the last check: every subject was evaluated")
    if dry_run:
        result.findings = _as_if_written(store_findings.open_findings(app.store), result)
    else:
        result.findings = store_findings.open_findings(app.store)   # everything open, not only this run's
        if fingerprint is not None and not result.failures:
            store_meta.set_value(app.store, RULES_KEY, fingerprint)
    return result


RULES_KEY = "rules_fingerprint"


def _as_if_written(stored: list[Finding], result: CheckResult) -> list[Finding]:
    """The open findings a dry run's changes would leave: ``stored`` less those it resolved, with
    those of the subjects it evaluated as it found them (new ones last, in evaluation order)."""
    gone = {f.key for f in result.resolved}
    by_key = {f.key: f for f in stored if f.key not in gone}
    by_key.update((f.key, f) for f in result.findings if f.resolved_at is None)
    return list(by_key.values())


def rules_fingerprint(app: Any) -> str | None:
    """A digest of the enabled rules' options and the calendars (never their values): when it differs
    from the last check's, a plain ``check`` evaluates every subject, as ``--full`` would."""
    config = getattr(app, "config", None)
    if config is None or not hasattr(config, "rules"):
        return None
    def dump(options: Any) -> Any:
        return options.model_dump(mode="json") if hasattr(options, "model_dump") else repr(options)
    data = {"rules": {name: dump(o) for name, o in config.rules.items() if getattr(o, "enabled", True)},
            "calendars": {name: dump(o) for name, o in getattr(config, "calendars", {}).items()}}
    return hashlib.blake2b(json.dumps(data, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


def evaluate_store(store: Any, rules: list[Any], now: datetime, *, plugins: Any | None = None,
                   full: bool = False, dry_run: bool = False, chunk: int = CHUNK,
                   keep_findings: bool = True) -> CheckResult:
    """``run_check`` on explicit parts (a store, rule instances, an optional ``Plugins``).
    ``keep_findings=False`` leaves ``CheckResult.findings`` empty (large runs: counts only)."""
    started = _time.perf_counter()
    result = CheckResult(now=now, dry_run=dry_run)
    ev = _Evaluator(rules, plugins, result)
    batches: Iterable[tuple[list[str], dict[str, History] | None]]
    if full:
        # every subject, also kinds no rule watches: those are marked evaluated without loading
        # (and their stale findings, of rules since switched off, resolved)
        batches = ((batch, None) for batch in _chunks(bulk.iter_subjects(store), chunk))
    else:
        batches = _family_batches(store, sorted(set(store.dirty_subjects()) | set(store.due_subjects(now))), chunk)
    for batch, histories in batches:
        resolved = _run_batch(store, ev, batch, now, result, dry_run, keep_findings, histories)
        if plugins is not None and not dry_run:
            notify_resolved(plugins, resolved, result)   # after the batch's transaction committed
    result.seconds = _time.perf_counter() - started
    return result


def _family_batches(store: Any, subjects: list[str], chunk: int) -> Iterator[tuple[list[str], dict[str, History] | None]]:
    """Batches of ``subjects``: customers with those of their conversations that are wanted too,
    from one load (a changed conversation usually makes its customer change too: its records are
    then decoded once, not twice); then what is left, loaded as usual."""
    wanted = set(subjects)
    covered: set[str] = set()
    customers = [s for s in subjects if s.startswith("customer:")]
    agents: dict = {}
    for part in _chunks(customers, chunk):
        batch, histories = family_batch(store, part, wanted, agents=agents)
        covered.update(batch)
        yield batch, histories
    yield from ((batch, None) for batch in _chunks((s for s in subjects if s not in covered), chunk))


def family_batch(store: Any, customers: list[str], wanted: set[str] | None = None, *,
                 agents: dict | None = None) -> tuple[list[str], dict[str, History]]:
    """The customer subjects ``customers`` and their conversations (those in ``wanted``; every one
    when None) as one batch, with their histories from one load (``families.load_families``, which
    keeps the agents it reads in ``agents`` for the next batch)."""
    family = load_families(store, [key.partition(":")[2] for key in customers], agents=agents)
    batch = customers + [key for key in family
                         if not key.startswith("customer:") and (wanted is None or key in wanted)]
    return batch, family if wanted is None else {key: family[key] for key in batch if key in family}


def _run_batch(store: Any, ev: _Evaluator, batch: list[str], now: datetime, result: CheckResult,
               dry_run: bool, keep_findings: bool, histories: dict[str, History] | None = None,
               evaluated_into: dict[str, datetime | None] | None = None) -> list[Finding]:
    """Evaluate ``batch`` (histories loaded here unless given), save the findings' changes and the
    subjects' next due times in one transaction; return the findings resolved. With
    ``evaluated_into`` the due times are collected there instead, for the caller to write."""
    if histories is None:
        wanted = [s for s in batch if subject_kind(s) in ev.kinds() or ev.plugins is not None]
        histories = bulk.load_histories(store, wanted)
    existing = store_findings.open_by_subject(store, batch)
    to_save: list[Finding] = []
    resolved: list[Finding] = []
    evaluated: dict[str, datetime | None] = {}
    for subject in batch:
        history = histories.get(subject)
        old = {f.key: f for f in existing.get(subject, [])}
        if history is None:                       # the subject is gone: nothing holds any more
            outcome = _Outcome({}, None, set(), False)
        else:
            outcome = ev.evaluate(subject, history, now)
            result.evaluated += 1
        wake = outcome.next_check_at
        for key, f in outcome.findings.items():
            prev = old.get(key)
            if prev is None:
                f.detected_at = f.detected_at or now
                to_save.append(f)
                result.n_new += 1
                if keep_findings:
                    result.new.append(f)
            else:
                f.detected_at = prev.detected_at or f.detected_at
                if _changed(prev, f):
                    to_save.append(f)
                    if prev.stage != f.stage or prev.due_at != f.due_at:
                        result.n_updated += 1
                        if keep_findings:
                            result.updated.append(f)
            if keep_findings:
                result.findings.append(f)
            if f.next_check_at is not None and (wake is None or f.next_check_at < wake):
                wake = f.next_check_at
        for key, prev in old.items():
            if key in outcome.findings or prev.rule in outcome.failed_rules:
                continue
            if outcome.plugin_failed and prev.rule not in ev.rule_names:
                continue                          # a failing plugin's findings stay as they were
            prev.resolved_at = now
            prev.next_check_at = None
            resolved.append(prev)
        if outcome.failed_rules or outcome.plugin_failed:
            wake = now                            # a failure is not an evaluation: retried next run
        evaluated[subject] = wake
    if resolved:                                  # rare: only then is the past looked at
        _clearing_times(ev, histories, resolved, now)
    result.n_resolved += len(resolved)
    if keep_findings:
        result.resolved += resolved
    if not dry_run:
        with store.transaction() as conn:
            store_findings.save(store, to_save, conn=conn)
            store_findings.mark_resolved(store, {f.key: f.resolved_at for f in resolved}, conn=conn)
            if evaluated_into is None:
                store.mark_evaluated(evaluated, now, conn=conn)
    if evaluated_into is not None:
        evaluated_into.update(evaluated)
    return resolved


JUST_BEFORE = timedelta(microseconds=1)
CLEARING_STEPS = 16      # instants looked at per resolved finding, at most (besides when it was detected)


def _clearing_times(ev: _Evaluator, histories: dict[str, History], gone: list[Finding], now: datetime) -> None:
    """Set ``resolved_at`` of each of ``gone`` — open findings that their subject's evaluation at
    ``now`` no longer reports — to when its condition cleared, as the replay would tell it.

    Only the finding's own rule is evaluated, on ``history_at(history, t)`` at ``t``; a finding of
    no enabled rule is a plugin's (``careplug_detect_neglect`` is called, as in the replay: a plugin
    that reads only the history it is given is answered exactly; one that asks its CRM what holds
    now reports nothing at the earlier instants either, and its finding is resolved at ``now``).

    1. It must still be reported at its ``detected_at`` (``started_at`` if none), when the store
       last knew it open, under today's rules and records; else ``now`` (a rule retuned or switched
       off, a record synced late that predates the detection, a plugin that cannot tell, a subject
       that is gone).
    2. Then the instants where the history changed (``_instants``: records created, tasks completed,
       conversations solved) after ``detected_at`` and before ``now`` are tried latest first, back
       to the first one that still reports it: the finding cleared at the instant after that one,
       the start of its last absence (a finding that cleared and came back before it cleared for
       good is resolved when it cleared for good, as the replay shows it) — if it was still
       reported just before that instant; if not, time cleared it between two changes.
    3. None of them cleared it (time passing did: a lookback or ``max_age`` ran out) -> ``now``.
       Past ``CLEARING_STEPS`` instants still without it: the earliest of those (it had cleared by
       then at the latest).

    Never earlier than ``detected_at``; a rule or plugin that raises here keeps the latest instant
    known (``now`` at worst) and is not a failure of the run (``_Evaluator.keys_of``). ``_run_batch`` calls it only when
    something resolved: a run where nothing does pays nothing."""
    by_subject: dict[str, list[Finding]] = {}
    for f in gone:
        by_subject.setdefault(f.subject, []).append(f)
    for subject, findings in by_subject.items():
        history = histories.get(subject)
        if history is not None:
            _clearing_times_of(ev, subject, history, findings, now)


def _clearing_times_of(ev: _Evaluator, subject: str, history: History, findings: list[Finding],
                       now: datetime) -> None:
    """``_clearing_times`` for one subject's findings: each view of the history and each rule's
    keys at an instant computed once."""
    instants = _instants(history)
    views: dict[datetime, History] = {}
    keys: dict[tuple[str | None, datetime], set[str] | None] = {}

    def reported(f: Finding, t: datetime) -> bool | None:
        rule = f.rule if f.rule in ev.rule_names else None
        if (rule, t) not in keys:
            if t not in views:
                views[t] = history_at(history, t)
            keys[rule, t] = ev.keys_of(subject, views[t], t, rule)
        found = keys[rule, t]
        return None if found is None else f.key in found

    def cleared_at(f: Finding) -> datetime:
        since = f.detected_at or f.started_at
        if since >= now or not reported(f, since):
            return now
        lo, hi = bisect_right(instants, since), bisect_left(instants, now)
        at, last_seen_known = now, lo >= hi - CLEARING_STEPS    # the window reaches back to `since`
        for t in reversed(instants[max(lo, hi - CLEARING_STEPS):hi]):
            if reported(f, t) is not False:                 # still there then (or cannot tell)
                last_seen_known = True
                break
            at = t
        if at != now and last_seen_known and reported(f, at - JUST_BEFORE) is False:
            return now          # gone before that change too: time cleared it, not the record at `at`
        return at

    for f in findings:
        f.resolved_at = cleared_at(f)


# --- replay (--dry-run --since) ----------------------------------------------------------------


def replay(app: Any, now: datetime, since: timedelta, *, subjects: Iterable[str] | None = None) -> CheckResult:
    """What the enabled rules would have reported in ``[now - since, now]``: each subject is
    evaluated at the window's start, at every later instant something happened in its history, and
    at every stage time the rules announced, each time over the history known then. Writes nothing.
    ``CheckResult.findings`` holds each finding at the last stage it reached (resolved ones with
    ``resolved_at``); ``fired`` lists every (finding, stage, at) reached inside the window, in
    order; findings already open when the window began are counted in ``open_at_start``."""
    return replay_store(app.store, list(app.rules), now, since, subjects=subjects, plugins=app.plugins)


def replay_store(store: Any, rules: list[Any], now: datetime, since: timedelta, *,
                 subjects: Iterable[str] | None = None, plugins: Any | None = None) -> CheckResult:
    started = _time.perf_counter()
    result = CheckResult(now=now, dry_run=True, since=since)
    ev = _Evaluator(rules, plugins, result)
    start = now - since
    if subjects is None:
        subjects = (s for s in bulk.iter_subjects(store) if subject_kind(s) in ev.kinds())
    for batch in _chunks(subjects, CHUNK):
        histories = bulk.load_histories(store, batch)
        for subject in batch:
            history = histories.get(subject)
            if history is None:
                continue
            result.evaluated += 1
            _replay_subject(ev, subject, history, start, now, result)
    result.fired.sort(key=lambda x: (datetime.fromisoformat(x["at"]), x["key"]))
    result.seconds = _time.perf_counter() - started
    return result


def _instants(history: History) -> list[datetime]:
    """Every instant the history changed, in time order: records created, tasks completed,
    conversations solved."""
    out = []
    for group in (history.conversations, history.messages, history.events, history.ratings, history.tasks,
                  history.customers):
        for r in group:
            for name in ("created_at", "completed_at", "solved_at"):
                at = getattr(r, name, None)
                if at is not None:
                    out.append(at)
    return sorted(set(out))


def _replay_subject(ev: _Evaluator, subject: str, history: History, start: datetime, now: datetime,
                    result: CheckResult) -> None:
    instants = [t for t in _instants(history) if start < t <= now]
    t = start
    seen: dict[str, Finding] = {}
    i = 0
    limit = max(10000, 4 * len(instants) + 1000)     # a step per instant and per stage, with room
    for step in range(limit + 1):
        if step == limit:                   # never silently: say where it stopped, and end at now
            result.failures.append(f"replay of {subject} stopped after {limit:,} steps at {t.isoformat()}; "
                                   f"its findings are shown as they stand now")
            t = now
        outcome = ev.evaluate(subject, history_at(history, t), t)
        for key, f in outcome.findings.items():
            prev = seen.get(key)
            if t == start:
                result.open_at_start += 1
            elif prev is None or prev.stage != f.stage or prev.resolved_at is not None:    # back after clearing
                result.fired.append({"at": t.isoformat(), "key": key, "rule": f.rule, "subject": f.subject,
                                     "customer_uid": f.customer_uid, "stage": f.stage,
                                     "severity": getattr(f.severity, "value", f.severity), "summary": f.summary})
            seen[key] = f
        for key, f in seen.items():
            if key not in outcome.findings and f.resolved_at is None:
                f.resolved_at = t
        for key in outcome.findings:
            seen[key].resolved_at = None
        while i < len(instants) and instants[i] <= t:
            i += 1
        candidates = [instants[i]] if i < len(instants) else []
        wake = outcome.next_check_at
        for f in outcome.findings.values():
            if f.next_check_at is not None and (wake is None or f.next_check_at < wake):
                wake = f.next_check_at
        if wake is not None and wake > t:
            candidates.append(wake)
        nxt = min(candidates) if candidates else None
        if nxt is None or nxt > now:
            if t < now:
                nxt = now
            else:
                break
        if step == limit:
            break
        t = nxt
    result.findings += list(seen.values())


def history_at(history: History, t: datetime) -> History:
    """``history`` as it stood at ``t``: records created by then; each conversation's status,
    priority, group and assignee as of then (the ``from`` value of its first change after ``t``).
    Tags have no change events: they are today's."""
    def before(items: list) -> list:
        return [r for r in items if getattr(r, "created_at", None) is None or r.created_at <= t]

    events = before(history.events)
    later = [e for e in history.events if e.created_at is not None and e.created_at > t and e.type in _AS_OF]
    convs = []
    for c in before(history.conversations):
        firsts: dict[EventKind, Any] = {}
        for e in later:
            if e.source == c.source and e.conversation_id == c.external_id:
                if e.type not in firsts or e.created_at < firsts[e.type].created_at:
                    firsts[e.type] = e
        changes = {}
        for kind, e in firsts.items():
            field_name, convert = _AS_OF[kind]
            try:
                changes[field_name] = convert(e.from_value, getattr(c, field_name))
            except ValueError:                  # a value this careplug does not know: today's
                pass
        if changes:
            c = replace(c, **changes)
            if "status" in changes:
                c = replace(c, solved_at=c.solved_at if c.status.is_done and c.solved_at and c.solved_at <= t
                            else None)
        convs.append(c)
    tasks = []
    for task in before(history.tasks):
        if task.done and task.completed_at is not None and task.completed_at > t:
            task = replace(task, done=False, completed_at=None)
        tasks.append(task)
    return History(subject=history.subject, customer_uid=history.customer_uid,
                   customers=before(history.customers), account=history.account, conversations=convs,
                   messages=before(history.messages), events=events, ratings=before(history.ratings),
                   tasks=tasks, agents=history.agents)


# a conversation field as of a change event's ``from`` value (None or "": status and priority stay,
# group and assignee were unset)
_AS_OF: dict[EventKind, tuple[str, Any]] = {
    EventKind.STATUS: ("status", lambda v, now: Status(v) if v else now),
    EventKind.PRIORITY: ("priority", lambda v, now: Priority(v) if v else now),
    EventKind.GROUP: ("group", lambda v, now: v or None),
    EventKind.ASSIGNEE: ("assignee", lambda v, now: v or None),
}


# --- explain -----------------------------------------------------------------------------------


@dataclass
class Explanation:
    """The story of one finding: what happened, and how the clock ran."""

    finding: Finding
    timeline: list[dict[str, Any]]
    clock: dict[str, Any]
    current: Finding | None = None       # the rule's view now (None when it no longer reports it)
    stored: bool = True                  # False: reported by the rule now, not written yet (a dry run's)

    def as_dict(self) -> dict[str, Any]:
        return {"finding": finding_dict(self.finding), "stored": self.stored,
                "current": None if self.current is None else finding_dict(self.current),
                "timeline": self.timeline, "clock": self.clock}

    def render(self) -> str:
        f = self.current or self.finding
        lines = [f"{f.key}", f"  {f.rule}: {f.summary}",
                 f"  stage {f.stage} ({getattr(f.severity, 'value', f.severity)}), "
                 f"{'resolved ' + self.finding.resolved_at.isoformat() if self.finding.resolved_at else 'open'}"
                 + ("" if self.stored else " (not stored yet: what `careplug check` would write)"),
                 "", "timeline:"]
        for item in self.timeline:
            lines.append(f"  {item['at']}  {item['source']:<10} {item['kind']:<12} {item['summary']}")
        lines += ["", "clock:"]
        for key in ("target", "calendar", "time_zone", "started_at", "evaluated_at", "wall_time_elapsed",
                    "business_time_elapsed", "paused", "clock_elapsed", "remaining", "due_at"):
            if key in self.clock:
                lines.append(f"  {key.replace('_', ' '):<22} {self.clock[key]}")
        for p in self.clock.get("pauses", []):
            lines.append(f"  paused ({p['status']}) {p['from']} -> {p['to'] or 'now'}: {p['clock_time']}")
        for s in self.clock.get("stages", []):
            lines.append(f"  stage {s['stage']:<12} after {s['after']:<8} at {s['at'] or 'stopped (paused)'}")
        extra = {k: v for k, v in self.clock.items() if k not in {
            "target", "calendar", "time_zone", "started_at", "evaluated_at", "wall_time_elapsed",
            "business_time_elapsed", "paused", "clock_elapsed", "remaining", "due_at", "pauses", "stages"}}
        for k, v in extra.items():
            lines += _detail_lines(k.replace("_", " "), v)
        return "\n".join(lines)


def _detail_lines(label: str, value: Any) -> list[str]:
    """A rule's own explanation entry, for people: a list of values on one line, a list of
    records one per line (``key: value, ...``), anything else as it is."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [f"  {label}:"] + ["    " + ", ".join(f"{k}: {v}" for k, v in item.items() if v is not None)
                                  for item in value]
    if isinstance(value, list):
        return [f"  {label:<22} {', '.join(str(v) for v in value) or '(none)'}"]
    if isinstance(value, dict):
        return [f"  {label:<22} {', '.join(f'{k}: {v}' for k, v in value.items())}"]
    return [f"  {label:<22} {value}"]


def _timeline(history: History, finding: Finding, now: datetime) -> list[dict[str, Any]]:
    items: list[tuple[datetime, dict[str, Any]]] = []

    def mine(source: str, conversation_id: str | None) -> bool:
        if finding.conversation_id is None or not finding.subject.startswith("conversation:"):
            return True
        return source == finding.source and conversation_id == finding.conversation_id

    for c in history.conversations:
        if c.created_at and mine(c.source, c.external_id):
            items.append((c.created_at, {"source": c.source, "kind": "conversation",
                                         "summary": f"opened on {c.channel.value}: {c.subject!r} ({c.external_id})"}))
    for m in history.messages:
        if m.created_at and mine(m.source, m.conversation_id):
            who = m.author_role.value + ("" if m.public else ", internal")
            body = " ".join(m.body.split())
            items.append((m.created_at, {"source": m.source, "kind": f"{m.direction.value}",
                                         "summary": f"{m.channel.value} ({who}): {body[:90]}"}))
    for e in history.events:
        if e.created_at and mine(e.source, e.conversation_id):
            items.append((e.created_at, {"source": e.source, "kind": e.type.value,
                                         "summary": f"{_shown(e.from_value)} -> {_shown(e.to_value)}"}))
    for r in history.ratings:
        if r.created_at and mine(r.source, r.conversation_id):
            items.append((r.created_at, {"source": r.source, "kind": "rating",
                                         "summary": f"{'bad' if r.bad else 'rating'} {r.score} {r.comment}".strip()}))
    for t in history.tasks:
        at = t.completed_at or t.created_at
        if at and mine(t.source, t.conversation_id):
            items.append((at, {"source": t.source, "kind": "task",
                               "summary": f"{t.type} {'done' if t.done else 'open'}: {t.subject}"}))
    if finding.due_at is not None:
        items.append((finding.due_at, {"source": "careplug", "kind": "due",
                                       "summary": f"{finding.rule} target {'breached' if finding.due_at <= now else 'falls due'}"}))
    items.sort(key=lambda x: x[0])
    return [{"at": at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), **d} for at, d in items]


def explain(app: Any, finding_key: str, now: datetime) -> Explanation:
    """The timeline of the finding's subject and the clock math behind the finding.

    The finding comes from the store (open or resolved); its rule is re-run now when it is
    enabled, so the clock math is current. Raises ``NotFound`` (a ``CareplugError``) for an unknown or ambiguous key."""
    return explain_store(app.store, list(app.rules), finding_key, now)


def explain_store(store: Any, rules: list[Any], finding_key: str, now: datetime) -> Explanation:
    """``finding_key`` may be the start of a key, when only one key starts so."""
    stored = store_findings.get(store, finding_key) if finding_key else None
    if stored is None and finding_key.strip():
        keys = store_findings.keys_starting(store, finding_key)
        if len(keys) == 1:
            finding_key = keys[0]
            stored = store_findings.get(store, finding_key)
        elif keys:
            shown = "\n  ".join(keys[:5]) + ("\n  ..." if len(keys) > 5 else "")
            raise NotFound(f"{finding_key!r} is the start of several findings' keys; give more of it:\n  {shown}")
    if stored is None:
        found = _found_now(store, rules, finding_key, now)
        if found is None:
            raise NotFound(f"no finding {finding_key!r}, neither in the store nor reported by the rules now: "
                                f"`careplug check` lists the open ones with their keys")
        history, current = found
        return Explanation(current, _timeline(history, current, now), dict(current.explain), current, stored=False)
    history = store.load_history(stored.subject)
    current = None
    clock = dict(stored.explain)
    if history is not None:
        rule = next((r for r in rules if r.name == stored.rule), None)
        if rule is not None:
            try:
                for f in assess(rule, history, now).findings:
                    if f.key == finding_key:
                        current, clock = f, dict(f.explain)
            except Exception as exc:  # explain must still show what it can
                clock["rule_error"] = f"{type(exc).__name__}: {exc}"
    timeline = _timeline(history, stored, now) if history is not None else []
    return Explanation(stored, timeline, clock, current)


def _shown(value: Any) -> str:
    return "(none)" if value is None or value == "" else str(value)


def _found_now(store: Any, rules: list[Any], finding_key: str, now: datetime) -> tuple[History, Finding] | None:
    """A finding not stored yet (listed by ``check --dry-run``, or by a run that has not written it):
    its subject's history and the finding as its rule reports it now, by key or by the start of one
    (``rule|subject|…``)."""
    rule_name, _, rest = finding_key.partition("|")
    rule = next((r for r in rules if r.name == rule_name), None)
    if rule is None or not rest:
        return None
    # the subject is what comes before an occurrence, and may hold "|" itself: the longest that exists
    cuts = [i for i, ch in enumerate(rest) if ch == "|"] + [len(rest)]
    history = None
    for cut in reversed(cuts):
        subject = rest[:cut]
        history = store.load_history(subject) if subject else None
        if history is not None:
            break
    if history is None:
        return None
    try:
        findings = assess(rule, history, now).findings
    except Exception:  # the rule fails on it: nothing to explain beyond what check reports
        log.debug("rule %s failed explaining %s", rule_name, subject, exc_info=True)
        return None
    exact = [f for f in findings if f.key == finding_key]
    matches = exact or [f for f in findings if f.key.startswith(finding_key)]
    if len(matches) > 1:
        shown = "\n  ".join(f.key for f in matches[:5])
        raise NotFound(f"{finding_key!r} is the start of several findings' keys; give more of it:\n  {shown}")
    return (history, matches[0]) if matches else None
