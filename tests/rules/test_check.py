"""The check engine: changed and due subjects in, findings diffed into the store, resolutions once."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

import careplug
from careplug.check import evaluate_store, explain_store, history_at, replay_store
from careplug.errors import CareplugError
from careplug.model import EventKind, Priority, Status
from careplug.plugins import Plugins
from careplug.rules.unanswered import Unanswered, UnansweredOptions
from careplug.store import bulk
from careplug.store import findings as store_findings

from conftest import Journey, context, ny


class Recorder:
    def __init__(self):
        self.resolved = []
        self.at = {}

    @careplug.hookimpl
    def careplug_finding_resolved(self, finding):
        self.resolved.append(finding.key)
        self.at[finding.key] = finding.resolved_at


class Exploding(careplug.Rule):
    name = "exploding"

    def evaluate(self, history, now):
        raise RuntimeError("boom")


@pytest.fixture
def plugins():
    p = Plugins(load_entry_points=False, builtins=())
    p.recorder = Recorder()
    p.register(p.recorder, name="recorder")
    return p


def unanswered():
    return Unanswered(UnansweredOptions(first_reply="4h"), context())


def test_a_finding_is_saved_then_escalated_when_due_then_resolved_once_by_a_reply(journey, store, plugins):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    subject = f"conversation:zendesk:{conv.external_id}"
    rules = [unanswered()]

    first = evaluate_store(store, rules, ny(2026, 3, 2, 9, 30), plugins=plugins)
    assert first.evaluated >= 1 and first.new == []
    assert store.dirty_subjects() == []
    assert store.due_subjects(ny(2026, 3, 2, 11, 59)) == []            # nothing to do before the warning
    assert store.due_subjects(ny(2026, 3, 2, 12)) == [subject]

    warn = evaluate_store(store, rules, ny(2026, 3, 2, 12, 5), plugins=plugins)
    assert [f.stage for f in warn.new] == ["warning"]
    breach = evaluate_store(store, rules, ny(2026, 3, 2, 13, 5), plugins=plugins)
    assert [f.stage for f in breach.updated] == ["breach"]
    [stored] = store_findings.open_findings(store, subject=subject)
    assert stored.stage == "breach" and stored.detected_at == ny(2026, 3, 2, 12, 5)

    journey.reply(conv, ny(2026, 3, 2, 14))
    journey.load()
    cleared = evaluate_store(store, rules, ny(2026, 3, 2, 14, 5), plugins=plugins)
    assert [f.key for f in cleared.resolved] == [stored.key]
    assert store_findings.get(store, stored.key).resolved_at == ny(2026, 3, 2, 14)     # the reply, not the check
    evaluate_store(store, rules, ny(2026, 3, 2, 15), plugins=plugins, full=True)
    assert plugins.recorder.resolved == [stored.key]


def test_a_finding_back_after_clearing_is_open_again_under_its_key_and_detected_anew(journey, store):
    """Solved without a reply, then reopened: the same inquiry waits, under the same key, detected
    at the run that saw it back (what the nudge engine reads as a new episode)."""
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    rules = [unanswered()]
    [first] = evaluate_store(store, rules, ny(2026, 3, 2, 14), plugins=None).new
    journey.status(conv, ny(2026, 3, 2, 14, 30), Status.SOLVED)
    journey.load()
    assert [f.key for f in evaluate_store(store, rules, ny(2026, 3, 2, 15)).resolved] == [first.key]
    journey.status(conv, ny(2026, 3, 2, 16), Status.OPEN)
    journey.load()
    [back] = evaluate_store(store, rules, ny(2026, 3, 2, 16, 5)).new
    assert back.key == first.key and back.detected_at == ny(2026, 3, 2, 16, 5)
    stored = store_findings.get(store, first.key)
    assert stored.resolved_at is None and stored.detected_at == ny(2026, 3, 2, 16, 5)


def test_a_stored_finding_follows_a_new_due_time_and_a_reassignment(journey, store):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), group="billing", assignee="a1")
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    subject = f"conversation:zendesk:{conv.external_id}"
    evaluate_store(store, [unanswered()], ny(2026, 3, 2, 14))
    [before] = store_findings.open_findings(store, subject=subject)
    assert (before.owner, before.group, before.due_at) == ("a1", "billing", ny(2026, 3, 2, 13))
    # tighter target (an admin tuned it): the due time moves, and the run says it updated the finding
    tighter = Unanswered(UnansweredOptions(first_reply="2h"), context())
    result = evaluate_store(store, [tighter], ny(2026, 3, 2, 14, 5), full=True)
    assert [f.key for f in result.updated] == [before.key]
    assert store_findings.get(store, before.key).due_at == ny(2026, 3, 2, 11)
    # moved to another team and agent: nudges must go there, so the stored finding follows
    journey.event(conv, ny(2026, 3, 2, 14, 10), EventKind.GROUP, "billing", "tech")
    journey.event(conv, ny(2026, 3, 2, 14, 10), EventKind.ASSIGNEE, "a1", "a9")
    journey.load()
    evaluate_store(store, [tighter], ny(2026, 3, 2, 14, 15))
    after = store_findings.get(store, before.key)
    assert (after.owner, after.group, after.stage) == ("a9", "tech", "breach")


def test_a_rule_that_raises_is_reported_and_the_others_go_on(journey, store, plugins):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    result = evaluate_store(store, [Exploding(careplug.RuleOptions()), unanswered()], ny(2026, 3, 2, 16),
                            plugins=plugins)
    assert not result.ok and "exploding" in result.failures[0] and "boom" in result.failures[0]
    assert [f.rule for f in result.new] == ["unanswered"]


def test_findings_of_a_rule_that_fails_later_stay_open(journey, store, plugins):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    evaluate_store(store, [unanswered()], ny(2026, 3, 2, 16), plugins=plugins)

    class Broken(Unanswered):
        def assess(self, history, now):
            raise ValueError("bad day")

    result = evaluate_store(store, [Broken(UnansweredOptions(), context())], ny(2026, 3, 2, 17),
                            plugins=plugins, full=True)
    assert result.failures and result.resolved == []
    assert len(store_findings.open_findings(store)) == 1


class Flaky(Unanswered):
    """``unanswered`` that raises while ``failing`` (a transient bug, a lost connection)."""

    failing = False

    def assess(self, history, now):
        if self.failing:
            raise ConnectionError("transient")
        return super().assess(history, now)


def test_a_subject_a_rule_failed_on_is_evaluated_again_at_the_next_run(journey, store, plugins):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    subject = f"conversation:zendesk:{conv.external_id}"
    rule = Flaky(UnansweredOptions(), context())
    rule.failing = True
    assert not evaluate_store(store, [rule], ny(2026, 3, 2, 9, 5), plugins=plugins).ok
    # nothing changes in the conversation; the next run retries it (a failure is not an evaluation)
    assert subject in store.due_subjects(ny(2026, 3, 2, 9, 6))
    rule.failing = False
    result = evaluate_store(store, [rule], ny(2026, 3, 2, 16), plugins=plugins)
    assert result.ok and [f.stage for f in result.new] == ["breach"]


def test_a_kept_finding_of_a_failing_rule_still_reaches_its_next_stage(journey, store, plugins):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    rule = Flaky(UnansweredOptions(), context())
    [warning] = evaluate_store(store, [rule], ny(2026, 3, 2, 12, 30), plugins=plugins).new     # 3h30 of 4h
    assert warning.stage == "warning"
    journey.reply(conv, ny(2026, 3, 2, 12, 40), "internal", public=False)                   # a change: dirty
    journey.load()
    rule.failing = True
    assert not evaluate_store(store, [rule], ny(2026, 3, 2, 12, 45), plugins=plugins).ok
    rule.failing = False
    result = evaluate_store(store, [rule], ny(2026, 3, 2, 14), plugins=plugins)
    assert [f.stage for f in result.updated] == ["breach"]


def test_a_dry_run_writes_nothing(journey, store, plugins):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    result = evaluate_store(store, [unanswered()], ny(2026, 3, 2, 16), plugins=plugins, dry_run=True)
    assert len(result.new) == 1
    assert store_findings.open_findings(store) == [] and store.dirty_subjects() != []


def test_a_replay_shows_what_would_have_fired_in_the_window_including_what_cleared(journey, store):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 14))                     # an hour late
    late = journey.conversation(ada, ny(2026, 3, 3, 9))
    journey.inbound(late, ny(2026, 3, 3, 9))
    journey.status(late, ny(2026, 3, 3, 10), Status.PENDING)      # pending for good: never fires
    journey.load()
    result = replay_store(store, [unanswered()], ny(2026, 3, 4, 9), timedelta(days=3))
    fired = [(x["stage"], x["at"]) for x in result.fired]
    assert {(x["rule"], x["subject"]) for x in result.fired} == {("unanswered", f"conversation:zendesk:{conv.external_id}")}
    assert fired == [("warning", ny(2026, 3, 2, 12).astimezone(timezone.utc).isoformat()),
                     ("breach", ny(2026, 3, 2, 13).astimezone(timezone.utc).isoformat())]
    [f] = result.findings
    assert f.resolved_at == ny(2026, 3, 2, 14)
    assert store_findings.open_findings(store) == []


def test_a_replay_sees_priority_group_and_assignee_as_they_were_then(journey, store):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), priority=Priority.NORMAL, group="billing", assignee="a1")
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.event(conv, ny(2026, 3, 2, 11), EventKind.PRIORITY, "normal", "urgent")   # escalated at 11:00
    conv.priority = Priority.URGENT
    journey.event(conv, ny(2026, 3, 2, 11), EventKind.GROUP, "billing", "technical")
    journey.event(conv, ny(2026, 3, 2, 11), EventKind.ASSIGNEE, "a1", "a2")
    journey.load()
    rule = Unanswered(UnansweredOptions(first_reply="4h", priority_targets={"urgent": "1h"}), context())
    result = replay_store(store, [rule], ny(2026, 3, 2, 16), timedelta(hours=8))
    # normal until 11:00 (a 4h target: the warning would come at 12:00); urgent from then, an hour
    # over its 1h target at once. With today's priority the breach would show at 10:00.
    assert [(x["stage"], datetime.fromisoformat(x["at"])) for x in result.fired] == [("breach", ny(2026, 3, 2, 11))]
    [f] = result.findings
    assert (f.group, f.owner) == ("technical", "a2")
    early = replay_store(store, [rule], ny(2026, 3, 2, 10, 30), timedelta(hours=2))
    [f] = early.findings if early.findings else [None]
    assert f is None                                       # at 10:30 it was normal and within 4h
    before = history_at(store.load_history(f"conversation:zendesk:{conv.external_id}"), ny(2026, 3, 2, 10))
    assert (before.conversation.priority, before.conversation.group, before.conversation.assignee) == (
        Priority.NORMAL, "billing", "a1")


def test_explain_prints_the_timeline_and_the_clock_math(journey, store, plugins):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 6, 15))
    journey.inbound(conv, ny(2026, 3, 6, 15), "Our checkout is down")
    journey.status(conv, ny(2026, 3, 6, 16), Status.PENDING)
    journey.status(conv, ny(2026, 3, 9, 10), Status.OPEN)
    journey.load()
    evaluate_store(store, [unanswered()], ny(2026, 3, 9, 14), plugins=plugins)
    [f] = store_findings.open_findings(store)
    ex = explain_store(store, [unanswered()], f.key, ny(2026, 3, 9, 14))
    text = ex.render()
    assert "Our checkout is down" in text and "open -> pending" in text
    assert ex.clock["target"] == "4h" and ex.clock["paused"] == "2h" and ex.clock["business_time_elapsed"] == "7h"
    assert ex.clock["due_at"] == ny(2026, 3, 9, 13).astimezone(timezone.utc).isoformat()
    assert ex.as_dict()["finding"]["key"] == f.key
    with pytest.raises(CareplugError, match="no finding"):
        explain_store(store, [], "nope|x|y", ny(2026, 3, 9, 14))
    # the start of a key will do when only one key starts so
    assert explain_store(store, [unanswered()], f.key[:-3], ny(2026, 3, 9, 14)).finding.key == f.key
    with pytest.raises(CareplugError, match="several") as info:
        store_findings.save(store, [dataclasses.replace(f, occurrence=f.occurrence + "x")])
        explain_store(store, [unanswered()], f.key[:-1], ny(2026, 3, 9, 14))
    assert f.key in str(info.value)


def test_a_finding_a_dry_run_listed_can_be_explained_before_it_is_stored(journey, store, plugins):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9), "Our checkout is down")
    journey.load()
    [f] = evaluate_store(store, [unanswered()], ny(2026, 3, 2, 16), plugins=plugins, dry_run=True).new
    assert store_findings.open_findings(store) == []
    ex = explain_store(store, [unanswered()], f.key, ny(2026, 3, 2, 16))
    assert ex.finding.key == f.key and not ex.stored and ex.clock["business_time_elapsed"] == "7h"
    assert "not stored yet" in ex.render() and "Our checkout is down" in ex.render()
    assert ex.as_dict()["stored"] is False
    # the start of a key will do here too
    assert explain_store(store, [unanswered()], f.key.rsplit("|", 1)[0], ny(2026, 3, 2, 16)).finding.key == f.key
    with pytest.raises(CareplugError, match="no finding"):                # the rule reports nothing then
        explain_store(store, [unanswered()], f.key, ny(2026, 3, 2, 9, 30))


def test_explain_lists_a_rules_own_details_one_per_line_not_as_python_values(journey, store):
    from careplug.rules.run_around import RunAround, RunAroundOptions

    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9), group="billing")
    journey.event(conv, ny(2026, 3, 2, 10), EventKind.GROUP, "billing", "tech")
    journey.event(conv, ny(2026, 3, 2, 11), EventKind.GROUP, "tech", "sales")
    journey.load()
    rules = [RunAround(RunAroundOptions(), context())]
    evaluate_store(store, rules, ny(2026, 3, 2, 12))
    [f] = store_findings.open_findings(store)
    text = explain_store(store, rules, f.key, ny(2026, 3, 2, 12)).render()
    assert "seen                   billing, tech, sales" in text
    assert "from: billing, to: tech" in text and "[{" not in text and "['" not in text


def test_bulk_histories_equal_the_stores_own_for_every_subject_kind(journey, store):
    zd = journey.customer("zendesk", "z1", email="ada@example.com", account_id="acc")
    journey.account("zendesk", "acc", tier="key")
    hs = journey.customer("hubspot", "h1", email="ada@example.com")
    conv = journey.conversation(zd, ny(2026, 3, 2, 9), account_id="acc")
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 10))
    journey.status(conv, ny(2026, 3, 2, 11), Status.SOLVED)
    other = journey.conversation(hs, ny(2026, 3, 3, 9))
    journey.inbound(other, ny(2026, 3, 3, 9))
    journey.rating(None, ny(2026, 3, 4, 9), customer=hs)
    journey.load()
    uid = store.customer_uid("zendesk", "z1")
    subjects = [f"conversation:zendesk:{conv.external_id}", f"customer:{uid}", "account:zendesk:acc"]
    got = bulk.load_histories(store, [*subjects, "conversation:zendesk:gone", "customer:nobody"])
    assert set(got) == set(subjects)
    for subject in subjects:
        want = store.load_history(subject)
        for name in ("customer_uid", "customers", "account", "conversations", "messages", "events", "ratings",
                     "tasks", "agents"):
            assert getattr(got[subject], name) == getattr(want, name), (subject, name)
    assert got[f"customer:{uid}"].customer_uid == uid
    account = got["account:zendesk:acc"]                 # Ada's HubSpot record and conversation too
    assert [c.source for c in account.customers] == ["zendesk", "hubspot"]
    assert [c.external_id for c in account.conversations] == [conv.external_id, other.external_id]
    assert len(account.ratings) == 1
    assert set(bulk.iter_subjects(store)) == set(store.all_subjects())


class SlaPlugin:
    """An adapter reporting an SLA breach its CRM recorded, through careplug_detect_neglect."""

    def __init__(self):
        self.fail = False

    @careplug.hookimpl
    def careplug_detect_neglect(self, subject, history, now):
        if self.fail:
            raise ConnectionError("CRM unreachable")
        if subject.startswith("conversation:"):
            return [careplug.Finding(rule="crm_sla", subject=subject, occurrence="sla", stage="breach",
                                     severity=careplug.Severity.BREACH, summary="SLA breached in the CRM",
                                     started_at=now)]
        return None


def test_plugin_findings_are_stored_and_kept_while_the_plugin_fails(journey, store, plugins):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.load()
    sla = SlaPlugin()
    plugins.register(sla, name="sla")
    first = evaluate_store(store, [], ny(2026, 3, 2, 10), plugins=plugins)
    assert [f.rule for f in first.new] == ["crm_sla"]
    sla.fail = True
    failing = evaluate_store(store, [], ny(2026, 3, 2, 11), plugins=plugins, full=True)
    assert any("CRM unreachable" in f for f in failing.failures) and failing.resolved == []
    assert [f.rule for f in store_findings.open_findings(store)] == ["crm_sla"]


def test_run_check_on_an_app_lists_every_open_finding(tmp_path):
    from careplug.app import App
    from careplug.check import run_check

    config = f"""
