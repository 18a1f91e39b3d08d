"""Backups as jobs: requested by commands, run by the collector, recorded as events.

Real MongoDB (the stand-in or TEST_MONGO_URI), real SQLite, real processes: concurrent
requests, a collector killed with SIGKILL mid-dump, failures that must not prune.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bson import Binary
from pymongo.errors import ConnectionFailure

from collector import worker as worker_module
from collector.worker import JobWorker
from ops.backup.catalogue import list_backups
from ops.backup.dump import dump
from ops.config import Settings, load_settings
from ops.storage import Store
from tests.backup_data import seed, unique_db
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]


def settings_for(env: dict[str, str], uri: str, db: str, **extra: str) -> Settings:
    return load_settings({**env, "MONGO_URI": uri, "BACKUP_DATABASES": db, **extra},
                         env_file=None)


def run_ops(env: dict[str, str], *args: str,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout)


def event_kinds(store: Store) -> list[str]:
    return [e.kind for e in reversed(store.events(0, 2**62, sources=["backup"]))]


def drain(worker: JobWorker) -> list[Any]:
    finished = []
    while (job := worker.run_pending()) is not None:
        finished.append(job)
    return finished


def test_ten_concurrent_requests_make_exactly_one_dump(env: dict[str, str],
                                                       shared_mongo: Any) -> None:
    db = unique_db("ten")
    seed(shared_mongo.uri, db, {"items": [{"n": i} for i in range(500)]})
    environ = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": db}
    Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3").close()  # schema in place first
    processes = [subprocess.Popen([sys.executable, "-m", "ops", "backup"], cwd=ROOT,
                                  env={**os.environ, **environ}, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(10)]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert sum("queued" in out and "joined" not in out for out in outputs) == 1
    assert sum("joined" in out for out in outputs) == 9
    assert len({out.split()[2] for out in outputs}) == 1, "every request names the same job"

    worker = JobWorker(settings_for(env, shared_mongo.uri, db))
    finished = drain(worker)
    assert [job.status for job in finished] == ["ok"]
    backups = list_backups(worker.settings.backup_dir)
    assert len(backups) == 1 and backups[0].documents == 500


def test_success_records_events_and_prunes_old_backups(env: dict[str, str],
                                                       shared_mongo: Any) -> None:
    db = unique_db("prune")
    seed(shared_mongo.uri, db, {"items": [{"n": i} for i in range(50)]})
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    settings = settings_for(env, shared_mongo.uri, db, BACKUP_RETENTION_DAYS="7")
    old = dump(shared_mongo.uri, settings.backup_dir, [db], now=now - timedelta(days=8))
    kept = dump(shared_mongo.uri, settings.backup_dir, [db], now=now - timedelta(days=6))
    worker = JobWorker(settings, clock=lambda: now)
    job, _ = worker.store.request_job("backup", "test", 0)
    [finished] = drain(worker)
    assert finished.status == "ok" and finished.result["documents_total"] == 50
    ids = [e.id for e in list_backups(settings.backup_dir)]
    assert old.id not in ids and kept.id in ids and len(ids) == 2
    assert event_kinds(worker.store) == ["backup_started", "backup_ok", "backup_pruned"]
    assert worker.store.job(job.id).progress["documents_done"] == 50


def test_failed_backup_is_recorded_and_deletes_nothing(env: dict[str, str], shared_mongo: Any,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    db = unique_db("fail")
    seed(shared_mongo.uri, db, {"items": [{"n": 1}]})
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    good = settings_for(env, shared_mongo.uri, db)
    for days in (30, 20):
        dump(shared_mongo.uri, good.backup_dir, [db], now=now - timedelta(days=days))
    closed = f"mongodb://ops:hunter2@127.0.0.1:{free_port()}/"
    worker = JobWorker(settings_for(env, closed, db), clock=lambda: now)
    worker.store.request_job("backup", "test", 0)
    [finished] = drain(worker)
    assert finished.status == "failed"
    assert "unreachable" in finished.error and "hunter2" not in finished.error
    assert "\n" not in finished.error
    assert len(list_backups(good.backup_dir)) == 2, "a failed backup never triggers pruning"
    assert not list(good.backup_dir.glob("*.partial"))
    assert event_kinds(worker.store) == ["backup_started", "backup_failed"]
    [record] = [r for r in caplog.records if "backup job 1 failed" in r.getMessage()]
    assert record.exc_info is not None and record.exc_info[2] is not None, "traceback kept"
    error = record.exc_info[1]
    assert str(error) == finished.error and isinstance(error.__cause__, ConnectionFailure)
    assert "hunter2" not in caplog.text


def test_the_worker_thread_outlives_a_locked_database(env: dict[str, str],
                                                      caplog: pytest.LogCaptureFixture,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holding the write lock past the busy timeout fails a pass of the
    worker: logged with its traceback, retried, and the queued job still runs."""
    monkeypatch.setattr(worker_module, "RETRY_SECONDS", 0.2)
    worker = JobWorker(load_settings(env, env_file=None))
    job, _ = worker.store.request_job("verify", "test", 0, {"backup": "mongo-missing"})
    holder = Store(worker.settings.database_path)  # another writer, as a process would be
    with holder.transaction():  # its write lock, held while the worker's pass waits
        worker.thread.start()
        wait_until(lambda: any(r.exc_info for r in caplog.records
                               if r.name == "collector.worker"), timeout=30,
                   what="the failed pass in the log")
        assert worker.thread.is_alive()
        assert worker.store.job(job.id).status == "queued"
    holder.close()
    wait_until(lambda: not worker.store.job(job.id).active, timeout=30, what="the job")
    worker.stop()
    [record] = [r for r in caplog.records if r.name == "collector.worker" and r.exc_info][:1]
    assert "scheduler pass failed" in record.getMessage()
    assert isinstance(record.exc_info[1], sqlite3.OperationalError)
    assert "database is locked" in str(record.exc_info[1])
    finished = worker.store.job(job.id)
    assert finished.status == "failed" and finished.error.startswith("no backup 'mongo-missing'")


