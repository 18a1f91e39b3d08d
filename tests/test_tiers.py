"""Rollup tiers on a real SQLite file: rollups equal a direct computation over the raw
samples, building is idempotent and catches up, tiers stitch at their boundaries, and
the size cap drops the oldest data of the finest tier first."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ops.housekeeping import Retention, enforce_cap, prune, roll_up_due
from ops.storage import Store
from ops.storage.tiers import (
    FIVE_MINUTES,
    HOUR,
    HOUR_MS,
    MINUTE,
    MINUTE_MS,
    RAW,
    Coverage,
    plan,
)
from ops.views.history import hit_rate

STEP = 5000
COLUMNS = ["host_mem_used_pct", "redis_up", "redis_keyspace_hits_delta",
           "redis_keyspace_misses_delta"]
GAUGES = ["host_mem_used_pct", "redis_up"]
COUNTERS = ["redis_keyspace_hits", "redis_keyspace_misses"]


def fill(store: Store, start: int, end: int, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    store.ensure_columns(COLUMNS)
    rows = []
    with store.transaction():
        for ts in range(start, end, STEP):
            down = rng.random() < 0.05
            row = {"dt_s": 5.0, "host_mem_used_pct": round(rng.uniform(10, 90), 2),
                   "redis_up": 0 if down else 1,
                   "redis_keyspace_hits_delta": None if down else rng.randint(0, 90),
                   "redis_keyspace_misses_delta": None if down else rng.randint(0, 10)}
            store.append_sample(ts, row)
            rows.append({"ts": ts, **row})
    return rows


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "ops.sqlite3")


def direct(rows: list[dict], lo: int, hi: int) -> dict:
    """What a bucket [lo, hi) must hold, computed in Python from the raw rows."""
    members = [r for r in rows if lo <= r["ts"] < hi]
    mem = [r["host_mem_used_pct"] for r in members]
    counted = [r for r in members if r["redis_keyspace_hits_delta"] is not None]
    hits = sum(r["redis_keyspace_hits_delta"] for r in counted)
    misses = sum(r["redis_keyspace_misses_delta"] for r in counted)
    return {"samples": len(members), "mem_avg": sum(mem) / len(mem), "mem_max": max(mem),
            "mem_min": min(mem), "hits": hits, "misses": misses,
            "hits_per_s": hits / (5 * len(counted)), "hit_rate": hit_rate(hits, misses)}


def test_rollup_rows_equal_a_direct_computation(store: Store) -> None:
    rows = fill(store, 0, 3 * HOUR_MS)
    assert roll_up_due(store, now_ts=3 * HOUR_MS) > 0
    for tier, lo in ((MINUTE, 37 * MINUTE_MS), (HOUR, HOUR_MS)):
        [got] = store.tier_rows(tier, lo, lo + 1, [
            "n", "host_mem_used_pct_sum", "host_mem_used_pct_n", "host_mem_used_pct_min",
            "host_mem_used_pct_max", "redis_keyspace_hits_sum", "redis_keyspace_hits_secs",
            "redis_keyspace_misses_sum"])
        want = direct(rows, lo, lo + tier.step_ms)
        n, mem_sum, mem_n, mem_min, mem_max, hits, hit_secs, misses = got.values()
        assert n == want["samples"] == tier.step_ms // STEP
        assert mem_sum / mem_n == pytest.approx(want["mem_avg"])
        assert (mem_min, mem_max) == (want["mem_min"], want["mem_max"])
        assert (hits, misses) == (want["hits"], want["misses"])
        assert hits / hit_secs == pytest.approx(want["hits_per_s"])


def test_hit_rate_over_rollups_is_from_summed_counts_not_averaged_ratios(store: Store) -> None:
    rows = fill(store, 0, 2 * HOUR_MS)
    roll_up_due(store, now_ts=2 * HOUR_MS)
    store.prune_tier(RAW, 2 * HOUR_MS)  # only rollups are left
    [bucket] = store.series(0, 2 * HOUR_MS - 1, GAUGES, COUNTERS, max_points=1)
    want = direct(rows, 0, 2 * HOUR_MS)
    got_rate = hit_rate(bucket["redis_keyspace_hits_sum"], bucket["redis_keyspace_misses_sum"])
    assert got_rate == pytest.approx(want["hit_rate"])
    assert bucket["host_mem_used_pct"] == pytest.approx(want["mem_avg"])
    assert bucket["samples"] == want["samples"]


def test_building_is_idempotent(store: Store) -> None:
    fill(store, 0, 2 * HOUR_MS)
    roll_up_due(store, now_ts=2 * HOUR_MS)
    dump = store.dump()
    assert roll_up_due(store, now_ts=2 * HOUR_MS) == 0, "nothing new to roll up"
    store.roll_up(MINUTE, 0, 2 * HOUR_MS)  # re-running over the same window by hand
    store.roll_up(HOUR, 0, 2 * HOUR_MS)
    assert store.dump() == dump


def test_catch_up_after_a_gap(store: Store) -> None:
    fill(store, 0, HOUR_MS)
    roll_up_due(store, now_ts=HOUR_MS)
    assert store.rolled_up_until(MINUTE) == HOUR_MS
    # the collector was down for 5 hours, then sampled again for an hour
    fill(store, 6 * HOUR_MS, 7 * HOUR_MS, seed=4)
    roll_up_due(store, now_ts=7 * HOUR_MS + 30_000)
    minutes = [r["ts"] for r in store.tier_rows(MINUTE, columns=["ts"])]
    assert (len(minutes), minutes[0], minutes[-1]) == (120, 0, 7 * HOUR_MS - MINUTE_MS)
    hours = [r["ts"] for r in store.tier_rows(HOUR, columns=["ts"])]
    assert hours == [0, 6 * HOUR_MS]
    assert store.rolled_up_until(HOUR) == 7 * HOUR_MS


def test_partial_minute_is_left_for_later(store: Store) -> None:
    fill(store, 0, 90_000)
    roll_up_due(store, now_ts=90_000)
    assert len(store.tier_rows(MINUTE, columns=["ts"])) == 1
    assert store.rolled_up_until(MINUTE) == MINUTE_MS


def test_tiers_stitch_without_gap_or_double_count(store: Store, tmp_path: Path) -> None:
    """Hours, then five minutes, then minutes, then raw: the same answers as raw samples
    alone would give."""
    rows = fill(store, 0, 10 * HOUR_MS)
    reference = Store(tmp_path / "reference.sqlite3")
    fill(reference, 0, 10 * HOUR_MS)
    roll_up_due(store, now_ts=10 * HOUR_MS - 7 * MINUTE_MS)  # the newest minutes not rolled
    store.prune_tier(RAW, 8 * HOUR_MS + 13 * MINUTE_MS)
    store.prune_tier(MINUTE, 4 * HOUR_MS + 20 * MINUTE_MS)
    store.prune_tier(FIVE_MINUTES, 4 * HOUR_MS + 20 * MINUTE_MS)
    segments = plan(0, 10 * HOUR_MS, 30 * MINUTE_MS, store.coverage())
    assert [(s.tier.name, s.lo, s.hi) for s in segments] == [
        ("1h", 0, 5 * HOUR_MS), ("5m", 5 * HOUR_MS, 10 * HOUR_MS - 10 * MINUTE_MS),
        ("1m", 10 * HOUR_MS - 10 * MINUTE_MS, 10 * HOUR_MS - 7 * MINUTE_MS),
        ("raw", 10 * HOUR_MS - 7 * MINUTE_MS, 10 * HOUR_MS - STEP + 1)]
    for points, first_ts in ((10, 0), (20, 5 * HOUR_MS)):
        # hour buckets across all four tiers; half-hour buckets where 5 minutes exist
        got = [r for r in store.series(0, 10 * HOUR_MS - 1, GAUGES, COUNTERS, points)
               if r["ts"] >= first_ts]
        want = [r for r in reference.series(0, 10 * HOUR_MS - 1, GAUGES, COUNTERS, points)
                if r["ts"] >= first_ts]
        assert len(got) == len(want) == 10
        for a, b in zip(got, want, strict=True):
            assert a["ts"] == b["ts"] and a["samples"] == b["samples"]
            assert a["host_mem_used_pct"] == pytest.approx(b["host_mem_used_pct"])
            assert a["host_mem_used_pct_max"] == b["host_mem_used_pct_max"]
            assert a["redis_keyspace_hits_sum"] == b["redis_keyspace_hits_sum"]
            assert a["redis_keyspace_hits_per_s"] == pytest.approx(
                b["redis_keyspace_hits_per_s"])
    got = store.series(0, 10 * HOUR_MS - 1, GAUGES, COUNTERS, 10)
    assert sum(r["samples"] for r in got) == len(rows)


def test_plan_prefers_the_coarsest_tier_that_fits() -> None:
    coverage = {"raw": Coverage(0, 100 * HOUR_MS), "1m": Coverage(0, 100 * HOUR_MS),
                "1h": Coverage(0, 100 * HOUR_MS)}
    assert [s.tier.name for s in plan(0, HOUR_MS, 2400, coverage)] == ["raw"]
    assert [s.tier.name for s in plan(0, 7 * 24 * HOUR_MS, 403_000, coverage)] == ["1m"]
    assert [s.tier.name for s in plan(0, 90 * HOUR_MS, 4 * HOUR_MS, coverage)] == ["1h"]
    empty = {"raw": Coverage(0, 10), "1m": None, "1h": None}
    assert [(s.tier.name, s.lo, s.hi) for s in plan(0, 10, HOUR_MS, empty)] == [("raw", 0, 10)]


def test_retention_prunes_each_tier_but_never_unrolled_raw(store: Store) -> None:
    fill(store, 0, 6 * HOUR_MS)
    roll_up_due(store, now_ts=3 * HOUR_MS)  # raw after 3 h is not rolled up yet
    retention = Retention(raw_hours=1, minute_days=1, hour_days=1, max_mb=500)
    removed = prune(store, retention, now_ts=6 * HOUR_MS)
    assert removed["raw"] == 3 * HOUR_MS // STEP
    assert store.oldest(RAW) == 3 * HOUR_MS
    assert removed["1m"] == 0 and removed["1h"] == 0


def test_size_cap_drops_the_oldest_raw_first_and_says_so(store: Store) -> None:
    now = 200 * HOUR_MS
    fill(store, 0, now)
    roll_up_due(store, now_ts=now)
    before = store.used_bytes()
    cap_mb = int(before * 0.7) // (1024 * 1024)
    assert cap_mb >= 2, f"enough data to cap: {before} bytes"
    notes = enforce_cap(store, cap_mb, now_ts=now)
    assert store.used_bytes() <= cap_mb * 1024 * 1024
    assert notes and notes[0].startswith(f"database above OPS_DB_MAX_MB={cap_mb}: removed raw")
    assert store.oldest(RAW) > 0, "oldest raw went"
    span = store.time_span()
    assert span is not None and span[1] == now - STEP, "newest raw kept"
    assert store.oldest(MINUTE) == 0 and store.oldest(HOUR) == 0, "coarser tiers untouched"
    [event] = store.events(0, now, sources=["store"])
    assert event.kind == "size_cap" and event.message == notes[0]
    assert (store.path.stat().st_size <= before + 1024 * 1024), "space given back"


def test_collector_housekeeping_runs_on_its_first_tick(tmp_path: Path) -> None:
    from collector.loop import Collector
    from ops.sources.host import HostSource

    store = Store(tmp_path / "ops.sqlite3")
    collector = Collector(store, [HostSource(tmp_path)], 1, Retention(48, 30, 400, 500))
    old = collector.clock() - 3 * HOUR_MS
    store.append_sample(old // HOUR_MS * HOUR_MS, {"dt_s": 5.0, "host_up": 1,
                                                    "host_mem_used_pct": 50.0})
    collector.run_once()
    assert store.oldest(HOUR) == old // HOUR_MS * HOUR_MS, "catch-up rolled the old hour up"
