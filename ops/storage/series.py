"""Range queries over the tiers (raw samples, 1-minute and 1-hour rollups) and the SQL
that builds and trims the rollups.

Every function takes the calling thread's connection; `Store` picks it and knows the
metric columns. Column names reaching SQL text are checked (`safe`) or come from the
table itself.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ops.storage.tiers import TIERS, Coverage, Segment, Tier, built_from, plan

# Choosing how to bucket a tier's rows: a subquery per bucket pays off from about this
# many rows per bucket; raw samples are taken to come every 5 s (the default interval).
MANY_ROWS_PER_BUCKET = 16
RAW_STEP_GUESS_MS = 5000
PRUNE_BATCH_ROWS = 2000
COLUMN_NAME = re.compile(r"[a-z][a-z0-9_]*")


def safe(name: str) -> str:
    """`name` when it can be put into SQL text as a column name, else ValueError."""
    if not COLUMN_NAME.fullmatch(name):
        raise ValueError(f"not a metric name: {name!r}")
    return name


def done_key(tier: Tier) -> str:
    """The state key holding the end of what `tier` has rolled up."""
    return f"rollup_{tier.name}_done_ts"


def table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


@dataclass(frozen=True)
class Grid:
    """Buckets of `width` ms from `start`: bucket i is [start + i*width, start + (i+1)*width)."""

    start: int
    width: int


# --- range queries ---


def span(conn: sqlite3.Connection, table: str) -> tuple[int | None, int | None]:
    """(oldest, newest) ts of a table. Two statements, not one `min(ts), max(ts)`:
    SQLite answers a lone min() or max() from the end of the rowid b-tree, but scans the
    whole table for both at once (29 ms on 30 days of 1-minute rows)."""
    oldest = conn.execute(f"SELECT min(ts) FROM {table}").fetchone()[0]
    newest = conn.execute(f"SELECT max(ts) FROM {table}").fetchone()[0]
    return oldest, newest


def coverage(conn: sqlite3.Connection) -> dict[str, Coverage | None]:
    """The span each tier holds, for range planning."""
    found: dict[str, Coverage | None] = {}
    for tier in TIERS:
        oldest, newest = span(conn, tier.table)
        if oldest is None or newest is None:
            found[tier.name] = None
        elif tier.is_raw:
            found[tier.name] = Coverage(oldest, newest + 1)
        else:
            state = conn.execute("SELECT value FROM state WHERE key = ?",
                                 (done_key(tier),)).fetchone()
            done = json.loads(state[0]) if state else None
            found[tier.name] = Coverage(oldest, done if done is not None else
                                        newest + tier.step_ms)
    return found


def series(conn: sqlite3.Connection, known: set[str], start_ts: int, end_ts: int,
           gauges: Sequence[str], counters: Sequence[str], max_points: int,
           peaks: Sequence[str] | None) -> list[dict[str, Any]]:
    """See `Store.series`."""
    for name in (*gauges, *counters):
        safe(name)
    peaks = list(gauges if peaks is None else peaks)
    width = max(1, -(-(end_ts - start_ts + 1) // max(1, max_points)))
    grid = Grid(start_ts, width)
    merged: dict[int, dict[str, Any]] = {}
    for segment in plan(start_ts, end_ts + 1, width, coverage(conn)):
        for index, partial in _partials(conn, known, segment, grid, gauges, counters, peaks):
            if index in merged:
                _merge(merged[index], partial)
            else:
                merged[index] = partial
    return [_finish(start_ts + index * width, merged[index], gauges, counters, peaks)
            for index in sorted(merged)]


def _partials(conn: sqlite3.Connection, known: set[str], segment: Segment, grid: Grid,
              gauges: Sequence[str], counters: Sequence[str], peaks: Sequence[str]
              ) -> Iterator[tuple[int, dict[str, Any]]]:
    names, aggregates = _partial_sql(segment.tier, known, gauges, counters, peaks)
    params = {"first": (segment.lo - grid.start) // grid.width,
              "last": (segment.hi - 1 - grid.start) // grid.width,
              "lo": segment.lo, "hi": segment.hi, "start": grid.start,
              "width": grid.width}
    rows_per_bucket = grid.width / max(segment.tier.step_ms, RAW_STEP_GUESS_MS)
    if rows_per_bucket < MANY_ROWS_PER_BUCKET:
        sql = (f"SELECT (ts - :start) / :width AS i, {', '.join(aggregates)} "
               f"FROM {segment.tier.table} WHERE ts >= :lo AND ts < :hi GROUP BY i")
        found = ((index, values) for index, *values in conn.execute(sql, params))
    else:
        sql = (
            "WITH RECURSIVE b(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM b "
            "WHERE i < :last) "
            f"SELECT i, (SELECT json_array({', '.join(aggregates)}) "
            f"FROM {segment.tier.table} WHERE ts >= max(:lo, :start + i * :width) "
            "AND ts < min(:hi, :start + (i + 1) * :width)) FROM b")
        found = ((index, json.loads(packed)) for index, packed in conn.execute(sql, params))
    for index, values in found:
        if values[0]:
            yield index, dict(zip(names, values, strict=True))


def _partial_sql(tier: Tier, known: set[str], gauges: Sequence[str], counters: Sequence[str],
                 peaks: Sequence[str]) -> tuple[list[str], list[str]]:
    """Additive partial aggregates of one tier: the same names whatever the tier."""
    raw = tier.is_raw
    names, sql = ["samples"], ["count(*)" if raw else "sum(n)"]
    for gauge in gauges:
        present = gauge in known
        col = (gauge if raw else f"{gauge}_sum") if present else "NULL"
        names += [f"{gauge}_sum", f"{gauge}_n"]
        sql += [f"sum({col})", f"count({col})" if raw else
                (f"sum({gauge}_n)" if present else "NULL")]
        if gauge in peaks:
            names += [f"{gauge}_max"]
            sql += [f"max({gauge if raw else gauge + '_max'})" if present else "NULL"]
    for counter in counters:
        present = f"{counter}_delta" in known
        delta = f"{counter}_delta"
        names += [f"{counter}_sum", f"{counter}_secs"]
        if not present:
            sql += ["NULL", "NULL"]
        elif raw:
            sql += [f"sum({delta})", f"sum(CASE WHEN {delta} IS NOT NULL THEN dt_s END)"]
        else:
            sql += [f"sum({counter}_sum)", f"sum({counter}_secs)"]
    return names, sql


def _add(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else a + b


def _merge(into: dict[str, Any], partial: dict[str, Any]) -> None:
    for key, value in partial.items():
        if key.endswith("_max"):
            into[key] = value if into.get(key) is None else (
                into[key] if value is None else max(into[key], value))
        else:
            into[key] = _add(into.get(key), value)


def _finish(ts: int, partial: dict[str, Any], gauges: Sequence[str], counters: Sequence[str],
            peaks: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"ts": ts, "samples": int(partial["samples"] or 0)}
    for gauge in gauges:
        total, count = partial[f"{gauge}_sum"], partial[f"{gauge}_n"]
        row[gauge] = total / count if total is not None and count else None
        if gauge in peaks:
            row[f"{gauge}_max"] = partial[f"{gauge}_max"]
    for counter in counters:
        row[f"{counter}_sum"] = partial[f"{counter}_sum"]
        row[f"{counter}_seconds"] = partial[f"{counter}_secs"]
    return _with_rates(row, counters)


def _with_rates(row: dict[str, Any], counters: Sequence[str]) -> dict[str, Any]:
    """Each counter's rate: its summed deltas over the seconds those deltas cover."""
    for counter in counters:
        total, seconds = row[f"{counter}_sum"], row.pop(f"{counter}_seconds")
        row[f"{counter}_per_s"] = total / seconds if total is not None and seconds else None
    return row