[store]
path = "{tmp_path / 'care.db'}"

[rules.unanswered]
first_reply = "2h"
"""
    app = App.from_text(config, base_dir=tmp_path)
    try:
        j = Journey(app.store)
        ada = j.customer()
        conv = j.conversation(ada, ny(2026, 3, 2, 9))
        j.inbound(conv, ny(2026, 3, 2, 9))
        j.load()
        result = run_check(app, ny(2026, 3, 2, 12))
        assert result.ok and [f.rule for f in result.findings] == ["unanswered"]
        again = run_check(app, ny(2026, 3, 2, 12, 5))                 # nothing changed or due
        assert again.evaluated == 0 and [f.rule for f in again.findings] == ["unanswered"]
        assert again.as_dict()["open"] == 1
    finally:
        app.close()


def test_a_dry_run_after_a_check_lists_what_a_check_would_leave_open_and_previews_a_retuned_rule(tmp_path):
    """A preview is what ``check`` would show: the stored open findings with this run's changes,
    and, when the rules or calendars changed since the last check, every subject re-evaluated."""
    from careplug.app import App
    from careplug.check import run_check

    def config(target: str) -> str:
        return f'''
[store]
path = "{tmp_path / 'care.db'}"

[rules.unanswered]
first_reply = "{target}"
'''
    app = App.from_text(config("2h"), base_dir=tmp_path)
    try:
        j = Journey(app.store)
        ada = j.customer()
        late = j.conversation(ada, ny(2026, 3, 2, 9))
        j.inbound(late, ny(2026, 3, 2, 9))
        answered = j.conversation(ada, ny(2026, 3, 2, 10))
        j.inbound(answered, ny(2026, 3, 2, 10))
        soon = j.conversation(ada, ny(2026, 3, 2, 11, 30))
        j.inbound(soon, ny(2026, 3, 2, 11, 30))
        j.load()
        assert len(run_check(app, ny(2026, 3, 2, 12, 30)).findings) == 2       # 09:00 and 10:00 waiting
        j.reply(answered, ny(2026, 3, 2, 12, 40))
        j.load()
        preview = run_check(app, ny(2026, 3, 2, 12, 45), dry_run=True)
        assert [f.conversation_id for f in preview.findings] == [late.external_id]
        assert preview.as_dict()["open"] == 1 and preview.n_resolved == 1
        assert len(store_findings.open_findings(app.store)) == 2             # nothing written
    finally:
        app.close()
    tighter = App.from_text(config("30m"), base_dir=tmp_path)                 # an admin tightens the target
    try:
        preview = run_check(tighter, ny(2026, 3, 2, 12, 45), dry_run=True)
        assert sorted(f.conversation_id for f in preview.findings) == sorted(
            [late.external_id, soon.external_id])                            # 11:30 + 30m: due 12:00
        assert any("changed" in n for n in preview.notes)
        assert len(store_findings.open_findings(tighter.store)) == 2
    finally:
        tighter.close()


def test_rules_built_by_an_app_count_time_on_the_default_calendar(tmp_path):
    from careplug.app import App

    config = """
