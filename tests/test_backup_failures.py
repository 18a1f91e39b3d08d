"""Failures done for real: a closed port, a server stopped mid-dump or mid-restore, a full
disk, a read-only backup directory, a damaged archive.

Each reaches the person as one line without the MongoDB password, keeps the error that
caused it as __cause__, and is logged with its traceback where the worker thread records it.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bson import Binary
from pymongo.errors import ConnectionFailure, PyMongoError

from collector.worker import JobWorker
from ops.backup.archive import ArchiveError
from ops.backup.catalogue import list_backups
from ops.backup.dump import DumpProgress, dump
from ops.backup.errors import BackupError, RestoreError, VerifyError
from ops.backup.restore import RestoreProgress, restore
from ops.config import load_settings
from ops.storage import Job
from tests.backup_data import flip_byte, seed, unique_db
from tests.conftest import mounted_tmpfs
from tests.servers import free_port

NOW = datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)
PASSWORD = "S3cret-p%40ss"  # %40 is "@": both spellings must stay out of messages
SECRETS = (PASSWORD, "S3cret-p@ss")


def one_line_without_secrets(text: str | None) -> str:
    assert text, "a failure always says what failed"
    assert "\n" not in text
    assert not any(secret in text for secret in SECRETS), text
    return text


def worker_for(env: dict[str, str], uri: str, db: str, **extra: str) -> JobWorker:
    settings = load_settings({**env, "MONGO_URI": uri, "BACKUP_DATABASES": db, **extra},
                             env_file=None)
    return JobWorker(settings, clock=lambda: NOW)


def run_job(worker: JobWorker, kind: str = "backup",
            params: dict[str, Any] | None = None) -> Job:
    job, _ = worker.store.request_job(kind, "test", 0, params)
    finished = worker.run_pending()
    assert finished is not None and finished.id == job.id
    return finished


def failure_logged(caplog: pytest.LogCaptureFixture, job: Job) -> BaseException:
    """The exception the job's failure was logged with; the record carries its traceback."""
    [record] = [r for r in caplog.records
                if r.name == "ops.backup" and f"job {job.id} failed" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[1] is not None
    assert record.exc_info[2] is not None, "the traceback is kept"
    assert "Traceback (most recent call last)" in caplog.text
    assert not any(secret in caplog.text for secret in SECRETS)
    return record.exc_info[1]


def test_unreachable_server_is_a_one_line_error_and_leaves_nothing(tmp_path: Path) -> None:
    uri = f"mongodb://backup:{PASSWORD}@127.0.0.1:{free_port()}/?authSource=admin"
    with pytest.raises(BackupError, match="MongoDB unreachable") as caught:
        dump(uri, tmp_path, ["app"], now=NOW)
    message = one_line_without_secrets(str(caught.value))
    assert "backup:***@127.0.0.1" in message
    assert isinstance(caught.value.__cause__, ConnectionFailure)
    assert list(tmp_path.iterdir()) == []


def test_failed_login_never_shows_the_password(shared_mongo: Any, env: dict[str, str],
                                               caplog: pytest.LogCaptureFixture) -> None:
    """Whatever the server answers to credentials (a refusal, or a reply the driver cannot
    parse, as the stand-in's), the job's error, its event and the log keep the password out."""
    db = unique_db("auth")
    seed(shared_mongo.uri, db, {"x": [{"_id": 1}]})
    uri = shared_mongo.uri.replace("mongodb://", f"mongodb://backup:{PASSWORD}@")
    worker = worker_for(env, uri, db)
    job = run_job(worker)
    backup_dir = worker.settings.backup_dir
    if job.status == "ok":  # a server without authentication accepted it: nothing recorded it
        [entry] = list_backups(backup_dir)
        text = (backup_dir / (entry.file.name + ".json")).read_text()
        assert not any(secret in text for secret in SECRETS)
    else:
        one_line_without_secrets(job.error)
        failure_logged(caplog, job)
        assert list(backup_dir.iterdir()) in ([], [backup_dir / ".backup.lock"])
    for event in worker.store.events(0, 2**62, sources=["backup"]):
        assert not any(secret in (event.message or "") for secret in SECRETS)


def test_server_stopped_mid_dump(mongo_own: Any, tmp_path: Path) -> None:
    db = unique_db("midway")
    seed(mongo_own.uri, db, {"a": [{"_id": i, "pad": "x" * 200} for i in range(3000)],
                             "b": [{"_id": i, "pad": "y" * 200} for i in range(3000)]})
    backups = tmp_path / "backups"
    partials_seen: list[str] = []

    def stop_after_first_collection(p: DumpProgress) -> None:
        if p.collections_done == 1 and not partials_seen:
            partials_seen.extend(f.name for f in backups.glob("*.partial"))
            mongo_own.stop()

    with pytest.raises(BackupError, match=r"connection lost|unreachable") as caught:
        dump(mongo_own.uri, backups, [db], now=NOW, progress=stop_after_first_collection)
    assert partials_seen == ["mongo-20261127T030000Z.archive.gz.partial"]
    one_line_without_secrets(str(caught.value))
    assert isinstance(caught.value.__cause__, PyMongoError), "the driver's error is kept"
    assert list(backups.iterdir()) == []


def test_server_stopped_mid_backup_job(mongo_own: Any, env: dict[str, str],
                                       caplog: pytest.LogCaptureFixture,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    db = unique_db("midjob")
    seed(mongo_own.uri, db, {"a": [{"_id": i, "pad": "x" * 200} for i in range(3000)],
                             "b": [{"_id": i, "pad": "y" * 200} for i in range(3000)]})
    worker = worker_for(env, mongo_own.uri, db)
    report_progress = worker.runner._progress

    def stopping_after_first_collection(job: Job) -> Any:
        report = report_progress(job)

        def progress(p: DumpProgress) -> None:
            report(p)
            if p.collections_done == 1 and mongo_own.proc is not None:
                mongo_own.stop()
        return progress

    monkeypatch.setattr(worker.runner, "_progress", stopping_after_first_collection)
    job = run_job(worker)
    assert job.status == "failed"
    assert "connection lost" in one_line_without_secrets(job.error) or "unreachable" in job.error
    error = failure_logged(caplog, job)
    assert isinstance(error, BackupError) and str(error) == job.error
    assert isinstance(error.__cause__, PyMongoError)
    assert not list(worker.settings.backup_dir.glob("mongo-*"))


def test_disk_full_names_the_disk_and_keeps_older_backups(shared_mongo: Any,
                                                          small_disk: Path) -> None:
    db = unique_db("diskfull")
    seed(shared_mongo.uri, db, {"small": [{"_id": i} for i in range(10)]})
    older = dump(shared_mongo.uri, small_disk, [db], now=NOW)
    before = {p.name: p.read_bytes() for p in small_disk.iterdir()}
    # 3 MiB of random bytes cannot compress below the 2 MiB the disk holds
    seed(shared_mongo.uri, db, {"big": [{"_id": i, "noise": Binary(os.urandom(64 * 1024))}
                                        for i in range(48)]})

    later = datetime(2026, 11, 28, 3, 0, 0, tzinfo=UTC)
    with pytest.raises(BackupError, match="disk full") as caught:
        dump(shared_mongo.uri, small_disk, [db], now=later)
    assert str(small_disk) in str(caught.value)
    assert {p.name: p.read_bytes() for p in small_disk.iterdir()} == before
    assert [e.id for e in list_backups(small_disk)] == [older.id]


def test_a_partial_of_the_same_name_is_left_alone(tmp_path: Path) -> None:
    """Another dump may be writing it: refuse rather than delete its file."""
    partial = tmp_path / "mongo-20261127T030000Z.archive.gz.partial"
    partial.write_bytes(b"being written")
    with pytest.raises(BackupError, match="another backup is being written"):
        dump(f"mongodb://127.0.0.1:{free_port()}/", tmp_path, ["app"], now=NOW)
    assert partial.read_bytes() == b"being written"


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory no one can write to: a read-only tmpfs as root (root ignores modes),
    mode 0555 for anyone else."""
    path = tmp_path / "read-only"
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    with mounted_tmpfs(path, "ro,size=1m"):
        yield path


def test_read_only_backup_directory(shared_mongo: Any, read_only_dir: Path) -> None:
    db = unique_db("readonly")
    seed(shared_mongo.uri, db, {"items": [{"n": i} for i in range(10)]})
    with pytest.raises(BackupError, match="cannot write") as caught:
        dump(shared_mongo.uri, read_only_dir, [db], now=NOW)
    one_line_without_secrets(str(caught.value))
    cause = caught.value.__cause__
    assert isinstance(cause, OSError) and cause.errno in (errno.EROFS, errno.EACCES)
    assert list(read_only_dir.iterdir()) == []


def test_backup_job_in_a_read_only_directory(shared_mongo: Any, env: dict[str, str],
                                             read_only_dir: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    uri = shared_mongo.uri
    worker = worker_for(env, uri, unique_db("readonly"), BACKUP_DIR=str(read_only_dir))
    job = run_job(worker)
    assert job.status == "failed"
    message = one_line_without_secrets(job.error)
    assert message.startswith(f"cannot lock the backup directory {read_only_dir}: ")
    error = failure_logged(caplog, job)
    assert isinstance(error.__cause__, OSError)
    assert error.__cause__.errno in (errno.EROFS, errno.EACCES)
    kinds = [e.kind for e in worker.store.events(0, 2**62, sources=["backup"])]
    assert sorted(kinds) == ["backup_failed", "backup_started"]


def damaged_backup(uri: str, backup_dir: Path) -> tuple[Path, str]:
    """A verified backup with one byte flipped far into its compressed stream (past the
    prelude, which restore reads first to choose the database); and its database."""
    db = unique_db("damaged")
    seed(uri, db, {"items": [{"n": i, "noise": Binary(os.urandom(256))} for i in range(1000)]})
    path = backup_dir / dump(uri, backup_dir, [db], now=NOW).file
    data = path.read_bytes()
    assert len(data) > 200_000, "incompressible: the damage lies far from the prelude"
    path.write_bytes(flip_byte(data, len(data) * 3 // 4))
    return path, db


def test_restore_of_a_damaged_archive_keeps_the_cause(shared_mongo: Any,
                                                      tmp_path: Path) -> None:
    path, db = damaged_backup(shared_mongo.uri, tmp_path)
    with pytest.raises(RestoreError, match="refusing to restore a damaged backup") as caught:
        restore(path, shared_mongo.uri, unique_db("into"), from_db=db)
    one_line_without_secrets(str(caught.value))
    verify_error = caught.value.__cause__
    assert isinstance(verify_error, VerifyError) and "sha256 mismatch" in str(verify_error)
    assert isinstance(verify_error.__cause__, ArchiveError), "where the damage was found"


def test_restore_job_of_a_damaged_archive(shared_mongo: Any, env: dict[str, str],
                                          caplog: pytest.LogCaptureFixture) -> None:
    worker = worker_for(env, shared_mongo.uri, "unused")
    worker.settings.backup_dir.mkdir(parents=True)
    path, db = damaged_backup(shared_mongo.uri, worker.settings.backup_dir)
    job = run_job(worker, "restore", {"backup": path.name, "to_db": unique_db("into"),
                                      "from_db": db})
    assert job.status == "failed"
    assert one_line_without_secrets(job.error).startswith(
        "refusing to restore a damaged backup: ")
    error = failure_logged(caplog, job)
    assert isinstance(error, RestoreError) and isinstance(error.__cause__, VerifyError)


def test_restore_job_against_a_closed_port_hides_the_password(
        shared_mongo: Any, env: dict[str, str], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    db = unique_db("closed")
    seed(shared_mongo.uri, db, {"items": [{"n": 1}]})
    closed = f"mongodb://ops:{PASSWORD}@127.0.0.1:{free_port()}/?authSource=admin"
    worker = worker_for(env, closed, db)
    manifest = dump(shared_mongo.uri, worker.settings.backup_dir, [db], now=NOW)
    job = run_job(worker, "restore", {"backup": manifest.id, "to_db": unique_db("into")})
    assert job.status == "failed"
    assert "ops:***@127.0.0.1" in one_line_without_secrets(job.error)
    error = failure_logged(caplog, job)
    assert isinstance(error, RestoreError) and isinstance(error.__cause__, ConnectionFailure)


def test_server_stopped_mid_restore(mongo_own: Any, tmp_path: Path) -> None:
    db = unique_db("midrestore")
    seed(mongo_own.uri, db, {"a": [{"_id": i, "pad": "x" * 200} for i in range(3000)],
                             "b": [{"_id": i, "pad": "y" * 200} for i in range(3000)]})
    manifest = dump(mongo_own.uri, tmp_path, [db], now=NOW)

    def stop_after_first_collection(p: RestoreProgress) -> None:
        if p.collections_done == 1 and mongo_own.proc is not None:
            mongo_own.stop()

    with pytest.raises(RestoreError, match=r"restore into .* failed") as caught:
        restore(tmp_path / manifest.file, mongo_own.uri, unique_db("into"),
                progress=stop_after_first_collection)
    one_line_without_secrets(str(caught.value))
    assert isinstance(caught.value.__cause__, PyMongoError)


def test_unreadable_manifest_fails_verify_and_not_restore(shared_mongo: Any, env: dict[str, str],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    db = unique_db("manifest")
    seed(shared_mongo.uri, db, {"items": [{"n": i} for i in range(20)]})
    worker = worker_for(env, shared_mongo.uri, db)
    manifest = dump(shared_mongo.uri, worker.settings.backup_dir, [db], now=NOW)
    (worker.settings.backup_dir / (manifest.file + ".json")).write_text("{ not json")

    job = run_job(worker, "verify", {"backup": manifest.id})
    assert job.status == "failed"
    assert "unreadable manifest" in one_line_without_secrets(job.error)
    error = failure_logged(caplog, job)
    assert isinstance(error, VerifyError) and isinstance(error.__cause__, ValueError)

    into = unique_db("into")
    report = restore(worker.settings.backup_dir / manifest.file, shared_mongo.uri, into)
    assert report.documents_total == 20, "the archive alone is enough to restore"
    assert any("restoring without the manifest" in r.getMessage() for r in caplog.records)
