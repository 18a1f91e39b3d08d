"""Restore drills prove a backup restores: the newest backup (or a chosen one) is restored
into scratch databases on the same server, each collection's count and content compared
with the backup, the scratch dropped, and the result written beside the backup. A failed
drill fails its job and fires backup_drill_failed. Against the MongoDB stand-in, through
the collector's JobWorker (as the schedule and the Backups page queue drills), the
`python -m ops drill` command and a real collector."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from collector.worker import JobWorker
from ops.alerts.rules import DEFAULT_RULES
from ops.alerts.watch import AlertWatch
from ops.backup.catalogue import list_backups
from ops.backup.drill import archive_contents, compare, server_contents
from ops.backup.dump import dump
from ops.backup.manifest import load_manifest_for
from ops.backup.restore import restore
from ops.backup.schedule import DRILL_QUEUED_KEY
from ops.config import Settings, load_settings
from ops.storage import Job
from ops.storage import alerts as records
from ops.views.backups import describe_job, drill_text
from tests.backup_data import ARABIC, every_type_documents, seed, unique_db, write_gzip
from tests.backup_data import gunzip as gunzip_file
from tests.servers import wait_until
from tests.test_backup_jobs import start_collector
from tests.test_cli import run_ops


def settings_for(env: dict[str, str], uri: str, **extra: str) -> Settings:
    return load_settings({**env, "MONGO_URI": uri, "ENABLE_AUTO_BACKUP": "false", **extra},
                         env_file=None)


def scratch_left(uri: str) -> list[str]:
    with MongoClient(uri) as client:
        return [n for n in client.list_database_names() if n.startswith("ops_drill_")]


def drill_job(worker: JobWorker, params: dict[str, Any] | None = None) -> Job:
    """A drill queued as the page queues it, run by the collector's worker."""
    job, _ = worker.store.request_job("drill", "admin", 0, params or {}, join=False)
    finished = worker.run_pending()
    assert finished is not None and finished.id == job.id
    return finished


def two_databases(uri: str) -> tuple[str, str]:
    shop, users = unique_db("shop"), unique_db("users")
    seed(uri, shop, {"orders": every_type_documents(120),
                     "notes": [{"_id": i, "text": f"{ARABIC} {i}"} for i in range(30)]})
    seed(uri, users, {"people": [{"_id": f"u{i}", "email": f"u{i}@example.com"}
                                 for i in range(25)]})
    return shop, users


def test_a_drill_restores_every_database_compares_and_drops_the_scratch(
        shared_mongo: Any, env: dict[str, str]) -> None:
    uri = shared_mongo.uri
    shop, users = two_databases(uri)
    settings = settings_for(env, uri)
    made = dump(uri, settings.backup_dir, [shop, users])
    worker = JobWorker(settings)

    finished = drill_job(worker)  # no backup named: the newest good one

    assert finished.status == "ok", finished.error
    result = finished.result or {}
    assert result["backup"] == made.id and result["ok"] is True
    assert (result["collections"], result["documents"]) == (3, 120 + 30 + 25)
    assert result["databases"] == [shop, users]
    assert result["summary"].startswith(f"{made.id} restored and matched: 2 databases, "
                                        "3 collections, 175 documents")
    assert scratch_left(uri) == []
    # Beside the backup: its manifest holds the drill; the catalogue and page read it.
    manifest = load_manifest_for(settings.backup_dir / made.file)
    assert manifest is not None and manifest.drill is not None
    assert manifest.drill["ok"] is True and manifest.drill["documents"] == 175
    assert manifest.sha256 == made.sha256  # the archive itself is untouched
    [entry] = list_backups(settings.backup_dir)
    assert drill_text(entry).startswith("matched ")
    assert describe_job(finished) == f"drill job {finished.id} finished: {result['summary']}"
    kinds = [e.kind for e in worker.store.events(0, 2**62, sources=["backup"])]
    assert "drill_started" in kinds and "drill_ok" in kinds
    listed = json.loads(run_ops({**env, "MONGO_URI": uri}, "backups", "--json").stdout)
    assert listed[0]["drill"]["ok"] is True


