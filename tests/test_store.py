"""The SQLite store on a real file: migrations, bucketed ranges, retention, WAL readers."""

from __future__ import annotations

import random
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from ops.storage import Event, Heartbeat, Job, Latest, Store, schema
from ops.storage.connection import Connections
from ops.storage.tiers import RAW

COLUMNS = ["host_mem_used_pct", "redis_up", "redis_keyspace_hits_delta",
           "redis_keyspace_misses_delta"]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    db = Store(tmp_path / "ops.sqlite3")
    db.ensure_columns(COLUMNS)
    return db


def fill(store: Store, count: int, step_ms: int = 5000, start: int = 0) -> list[dict]:
    rng = random.Random(7)
    rows = []
    with store.transaction():
        for i in range(count):
            row = {"dt_s": step_ms / 1000, "host_mem_used_pct": rng.uniform(10, 90),
                   "redis_up": 1, "redis_keyspace_hits_delta": rng.randint(0, 50),
                   "redis_keyspace_misses_delta": None if i % 7 == 0 else rng.randint(0, 5)}
            store.append_sample(start + i * step_ms, row)
            rows.append({"ts": start + i * step_ms, **row})
    return rows


def test_new_file_is_wal_with_all_migrations(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.sqlite3")
    assert store.journal_mode() == "wal"
    assert {"samples", "events", "heartbeat", "latest", "_sqlite_migrations"} <= set(
        store.tables())
    assert store.migrations_applied() == ["m001_samples_and_events",
                                          "m002_heartbeat_and_latest", "m003_jobs_and_state",
                                          "m004_rollup_tiers", "m005_alerts_and_notifications",
                                          "m006_five_minute_tier", "m007_silences"]
    assert store.auto_vacuum() == 2, "incremental"


def test_upgrade_from_the_previous_schema_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "ops.sqlite3"
    previous = Migrations("ops")
    previous()(schema.m001_samples_and_events)
    old = Database(path)
    previous.apply(old)
    old["samples"].insert({"ts": 1000, "dt_s": 5})
    old["events"].insert({"ts": 1, "source": "redis", "kind": "down", "message": "x"})
    old.close()

    store = Store(path)
    assert store.sample_count() == 1
    assert store.events(0, 10) == [Event(1, "redis", "down", "x")]
    assert store.heartbeat() is None and store.latest() == {}
    Store(path).close()  # opening again applies nothing twice
    assert store.migrations_applied() == Store(tmp_path / "new.sqlite3").migrations_applied(), \
        "every migration a new file gets, each once"


def test_rows_are_read_by_column_name_not_position(tmp_path: Path) -> None:
    """A table whose columns sit in another order (made by hand, or by an older build)
    still gives the right fields: nothing is read by position."""
    path = tmp_path / "ops.sqlite3"
    # The tables made by hand on the test's own connection, as an older build might
    # have left them: no Store method makes a table in another column order.
    raw = sqlite3.connect(path)
    raw.execute("""CREATE TABLE jobs (error TEXT, result TEXT, progress TEXT,
        params TEXT NOT NULL DEFAULT '{}', hostname TEXT, pid INTEGER, finished_ts INTEGER,
        started_ts INTEGER, requested_ts INTEGER NOT NULL, requested_by TEXT NOT NULL,
        status TEXT NOT NULL, kind TEXT NOT NULL, id INTEGER PRIMARY KEY)""")
    raw.execute("CREATE TABLE latest (reading TEXT NOT NULL, error TEXT, since_ts INTEGER "
                "NOT NULL, up INTEGER NOT NULL, ts INTEGER NOT NULL, source TEXT PRIMARY KEY)")
    # ...and recorded as made by the migrations that make them (a file with tables but
    # none of our migrations is another program's, which the store refuses).
    raw.execute("CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, migration_set TEXT, "
                "name TEXT, applied_at TEXT)")
    raw.executemany("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                    "VALUES ('ops', ?, '2026-11-01')",
                    [("m002_heartbeat_and_latest",), ("m003_jobs_and_state",)])
    raw.commit()
    raw.close()
    store = Store(path)
    job, created = store.request_job("backup", "page", 1234, {"database": "app"})
    assert created
    store.job_progress(job.id, {"done": 3})
    store.finish_job(job.id, 2000, "ok", result={"bytes": 9})
    assert store.job(job.id) == Job(job.id, "backup", "ok", "page", 1234, None, 2000, None,
                                    None, {"database": "app"}, {"done": 3}, {"bytes": 9}, None)
    store.set_latest(Latest("redis", 10, True, 5, None, {"values": {"x": 1}}))
    assert store.latest() == {"redis": Latest("redis", 10, True, 5, None, {"values": {"x": 1}})}


def test_series_buckets_match_a_direct_computation(store: Store) -> None:
    rows = fill(store, 10_000)
    start, end = 0, 10_000 * 5000 - 1
    result = store.series(start, end, ["host_mem_used_pct"],
                          ["redis_keyspace_hits", "redis_keyspace_misses"], max_points=300)
    assert 290 <= len(result) <= 300
    width = -(-(end - start + 1) // 300)
    for bucket in (result[0], result[137], result[-1]):
        members = [r for r in rows if bucket["ts"] <= r["ts"] < bucket["ts"] + width]
        mem = [r["host_mem_used_pct"] for r in members]
        assert bucket["samples"] == len(members)
        assert bucket["host_mem_used_pct"] == pytest.approx(sum(mem) / len(mem))
        assert bucket["host_mem_used_pct_max"] == pytest.approx(max(mem))
        hits = sum(r["redis_keyspace_hits_delta"] for r in members)
        assert bucket["redis_keyspace_hits_sum"] == hits
        assert bucket["redis_keyspace_hits_per_s"] == pytest.approx(hits / (5 * len(members)))
        with_misses = [r for r in members if r["redis_keyspace_misses_delta"] is not None]
        misses = sum(r["redis_keyspace_misses_delta"] for r in with_misses)
        expected_rate = misses / (5 * len(with_misses))
        assert bucket["redis_keyspace_misses_per_s"] == pytest.approx(expected_rate)


@pytest.mark.parametrize("max_points", [1, 7, 1500])
def test_series_never_returns_more_than_asked(store: Store, max_points: int) -> None:
    fill(store, 3000)
    assert 1 <= len(store.series(0, 3000 * 5000, ["host_mem_used_pct"],
                                 max_points=max_points)) <= max_points


def test_series_leaves_gaps_and_unknown_columns_empty(store: Store) -> None:
    fill(store, 100, start=0)
    fill(store, 100, start=10_000_000)
    result = store.series(0, 10_500_000, ["host_mem_used_pct", "mongo_never"], max_points=100)
    gap = [r for r in result if 500_000 <= r["ts"] < 9_900_000]
    assert gap == [], "no bucket where nothing was sampled"
    assert all(r["mongo_never"] is None for r in result)
    with pytest.raises(ValueError):
        store.series(0, 10, ["x; DROP TABLE samples"])


def test_prune_deletes_only_old_samples_in_batches(store: Store) -> None:
    fill(store, 5000)
    removed = store.prune_tier(RAW, 2500 * 5000, batch_rows=300)
    assert removed == 2500
    assert store.time_span() == (2500 * 5000, 4999 * 5000)
    assert store.prune_tier(RAW, 2500 * 5000) == 0


def test_readers_are_not_blocked_while_pruning(store: Store) -> None:
    fill(store, 20_000)
    # A reader of its own, as another process would be: what it sees of the file while
    # the store prunes is the point, so it is a raw connection, not a Store.
    reader = sqlite3.connect(store.path, check_same_thread=False)
    reader.execute("BEGIN")
    before = reader.execute("SELECT count(*) FROM samples").fetchone()[0]
    done = threading.Event()

    def prune() -> None:
        store.prune_tier(RAW, 15_000 * 5000, batch_rows=1000)
        done.set()

    worker = threading.Thread(target=prune)
    worker.start()
    worker.join(30)
    assert done.is_set(), "prune finished while a reader held a read transaction"
    assert reader.execute("SELECT count(*) FROM samples").fetchone()[0] == before
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM samples").fetchone()[0] == 5000


def test_latest_events_and_heartbeat_round_trip(store: Store) -> None:
    store.set_latest(Latest("redis", 10, False, 5, "refused", {"values": {"x": 1}}))
    store.set_latest(Latest("old", 10, True, 5, None, {}))
    store.forget_latest(["redis"])
    assert store.latest() == {"redis": Latest("redis", 10, False, 5, "refused",
                                              {"values": {"x": 1}})}
    store.record_event(5, "redis", "down", "refused")
    store.record_event(9, "redis", "up", None)
    assert store.last_event("redis", ["down"]) == Event(5, "redis", "down", "refused")
    assert [e.kind for e in store.events(0, 10)] == ["up", "down"]
    beat = Heartbeat(42, "host", 1, 2, 5.0, "0.1.0")
    store.beat(beat)
    assert store.heartbeat() == beat


def test_unknown_sample_column_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="does not know"):
        store.append_sample(1, {"dt_s": 1, "nope": 3})


# --- transactions and threads ---


def kinds(store: Store) -> list[str]:
    return [e.kind for e in reversed(store.events(0, 10**6))]


def test_nested_rollback_keeps_the_outer_work(store: Store) -> None:
    assert not store.in_transaction()
    with store.transaction():
        store.record_event(1, "t", "outer-before")
        assert store.in_transaction()
        with pytest.raises(RuntimeError), store.transaction():
            store.record_event(2, "t", "inner")
            with store.transaction():
                store.record_event(3, "t", "innermost")
            raise RuntimeError("undo the inner level only")
        with store.transaction():
            store.record_event(4, "t", "inner-kept")
        store.record_event(5, "t", "outer-after")
    assert kinds(store) == ["outer-before", "inner-kept", "outer-after"]
    assert not store.in_transaction()


def test_an_exception_rolls_the_whole_transaction_back(store: Store) -> None:
    store.record_event(1, "t", "committed-before")
    with pytest.raises(RuntimeError), store.transaction():
        store.record_event(2, "t", "outer")
        with store.transaction():
            store.record_event(3, "t", "released-savepoint")
        store.append_sample(10, {"dt_s": 1.0})
        raise RuntimeError("undo everything")
    assert kinds(store) == ["committed-before"]
    assert store.sample_count() == 0
    assert not store.in_transaction()
    with store.transaction():  # the connection is usable again
        store.record_event(4, "t", "after")
    assert kinds(store) == ["committed-before", "after"]


def test_a_transaction_joins_one_opened_on_the_connection(tmp_path: Path) -> None:
    """Nesting is judged by the connection, so a transaction begun some other way (a
    BEGIN of the storage package's own) is joined with a savepoint rather than refused.
    No Store method begins one but `transaction()`, so this is checked on the connection
    factory itself, with the statements the storage package would run."""
    connections = Connections(tmp_path / "ops.sqlite3")
    conn = connections.get()
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(RuntimeError), connections.transaction():
        conn.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError
    conn.execute("INSERT INTO t VALUES (2)")
    assert conn.in_transaction
    conn.execute("COMMIT")
    assert conn.execute("SELECT x FROM t").fetchall() == [(2,)]
    connections.close()


def test_a_transaction_belongs_to_its_thread(store: Store) -> None:
    """One Store, two threads: each has its own connection, so one thread's open
    transaction is neither seen nor joined nor ended by the other."""
    began, looked, commit = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, object] = {}
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with store.transaction():
                store.record_event(1, "a", "uncommitted-then-committed")
                began.set()
                assert commit.wait(30)
        except BaseException as error:
            errors.append(error)
            began.set()

    def other() -> None:
        try:
            assert began.wait(30)
            seen["in_transaction"] = store.in_transaction()
            seen["events"] = kinds(store)
            looked.set()
            # A write waits for the writer's lock (busy timeout), then goes through.
            with store.transaction():
                store.record_event(2, "b", "second")
            with pytest.raises(RuntimeError), store.transaction():
                store.record_event(3, "b", "rolled-back")
                raise RuntimeError
        except BaseException as error:
            errors.append(error)
            looked.set()

    threads = [threading.Thread(target=writer), threading.Thread(target=other)]
    for thread in threads:
        thread.start()
    assert looked.wait(30)
    commit.set()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert seen == {"in_transaction": False, "events": []}
    assert kinds(store) == ["uncommitted-then-committed", "second"]
    assert not store.in_transaction()


