"""The container_samples table: each container's figures per tick, by its key.

The key is the compose service (ops/sources/containers.py), so a re-created container's
history goes on under the same key. The table is made when the collector first watches
a Docker engine (like the samples table's metric columns, which appear with their
sources), so a history without containers never has it; readers then find no rows.
Rows are kept as long as raw samples (METRICS_RAW_RETENTION_HOURS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ops.storage.store import Store

TABLE = "container_samples"
COLUMNS = ("cpu_pct", "mem_used_mb", "mem_limit_mb", "net_rx_bytes", "net_tx_bytes",
           "blk_read_bytes", "blk_write_bytes", "pids")


def ensure_table(store: Store) -> None:
    with store.transaction():
        store._execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (
            key TEXT NOT NULL, ts INTEGER NOT NULL,
            {", ".join(f"{name} REAL" for name in COLUMNS)},
            PRIMARY KEY (key, ts)) WITHOUT ROWID""")
        store._execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_ts ON {TABLE} (ts)")


def _exists(store: Store) -> bool:
    return bool(store._rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (TABLE,)))


def append(store: Store, ts: int, rows: Mapping[str, Mapping[str, float | None]]) -> None:
    """One row per container key at `ts` (a second write of the same tick replaces it)."""
    marks = ", ".join("?" for _ in range(len(COLUMNS) + 2))
    sql = f"INSERT OR REPLACE INTO {TABLE} (key, ts, {', '.join(COLUMNS)}) VALUES ({marks})"
    with store.transaction():
        for key, values in rows.items():
            store._execute(sql, [key, ts, *(values.get(name) for name in COLUMNS)])


def keys(store: Store, start_ts: int, end_ts: int) -> list[str]:
    """The container keys with figures in [start_ts, end_ts], sorted."""
    if not _exists(store):
        return []
    rows = store._rows(f"SELECT DISTINCT key FROM {TABLE} WHERE ts >= ? AND ts <= ? "
                       "ORDER BY key", (start_ts, end_ts))
    return [str(row["key"]) for row in rows]


def series(store: Store, key: str, start_ts: int, end_ts: int,
           max_points: int = 1500) -> list[dict[str, Any]]:
    """At most `max_points` buckets of one container's figures: each column's average,
    and the peak of CPU and memory (`cpu_pct_max`, `mem_used_mb_max`)."""
    if not _exists(store):
        return []
    width = max(1, -(-(end_ts - start_ts) // max(1, max_points)))
    averages = ", ".join(f"avg({name}) AS {name}" for name in COLUMNS)
    rows = store._rows(
        f"SELECT min(ts) AS ts, {averages}, max(cpu_pct) AS cpu_pct_max, "
        f"max(mem_used_mb) AS mem_used_mb_max FROM {TABLE} "
        "WHERE key = ? AND ts >= ? AND ts <= ? GROUP BY (ts - ?) / ? ORDER BY ts",
        (key, start_ts, end_ts, start_ts, width))
    return [dict(row) for row in rows]


def prune(store: Store, before_ts: int) -> int:
    """Delete rows older than `before_ts`; returns how many went."""
    if not _exists(store):
        return 0
    with store.transaction():
        return int(store._execute(f"DELETE FROM {TABLE} WHERE ts < ?", (before_ts,)).rowcount)


def count(store: Store, keys_of: Sequence[str] = ()) -> int:
    """Rows held (of these keys, when given): for checks and the size figures."""
    if not _exists(store):
        return 0
    sql = f"SELECT count(*) AS n FROM {TABLE}"
    if keys_of:
        sql += f" WHERE key IN ({', '.join('?' for _ in keys_of)})"
    return int(store._rows(sql, list(keys_of))[0]["n"])