def test_compare_finds_a_missing_document_and_a_changed_one(
        shared_mongo: Any, env: dict[str, str]) -> None:
    """What the drill compares, against restored data changed on the real server."""
    uri = shared_mongo.uri
    shop, _ = two_databases(uri)
    settings = settings_for(env, uri)
    made = dump(uri, settings.backup_dir, [shop])
    path = settings.backup_dir / made.file
    archive = archive_contents(path)
    scratch = unique_db("ops_drill_test")
    restore(path, uri, scratch, from_db=shop)
    with MongoClient(uri) as client:
        try:
            assert compare(made, archive, client, shop, scratch) == (2, 150, [])
            assert server_contents(client, scratch, "notes") == archive[(shop, "notes")]
            client[scratch]["notes"].update_one({"_id": 3}, {"$set": {"text": "changed"}})
            client[scratch]["orders"].delete_one({})
            client[scratch]["extra"].insert_one({"x": 1})
            _, _, problems = compare(made, archive, client, shop, scratch)
        finally:
            client.drop_database(scratch)
    assert problems == [
        f"{shop}.notes: the restored documents differ from the backup's (content digest)",
        f"{shop}.orders: 119 documents restored, 120 at dump time",
        f"{shop}.extra appeared in the restore but is not in the backup"]


class Alerts:
    """The collector's alert watch over the worker's store, judged on demand."""

    def __init__(self, settings: Settings, worker: JobWorker) -> None:
        self.watch = AlertWatch(worker.store, settings, DEFAULT_RULES, lambda *a: 1)
        self.ts = 2_000_000_000_000

    def firing(self) -> list[str]:
        for _ in range(3):
            self.ts += 5000
            self.watch.after_tick(self.ts, {"mongo_up": 1}, {})
        return [a.message for a in records.firing(self.watch.store)
                if a.rule == "backup_drill_failed"]


