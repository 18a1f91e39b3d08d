"""The wall clock set back under a running collector (NTP correcting a fast clock, an
admin fixing the time): no crash, no sample lost or overwritten, rates stay sane, and
history keeps being rolled up and never pruned before it is."""

from __future__ import annotations

from pathlib import Path

from collector.loop import Collector
from ops.clock import HOUR_MS, MINUTE_MS
from ops.config import load_settings
from ops.housekeeping import Retention, prune, roll_up_due
from ops.sources.configured import build_sources
from ops.storage import Store
from ops.storage.tiers import FIVE_MINUTES, MINUTE, RAW
from tests.test_tiers import direct, fill

START = 1_790_000_000_000


def test_a_step_back_onto_an_earlier_tick_keeps_every_sample(env: dict[str, str]) -> None:
    # The first reading is the collector's start; then five ticks, the fourth back 5 s.
    times = iter([START, START, START + 5000, START + 10_000, START + 5000, START + 10_000])
    settings = load_settings(env, env_file=None)
    store = Store(settings.database_path)
    collector = Collector(store, build_sources(settings), 5, Retention(48, 30, 400, 500),
                          clock=lambda: next(times))
    try:
        ticks = [collector.run_once() for _ in range(5)]
    finally:
        collector.close()
    stamps = [tick.ts for tick in ticks if tick is not None]
    assert stamps == [START, START + 5000, START + 10_000, START + 5001, START + 10_001]
    rows = store.tier_rows(RAW, columns=["ts", "dt_s", "host_up"])
    assert [r["ts"] for r in rows] == sorted(stamps) and len(rows) == 5
    assert all(r["dt_s"] is None or r["dt_s"] >= 0 for r in rows), rows
    [step] = store.events(0, START + HOUR_MS, sources=["collector"])
    assert step.kind == "clock_stepped_back" and "went back 5 s" in (step.message or "")


def test_rollup_markers_follow_the_clock_back_and_nothing_is_pruned_unrolled(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.sqlite3")
    before = fill(store, 0, 4 * HOUR_MS)
    roll_up_due(store, now_ts=4 * HOUR_MS)
    assert store.rolled_up_until(MINUTE) == 4 * HOUR_MS

    # The clock goes back two hours; samples go on, between the old ones.
    after = fill(store, 2 * HOUR_MS + 2500, 3 * HOUR_MS, seed=9)
    roll_up_due(store, now_ts=2 * HOUR_MS)
    assert store.rolled_up_until(MINUTE) == 2 * HOUR_MS
    assert store.rolled_up_until(FIVE_MINUTES) == 2 * HOUR_MS

    prune(store, Retention(raw_hours=0, minute_days=30, hour_days=400, max_mb=500),
          now_ts=2 * HOUR_MS + 30 * MINUTE_MS)
    oldest_raw = store.time_span()
    assert oldest_raw is not None and oldest_raw[0] >= 2 * HOUR_MS - 5000
    assert oldest_raw[0] <= 2 * HOUR_MS, "raw rows after the marker are kept"

    roll_up_due(store, now_ts=3 * HOUR_MS)
    everything = before + after
    for row in store.tier_rows(MINUTE, 2 * HOUR_MS, 3 * HOUR_MS):
        want = direct(everything, row["ts"], row["ts"] + MINUTE_MS)
        assert row["n"] == want["samples"]
        assert row["redis_keyspace_hits_sum"] == want["hits"]