[store]
path = "care.db"

[calendars.default]
timezone = "America/New_York"
hours = { mon-fri = "09:00-17:00" }

[rules.unanswered]
first_reply = "2h"
"""
    app = App.from_text(config, base_dir=tmp_path)
    try:
        [rule] = app.rules
        assert rule.calendar.tz.key == "America/New_York"
        assert rule.calendar.name == "default"          # what --explain shows as the calendar
        assert rule.calendar.add(ny(2026, 3, 6, 16), timedelta(hours=2)) == ny(2026, 3, 9, 10).astimezone(timezone.utc)
    finally:
        app.close()


def test_a_full_run_leaves_no_subject_dirty_even_of_kinds_no_rule_watches(journey, store):
    ada = journey.customer(account_id="acc")
    journey.account("zendesk", "acc")
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    assert {s.split(":")[0] for s in store.dirty_subjects()} == {"conversation", "customer", "account"}
    result = evaluate_store(store, [unanswered()], ny(2026, 3, 2, 16), full=True)
    assert store.dirty_subjects() == [] and result.evaluated == 1


def test_a_replay_reports_a_finding_again_when_it_comes_back_after_clearing(journey, store):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.status(conv, ny(2026, 3, 2, 14), Status.SOLVED)        # solved without a reply: clears
    journey.status(conv, ny(2026, 3, 2, 15), Status.OPEN)          # reopened: the same inquiry waits again
    journey.load()
    rule = Unanswered(UnansweredOptions(first_reply="4h"), context())
    result = replay_store(store, [rule], ny(2026, 3, 2, 16), timedelta(hours=8))
    stages = [(x["stage"], datetime.fromisoformat(x["at"])) for x in result.fired]
    assert stages[-1] == ("breach", ny(2026, 3, 2, 15)) and len(stages) == 3
    [f] = result.findings
    assert f.resolved_at is None
    assert result.as_dict()["open"] == 1


def test_replay_counts_only_findings_still_open_as_open(journey, store):
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 14))
    journey.load()
    result = replay_store(store, [unanswered()], ny(2026, 3, 4, 9), timedelta(days=3))
    assert result.as_dict()["open"] == 0 and len(result.findings) == 1


def test_a_rule_failing_on_a_subject_is_reported_once_however_often_the_replay_retries_it(journey, store):
    class Broken:
        name = "broken"
        subjects = ("conversation",)

        def assess(self, history, now):
            raise RuntimeError("boom")

    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.reply(conv, ny(2026, 3, 2, 10))
    journey.load()
    result = replay_store(store, [Broken()], ny(2026, 3, 3, 9), timedelta(days=2))
    assert len(result.failures) == 1 and "boom" in result.failures[0]


# --- when a finding cleared -------------------------------------------------------------------


def breached(journey, store, rules=None, *, at=None):
    """Ada's email of 09:00 New York, unanswered; checked at 14:00 (or ``at``): breached and stored."""
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    [f] = evaluate_store(store, rules or [unanswered()], at or ny(2026, 3, 2, 14)).new
    assert f.stage == "breach"
    return conv, f


