"""A year of history through the rollup path: one year of 5 s samples (about 6.3 million)
written day by day as the collector would, rolled up and pruned as it goes.

Prints: file size, time spent building rollups, chart query time for 1 h, 24 h, 7 d,
30 d and 1 y ranges (about 1,500 points, every History chart's series), and the History
page script run (AppTest) for the 1 y range.
Targets: file under 200 MB, each query under 100 ms, the 1 y page run under 1.5 s.
Run: .venv/bin/python -m bench.bench_year [days]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench.common import history_page_run_ms, machine, summary
from bench.synthetic import fill, finish_with_latest
from ops.housekeeping import Retention, prune_and_cap, roll_up_due
from ops.storage import Store
from ops.views.history import history_frame

DAY_MS = 86_400_000
RANGES = {"1 h": 3_600_000, "24 h": DAY_MS, "7 d": 7 * DAY_MS, "30 d": 30 * DAY_MS,
          "1 y": 365 * DAY_MS}


def build(store: Store, days: int, end_ts: int) -> tuple[int, float, float]:
    """Write `days` days of samples ending at `end_ts`; returns samples, write s, rollup s."""
    retention = Retention(48, 30, 400, 500)
    start = end_ts - days * DAY_MS
    samples, writing, rolling = 0, 0.0, 0.0
    for day in range(days):
        began = time.perf_counter()
        samples += fill(store, start + day * DAY_MS, start + (day + 1) * DAY_MS, seed=day)
        writing += time.perf_counter() - began
        began = time.perf_counter()
        now = start + (day + 1) * DAY_MS
        roll_up_due(store, now)
        prune_and_cap(store, retention, now)
        rolling += time.perf_counter() - began
        if day % 30 == 29:
            print(f"  {day + 1} days written", flush=True)
    return samples, writing, rolling


def main(days: int = 365) -> None:
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = Store(data / "ops.sqlite3")
        now = int(time.time() * 1000)
        samples, writing, rolling = build(store, days, now)
        finish_with_latest(store, now)
        store.checkpoint()
        size = (data / "ops.sqlite3").stat().st_size / 1e6
        print(f"{samples} samples over {days} days: writing {writing:.0f} s, rollups and "
              f"pruning {rolling:.1f} s; file {size:.1f} MB")
        for name, span in RANGES.items():
            times = []
            for _ in range(5):
                began = time.perf_counter()
                frame = history_frame(store, now - span, now)
                times.append((time.perf_counter() - began) * 1000)
            print(f"query {name}: {len(frame)} points x {len(frame.columns)} columns, ms: "
                  f"{summary(times)}")
        runs = [history_page_run_ms(data, "1 y") for _ in range(5)]
        print(f"History page script run (AppTest), 1 y range, ms: {summary(runs)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 365)