def test_a_failed_prune_leaves_the_backup_good(env: dict[str, str], shared_mongo: Any,
                                               caplog: pytest.LogCaptureFixture) -> None:
    db = unique_db("prunefail")
    seed(shared_mongo.uri, db, {"items": [{"n": 1}]})
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    settings = settings_for(env, shared_mongo.uri, db, BACKUP_RETENTION_DAYS="7")
    # An old archive that cannot be deleted: a regular file with a file bind-mounted
    # over it, which unlink() refuses (EBUSY) as a read-only or failing disk would.
    old = settings.backup_dir / "mongo-20261001T000000Z.archive.gz"
    settings.backup_dir.mkdir(parents=True)
    old.write_bytes(b"old")
    cover = settings.backup_dir.parent / "cover"
    cover.write_bytes(b"old")
    with bind_mounted(cover, old):
        worker = JobWorker(settings, clock=lambda: now)
        worker.store.request_job("backup", "test", 0)
        [finished] = drain(worker)
    assert finished.status == "ok", finished.error
    assert event_kinds(worker.store) == ["backup_started", "backup_ok", "backup_prune_failed"]
    [record] = [r for r in caplog.records if "removing old backups failed" in r.getMessage()]
    assert record.exc_info is not None and isinstance(record.exc_info[1], OSError)
    assert old.exists(), "the old archive was left, and the new backup is good"