def test_two_threads_request_jobs_on_one_store(store: Store) -> None:
    """The bug one shared connection had: concurrent requests raised "cannot start a
    transaction within a transaction". With a connection per thread none fails and
    requests still join the one active job."""
    errors: list[BaseException] = []
    created: list[int] = []

    def requests(who: str) -> None:
        try:
            for i in range(300):
                job, new = store.request_job("backup", who, i)
                if new:
                    created.append(job.id)
                    store.finish_job(job.id, i, "ok")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=requests, args=(f"t{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(created) == len(set(created)) == store.count_jobs("backup", "ok")
    assert store.count_jobs("backup", "queued") == 0


def test_connections_are_per_thread_and_all_closed(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.sqlite3")
    assert store.connections_open() == 1, "the creating thread's, which migrated the file"
    release = threading.Event()
    ready = threading.Barrier(4)

    def use() -> None:
        store.sample_count()
        ready.wait(30)
        release.wait(30)

    threads = [threading.Thread(target=use) for _ in range(3)]
    for thread in threads:
        thread.start()
    ready.wait(30)
    assert store.connections_open() == 4
    release.set()
    for thread in threads:
        thread.join(30)
    assert store.connections_open() == 1, "a thread's connection closes when it ends"
    store.close()
    assert store.connections_open() == 0
    with pytest.raises(sqlite3.ProgrammingError):
        store.sample_count()
    refused: list[BaseException] = []

    def late() -> None:
        try:
            store.sample_count()
        except sqlite3.ProgrammingError as error:
            refused.append(error)

    thread = threading.Thread(target=late)
    thread.start()
    thread.join(30)
    assert [str(e) for e in refused] == ["the store is closed"], "no thread reopens it"
    assert store.connections_open() == 0


def test_tier_rows_dump_and_checkpoint_read_the_file_without_sql(store: Store) -> None:
    """What tests and benchmarks need from the raw file, as Store methods."""
    fill(store, 30)
    rows = store.tier_rows(RAW, 5000, 15_000, ["ts", "redis_up"])
    assert rows == [{"ts": 5000, "redis_up": 1}, {"ts": 10_000, "redis_up": 1}]
    assert len(store.tier_rows(RAW)) == 30 and "host_mem_used_pct" in store.tier_rows(RAW)[0]
    with pytest.raises(ValueError):
        store.tier_rows(RAW, columns=["ts; DROP TABLE samples"])
    before = store.dump()
    assert any(line.startswith('INSERT INTO "samples"') for line in before)
    store.checkpoint()
    assert (store.path.parent / (store.path.name + "-wal")).stat().st_size == 0
    assert store.dump() == before


def test_alert_rows_round_trip_by_name(store: Store) -> None:
    from ops.storage import alerts as records

    alert = records.create(store, "service_down", "redis", "critical", 10, None, "down")
    alert.status, alert.firing_ts, alert.true_count = "firing", 20, 3
    records.save(store, alert)
    cleared = records.create(store, "disk_full", "host", "warning", 30, 91.5, "disk")
    cleared.status, cleared.resolved_ts = "cleared", 40
    records.save(store, cleared)
    assert records.every(store) == [alert, cleared]
    assert records.firing(store) == [alert] == records.history(store)
    assert records.open_alerts(store) == {("service_down", "redis"): alert}
