"""The 5-minute tier: built from the 1-minute rows (so an install that had only those gets
it at once), exact like every tier, never left with a gap by pruning, and the tier that
30-day charts read."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.clock import DAY_MS
from ops.housekeeping import Retention, prune, roll_up_due
from ops.storage import Store
from ops.storage.tiers import FIVE_MINUTES, HOUR_MS, MINUTE, MINUTE_MS, RAW, plan
from tests.test_tiers import COUNTERS, GAUGES, direct, fill

FIVE_MS = 5 * MINUTE_MS


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "ops.sqlite3")


def test_five_minute_rows_equal_a_direct_computation(store: Store) -> None:
    rows = fill(store, 0, 2 * HOUR_MS)
    roll_up_due(store, now_ts=2 * HOUR_MS)
    assert store.rolled_up_until(FIVE_MINUTES) == 2 * HOUR_MS
    stored = store.tier_rows(FIVE_MINUTES)
    assert [r["ts"] for r in stored] == list(range(0, 2 * HOUR_MS, FIVE_MS))
    for row in stored:
        want = direct(rows, row["ts"], row["ts"] + FIVE_MS)
        assert row["n"] == want["samples"] == FIVE_MS // 5000
        assert row["host_mem_used_pct_sum"] / row["host_mem_used_pct_n"] == pytest.approx(
            want["mem_avg"])
        assert row["host_mem_used_pct_max"] == want["mem_max"]
        assert row["host_mem_used_pct_min"] == want["mem_min"]
        assert row["redis_keyspace_hits_sum"] == want["hits"]
        assert row["redis_keyspace_misses_sum"] == want["misses"]


def test_an_install_with_only_minute_history_gets_the_tier_from_it(store: Store) -> None:
    """As a file written before the tier existed: raw samples already pruned, the 1-minute
    rows all that is left of the older days."""
    rows = fill(store, 0, 6 * HOUR_MS)
    roll_up_due(store, now_ts=6 * HOUR_MS)
    store.prune_tier(FIVE_MINUTES, 10 * HOUR_MS)
    store.set_state("rollup_5m_done_ts", None)
    store.prune_tier(RAW, 4 * HOUR_MS)
    assert store.rolled_up_until(FIVE_MINUTES) is None and not store.tier_rows(FIVE_MINUTES)

    roll_up_due(store, now_ts=6 * HOUR_MS)

    rebuilt = store.tier_rows(FIVE_MINUTES)
    assert rebuilt[0]["ts"] == 0 and len(rebuilt) == 6 * HOUR_MS // FIVE_MS
    first = direct(rows, 0, FIVE_MS)
    assert rebuilt[0]["redis_keyspace_hits_sum"] == first["hits"]


def test_the_tier_waits_for_the_minutes_it_is_built_from(store: Store) -> None:
    fill(store, 0, HOUR_MS)
    roll_up_due(store, now_ts=HOUR_MS - 2 * MINUTE_MS)
    minutes_done = store.rolled_up_until(MINUTE)
    five_done = store.rolled_up_until(FIVE_MINUTES)
    assert minutes_done == HOUR_MS - 2 * MINUTE_MS
    assert five_done is not None and five_done <= minutes_done and five_done % FIVE_MS == 0


def test_minute_rows_stay_until_the_five_minute_tier_has_them(store: Store) -> None:
    fill(store, 0, 2 * HOUR_MS)
    roll_up_due(store, now_ts=2 * HOUR_MS)
    store.set_state("rollup_5m_done_ts", HOUR_MS)  # as if the 5-minute tier lagged
    retention = Retention(raw_hours=0, minute_days=0, hour_days=400, max_mb=500)
    prune(store, retention, now_ts=2 * HOUR_MS + DAY_MS)
    left = store.tier_rows(MINUTE)
    assert left and left[0]["ts"] == HOUR_MS


def test_a_month_at_1500_points_reads_the_five_minute_tier_and_matches_the_minutes(
        store: Store) -> None:
    fill(store, 0, 2 * DAY_MS)
    roll_up_due(store, now_ts=2 * DAY_MS)
    store.prune_tier(RAW, 2 * DAY_MS)  # only rollups left, as for a month-old range
    width = -(-30 * DAY_MS // 1500)
    assert plan(0, 2 * DAY_MS, width, store.coverage())[0].tier is FIVE_MINUTES
    from_five = store.series(0, 2 * DAY_MS - 1, GAUGES, COUNTERS, max_points=96)
    store.prune_tier(FIVE_MINUTES, 3 * DAY_MS)
    store.set_state("rollup_5m_done_ts", None)
    from_minutes = store.series(0, 2 * DAY_MS - 1, GAUGES, COUNTERS, max_points=96)
    assert len(from_five) == len(from_minutes) == 96  # 30-minute buckets, none empty
    for five, minute in zip(from_five, from_minutes, strict=True):
        assert five["samples"] == minute["samples"]
        assert five["host_mem_used_pct"] == pytest.approx(minute["host_mem_used_pct"])
        assert five["redis_keyspace_hits_sum"] == minute["redis_keyspace_hits_sum"]
        assert five["redis_keyspace_hits_per_s"] == pytest.approx(
            minute["redis_keyspace_hits_per_s"])