def test_a_reply_clears_the_finding_at_the_reply_time_not_at_the_check_that_saw_it(journey, store, plugins):
    conv, f = breached(journey, store)
    journey.reply(conv, ny(2026, 3, 2, 14, 30))
    journey.load()
    result = evaluate_store(store, [unanswered()], ny(2026, 3, 2, 17), plugins=plugins)
    [resolved] = result.resolved
    assert resolved.key == f.key and resolved.resolved_at == ny(2026, 3, 2, 14, 30)
    assert store_findings.get(store, f.key).resolved_at == ny(2026, 3, 2, 14, 30)
    assert plugins.recorder.at == {f.key: ny(2026, 3, 2, 14, 30)}         # the hook sees the same time


def test_a_reply_synced_after_a_check_that_still_saw_the_finding_clears_it_at_the_reply_time(journey, store):
    conv, f = breached(journey, store)
    evaluate_store(store, [unanswered()], ny(2026, 3, 2, 15), full=True)   # the reply is not synced yet
    journey.reply(conv, ny(2026, 3, 2, 14, 30))
    journey.load()
    evaluate_store(store, [unanswered()], ny(2026, 3, 2, 17))
    assert store_findings.get(store, f.key).resolved_at == ny(2026, 3, 2, 14, 30)


def test_solving_the_conversation_clears_the_finding_at_the_solve_time(journey, store):
    conv, f = breached(journey, store)
    journey.reply(conv, ny(2026, 3, 2, 14, 10), "a note", public=False)     # a change that does not clear it
    journey.status(conv, ny(2026, 3, 2, 15, 20), Status.SOLVED)
    journey.load()
    [resolved] = evaluate_store(store, [unanswered()], ny(2026, 3, 2, 17)).resolved
    assert resolved.resolved_at == ny(2026, 3, 2, 15, 20)
    assert store_findings.get(store, f.key).resolved_at == ny(2026, 3, 2, 15, 20)