# --- rollups: built by the collector as time passes ---


def _rollup_parts(metric: str) -> list[tuple[str, str, str]]:
    """Each rollup column of one raw metric column, with how it is made from raw samples
    and from a finer rollup's rows (sums and counts add, extremes of extremes): one
    table, so columns and the SQL that fills them cannot drift apart."""
    if metric.endswith("_delta"):
        base = metric.removesuffix("_delta")
        return [(f"{base}_sum", f"sum({metric})", f"sum({base}_sum)"),
                (f"{base}_secs", f"sum(CASE WHEN {metric} IS NOT NULL THEN dt_s END)",
                 f"sum({base}_secs)")]
    return [(f"{metric}_sum", f"sum({metric})", f"sum({metric}_sum)"),
            (f"{metric}_n", f"count({metric})", f"sum({metric}_n)"),
            (f"{metric}_min", f"min({metric})", f"min({metric}_min)"),
            (f"{metric}_max", f"max({metric})", f"max({metric}_max)")]


def rollup_columns(metrics: Sequence[str]) -> list[str]:
    """A rollup tier's columns for the raw metric columns: additive partial sums."""
    return [column for metric in metrics for column, _, _ in _rollup_parts(metric)]


def roll_up(conn: sqlite3.Connection, metrics: Sequence[str], tier: Tier, lo: int,
            hi: int) -> int:
    """(Re)build `tier`'s rows for [lo, hi) from the tier it is built from (raw samples,
    or a finer rollup); returns rows written."""
    source = built_from(tier)
    parts = [part for metric in metrics for part in _rollup_parts(metric)]
    targets = ["ts", "n", "dt_s", *(column for column, _, _ in parts)]
    bucket = f"(ts / {tier.step_ms}) * {tier.step_ms} AS bucket"
    if source.is_raw:
        sources = [bucket, "count(*)", "sum(dt_s)", *(raw for _, raw, _ in parts)]
    else:
        sources = [bucket, "sum(n)", "sum(dt_s)", *(finer for _, _, finer in parts)]
    cursor = conn.execute(
        f"INSERT OR REPLACE INTO {tier.table} ({', '.join(targets)}) "
        f"SELECT {', '.join(sources)} FROM {source.table} WHERE ts >= ? AND ts < ? "
        "GROUP BY bucket", (lo, hi))
    return cursor.rowcount