@contextmanager
def bind_mounted(source: Path, target: Path) -> Iterator[None]:
    """`source` mounted over the file `target` (root and mount(8) needed, else skipped)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a bind mount needs root and mount(8)")
    done = subprocess.run(["mount", "--bind", str(source), str(target)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"bind mounts are not permitted here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_wait_exits_non_zero_when_the_collector_is_not_running(env: dict[str, str],
                                                              shared_mongo: Any) -> None:
    result = run_ops({**env, "MONGO_URI": shared_mongo.uri}, "backup", "--wait")
    assert result.returncode == 1
    assert "collector has not written a sample yet" in result.stderr
    assert "backup job 1 queued" in result.stdout


def test_backup_without_mongo_uri_says_so(env: dict[str, str]) -> None:
    result = run_ops(env, "backup")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: MONGO_URI is not set: there is no MongoDB to back up"


def start_collector(environ: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "collector"], cwd=ROOT,
                                env={**os.environ, **environ}, stdout=out, stderr=out)


def wait_until(condition: Any, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_wait_follows_a_backup_run_by_the_collector(env: dict[str, str], shared_mongo: Any,
                                                    tmp_path: Path) -> None:
    db = unique_db("wait")
    seed(shared_mongo.uri, db, {"items": [{"n": i} for i in range(300)]})
    environ = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": db,
               "ENABLE_AUTO_BACKUP": "false", "SAMPLE_INTERVAL_SECONDS": "1"}
    collector = start_collector(environ, tmp_path / "collector.log")
    try:
        store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
        wait_until(lambda: store.heartbeat() is not None, what="first sample")
        result = run_ops(environ, "backup", "--wait")
        assert result.returncode == 0, result.stderr
        assert "ok: 300 documents in 1 collections" in result.stdout
        listed = json.loads(run_ops(environ, "backups", "--json").stdout)
        assert [b["documents"] for b in listed] == [300] and listed[0]["verified"] is True
        Path(listed[0]["file"]).unlink()
        assert json.loads(run_ops(environ, "backups", "--json").stdout) == []
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(30) == 0


def test_sigkill_mid_backup_then_restart(env: dict[str, str], mongo_own: Any,
                                         tmp_path: Path) -> None:
    db = "big"
    blob = Binary(os.urandom(64 * 1024))
    for batch in range(6):
        seed(mongo_own.uri, db, {f"c{batch}": [{"n": i, "blob": blob} for i in range(400)]})
    environ = {**env, "MONGO_URI": mongo_own.uri, "BACKUP_DATABASES": db,
               "ENABLE_AUTO_BACKUP": "true", "SAMPLE_INTERVAL_SECONDS": "1"}
    backup_dir = Path(env["OPS_DATA_DIR"]) / "backups"
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    log = tmp_path / "collector.log"

    first = start_collector(environ, log)  # no backup yet: the catch-up starts at once
    wait_until(lambda: list(backup_dir.glob("*.partial")), what="a dump in progress")
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    assert store.job(1).status == "running", "nobody could mark it: the worker was killed"
    assert list(backup_dir.glob("*.partial"))

    second = start_collector(environ, log)
    try:
        wait_until(lambda: (store.job(2) is not None and not store.job(2).active),
                   what="the catch-up backup after restart")
        assert store.job(1).status == "interrupted"
        assert store.job(2).status == "ok", store.job(2).error
        assert store.job(2).requested_by == "catch-up"
        assert not list(backup_dir.glob("*.partial"))
        assert [b.documents for b in list_backups(backup_dir)] == [2400]
        assert "backup_interrupted" in event_kinds(store)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0


@pytest.mark.parametrize("target", ["id", "path"])
def test_verify_command_names_a_corrupted_byte(env: dict[str, str], shared_mongo: Any,
                                               target: str) -> None:
    db = unique_db("corrupt")
    seed(shared_mongo.uri, db, {"items": [{"n": i, "text": "نص عربي"} for i in range(200)]})
    settings = settings_for(env, shared_mongo.uri, db)
    manifest = dump(shared_mongo.uri, settings.backup_dir, [db])
    path = settings.backup_dir / manifest.file
    environ = {**env, "MONGO_URI": shared_mongo.uri}
    name = manifest.id if target == "id" else str(path)
    assert run_ops(environ, "verify", name).returncode == 0
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    result = run_ops(environ, "verify", name)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "sha256" in result.stderr or "offset" in result.stderr


def test_wait_gives_up_with_one_line_when_the_collector_stops(
        env: dict[str, str], shared_mongo: Any, tmp_path: Path) -> None:
    """The collector is frozen (SIGSTOP: alive to the kernel, silent to us) with the job
    queued: `backup --wait` notices from the heartbeat and exits 1 instead of waiting."""
    # At 5 s the heartbeat stays fresh for 15 s after the freeze: long enough for the
    # command to find the collector alive and start following the job.
    environ = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": unique_db("stop"),
               "ENABLE_AUTO_BACKUP": "false", "SAMPLE_INTERVAL_SECONDS": "5"}
    collector = start_collector(environ, tmp_path / "collector.log")
    try:
        store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
        wait_until(lambda: store.heartbeat() is not None, what="first sample")
        collector.send_signal(signal.SIGSTOP)
        result = run_ops(environ, "backup", "--wait")
        assert result.returncode == 1, result.stdout + result.stderr
        [line] = result.stderr.strip().splitlines()[-1:]
        assert line.startswith("error: collector not running since"), result.stderr
        assert "the job runs when the collector starts" in line
        [job] = store.jobs("backup")
        assert job.status == "queued"
    finally:
        collector.send_signal(signal.SIGCONT)
        collector.send_signal(signal.SIGTERM)
        collector.wait(30)


def _dead_pid() -> int:
    """The pid of a process that has just exited: a worker killed with -9."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_start_up_reconciles_files_manifests_and_jobs_after_a_kill(
        env: dict[str, str], shared_mongo: Any) -> None:
    """Two kills a hostile week gave: just after the archive got its final name (the job
    said interrupted and backup_failed fired for a good backup), and just before (an
    orphan manifest stayed forever)."""
    db = unique_db("reconcile")
    seed(shared_mongo.uri, db, {"items": [{"n": i} for i in range(20)]})
    settings = settings_for(env, shared_mongo.uri, db, ENABLE_AUTO_BACKUP="false")
    store = Store(settings.database_path)
    store.request_job("backup", "test", 1000)
    job = store.claim_job(int(time.time() * 1000) - 2000, _dead_pid(), socket.gethostname())
    assert job is not None
    done = dump(shared_mongo.uri, settings.backup_dir, [db])  # renamed, then the kill

    later = dump(shared_mongo.uri, settings.backup_dir, [db],
                 now=datetime.now(UTC) + timedelta(minutes=1))
    final = settings.backup_dir / later.file  # killed before the rename instead:
    final.rename(final.with_name(final.name + ".partial"))

    JobWorker(settings).recover()

    finished = store.job(job.id)
    assert finished is not None and finished.status == "ok", finished
    assert finished.result is not None and finished.result["file"] == done.file
    kinds = event_kinds(store)
    assert "backup_ok" in kinds and "backup_interrupted" not in kinds
    assert [e.id for e in list_backups(settings.backup_dir)] == [done.id]
    left = sorted(p.name for p in settings.backup_dir.iterdir() if not p.name.startswith("."))
    assert left == [done.file, f"{done.file}.json"], "no partial, no orphan manifest"


def test_an_interrupted_backup_that_left_nothing_stays_interrupted(
        env: dict[str, str], shared_mongo: Any) -> None:
    settings = settings_for(env, shared_mongo.uri, unique_db("nothing"),
                            ENABLE_AUTO_BACKUP="false")
    store = Store(settings.database_path)
    store.request_job("backup", "test", 1000)
    job = store.claim_job(int(time.time() * 1000), _dead_pid(), socket.gethostname())
    assert job is not None
    JobWorker(settings).recover()
    assert store.job(job.id).status == "interrupted"
    assert "backup_interrupted" in event_kinds(store)
