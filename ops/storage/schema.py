"""The tables, as forward migrations recorded in the file itself.

The set's name ("ops") and every migration's name are stored in `_sqlite_migrations`:
they must never change, or an existing file would run them again. A new table or index
is a new migration at the end.

Tables:
- samples: one row per tick; `ts` (the rowid, so ranges are index scans), `dt_s` (seconds
  since the previous tick), `<source>_up`, gauges `<source>_<field>`, and counters as
  per-interval deltas `<source>_<field>_delta` (rates and hit rates come from their sums).
  Metric columns are added as sources appear (`Store.ensure_columns`).
- events: service up/down transitions and other happenings, with when and why.
- heartbeat: one row, the collector's last tick.
- latest: the newest full reading of each source (JSON), for pages and endpoints.
- jobs: backups and restores requested by commands or pages, run by the collector.
- state: small named values, such as the next scheduled backup.
- alerts, notifications: alert history (ops/alerts/) and the outbox of messages sent
  about it, one per alert, event and channel (`note` says why one was not sent).
- silences: maintenance windows during which nothing is sent (all or one rule or service).
- rollup_1m, rollup_5m, rollup_1h: the samples summed per minute, five minutes and hour
  (see tiers.py); range queries read whichever tiers cover the range at the resolution
  asked for.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from ops.storage.errors import StoreError, disk_full, disk_full_error
from ops.storage.tiers import FIVE_MINUTES, HOUR, MINUTE

migrations = Migrations("ops")


@migrations()
def m001_samples_and_events(db: Database) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS samples (ts INTEGER PRIMARY KEY, dt_s REAL)")
    db.execute("""CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, source TEXT NOT NULL,
        kind TEXT NOT NULL, message TEXT)""")
    db.execute("CREATE INDEX IF NOT EXISTS events_ts ON events (ts)")


@migrations()
def m002_heartbeat_and_latest(db: Database) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS heartbeat (
        id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER, hostname TEXT,
        started_ts INTEGER, last_tick_ts INTEGER, interval_s REAL, version TEXT)""")
    db.execute("""CREATE TABLE IF NOT EXISTS latest (
        source TEXT PRIMARY KEY, ts INTEGER NOT NULL, up INTEGER NOT NULL,
        since_ts INTEGER NOT NULL, error TEXT, reading TEXT NOT NULL)""")


@migrations()
def m003_jobs_and_state(db: Database) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS jobs (
        id INTEGER PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,
        requested_by TEXT NOT NULL, requested_ts INTEGER NOT NULL, started_ts INTEGER,
        finished_ts INTEGER, pid INTEGER, hostname TEXT, params TEXT NOT NULL DEFAULT '{}',
        progress TEXT, result TEXT, error TEXT)""")
    db.execute("CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, kind)")
    db.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT)")


@migrations()
def m004_rollup_tiers(db: Database) -> None:
    for tier in (MINUTE, HOUR):
        db.execute(f"CREATE TABLE IF NOT EXISTS {tier.table} "
                   "(ts INTEGER PRIMARY KEY, n INTEGER, dt_s REAL)")


@migrations()
def m005_alerts_and_notifications(db: Database) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS alerts (
        id INTEGER PRIMARY KEY, rule TEXT NOT NULL, subject TEXT NOT NULL,
        severity TEXT NOT NULL, status TEXT NOT NULL, pending_ts INTEGER NOT NULL,
        firing_ts INTEGER, resolved_ts INTEGER, last_true_ts INTEGER, last_false_ts INTEGER,
        true_count INTEGER NOT NULL DEFAULT 0, false_count INTEGER NOT NULL DEFAULT 0,
        value REAL, message TEXT)""")
    db.execute("CREATE INDEX IF NOT EXISTS alerts_open ON alerts (status, rule, subject)")
    db.execute("""CREATE TABLE IF NOT EXISTS notifications (
        id INTEGER PRIMARY KEY, alert_id INTEGER, event TEXT NOT NULL, channel TEXT NOT NULL,
        created_ts INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ts INTEGER NOT NULL, sent_ts INTEGER, last_error TEXT,
        payload TEXT NOT NULL)""")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS notifications_once "
               "ON notifications (alert_id, event, channel) WHERE alert_id IS NOT NULL")
    db.execute("CREATE INDEX IF NOT EXISTS notifications_due "
               "ON notifications (status, next_attempt_ts)")


@migrations()
def m006_five_minute_tier(db: Database) -> None:
    """Filled from the 1-minute tier by the next roll-up (its metric columns are added
    with every tier's by Store.ensure_columns)."""
    db.execute(f"CREATE TABLE IF NOT EXISTS {FIVE_MINUTES.table} "
               "(ts INTEGER PRIMARY KEY, n INTEGER, dt_s REAL)")


@migrations()
def m007_silences(db: Database) -> None:
    """Maintenance windows, and a note on a message kept but not sent during one."""
    db.execute("""CREATE TABLE IF NOT EXISTS silences (
        id INTEGER PRIMARY KEY, created_ts INTEGER NOT NULL, until_ts INTEGER NOT NULL,
        target TEXT, created_by TEXT NOT NULL, ended_ts INTEGER)""")
    if "note" not in {column.name for column in db["notifications"].columns}:
        db.execute("ALTER TABLE notifications ADD COLUMN note TEXT")


MIGRATE_ATTEMPTS = 3


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations this file has not had yet, each in its own transaction.

    Two processes opening a new file at once (`ops up` starts the collector and the
    dashboard together) can both run a migration; each is idempotent, and the one that
    records it second gets a UNIQUE error: it looks again and finds it applied."""
    for attempt in range(MIGRATE_ATTEMPTS):
        try:
            migrations.apply(Database(conn))
            return
        except sqlite3.IntegrityError:
            if conn.in_transaction:
                conn.rollback()
            if attempt == MIGRATE_ATTEMPTS - 1:
                raise


def refuse_foreign(path: Path) -> None:
    """Stop before touching a file that is not ours to migrate: not SQLite (a garbage or
    truncated file), another program's database (tables but none of our migrations), or
    one a newer version migrated. Checked on a plain connection that only reads, before
    the store's own connections set WAL and other pragmas, so a refused file is left
    exactly as it was."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    conn = sqlite3.connect(path)
    try:
        db = Database(conn)
        tables = [t for t in db.table_names() if not t.startswith("sqlite_")]
        applied = [m.name for m in migrations.applied(db)] if tables else []
    except sqlite3.DatabaseError as err:
        if disk_full(path):  # a full disk is no reason to move a good history aside
            raise disk_full_error(path, err) from err
        raise StoreError(f"{path} is not a readable SQLite file ({err}): move it aside "
                         "to start a new history, or restore it from a copy") from err
    finally:
        conn.close()
    if tables and not applied:
        raise StoreError(f"{path} holds another program's tables ({', '.join(tables[:5])}): "
                         "it is not an ops history; give OPS_DATA_DIR a directory of its own")
    known = {m.name for m in migrations.pending(Database(memory=True))}  # read-only: all
    newer = [name for name in applied if name not in known]
    if newer:
        raise StoreError(f"{path} was written by a newer version (schema {newer[-1]}): run "
                         "that version, or move the file aside to start a new history")


def applied(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations recorded in the file, in the order they ran."""
    return [m.name for m in migrations.applied(Database(conn))]


def table_names(conn: sqlite3.Connection) -> list[str]:
    return Database(conn).table_names()
