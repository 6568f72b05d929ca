"""The full evaluation (``careplug.sweep``): the same findings as evaluating every subject one by
one, on one process or several, each record decoded once, and nothing skipped when it is cut short."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import careplug
from careplug.check import evaluate_store
from careplug.errors import CareplugError
from careplug.model import AuthorRole, Channel, Direction, Message, Task
from careplug.plugins import Plugins
from careplug.rules.quiet_customer import QuietCustomer, QuietCustomerOptions
from careplug.store import Store, bulk, schema
from careplug.store import findings as store_findings
from careplug.store.families import load_families
from careplug.sweep import default_workers, sweep_store
from careplug.testing.generator import generate

from careplug.history import History

from conftest import context, ny

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=timezone.utc)


def all_rules(enabled=None):
    """Every rule with its defaults, and quiet_customer at account level too (accounts are what the
    sweep leaves to its last pass)."""
    plugins = Plugins(load_entry_points=False)
    rules = [cls(cls.Options(), context()) for name, cls in plugins.rules().items()
             if enabled is None or name in enabled]
    if enabled is None or "quiet_customer" in enabled:
        rules.append(QuietCustomer(QuietCustomerOptions(level="account", after="20d"), context()))
    return rules


def snapshot(store: Store) -> tuple[list, list]:
    f, s = schema.findings.c, schema.subjects.c
    with store.engine.connect() as conn:
        findings = [tuple(r) for r in conn.execute(select(
            f.key, f.rule, f.subject, f.stage, f.severity, f.status, f.started_at, f.due_at, f.resolved_at
        ).order_by(f.key))]
        subjects = [tuple(r) for r in conn.execute(select(s.key, s.dirty, s.next_due_at).order_by(s.key))]
    return findings, subjects


def account_tasks(records: list) -> list[Task]:
    """Tasks logged on accounts (no conversation): every third account has a call that names no
    contact, some an open follow-up, some a call that also names a customer of another account."""
    accounts = [r for r in records if r.kind == "account"]
    customers = [r for r in records if r.kind == "customer"]
    out: list[Task] = []
    for n, acc in enumerate(accounts):
        at = NOW - timedelta(days=3 + (n * 7) % 40, hours=n % 9)
        if n % 3 == 0:
            out.append(Task(acc.source, f"acct-call-{n}", subject="QBR call", account_id=acc.external_id,
                            type="call", done=True, completed_at=at, created_at=at, updated_at=at))
        if n % 4 == 1:
            out.append(Task(acc.source, f"acct-open-{n}", subject="Renewal", account_id=acc.external_id,
                            due_at=at, created_at=at - timedelta(days=2), updated_at=at))
        if n % 5 == 2:
            other = next(c for c in customers if c.source == acc.source and c.account_id != acc.external_id)
            out.append(Task(acc.source, f"acct-named-{n}", subject="Intro call", account_id=acc.external_id,
                            customer_id=other.external_id, type="call", done=True, completed_at=at,
                            created_at=at, updated_at=at))
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """300 generated conversations (customers in three sources, accounts, every channel), and
    tasks logged on accounts."""
    path = tmp_path_factory.mktemp("sweep") / "generated.db"
    store = Store(str(path))
    records = list(generate(300, seed=7, now=NOW))
    records += account_tasks(records)
    for i in range(0, len(records), 2000):
        store.commit_batch("gen", "all", records[i:i + 2000], cursor=None)
    store.close()
    return path


def copy_of(generated, tmp_path, name) -> Store:
    path = tmp_path / name
    shutil.copy(generated, path)
    return Store(str(path))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sweep_finds_exactly_what_evaluating_each_subject_finds(generated, tmp_path, workers):
    one_by_one = copy_of(generated, tmp_path, "one.db")
    reference = evaluate_store(one_by_one, all_rules(), NOW, full=True, chunk=37)   # key order, small batches
    swept = copy_of(generated, tmp_path, "swept.db")
    result = sweep_store(swept, all_rules(), NOW, workers=workers, chunk=20)

    want, got = snapshot(one_by_one), snapshot(swept)
    assert got == want
    assert len(want[0]) > 50                                       # the generated history has neglect
    assert any(subject.startswith("account:") for _k, _r, subject, *_ in want[0])   # quiet accounts too
    assert swept.dirty_subjects() == []
    assert result.evaluated == reference.evaluated
    assert result.n_new == len(want[0]) and not result.failures


def test_findings_a_changed_configuration_no_longer_reports_are_resolved_once_in_this_process(generated, tmp_path):
    store = copy_of(generated, tmp_path, "store.db")
    sweep_store(store, all_rules(), NOW, workers=2, chunk=20)
    open_before = {key for key, rule, _s, _st, _sev, status, *_t in snapshot(store)[0]
                   if status == "open" and rule == "check_in"}
    assert open_before

    resolved: list[str] = []

    class Recorder:
        @careplug.hookimpl
        def careplug_finding_resolved(self, finding):
            resolved.append(finding.key)

    plugins = Plugins(load_entry_points=False, builtins=())
    plugins.register(Recorder(), name="recorder")
    without_check_in = all_rules(enabled={"unanswered", "broken_promise", "run_around", "quiet_customer",
                                          "unhappy", "neglected_lead"})
    result = sweep_store(store, without_check_in, NOW, plugins=plugins, workers=2, chunk=20)
    assert sorted(resolved) == sorted(open_before)                 # each once, after its commit
    assert result.n_resolved == len(open_before)
    assert all(status == "resolved" for _k, rule, _s, _st, _sev, status, *_t in snapshot(store)[0]
               if rule == "check_in")


def test_a_sweep_resolves_findings_at_the_same_instants_as_evaluating_each_subject(generated, tmp_path):
    """Replies at NOW+1h to the conversations left unanswered at NOW; both evaluations at NOW+5h
    resolve those findings at the reply, not at the run."""
    reply_at, later = NOW + timedelta(hours=1), NOW + timedelta(hours=5)
    stores = [copy_of(generated, tmp_path, "one.db"), copy_of(generated, tmp_path, "swept.db")]
    for store in stores:
        evaluate_store(store, all_rules(), NOW, full=True)
    waiting = [f for f in store_findings.open_findings(stores[0], rule="unanswered") if f.conversation_id]
    assert len(waiting) >= 5
    replies = [Message(f.source, f"reply-{n}", conversation_id=f.conversation_id, direction=Direction.OUTBOUND,
                       author_role=AuthorRole.AGENT, author="agent-1", channel=Channel.EMAIL, created_at=reply_at,
                       body="Sorry for the wait") for n, f in enumerate(waiting)]
    for store in stores:
        store.commit_batch("gen", "replies", replies, cursor=None)
    reference = evaluate_store(stores[0], all_rules(), later, full=True, chunk=37)
    result = sweep_store(stores[1], all_rules(), later, workers=2, chunk=20)

    assert snapshot(stores[1]) == snapshot(stores[0])
    assert result.n_resolved == reference.n_resolved
    resolved = {f.key: f.resolved_at for f in reference.resolved}
    assert {f.key for f in waiting} <= set(resolved)
    assert {resolved[f.key] for f in waiting} == {reply_at}
    assert {f.key: f.resolved_at for f in result.resolved} == resolved


def test_a_sweep_cut_short_leaves_every_subject_flagged_for_the_next_run(generated, tmp_path):
    store = copy_of(generated, tmp_path, "store.db")
    evaluate_store(store, all_rules(), NOW)                        # everything clean
    assert store.dirty_subjects() == []
    bulk.mark_all_dirty(store)                                      # the sweep's first step, then killed
    assert store.dirty_subjects() == store.all_subjects()
    evaluate_store(store, all_rules(), NOW)                        # an ordinary run picks them all up
    reference = copy_of(generated, tmp_path, "reference.db")
    sweep_store(reference, all_rules(), NOW, workers=1)
    assert snapshot(store) == snapshot(reference)


def test_conversations_without_a_customer_and_accounts_are_evaluated_too(journey, store):
    ada = journey.customer(account_id="acc")
    journey.account("zendesk", "acc")
    orphan = journey.conversation(ada, ny(2026, 3, 2, 9))
    orphan.customer_id = None
    journey.inbound(orphan, ny(2026, 3, 2, 9))
    journey.load()
    rules = all_rules(enabled={"unanswered"})
    result = sweep_store(store, rules, ny(2026, 3, 3, 16), workers=1)
    assert store.dirty_subjects() == []
    assert {f.subject for f in result.new} == {f"conversation:zendesk:{orphan.external_id}"}


def test_families_are_the_histories_the_store_builds_one_at_a_time(generated, tmp_path):
    store = copy_of(generated, tmp_path, "store.db")
    uids = [k.split(":", 1)[1] for k in store.all_subjects("customer")][:40]
    families = load_families(store, uids)
    conversations = [k for k in families if k.startswith("conversation:")]
    assert len(conversations) >= 40
    for subject in [f"customer:{u}" for u in uids] + conversations:
        want = store.load_history(subject)
        got = families[subject]
        for name in ("customer_uid", "customers", "account", "conversations", "messages", "events", "ratings",
                     "tasks", "agents"):
            assert getattr(got, name) == getattr(want, name), (subject, name)
    # a task logged on an account is in no customer's history unless it names that customer
    held = {t.external_id for h in families.values() for t in h.tasks if t.external_id.startswith("acct-")}
    assert held and all(name.startswith("acct-named-") for name in held)


def test_account_histories_of_the_sweeps_leftover_pass_are_the_ones_the_store_builds(generated, tmp_path):
    # accounts are evaluated after the families, through bulk.load_histories
    store = copy_of(generated, tmp_path, "store.db")
    accounts = store.all_subjects("account")
    assert len(accounts) >= 20
    got = bulk.load_histories(store, accounts)
    assert set(got) == set(accounts)
    assert any(len({c.source for c in h.customers}) > 1 for h in got.values())   # linked across sources
    own = {t.external_id for h in got.values() for t in h.tasks if t.external_id.startswith("acct-")}
    assert {"acct-call-0", "acct-open-1", "acct-named-2"} <= own                  # logged on the account
    for subject in accounts:
        want = store.load_history(subject)
        for name in ("customer_uid", "customers", "account", "conversations", "messages", "events", "ratings",
                     "tasks", "agents"):
            assert getattr(got[subject], name) == getattr(want, name), (subject, name)


def test_a_customer_in_two_sources_with_customer_level_ratings_and_tasks_loads_like_one_by_one(journey, store):
    # the family loader streams records in time order and merges customer-level ratings and tasks
    # (no conversation) into the customer's lists: ties at one instant keep the store's order
    ada = journey.customer("zendesk", "z1", email="ada@example.com")
    journey.customer("hubspot", "h1", email="ada@example.com")            # the same person
    at = ny(2026, 3, 2, 10)
    t1 = journey.conversation(ada, at)
    journey.inbound(t1, at)
    journey.rating(t1, ny(2026, 3, 2, 12))
    journey.rating(None, ny(2026, 3, 2, 12), customer=ada)                # the same instant, no conversation
    journey.task(source="zendesk", at=ny(2026, 3, 2, 11), conv=t1)
    journey.task(source="zendesk", at=ny(2026, 3, 2, 11), customer=ada)   # a tie again
    journey.task(source="zendesk", at=ny(2026, 3, 1, 9), customer=ada)    # earliest of all
    undated = journey.conversation(ada, at, id="t-undated")
    undated.created_at = None
    journey.inbound(undated, ny(2026, 3, 2, 9))
    journey.load()
    [uid] = [k.split(":", 1)[1] for k in store.all_subjects("customer")]
    families = load_families(store, [uid])
    assert set(families) == {f"customer:{uid}", "conversation:zendesk:t-undated", f"conversation:zendesk:{t1.external_id}"}
    for subject, got in families.items():
        want = store.load_history(subject)
        for name in ("customer_uid", "customers", "account", "conversations", "messages", "events", "ratings",
                     "tasks", "agents"):
            assert getattr(got, name) == getattr(want, name), (subject, name)
        for name in ("messages", "ratings", "tasks"):
            assert got.grouped(name) == History.grouped(want, name), (subject, name)
    customer = families[f"customer:{uid}"]
    assert len(customer.ratings) == 2 and len(customer.tasks) == 3 and len(customer.customers) == 2
    assert customer.tasks[0].created_at == ny(2026, 3, 1, 9)


def test_a_customer_with_thousands_of_conversations_keeps_its_records_in_time_order(journey, store):
    # more conversation ids than any one id list used to hold: the customer's lists still come
    # out of one time-ordered stream (two inquiries at one instant: the store's order decides)
    ada = journey.customer("zendesk", "c1")
    at = ny(2026, 3, 2, 10)
    convs = [journey.conversation(ada, ny(2026, 3, 1, 10), id=f"t{i:05d}") for i in range(5001)]
    journey.inbound(convs[-1], at, id="m-stored-first")
    journey.inbound(convs[0], at, id="m-stored-second")
    journey.load()
    [subject] = store.all_subjects("customer")
    got = load_families(store, [subject.split(":", 1)[1]])[subject]
    want = store.load_history(subject)
    assert [m.external_id for m in got.messages] == [m.external_id for m in want.messages] == [
        "m-stored-first", "m-stored-second"]
    assert got.conversations == want.conversations


def test_workers_default_to_one_per_cpu_on_large_file_stores_and_obey_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("CAREPLUG_WORKERS", raising=False)
    on_disk = Store(str(tmp_path / "a.db"))
    in_memory = Store("sqlite://")
    assert default_workers(on_disk, 10) == 1                        # small: not worth a fork
    assert default_workers(in_memory, 10**6) == 1                   # other processes cannot open it
    assert default_workers(on_disk, 10**6) == min(os.cpu_count() or 1, 4)   # one per CPU (Linux forks)
    monkeypatch.setenv("CAREPLUG_WORKERS", "3")
    assert default_workers(on_disk, 10) == 3
    monkeypatch.setenv("CAREPLUG_WORKERS", "many")
    with pytest.raises(CareplugError, match="CAREPLUG_WORKERS='many'"):
        default_workers(on_disk, 10)


def test_an_in_memory_store_is_swept_in_this_process():
    store = Store("sqlite://")
    store.commit_batch("gen", "all", list(generate(60, seed=1, now=NOW)), cursor=None)
    result = sweep_store(store, all_rules(), NOW, workers=2)       # one process: nothing to share
    assert result.n_new > 0 and store.dirty_subjects() == []
    again = evaluate_store(store, all_rules(), NOW, full=True)
    assert (again.n_new, again.n_updated, again.n_resolved) == (0, 0, 0)
