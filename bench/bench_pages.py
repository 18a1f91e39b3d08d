"""Dashboard pages over 30 days of 5 s samples, rolled up and pruned as the collector
keeps them (raw 48 h, then 1-minute rollups): the History page script run (AppTest) for
the 30 d range, and the one bucketed query behind its charts.

Run: .venv/bin/python -m bench.bench_pages [runs]
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


def main(runs: int = 5) -> None:
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = Store(data / "ops.sqlite3")
        now = int(time.time() * 1000)
        count = fill(store, now - 30 * DAY_MS, now)
        roll_up_due(store, now)  # as the collector would have, minute by minute
        prune_and_cap(store, Retention(48, 30, 400, 500), now)
        finish_with_latest(store, now)
        print(f"{count} samples over 30 days")
        query = []
        for _ in range(runs):
            started = time.perf_counter()
            frame = history_frame(store, now - 30 * DAY_MS, now)
            query.append((time.perf_counter() - started) * 1000)
        print(f"History query, 30 d, {len(frame)} points x {len(frame.columns)} columns, "
              f"ms: {summary(query)}")
        page = [history_page_run_ms(data, "30 d") for _ in range(runs)]
        print(f"History page script run (AppTest), 30 d range, ms: {summary(page)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