def test_a_call_logged_after_solving_is_the_check_in_and_clears_it_at_its_completion_time(journey, store):
    from careplug.rules.check_in import CheckIn, CheckInOptions

    rules = [CheckIn(CheckInOptions(), context())]
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.status(conv, ny(2026, 3, 2, 12), Status.SOLVED)
    call = journey.task(at=ny(2026, 3, 4, 9), done=False, conv=conv, subject="Check in with Ada")
    journey.load()
    [f] = evaluate_store(store, rules, ny(2026, 3, 5, 13)).new               # three days after solving
    assert f.stage == "due"
    call.done, call.completed_at, call.updated_at = True, ny(2026, 3, 6, 10), ny(2026, 3, 6, 10)
    journey.records.append(call)
    journey.load()
    [resolved] = evaluate_store(store, rules, ny(2026, 3, 6, 15)).resolved
    assert resolved.key == f.key and resolved.resolved_at == ny(2026, 3, 6, 10)


def test_a_finding_that_expires_with_time_is_resolved_at_the_check(journey, store):
    from careplug.rules.check_in import CheckIn, CheckInOptions

    rules = [CheckIn(CheckInOptions(max_age="14d"), context())]
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.status(conv, ny(2026, 3, 2, 12), Status.SOLVED)
    journey.load()
    [f] = evaluate_store(store, rules, ny(2026, 3, 5, 13)).new
    journey.reply(conv, ny(2026, 3, 10, 9), "a note", public=False)         # history changes, the check-in is still due
    journey.load()
    [resolved] = evaluate_store(store, rules, ny(2026, 3, 17, 9)).resolved  # 14 days after solving: expired
    assert resolved.key == f.key and resolved.resolved_at == ny(2026, 3, 17, 9)


