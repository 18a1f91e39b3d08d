"""Realistic synthetic history for benchmarks and screenshots: every real column, daily
waves, counters as deltas, and a few outages with their up/down events.

Run: .venv/bin/python -m bench.synthetic DAYS [DATA_DIR]  (fills DATA_DIR/ops.sqlite3)
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

from ops.deltas import columns_for
from ops.sources import host, http, mongo, redis
from ops.storage import Heartbeat, Latest, Store

STEP_MS = 5000
DAY_MS = 86_400_000
SOURCES = {"host": host.FIELDS, "redis": redis.FIELDS, "mongo": mongo.FIELDS, "api": http.FIELDS}
BASE = {"host_mem_total_mb": 15732, "host_cores": 8, "host_disk_used_pct": 41.0,
        "redis_maxmemory_mb": 256, "mongo_connections_available": 838000}


def all_columns() -> list[str]:
    return [c for name, fields in SOURCES.items() for c in columns_for(name, fields)]


def _value(column: str, phase: float, rng: random.Random) -> float:
    wave = 0.5 + 0.4 * math.sin(phase)
    if column in BASE:
        return BASE[column]
    if column.endswith("_delta"):
        return float(int(rng.uniform(0.5, 1.5) * 400 * wave * (0.1 if "miss" in column else 1)))
    scale = {"host_mem_used_pct": 60, "host_cpu_pct": 50, "host_load_1": 4, "host_load_5": 3.5,
             "host_load_15": 3, "api_latency_ms": 40, "redis_used_memory_mb": 30,
             "redis_fragmentation_ratio": 1.4, "mongo_connections_current": 40}.get(column, 10)
    return round(scale * wave * rng.uniform(0.9, 1.1) + scale * 0.2, 2)


def outages(start_ts: int, end_ts: int, rng: random.Random) -> dict[str, list[tuple[int, int]]]:
    """A couple of short outages per service per week."""
    found: dict[str, list[tuple[int, int]]] = {}
    for source in ("redis", "mongo", "api"):
        spans = []
        for _ in range(max(1, (end_ts - start_ts) // (3 * DAY_MS))):
            begin = rng.randrange(start_ts, max(start_ts + 1, end_ts - 600_000))
            spans.append((begin, begin + rng.randrange(60_000, 600_000)))
        found[source] = sorted(spans)
    return found


def fill(store: Store, start_ts: int, end_ts: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    columns = all_columns()
    store.ensure_columns(columns)
    down = outages(start_ts, end_ts, rng)
    written = 0
    with store.transaction():
        for ts in range(start_ts, end_ts, STEP_MS):
            row: dict[str, float | int | None] = {"dt_s": 5.0}
            phase = 2 * math.pi * (ts % DAY_MS) / DAY_MS
            for column in columns:
                row[column] = _value(column, phase, rng)
            for source, spans in down.items():
                if any(a <= ts < b for a, b in spans):
                    row.update({c: None for c in columns if c.startswith(source + "_")})
                    row[f"{source}_up"] = 0
                else:
                    row[f"{source}_up"] = 1
            store.append_sample(ts, row)
            written += 1
        for source, spans in down.items():
            for begin, finish in spans:
                store.record_event(begin, source, "down", "ConnectionError: connection refused")
                store.record_event(finish, source, "up", None)
    return written


def finish_with_latest(store: Store, now_ts: int) -> None:
    """Latest readings and a fresh heartbeat, as a running collector would leave them."""
    for source, fields in SOURCES.items():
        values = {f.name: _value(f"{source}_{f.name}", 1.0, random.Random(2)) for f in fields}
        store.set_latest(Latest(source, now_ts, True, now_ts - 3 * DAY_MS, None,
                                {"values": values, "info": {"version": "7.0.15"}}))
    store.beat(Heartbeat(0, "synthetic", now_ts - DAY_MS, now_ts, 5.0, "0.1.0"))


def main(days: float, data_dir: Path) -> None:
    store = Store(data_dir / "ops.sqlite3")
    now = int(time.time() * 1000)
    started = time.perf_counter()
    count = fill(store, now - int(days * DAY_MS), now)
    finish_with_latest(store, now)
    print(f"{count} samples written to {store.path} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main(float(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else "data"))
