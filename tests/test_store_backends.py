"""The store's contract holds on every backend: SQLite (default) and PostgreSQL.

PostgreSQL runs when CAREPLUG_TEST_POSTGRES_URL is set; `make test` starts a throwaway server
for it through scripts/with-postgres.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, select, text

from careplug import Account, Conversation, Customer, Deletion, Message, Quarantined, StoreLocked, Task
from careplug.store import Store, schema

T = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
PG = os.environ.get("CAREPLUG_TEST_POSTGRES_URL")


def _clean_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        schema.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS careplug_meta"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store(str(tmp_path / "store.db"))
    else:
        if not PG:
            pytest.skip("PostgreSQL not available: set CAREPLUG_TEST_POSTGRES_URL (make test starts one)")
        _clean_postgres(PG)
        s = Store(PG)
    yield s
    s.close()


def test_the_schema_is_at_the_latest_migration(store):
    from careplug.store.migrations import LATEST, current_version

    with store.engine.connect() as conn:
        assert current_version(conn) == LATEST


def test_a_v2_store_gets_partial_subject_indexes_and_keeps_its_dirty_and_due_subjects(tmp_path):
    from sqlalchemy import text

    path = str(tmp_path / "v2.db")
    old = Store(path)
    old.commit_batch("zd", "tickets", [Conversation("zd", "1", created_at=T), Conversation("zd", "2", created_at=T)],
                     cursor=None)
    old.mark_evaluated({"conversation:zd:1": T}, T)
    with old.engine.begin() as conn:                 # the v2 shape: whole-column indexes
        conn.execute(text("DROP INDEX ix_subjects_dirty"))
        conn.execute(text("DROP INDEX ix_subjects_due"))
        conn.execute(text("CREATE INDEX ix_subjects_dirty ON subjects (dirty)"))
        conn.execute(text("CREATE INDEX ix_subjects_due ON subjects (next_due_at)"))
        conn.execute(text("UPDATE careplug_meta SET value = '2' WHERE key = 'schema_version'"))
    old.close()
    store = Store(path)
    with store.engine.connect() as conn:
        sql = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE name LIKE 'ix_subjects%'")).all())
    assert sql["ix_subjects_dirty"].endswith("WHERE dirty IS 1")
    assert sql["ix_subjects_due"].endswith("WHERE next_due_at IS NOT NULL")
    assert store.dirty_subjects() == ["conversation:zd:2"]
    assert store.due_subjects(T) == ["conversation:zd:1"]


def test_a_v3_store_gets_its_records_json_with_their_identity_and_reads_the_same(store):
    from careplug.store import codec
    from careplug.store.migrations import migrate

    records = [Conversation("zd", "1", customer_id="u1", created_at=T, subject='say "hi" \\ ünïcode'),
               Message("zd", 'm "1"', conversation_id="1", created_at=T, body="hello"),
               Customer("hs", "ü-2", emails=["ada@example.com"])]
    store.commit_batch("zd", "all", records, cursor=None)
    before = store.snapshot()
    with store.engine.begin() as conn:               # the v3 shape: the JSON without the identity
        for r in records:
            old = "{" + codec.encode(r).split(",", 2)[2]
            conn.execute(text("UPDATE records SET data = :d WHERE source = :s AND external_id = :e"),
                         {"d": old, "s": r.source, "e": r.external_id})
        conn.execute(text("UPDATE careplug_meta SET value = '3' WHERE key = 'schema_version'"))
    assert store.get("zd", "message", 'm "1"') == records[1]         # the old form still reads
    assert migrate(store.engine) == 3
    with store.engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT external_id, data FROM records")).all())
    assert stored == {r.external_id: codec.encode(r) for r in records}  # byte for byte what a sync writes
    assert store.snapshot() == before
    assert store.commit_batch("zd", "all", records, cursor=None).counts == {}   # nothing looks changed


def test_a_migration_that_rewrote_records_gives_the_log_space_back(tmp_path):
    from careplug.store.migrations import migrate

    path = tmp_path / "v3.db"
    store = Store(str(path))
    store.commit_batch("zd", "all", [Message("zd", f"m{i}", conversation_id="1", body="x" * 500) for i in range(2000)],
                       cursor=None)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE careplug_meta SET value = '3' WHERE key = 'schema_version'"))
        conn.execute(text("UPDATE records SET data = '{' || substr(data, 27 + length(json_quote(source)) "
                          "+ length(json_quote(external_id)))"))
    assert migrate(store.engine) == 3
    wal = tmp_path / "v3.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    assert store.get("zd", "message", "m7").body == "x" * 500


def test_a_migration_does_not_wait_on_a_reader_to_give_the_log_back(tmp_path):
    import sqlite3
    import time

    from careplug.store.migrations import migrate

    path = tmp_path / "v3.db"
    store = Store(str(path))
    store.commit_batch("zd", "all", [Message("zd", f"m{i}", conversation_id="1", body="x") for i in range(100)],
                       cursor=None)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE careplug_meta SET value = '3' WHERE key = 'schema_version'"))
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM records").fetchall()      # another process reading: the log stays busy
    started = time.monotonic()
    try:
        assert migrate(store.engine) == 3
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    assert time.monotonic() - started < 20            # not 100 tries of the 30 s busy timeout
    assert store.get("zd", "message", "m7").body == "x"


def test_records_stored_in_an_older_form_load_like_one_by_one_beside_current_ones(store):
    # the family loader decodes each kind of a chunk as one JSON array; a record stored before v4
    # (no identity in its JSON) or with a value the model's types refuse makes that kind fall back
    # to the record-by-record tolerant decode, with the same result as load_history
    from careplug.model import AuthorRole, Direction
    from careplug.store.families import load_families

    def inbound(ext, hour):
        return Message("zd", ext, conversation_id="1", created_at=T.replace(hour=hour), body=f"help {ext}",
                       direction=Direction.INBOUND, author_role=AuthorRole.CUSTOMER)

    store.commit_batch("zd", "all", [Customer("zd", "u1", emails=["ada@example.com"]),
                                     Conversation("zd", "1", customer_id="u1", created_at=T),
                                     inbound("m-old-form", 10), inbound("m-refused-value", 11),
                                     inbound("m-current", 12)], cursor=None)
    r = schema.records.c
    with store.engine.begin() as conn:
        old = conn.execute(select(r.data).where(r.external_id == "m-old-form")).scalar_one()
        conn.execute(schema.records.update().where(r.external_id == "m-old-form").values(
            data="{" + old.split(",", 2)[2]))                                 # without source, external_id
        refused = conn.execute(select(r.data).where(r.external_id == "m-refused-value")).scalar_one()
        conn.execute(schema.records.update().where(r.external_id == "m-refused-value").values(
            data=refused.replace('"public":true', '"public":"yes"')))
    [subject] = store.all_subjects("customer")
    families = load_families(store, [subject.split(":", 1)[1]])
    for key in (subject, "conversation:zd:1"):
        got, want = families[key].messages, store.load_history(key).messages
        assert [(m.source, m.external_id, m.body) for m in got] == [(m.source, m.external_id, m.body) for m in want]
        assert [m.external_id for m in got] == ["m-old-form", "m-refused-value", "m-current"]


def test_an_older_form_record_whose_row_is_gone_is_left_out_and_current_ones_keep_their_identity():
    from careplug.store import codec

    current = codec.encode(Message("zd", "m1", conversation_id="1", body="hi"))
    refused = codec.encode(Message("zd", "m2", conversation_id="1", body="hi")).replace('"public":true', '"public":1')
    old = "{" + current.split(",", 2)[2]
    asked = []

    def identities():
        asked.append(True)
        return [("zd", "m1"), ("zd", "m2"), ("zd", None)]       # the third row was deleted meanwhile

    out = codec.decode_list("message", [current, refused, old], identities)
    assert [m.external_id for m in out[:2]] == ["m1", "m2"] and out[2] is None and asked == [True]
    assert codec.decode_list("message", [current.encode()], lambda: [])[0].external_id == "m1"


def test_undated_records_come_first_and_rules_see_the_same_history_either_way(store):
    from datetime import timedelta

    from careplug.model import AuthorRole, Direction
    from careplug.rules.unanswered import Unanswered
    from careplug.store.families import load_families

    h = timedelta(hours=1)
    store.commit_batch("zd", "all", [
        Customer("zd", "u1", emails=["ada@example.com"]),
        Conversation("zd", "1", customer_id="u1", created_at=T),
        Message("zd", "m-undated", conversation_id="1", body="imported without a date"),
        Message("zd", "m1", conversation_id="1", created_at=T, body="help", direction=Direction.INBOUND,
                author_role=AuthorRole.CUSTOMER),
        Message("zd", "m2", conversation_id="1", created_at=T + h, body="on it", direction=Direction.OUTBOUND,
                author_role=AuthorRole.AGENT),
        Message("zd", "m3", conversation_id="1", created_at=T + 2 * h, body="still broken",
                direction=Direction.INBOUND, author_role=AuthorRole.CUSTOMER),
    ], cursor=None)
    [customer] = store.all_subjects("customer")
    one = store.load_history("conversation:zd:1")
    family = load_families(store, [customer.split(":", 1)[1]])["conversation:zd:1"]
    assert [m.external_id for m in one.messages] == [m.external_id for m in family.messages] == [
        "m-undated", "m1", "m2", "m3"]
    rule = Unanswered(Unanswered.Options())
    assert [f.occurrence for f in rule.assess(one, T + 30 * h).findings] == ["m3"]
    assert [f.occurrence for f in rule.assess(family, T + 30 * h).findings] == ["m3"]


def test_a_batch_and_its_cursor_are_one_transaction_and_replays_change_nothing(store):
    batch = [Conversation("zd", "1", customer_id="u1", created_at=T),
             Message("zd", "m1", conversation_id="1", created_at=T, body="hello"),
             Message("zd", "m1", conversation_id="1", created_at=T, body="hello, edited")]  # same id twice
    first = store.commit_batch("zd", "tickets", batch, cursor={"after": "abc"})
    assert first.counts == {"conversation": 1, "message": 1}
    assert store.get("zd", "message", "m1").body == "hello, edited"
    snapshot = store.snapshot()
    again = store.commit_batch("zd", "tickets", batch, cursor={"after": "abc"})
    assert again.counts == {} and store.snapshot() == snapshot
    assert store.get_cursor("zd", "tickets") == {"after": "abc"}


def test_a_failed_batch_leaves_neither_records_nor_cursor(store):
    class Boom(Exception):
        pass

    original = store._set_cursor

    def failing(*args, **kwargs):
        raise Boom()

    store._set_cursor = failing
    with pytest.raises(Boom):
        store.commit_batch("zd", "tickets", [Conversation("zd", "1", created_at=T)], cursor="c1")
    store._set_cursor = original
    assert store.count("conversation") == 0 and store.get_cursor("zd", "tickets") is None


def test_the_same_email_in_two_sources_is_one_customer_with_explained_links(store):
    store.commit_batch("zd", "users", [Customer("zd", "17", emails=["Ada@Example.com"])])
    store.commit_batch("hs", "contacts", [Customer("hs", "900", emails=["ada@example.COM"], phones=["+1 (555) 010-0000"])])
    uid = store.find_customer("ADA@example.com")
    assert uid == store.customer_uid("hs", "900") == store.customer_uid("zd", "17")
    links = {(l["source"], l["external_id"]): l["reason"] for l in store.customer_links(uid)}
    assert links[("hs", "900")] == "same email ada@example.com as zd/17"
    assert store.find_customer("+15550100000") == uid


def test_an_identity_shared_later_merges_two_customers(store):
    store.commit_batch("zd", "users", [Customer("zd", "1", emails=["a@x.com"])])
    store.commit_batch("sf", "contacts", [Customer("sf", "2", phones=["+44 20 7946 0000"])])
    assert store.customer_uid("zd", "1") != store.customer_uid("sf", "2")
    result = store.commit_batch("hs", "contacts", [Customer("hs", "3", emails=["A@x.com"], phones=["+442079460000"])])
    assert store.customer_uid("zd", "1") == store.customer_uid("sf", "2") == store.customer_uid("hs", "3")
    assert "customer:sf/2" in result.subjects   # the merged-away customer is re-evaluated


def test_changes_mark_their_subjects_for_the_rules(store):
    store.commit_batch("zd", "users", [Customer("zd", "u1", emails=["b@x.com"])])
    result = store.commit_batch("zd", "tickets", [Conversation("zd", "5", customer_id="u1", created_at=T),
                                                  Message("zd", "m", conversation_id="5", created_at=T)])
    assert result.subjects == {"conversation:zd:5", "customer:zd/u1"}
    assert set(store.dirty_subjects()) == {"conversation:zd:5", "customer:zd/u1"}
    store.mark_evaluated({"conversation:zd:5": T, "customer:zd/u1": None}, now=T)
    assert store.dirty_subjects() == [] and store.due_subjects(T) == ["conversation:zd:5"]


def test_a_child_synced_alone_marks_its_customer_and_the_accounts_of_every_linked_record(store):
    store.commit_batch("sf", "accounts", [Account("sf", "acc1")])
    store.commit_batch("sf", "contacts", [Customer("sf", "c1", emails=["d@x.com"], account_id="acc1")])
    store.commit_batch("zd", "users", [Customer("zd", "u1", emails=["D@x.com"])])          # the same person
    store.commit_batch("zd", "tickets", [Conversation("zd", "7", customer_id="u1", created_at=T)])
    store.mark_evaluated({s: None for s in store.dirty_subjects()}, now=T)
    result = store.commit_batch("zd", "comments", [Message("zd", "m7", conversation_id="7", created_at=T)])
    uid = store.customer_uid("zd", "u1")
    assert result.subjects == {"conversation:zd:7", f"customer:{uid}", "account:sf:acc1"}
    assert set(store.dirty_subjects()) == result.subjects


def test_an_agent_whose_time_zone_changes_marks_the_conversations_it_wrote_in_or_is_assigned(store):
    from careplug import Agent
    from careplug.model import AuthorRole

    store.commit_batch("zd", "users", [Agent("zd", "a1", name="Bo", time_zone="America/New_York"),
                                       Agent("zd", "a2", name="Cy")])
    store.commit_batch("zd", "tickets", [
        Conversation("zd", "1", created_at=T), Conversation("zd", "2", created_at=T, assignee="a1"),
        Conversation("zd", "3", created_at=T), Conversation("zd", "4", created_at=T),
        Message("zd", "m1", conversation_id="1", created_at=T, author="a1", author_role=AuthorRole.AGENT),
        Message("zd", "m3", conversation_id="3", created_at=T, author="a2", author_role=AuthorRole.AGENT),
        Message("zd", "m4", conversation_id="4", created_at=T, author="a1")])      # a customer's id, same value
    store.mark_evaluated({s: None for s in store.dirty_subjects()}, now=T)
    renamed = store.commit_batch("zd", "users", [Agent("zd", "a1", name="Bo B.", time_zone="America/New_York")])
    assert renamed.subjects == set()                            # no rule reads an agent's name
    moved = store.commit_batch("zd", "users", [Agent("zd", "a1", name="Bo B.", time_zone="Europe/Berlin")])
    assert moved.subjects == {"conversation:zd:1", "conversation:zd:2"}
    assert set(store.dirty_subjects()) == moved.subjects


def test_an_account_history_spans_its_customers_in_every_source(store):
    from careplug.store import bulk

    store.commit_batch("sf", "accounts", [Account("sf", "acc1")])
    store.commit_batch("sf", "contacts", [Customer("sf", "c1", emails=["e@x.com"], account_id="acc1")])
    store.commit_batch("zd", "users", [Customer("zd", "u1", emails=["E@x.com"])])
    store.commit_batch("zd", "tickets", [Conversation("zd", "1", customer_id="u1", created_at=T),
                                         Message("zd", "m1", conversation_id="1", created_at=T)])
    store.commit_batch("sf", "cases", [Conversation("sf", "2", customer_id="c1", created_at=T)])
    # logged on the account: naming no contact; naming its contact (held once); on another account
    result = store.commit_batch("sf", "tasks", [
        Task("sf", "k1", account_id="acc1", type="call", done=True, completed_at=T, created_at=T),
        Task("sf", "k2", account_id="acc1", customer_id="c1", created_at=T),
        Task("sf", "k3", account_id="acc9", type="call", done=True, created_at=T)])
    assert {"account:sf:acc1", "account:sf:acc9"} <= result.subjects
    history = store.load_history("account:sf:acc1")
    assert {(c.source, c.external_id) for c in history.conversations} == {("zd", "1"), ("sf", "2")}
    assert len(history.customers) == 2 and len(history.messages) == 1 and history.account.external_id == "acc1"
    assert [t.external_id for t in history.tasks] == ["k1", "k2"]
    assert [t.external_id for t in store.load_history(f"customer:{store.customer_uid('sf', 'c1')}").tasks] == ["k2"]
    got = bulk.load_histories(store, ["account:sf:acc1"])["account:sf:acc1"]
    for name in ("customer_uid", "customers", "account", "conversations", "messages", "events", "ratings", "tasks"):
        assert getattr(got, name) == getattr(history, name), name


def test_histories_span_every_source_of_a_customer(store):
    store.commit_batch("zd", "users", [Customer("zd", "u1", emails=["c@x.com"])])
    store.commit_batch("hs", "contacts", [Customer("hs", "c9", emails=["C@x.com"])])
    store.commit_batch("zd", "tickets", [Conversation("zd", "1", customer_id="u1", created_at=T),
                                         Message("zd", "m1", conversation_id="1", created_at=T)])
    store.commit_batch("hs", "tickets", [Conversation("hs", "2", customer_id="c9", created_at=T)])
    history = store.load_history("customer:" + store.find_customer("c@x.com"))
    assert {(c.source, c.external_id) for c in history.conversations} == {("zd", "1"), ("hs", "2")}
    assert len(history.customers) == 2 and len(history.messages) == 1
    assert store.load_history("conversation:zd:1").customer_uid == history.customer_uid


def test_a_deleted_conversation_takes_its_children_and_is_re_evaluated(store):
    store.commit_batch("zd", "tickets", [Conversation("zd", "1", created_at=T),
                                         Message("zd", "m1", conversation_id="1", created_at=T)])
    result = store.commit_batch("zd", "tickets", [Deletion("zd", "1", record_kind="conversation")])
    assert store.count() == 0 and "conversation:zd:1" in result.subjects
    assert store.load_history("conversation:zd:1") is None


def test_quarantine_keeps_the_reason_once_per_record(store):
    q = Quarantined("tickets", "missing 'id'", {"subject": "x"}, "?")
    store.commit_batch("zd", "tickets", [], [q, q])
    store.commit_batch("zd", "tickets", [], [q])
    assert [r["reason"] for r in store.quarantined("zd")] == ["missing 'id'"]


def test_only_one_run_holds_the_lock(store):
    with store.run_lock():
        with pytest.raises(StoreLocked, match="another careplug run holds this store"):
            store.run_lock().acquire()
    with store.run_lock():
        pass


def test_the_lock_s_heartbeat_is_refreshed_in_the_background_while_it_is_held(store):
    import time

    from sqlalchemy import select

    from careplug.store.schema import run_lock

    def beat_at():
        with store.engine.connect() as conn:
            return conn.execute(select(run_lock.c.heartbeat_at)).scalar_one()

    with store.run_lock(stale_after=0.6):
        first = beat_at()
        time.sleep(0.5)
        assert beat_at() > first


def test_bulk_histories_and_a_parallel_sweep_work_on_every_backend(store):
    from careplug.check import evaluate_store
    from careplug.plugins import Plugins
    from careplug.store import bulk
    from careplug.store.families import load_families
    from careplug.sweep import sweep_store
    from careplug.testing.generator import generate

    now = datetime(2026, 3, 4, 15, tzinfo=timezone.utc)
    records = list(generate(120, seed=3, now=now))
    accounts = [r for r in records if r.kind == "account"]
    records += [Task(a.source, f"acct-{n}", account_id=a.external_id, type="call", done=n % 2 == 0,
                     completed_at=now.replace(day=1 + n % 3) if n % 2 == 0 else None,
                     created_at=now.replace(day=1 + n % 3)) for n, a in enumerate(accounts)]   # logged on accounts
    store.commit_batch("gen", "all", records, cursor=None)
    uids = [k.split(":", 1)[1] for k in store.all_subjects("customer")]
    families = load_families(store, uids)
    assert len([k for k in families if k.startswith("conversation:")]) == 120
    for subject in list(families)[:60]:
        assert families[subject].messages == store.load_history(subject).messages
    for subject in [k for k in families if k.startswith("customer:")][:30]:
        assert families[subject].tasks == store.load_history(subject).tasks
    subjects = store.all_subjects("account")
    histories = bulk.load_histories(store, subjects)
    for subject in subjects:
        assert histories[subject].tasks == store.load_history(subject).tasks
    assert sum(t.external_id.startswith("acct-") for h in histories.values() for t in h.tasks) == len(accounts)

    rules = [cls(cls.Options()) for cls in Plugins(load_entry_points=False).rules().values()]
    swept = sweep_store(store, rules, now, workers=2, chunk=10)
    assert store.dirty_subjects() == [] and swept.n_new > 0 and not swept.failures
    again = evaluate_store(store, rules, now, full=True)           # one by one: nothing changes
    assert (again.n_new, again.n_updated, again.n_resolved) == (0, 0, 0)