def test_a_finding_a_retuned_rule_no_longer_reports_is_resolved_at_the_check(journey, store):
    conv, f = breached(journey, store)
    journey.reply(conv, ny(2026, 3, 2, 14, 10), "a note", public=False)
    journey.load()
    retuned = Unanswered(UnansweredOptions(first_reply="4h", scope={"channels": ["chat"]}), context())
    [resolved] = evaluate_store(store, [retuned], ny(2026, 3, 2, 17), full=True).resolved
    assert resolved.key == f.key and resolved.resolved_at == ny(2026, 3, 2, 17)


def test_the_stored_resolution_time_agrees_with_the_replay_when_the_finding_came_back_first(journey, store):
    conv, f = breached(journey, store)
    journey.status(conv, ny(2026, 3, 2, 14, 30), Status.SOLVED)          # solved without a reply: clears
    journey.status(conv, ny(2026, 3, 2, 15), Status.OPEN)                # reopened: back
    journey.reply(conv, ny(2026, 3, 2, 15, 30))                            # answered: clears for good
    journey.load()
    evaluate_store(store, [unanswered()], ny(2026, 3, 2, 17))
    stored = store_findings.get(store, f.key)
    [replayed] = replay_store(store, [unanswered()], ny(2026, 3, 2, 17), timedelta(hours=8)).findings
    assert stored.resolved_at == replayed.resolved_at == ny(2026, 3, 2, 15, 30)


