"""The SQLite history at 30 days of 5 s samples (518,400 rows, every real column).

Prints: time to write them, file size per day, and range-query times for the History
charts over 30 days at 1,500 points (median of several runs).
Run: .venv/bin/python -m bench.bench_store [days]
"""

from __future__ import annotations

import math
import random
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine, summary
from ops.deltas import columns_for
from ops.sources import host, http, mongo, redis
from ops.storage import Store

STEP_MS = 5000
CHARTS = {
    "memory used %": (["host_mem_used_pct"], []),
    "load 1/5/15 + CPU %": (["host_load_1", "host_load_5", "host_load_15", "host_cpu_pct"], []),
    "redis hit rate (hits, misses)": ([], ["redis_keyspace_hits", "redis_keyspace_misses"]),
    "mongo opcounters/s (6)": ([], [f"mongo_op_{k}" for k in
                                    ("insert", "query", "update", "delete", "getmore", "command")]),
}


def all_columns() -> list[str]:
    sources = {"host": host.FIELDS, "redis": redis.FIELDS, "mongo": mongo.FIELDS,
               "api": http.FIELDS}
    return [c for name, fields in sources.items() for c in columns_for(name, fields)]


def value(column: str, i: int, rng: random.Random) -> float | int:
    if column.endswith("_up"):
        return 1
    if column.endswith("_delta"):
        return rng.randint(0, 500)
    wave = 50 + 30 * math.sin(i / 720)
    return round(wave + rng.uniform(-5, 5), 2)


def fill(store: Store, rows: int, start_ts: int) -> float:
    columns = all_columns()
    store.ensure_columns(columns)
    rng = random.Random(1)
    started = time.perf_counter()
    for chunk in range(0, rows, 10_000):
        with store.transaction():
            for i in range(chunk, min(rows, chunk + 10_000)):
                row = {c: value(c, i, rng) for c in columns}
                store.append_sample(start_ts + i * STEP_MS, {"dt_s": 5.0, **row})
    return time.perf_counter() - started


def main(days: int = 30) -> None:
    print(machine())
    rows = days * 86_400_000 // STEP_MS
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ops.sqlite3"
        store = Store(path)
        took = fill(store, rows, 0)
        store.checkpoint()
        size_mb = path.stat().st_size / 1e6
        print(f"{rows} samples x {len(all_columns())} columns written in {took:.1f} s; "
              f"file {size_mb:.1f} MB = {size_mb / days:.2f} MB per day")
        end = rows * STEP_MS - 1
        for name, (gauges, counters) in CHARTS.items():
            times = []
            for _ in range(7):
                started = time.perf_counter()
                points = store.series(0, end, gauges, counters, max_points=1500)
                times.append((time.perf_counter() - started) * 1000)
            print(f"{days} d range, {name}: {len(points)} points, ms: {summary(times)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
