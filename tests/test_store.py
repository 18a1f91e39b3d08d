"""The SQLite store on a real file: migrations, bucketed ranges, retention, WAL readers."""

from __future__ import annotations

import random
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from ops.storage import Event, Heartbeat, Latest, Store
from ops.storage import store as store_module
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
    with store.conn:
        store.conn.execute("BEGIN")
        for i in range(count):
            row = {"dt_s": step_ms / 1000, "host_mem_used_pct": rng.uniform(10, 90),
                   "redis_up": 1, "redis_keyspace_hits_delta": rng.randint(0, 50),
                   "redis_keyspace_misses_delta": None if i % 7 == 0 else rng.randint(0, 5)}
            store.append_sample(start + i * step_ms, row)
            rows.append({"ts": start + i * step_ms, **row})
    return rows


def test_new_file_is_wal_with_all_migrations(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.sqlite3")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = set(Database(store.conn).table_names())
    assert {"samples", "events", "heartbeat", "latest", "_sqlite_migrations"} <= tables
    applied = [m.name for m in store_module.migrations.applied(Database(store.conn))]
    assert applied == ["m001_samples_and_events", "m002_heartbeat_and_latest",
                       "m003_jobs_and_state", "m004_rollup_tiers",
                       "m005_alerts_and_notifications"]
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2, "incremental"


def test_upgrade_from_the_previous_schema_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "ops.sqlite3"
    previous = Migrations("ops")
    previous()(store_module.m001_samples_and_events)
    old = Database(path)
    previous.apply(old)
    old.execute("INSERT INTO samples (ts, dt_s) VALUES (1000, 5)")
    old.execute("INSERT INTO events (ts, source, kind, message) VALUES (1, 'redis', 'down', 'x')")
    old.conn.commit()
    old.close()

    store = Store(path)
    assert store.sample_count() == 1
    assert store.events(0, 10) == [Event(1, "redis", "down", "x")]
    assert store.heartbeat() is None and store.latest() == {}
    Store(path).close()  # opening again applies nothing twice
    applied = store_module.migrations.applied(Database(store.conn))
    assert len(applied) == 5


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