class WaitingPlugin:
    """A plugin reporting, from the history, a conversation whose customer spoke last."""

    @careplug.hookimpl
    def careplug_detect_neglect(self, subject, history, now):
        if not subject.startswith("conversation:") or not history.messages:
            return None
        last = history.messages[-1]
        if last.direction.value != "inbound":
            return None
        return [careplug.Finding(rule="crm_waiting", subject=subject, occurrence=last.external_id, stage="breach",
                                 severity=careplug.Severity.BREACH, summary="the customer spoke last",
                                 started_at=last.created_at)]


def _waiting_at_10_answered_at_11(journey, store, plugins):
    """Ada writes at 9:00; the check at 10:00 finds one thing; the agent replies at 11:00."""
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    [f] = evaluate_store(store, [], ny(2026, 3, 2, 10), plugins=plugins).new
    journey.reply(conv, ny(2026, 3, 2, 11))
    journey.load()
    return f


def test_a_plugins_finding_clears_at_the_instant_its_history_says(journey, store, plugins):
    plugins.register(WaitingPlugin(), name="waiting")
    f = _waiting_at_10_answered_at_11(journey, store, plugins)
    [resolved] = evaluate_store(store, [], ny(2026, 3, 2, 12), plugins=plugins).resolved
    assert resolved.key == f.key and resolved.resolved_at == ny(2026, 3, 2, 11)
    assert plugins.recorder.at == {f.key: ny(2026, 3, 2, 11)}