def test_a_damaged_backup_fails_its_drill_and_fires_the_alert_until_one_matches(
        shared_mongo: Any, env: dict[str, str]) -> None:
    uri = shared_mongo.uri
    shop, _ = two_databases(uri)
    settings = settings_for(env, uri)
    good = dump(uri, settings.backup_dir, [shop])
    damaged = dump(uri, settings.backup_dir, [shop], now=datetime.now(UTC) + timedelta(hours=1))
    path = settings.backup_dir / damaged.file
    raw = bytearray(gunzip_file(path))
    raw[len(raw) // 2] ^= 0xFF  # one byte of a document, re-gzipped: only the CRC tells
    write_gzip(path, bytes(raw))
    worker = JobWorker(settings)
    alerts = Alerts(settings, worker)

    failed = drill_job(worker, {"backup": damaged.id})  # as the page's Run drill asks

    assert failed.status == "failed"
    assert failed.error is not None and "\n" not in failed.error
    assert failed.error.startswith(f"{damaged.id} failed its restore drill: ")
    assert "sha256" in failed.error or "CRC" in failed.error
    assert scratch_left(uri) == []
    manifest = load_manifest_for(path)
    assert manifest is not None and manifest.drill is not None
    assert manifest.drill["ok"] is False
    entry = next(e for e in list_backups(settings.backup_dir) if e.id == damaged.id)
    assert drill_text(entry).startswith("failed ")
    assert alerts.firing() == [failed.error]

    matched = drill_job(worker, {"backup": good.id})
    assert matched.status == "ok", matched.error
    assert alerts.firing() == []


def test_a_server_gone_during_the_drill_is_a_failed_drill_with_one_line(
        mongo_own: Any, env: dict[str, str]) -> None:
    uri = mongo_own.uri
    shop, _ = two_databases(uri)
    settings = settings_for(env, uri)
    dump(uri, settings.backup_dir, [shop])
    mongo_own.stop()
    worker = JobWorker(settings)

    failed = drill_job(worker)

    assert failed.status == "failed" and failed.error is not None
    assert "failed its restore drill" in failed.error and "\n" not in failed.error
    assert "Traceback" not in failed.error


def test_scratch_left_by_a_killed_drill_is_never_backed_up_and_dropped_by_the_next(
        mongo_own: Any, env: dict[str, str]) -> None:
    uri = mongo_own.uri
    shop, _ = two_databases(uri)
    seed(uri, "ops_drill_0", {"orders": [{"_id": i} for i in range(7)]})
    settings = settings_for(env, uri)

    made = dump(uri, settings.backup_dir)  # every database: the scratch one is left out

    assert "ops_drill_0" not in made.databases and shop in made.databases
    finished = drill_job(JobWorker(settings), {"backup": made.id})
    assert finished.status == "ok", finished.error
    assert scratch_left(uri) == []


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_the_schedule_queues_a_drill_once_per_period(
        shared_mongo: Any, env: dict[str, str]) -> None:
    uri = shared_mongo.uri
    shop, _ = two_databases(uri)
    settings = settings_for(env, uri, BACKUP_DRILL="weekly", BACKUP_DATABASES=shop)
    clock = Clock(datetime(2026, 12, 6, 3, 30, tzinfo=UTC))
    worker = JobWorker(settings, clock)

    assert worker.run_pending() is None  # no backup yet: nothing to drill
    dump(uri, settings.backup_dir, [shop], now=clock.now)
    clock.now += timedelta(minutes=1)
    first = worker.run_pending()
    assert first is not None and first.kind == "drill" and first.status == "ok"
    assert first.requested_by == "schedule"
    for step in (timedelta(minutes=2), timedelta(days=3), timedelta(days=3, hours=23)):
        clock.now = datetime(2026, 12, 6, 3, 31, tzinfo=UTC) + step
        assert worker.run_pending() is None, step
    clock.now = datetime(2026, 12, 13, 3, 32, tzinfo=UTC)
    second = worker.run_pending()
    assert second is not None and second.kind == "drill" and second.status == "ok"
    # The clock stepped back a month: the drill is not put off by a month.
    clock.now = datetime(2026, 11, 13, 3, 32, tzinfo=UTC)
    third = worker.run_pending()
    assert third is not None and third.kind == "drill"
    assert worker.store.state(DRILL_QUEUED_KEY) == int(clock.now.timestamp() * 1000)


def test_the_drill_command_refuses_what_it_cannot_do_in_one_line(
        env: dict[str, str], shared_mongo: Any) -> None:
    no_mongo = run_ops(env, "drill")
    assert no_mongo.returncode == 2
    assert no_mongo.stderr.strip() == ("error: MONGO_URI is not set: there is no MongoDB "
                                       "to restore into")
    unknown = run_ops({**env, "MONGO_URI": shared_mongo.uri}, "drill", "mongo-20990101T000000Z")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
    assert "mongo-20990101T000000Z" in unknown.stderr
    stopped = run_ops({**env, "MONGO_URI": shared_mongo.uri}, "drill", "--wait")
    assert stopped.returncode == 1
    assert "the job runs when the collector starts" in stopped.stderr


def test_the_drill_command_follows_a_drill_run_by_the_collector(
        env: dict[str, str], shared_mongo: Any, tmp_path: Path) -> None:
    uri = shared_mongo.uri
    shop, _ = two_databases(uri)
    environ = {**env, "MONGO_URI": uri, "BACKUP_DATABASES": shop,
               "ENABLE_AUTO_BACKUP": "false", "SAMPLE_INTERVAL_SECONDS": "1"}
    made = dump(uri, settings_for(env, uri).backup_dir, [shop])
    collector = start_collector(environ, tmp_path / "collector.log")
    try:
        wait_until(lambda: run_ops(environ, "heartbeat").returncode == 0, "first sample")
        result = run_ops(environ, "drill", "--wait")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1].startswith(
            f"drill ok: {made.id} restored and matched: 1 database, 2 collections, "
            "150 documents")
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(30) == 0


@pytest.mark.parametrize("value", ["hourly", "7"])
def test_a_bad_drill_setting_is_one_line(env: dict[str, str], value: str) -> None:
    result = run_ops({**env, "BACKUP_DRILL": value}, "backups")
    assert result.returncode == 2
    assert "BACKUP_DRILL" in result.stderr and "off or daily or weekly or monthly" in \
        result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
