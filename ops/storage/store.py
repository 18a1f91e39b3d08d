"""The SQLite history shared by the collector (the only writer of samples) and the dashboard.

One file, WAL mode so readers never wait for the writer, a busy timeout for the rare
moment two writers meet (a job request from the dashboard), forward migrations recorded
in the file (schema.py). Times are integer milliseconds since the epoch, UTC.

A `Store` may be shared by any number of threads: each gets its own connection
(connection.py), and `transaction()` is the one way to group writes.

Every text written here passes through ops.redaction first (error texts by `clean`, JSON
values by `clean_json`): pages, JSON endpoints and notifications read only the store, so
nothing they show can hold a secret.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ops.redaction import clean, clean_json
from ops.storage import schema, series
from ops.storage.connection import Connections, Params, named_rows
from ops.storage.rows import (
    ACTIVE,
    JOB_DECODE,
    LATEST_DECODE,
    Event,
    Heartbeat,
    Job,
    Latest,
    columns,
    from_row,
)
from ops.storage.series import PRUNE_BATCH_ROWS, done_key, safe
from ops.storage.tiers import ROLLUPS, Coverage, Tier

__all__ = ["ACTIVE", "Event", "Heartbeat", "Job", "Latest", "Store"]

_JOB_COLUMNS = columns(Job)
_EVENT_COLUMNS = columns(Event)
_HEARTBEAT_COLUMNS = columns(Heartbeat)
_LATEST_COLUMNS = columns(Latest)


class Store:
    """Typed reads and writes over one SQLite file; SQL lives in this package only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connections = Connections(path)
        # (schema_version, sample columns): refreshed when any connection, in this
        # process or the collector's, changes the schema.
        self._columns: tuple[int, frozenset[str]] = (-1, frozenset())
        schema.refuse_foreign(path)
        schema.migrate(self._connections.get())

    def close(self) -> None:
        """Close the connection of every thread that used this store."""
        self._connections.close()

    # --- connections (package-internal) and transactions ---

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection: for the storage package's own modules only."""
        return self._connections.get()

    def _execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        return self._connections.get().execute(sql, params)

    def _rows(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return named_rows(self._connections.get(), sql, params)

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group writes, all or nothing, on this thread's connection: the outermost level
        is BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an exception), nested levels are
        savepoints. Other threads' connections are not affected."""
        with self._connections.transaction():
            yield self

    def in_transaction(self) -> bool:
        """Whether this thread's connection is inside a transaction (none is left open
        once the outermost `transaction()` ends, whichever way it ends)."""
        return self._connections.get().in_transaction

    def connections_open(self) -> int:
        """Connections open now, one per live thread that used this store."""
        return self._connections.opened()

    # --- schema ---

    def columns(self) -> set[str]:
        """The samples table's columns (cached until the schema changes)."""
        conn = self._conn()
        version = conn.execute("PRAGMA schema_version").fetchone()[0]
        cached_version, cached = self._columns
        if version != cached_version:
            cached = frozenset(series.table_columns(conn, "samples"))
            self._columns = (version, cached)
        return set(cached)

    def ensure_columns(self, names: Iterable[str]) -> None:
        """Add a REAL column for each metric not stored yet (new sources or fields), and
        its partial sums in every rollup tier, in one transaction (which also keeps two
        writers from adding the same column: the second sees the first's)."""
        wanted = set(names)
        for name in wanted:
            if not series.COLUMN_NAME.fullmatch(name):
                raise ValueError(f"not a metric column name: {name!r}")
        with self.transaction():
            conn = self._conn()
            for name in sorted(wanted - self.columns()):
                conn.execute(f"ALTER TABLE samples ADD COLUMN {name} REAL")
            metrics = self.metric_columns()
            for tier in ROLLUPS:
                have = series.table_columns(conn, tier.table)
                for column in series.rollup_columns(metrics):
                    if column not in have:
                        conn.execute(f"ALTER TABLE {tier.table} ADD COLUMN {column} REAL")

    def metric_columns(self) -> list[str]:
        return sorted(self.columns() - {"ts", "dt_s"})

    # --- writes (the collector) ---

    def append_sample(self, ts: int, row: Mapping[str, float | int | None]) -> int:
        """Store one sample at `ts`, or at the first free millisecond after it when a
        sample already sits there (the wall clock was set back onto an earlier tick):
        no sample overwrites or is lost to another. Returns the ts used."""
        known = self.columns()
        names = ["ts"] + [name for name in row if name in known and name != "ts"]
        unknown = set(row) - known - {"ts"}
        if unknown:
            raise ValueError(f"sample has columns the store does not know: {sorted(unknown)}")
        sql = f"INSERT INTO samples ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        values = [row[name] for name in names[1:]]
        while True:
            try:
                self._execute(sql, [ts, *values])
                return ts
            except sqlite3.IntegrityError:  # only ts is constrained: a sample sits there
                ts += 1

    def record_event(self, ts: int, source: str, kind: str, message: str | None = None) -> None:
        self._execute("INSERT INTO events (ts, source, kind, message) VALUES (?, ?, ?, ?)",
                      (ts, source, kind, _clean(message)))

    def set_latest(self, latest: Latest) -> None:
        """Keep a source's newest reading. A down reading has no info (version, role,
        host), so it carries the last up reading's as `last_up_info` ({"ts", "info"}):
        pages can still say what the service was when it was last seen."""
        reading = latest.reading
        if not latest.up:
            last = self._last_up_info(latest.source)
            if last is not None:
                reading = {**reading, "last_up_info": last}
        self._execute(
            "INSERT OR REPLACE INTO latest (source, ts, up, since_ts, error, reading) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (latest.source, latest.ts, int(latest.up), latest.since_ts, _clean(latest.error),
             clean_json(reading)))

    def _last_up_info(self, source: str) -> dict[str, Any] | None:
        """The info of the source's last up reading and its time, from the stored latest
        reading (itself, when up; what it carried, when down); None when never up."""
        rows = self._rows("SELECT ts, up, reading FROM latest WHERE source = ?", (source,))
        if not rows:
            return None
        reading = json.loads(rows[0]["reading"]) or {}
        if not rows[0]["up"]:
            carried = reading.get("last_up_info")
            return carried if isinstance(carried, dict) else None
        info = reading.get("info")
        return {"ts": int(rows[0]["ts"]), "info": info} if info else None

    def forget_latest(self, keep: Iterable[str]) -> None:
        """Drop readings of sources no longer configured, so pages do not show stale ones."""
        kept = list(keep)
        marks = ", ".join("?" for _ in kept) or "''"
        self._execute(f"DELETE FROM latest WHERE source NOT IN ({marks})", kept)

    def beat(self, heartbeat: Heartbeat) -> None:
        self._execute(
            "INSERT OR REPLACE INTO heartbeat (id, pid, hostname, started_ts, last_tick_ts, "
            "interval_s, version) VALUES (1, ?, ?, ?, ?, ?, ?)",
            (heartbeat.pid, heartbeat.hostname, heartbeat.started_ts, heartbeat.last_tick_ts,
             heartbeat.interval_s, heartbeat.version))

    # --- jobs: requested by commands and pages, run by the collector ---

    def request_job(self, kind: str, requested_by: str, ts: int,
                    params: Mapping[str, Any] | None = None, join: bool = True) -> tuple[Job, bool]:
        """Queue a job, or join the one of the same kind already queued or running.

        Returns the job and whether it was created. The check and the insert happen in
        one write transaction, so concurrent requests can never queue two.
        """
        with self.transaction():
            active = self._active_job(kind) if join else None
            if active is not None:
                return active, False
            cursor = self._execute(
                "INSERT INTO jobs (kind, status, requested_by, requested_ts, params) "
                "VALUES (?, 'queued', ?, ?, ?)", (kind, requested_by, ts, clean_json(params or {})))
            created = self.job(int(cursor.lastrowid or 0))
        assert created is not None
        return created, True

    def _active_job(self, kind: str) -> Job | None:
        rows = self._rows(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE kind = ? AND status IN ('queued', 'running') "
            "ORDER BY id LIMIT 1", (kind,))
        return from_row(Job, rows[0], JOB_DECODE) if rows else None

    def claim_job(self, ts: int, pid: int, hostname: str) -> Job | None:
        """Take the oldest queued job for this process; None when there is none."""
        with self.transaction():
            row = self._execute(
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            self._execute(
                "UPDATE jobs SET status = 'running', started_ts = ?, pid = ?, hostname = ? "
                "WHERE id = ?", (ts, pid, hostname, row[0]))
            return self.job(row[0])

    def job_progress(self, job_id: int, progress: Mapping[str, Any]) -> None:
        self._execute("UPDATE jobs SET progress = ? WHERE id = ?", (clean_json(progress), job_id))

    def finish_job(self, job_id: int, ts: int, status: str,
                   result: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        self._execute(
            "UPDATE jobs SET status = ?, finished_ts = ?, result = ?, error = ? WHERE id = ?",
            (status, ts, clean_json(result) if result is not None else None, _clean(error), job_id))

    def interrupt_jobs(self, ts: int, is_alive: Callable[[Job], bool]) -> list[Job]:
        """Mark running jobs whose worker is gone (killed, machine restarted) interrupted."""
        with self.transaction():
            rows = self._rows(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = 'running'")
            dead = [job for job in (from_row(Job, row, JOB_DECODE) for row in rows)
                    if not is_alive(job)]
            for job in dead:
                self.finish_job(job.id, ts, "interrupted",
                                error="the worker stopped before the job finished")
        return dead

    def job(self, job_id: int) -> Job | None:
        rows = self._rows(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return from_row(Job, rows[0], JOB_DECODE) if rows else None

    def jobs(self, kind: str | None = None, limit: int = 50) -> list[Job]:
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs"
        args: list[Any] = []
        if kind:
            sql += " WHERE kind = ?"
            args.append(kind)
        rows = self._rows(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
        return [from_row(Job, row, JOB_DECODE) for row in rows]

    def count_jobs(self, kind: str, status: str) -> int:
        return int(self._execute("SELECT count(*) FROM jobs WHERE kind = ? AND status = ?",
                                 (kind, status)).fetchone()[0])

    # --- small named values: next scheduled backup and the like ---

    def set_state(self, key: str, value: Any) -> None:
        self._execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                      (key, clean_json(value)))

    def state(self, key: str, default: Any = None) -> Any:
        row = self._execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # --- reads (pages, endpoints, commands) ---

    def heartbeat(self) -> Heartbeat | None:
        rows = self._rows(f"SELECT {_HEARTBEAT_COLUMNS} FROM heartbeat WHERE id = 1")
        return from_row(Heartbeat, rows[0]) if rows else None

    def latest(self) -> dict[str, Latest]:
        rows = self._rows(f"SELECT {_LATEST_COLUMNS} FROM latest")
        return {row["source"]: from_row(Latest, row, LATEST_DECODE) for row in rows}

    def events(self, start_ts: int, end_ts: int, sources: Sequence[str] | None = None,
               limit: int = 1000) -> list[Event]:
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE ts >= ? AND ts <= ?"
        args: list[Any] = [start_ts, end_ts]
        if sources:
            sql += f" AND source IN ({', '.join('?' for _ in sources)})"
            args += list(sources)
        sql += " ORDER BY ts DESC, id DESC LIMIT ?"
        return [from_row(Event, row) for row in self._rows(sql, [*args, limit])]

    def last_event(self, source: str, kinds: Sequence[str]) -> Event | None:
        marks = ", ".join("?" for _ in kinds)
        rows = self._rows(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE source = ? AND kind IN ({marks})"
            " ORDER BY ts DESC, id DESC LIMIT 1", [source, *kinds])
        return from_row(Event, rows[0]) if rows else None

    def first_event_ts(self, source: str) -> int | None:
        row = self._execute("SELECT min(ts) FROM events WHERE source = ?",
                            (source,)).fetchone()
        return None if row[0] is None else int(row[0])

    def last_sample(self, columns: Sequence[str]) -> dict[str, Any] | None:
        """The newest sample's values of `columns` (unknown columns give None)."""
        known = self.columns()
        names = [safe(c) for c in columns]
        picks = ", ".join(c if c in known else "NULL" for c in names) or "NULL"
        row = self._execute(f"SELECT ts, {picks} FROM samples ORDER BY ts DESC LIMIT 1"
                            ).fetchone()
        return None if row is None else {"ts": row[0], **dict(zip(names, row[1:], strict=False))}

    def sample_count(self) -> int:
        return int(self._execute("SELECT count(*) FROM samples").fetchone()[0])

    def time_span(self) -> tuple[int, int] | None:
        oldest, newest = series.span(self._conn(), "samples")
        return (oldest, newest) if oldest is not None and newest is not None else None

    def data_version(self) -> int:
        """A number that changes whenever another connection (the collector, a command)
        has committed to the file since this thread last asked: readers use it to reuse
        what they built while nothing was written."""
        return int(self._execute("PRAGMA data_version").fetchone()[0])

    def series(self, start_ts: int, end_ts: int, gauges: Sequence[str] = (),
               counters: Sequence[str] = (), max_points: int = 1500,
               peaks: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """At most `max_points` buckets over [start_ts, end_ts], aggregated in SQL.

        Each gauge `g` gives `g` (average) and, when it is in `peaks` (default: every
        gauge), `g_max`; each counter `c` (stored as `c_delta`) gives `c_sum` and
        `c_per_s`, the exact rate over the bucket: summed deltas over the summed seconds
        that had a delta. Empty buckets are left out, so a chart shows a gap where
        nothing was sampled.

        The range is served by the tiers that hold it (tiers.py). Where a bucket holds
        many rows, each bucket is one range scan of the rowid (a correlated subquery
        returning a JSON array): no sort, which a GROUP BY over a computed bucket needs
        (30 days of minutes: 76 ms against 118 ms). Where it holds few, one GROUP BY
        costs less than a subquery per bucket (24 h of raw samples: 84 ms against 109 ms).
        """
        return series.series(self._conn(), self.columns(), start_ts, end_ts, gauges,
                             counters, max_points, peaks)

    def coverage(self) -> dict[str, Coverage | None]:
        """The span each tier holds, for range planning."""
        return series.coverage(self._conn())

    def tier_rows(self, tier: Tier, lo: int | None = None, hi: int | None = None,
                  columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """A tier's stored rows with ts in [lo, hi), oldest first (all columns unless
        named): for checks and exports that need the rows themselves."""
        return series.rows(self._conn(), tier, lo, hi, columns)

    # --- rollups: built by the collector as time passes ---

    def roll_up(self, tier: Tier, lo: int, hi: int) -> int:
        """(Re)build `tier`'s rows for [lo, hi) from raw samples; returns rows written.

        Pure function of the raw samples in the window, so running it twice over the
        same window writes the same rows."""
        return series.roll_up(self._conn(), self.metric_columns(), tier, lo, hi)

    def rolled_up_until(self, tier: Tier) -> int | None:
        value = self.state(done_key(tier))
        return int(value) if value is not None else None

    def mark_rolled_up(self, tier: Tier, until_ts: int) -> None:
        self.set_state(done_key(tier), until_ts)

    def prune_tier(self, tier: Tier, before_ts: int, batch_rows: int = PRUNE_BATCH_ROWS) -> int:
        """Delete a tier's rows older than `before_ts`, in small transactions."""
        return series.prune_tier(self._conn(), tier, before_ts, batch_rows)

    def oldest(self, tier: Tier) -> int | None:
        return series.oldest(self._conn(), tier)

    # --- the file ---

    def used_bytes(self) -> int:
        """Bytes of the file in use (free pages left by deletions not counted)."""
        conn = self._conn()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def give_space_back(self) -> None:
        """Return free pages to the file system (incremental vacuum, then a checkpoint)."""
        self._execute("PRAGMA incremental_vacuum")
        self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the WAL into the main file and truncate it (sizes then tell the truth)."""
        self._execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def dump(self) -> list[str]:
        """The whole file as SQL text, for comparing contents."""
        return list(self._conn().iterdump())

    def journal_mode(self) -> str:
        return str(self._execute("PRAGMA journal_mode").fetchone()[0])

    def auto_vacuum(self) -> int:
        """0 none, 1 full, 2 incremental (what a new file gets)."""
        return int(self._execute("PRAGMA auto_vacuum").fetchone()[0])

    def tables(self) -> list[str]:
        return schema.table_names(self._conn())

    def migrations_applied(self) -> list[str]:
        return schema.applied(self._conn())


def _clean(text: str | None) -> str | None:
    """An error text or message as stored: one line, no secret."""
    return None if text is None else clean(text)