def test_a_plugins_finding_read_from_its_crm_clears_at_the_check(journey, store, plugins):
    class CrmSla:
        """Reports what its CRM says now, whatever the history: no instant before now to resolve at."""

        breached = True

        @careplug.hookimpl
        def careplug_detect_neglect(self, subject, history, now):
            return [careplug.Finding(rule="crm_sla", subject=subject, occurrence="sla", stage="breach",
                                     severity=careplug.Severity.BREACH, summary="SLA breached in the CRM",
                                     started_at=ny(2026, 3, 2, 9))] if self.breached and subject.startswith("conversation:") else None

    sla = CrmSla()
    plugins.register(sla, name="sla")
    f = _waiting_at_10_answered_at_11(journey, store, plugins)
    sla.breached = False
    result = evaluate_store(store, [], ny(2026, 3, 2, 12), plugins=plugins)
    [resolved] = result.resolved
    assert resolved.key == f.key and resolved.resolved_at == ny(2026, 3, 2, 12) and result.ok


def test_a_plugins_finding_with_times_without_a_zone_reads_them_as_utc_and_resolves_like_any(journey, store, plugins):
    class Sloppy:
        reporting = True

        @careplug.hookimpl
        def careplug_detect_neglect(self, subject, history, now):
            if not self.reporting or not subject.startswith("conversation:"):
                return None
            return [careplug.Finding(rule="crm_sla", subject=subject, occurrence="sla", stage="breach",
                                     severity=careplug.Severity.BREACH, summary="SLA breached in the CRM",
                                     started_at=datetime(2026, 3, 2, 9), detected_at=datetime(2026, 3, 2, 10))]

    sloppy = Sloppy()
    plugins.register(sloppy, name="sloppy")
    ada = journey.customer()
    journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.load()
    [f] = evaluate_store(store, [], ny(2026, 3, 2, 10), plugins=plugins).new
    assert f.started_at == datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    sloppy.reporting = False
    result = evaluate_store(store, [], ny(2026, 3, 2, 12), plugins=plugins, full=True)
    [resolved] = result.resolved
    assert resolved.key == f.key and resolved.resolved_at == ny(2026, 3, 2, 12) and result.ok


def test_a_finding_time_cleared_is_resolved_at_the_check_not_at_an_unrelated_later_record(journey, store, plugins):
    class Window:
        """Reports a conversation only until 11:00 (a window of its own that ran out)."""

        @careplug.hookimpl
        def careplug_detect_neglect(self, subject, history, now):
            if not subject.startswith("conversation:") or now >= ny(2026, 3, 2, 11):
                return None
            return [careplug.Finding(rule="window", subject=subject, occurrence="w", stage="breach",
                                     severity=careplug.Severity.BREACH, summary="in the window",
                                     started_at=ny(2026, 3, 2, 9))]

    plugins.register(Window(), name="window")
    ada = journey.customer()
    conv = journey.conversation(ada, ny(2026, 3, 2, 9))
    journey.inbound(conv, ny(2026, 3, 2, 9))
    journey.load()
    [f] = evaluate_store(store, [], ny(2026, 3, 2, 10), plugins=plugins).new
    journey.event(conv, ny(2026, 3, 2, 11, 30), careplug.EventKind.PRIORITY, "normal", "high")   # after it ran out
    journey.load()
    [resolved] = evaluate_store(store, [], ny(2026, 3, 2, 12), plugins=plugins).resolved
    assert resolved.key == f.key and resolved.resolved_at == ny(2026, 3, 2, 12)