def prune_tier(conn: sqlite3.Connection, tier: Tier, before_ts: int,
               batch_rows: int = PRUNE_BATCH_ROWS) -> int:
    """Delete a tier's rows older than `before_ts`, a batch per statement, so the write
    lock is never held long (each statement is its own transaction unless the caller
    has one open)."""
    removed = 0
    while True:
        cursor = conn.execute(
            f"DELETE FROM {tier.table} WHERE ts IN "
            f"(SELECT ts FROM {tier.table} WHERE ts < ? ORDER BY ts LIMIT ?)",
            (before_ts, batch_rows))
        removed += cursor.rowcount
        if cursor.rowcount < batch_rows:
            return removed


def oldest(conn: sqlite3.Connection, tier: Tier) -> int | None:
    row = conn.execute(f"SELECT min(ts) FROM {tier.table}").fetchone()
    return None if row[0] is None else int(row[0])


def rows(conn: sqlite3.Connection, tier: Tier, lo: int | None, hi: int | None,
         names: Sequence[str] | None) -> list[dict[str, Any]]:
    """A tier's stored rows in [lo, hi), oldest first, as dicts of the named columns."""
    picks = ", ".join(safe(name) for name in names) if names else "*"
    cursor = conn.execute(
        f"SELECT {picks} FROM {tier.table} WHERE ts >= coalesce(?, ts) "
        "AND ts < coalesce(?, ts + 1) ORDER BY ts", (lo, hi))
    keys = [d[0] for d in cursor.description]
    return [dict(zip(keys, row, strict=True)) for row in cursor]
