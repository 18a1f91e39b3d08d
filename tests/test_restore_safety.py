"""Nothing lost, whatever happens: a restore that drops a database holding collections
first writes and verifies a safety backup of exactly that database (a catalogue entry like
any other, its manifest saying why); when that backup cannot be written, the restore is
refused with one line and nothing is dropped. Against the MongoDB stand-in, through the
restore itself, the collector's JobWorker (a job queued as the Backups page queues it)
and the `python -m ops restore` command."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bson import Binary

from collector.worker import JobWorker
from ops.backup.catalogue import BackupEntry, databases_in, list_backups
from ops.backup.dump import dump
from ops.backup.errors import RestoreError
from ops.backup.jobs import SafetyBackup
from ops.backup.restore import RestoreReport, restore
from ops.backup.verify import verify
from ops.config import Settings, load_settings
from ops.storage import Job
from ops.views.backups import describe_job
from tests.backup_data import ARABIC, raw_documents, seed, unique_db
from tests.conftest import mounted_tmpfs
from tests.test_cli import run_ops

SAFETY_LINE = re.compile(r"safety backup (mongo-\d{8}T\d{6}Z) written before dropping (\S+)")


def settings_for(env: dict[str, str], uri: str, backup_dir: Path | None = None) -> Settings:
    extra = {"BACKUP_DIR": str(backup_dir)} if backup_dir is not None else {}
    return load_settings({**env, "MONGO_URI": uri, "ENABLE_AUTO_BACKUP": "false", **extra},
                         env_file=None)


def queue_and_run(worker: JobWorker, params: dict[str, Any]) -> Job:
    """A restore job as the Backups page queues it, run by the collector's worker."""
    job, _ = worker.store.request_job("restore", "admin", 0, params, join=False)
    finished = worker.run_pending()
    assert finished is not None and finished.id == job.id
    return finished


def contents(uri: str, db: str, collections: list[str]) -> dict[str, list[bytes]]:
    return {name: raw_documents(uri, db, name) for name in collections}


def old_and_new(uri: str, backup_dir: Path) -> tuple[str, str]:
    """A target database holding the admin's data, and a backup of another database."""
    target, source = unique_db("alaweal_db"), unique_db("other")
    seed(uri, target, {"orders": [{"_id": i, "customer": f"{ARABIC} {i}"} for i in range(40)],
                       "users": [{"_id": f"u{i}", "email": f"u{i}@example.com"}
                                 for i in range(7)]})
    seed(uri, source, {"orders": [{"_id": i, "wrong": True} for i in range(5)]})
    return target, dump(uri, backup_dir, [source]).id


def errors_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " INFO " not in line]


def safety_entries(backup_dir: Path) -> list[BackupEntry]:
    return [e for e in list_backups(backup_dir)
            if e.manifest is not None and e.manifest.reason is not None]


def test_the_old_data_is_backed_up_before_the_drop_and_can_be_brought_back(
        shared_mongo: Any, env: dict[str, str], tmp_path: Path) -> None:
    uri = shared_mongo.uri
    settings = settings_for(env, uri, tmp_path / "backups")
    target, backup = old_and_new(uri, settings.backup_dir)
    old = contents(uri, target, ["orders", "users"])
    seen_before_writing: list[tuple[list[BackupEntry], dict[str, list[bytes]]]] = []

    def before_writing(report: RestoreReport) -> None:
        seen_before_writing.append((safety_entries(settings.backup_dir),
                                    contents(uri, target, ["orders", "users"])))

    safety = SafetyBackup(settings, uri, backup, now=lambda: datetime.now(UTC),
                          waiting=lambda: None)
    report = restore(settings.backup_dir / f"{backup}.archive.gz", uri, target, drop=True,
                     before_writing=before_writing, safety_backup=safety)

    # Before the first write, the catalogue already listed the safety backup, and the
    # target still held the old data.
    [(listed, held)] = seen_before_writing
    assert held == old
    [entry] = listed
    assert report.safety_backup == entry.id and report.dropped == ["orders", "users"]
    assert entry.manifest is not None
    assert entry.manifest.reason == f"before restore of {backup} into {target}"
    assert entry.ok and entry.verified and databases_in(entry) == [target]
    assert verify(entry.file, entry.manifest).documents_total == 47
    assert raw_documents(uri, target, "orders") != old["orders"]

    # Restoring the safety backup brings every old document back: nothing was lost.
    again = restore(entry.file, uri, target, drop=True, safety_backup=safety)
    assert contents(uri, target, ["orders", "users"]) == old
    assert again.safety_backup is not None and again.safety_backup != entry.id


def test_no_safety_backup_when_nothing_is_dropped(shared_mongo: Any, env: dict[str, str],
                                                  tmp_path: Path) -> None:
    uri = shared_mongo.uri
    settings = settings_for(env, uri, tmp_path / "backups")
    _, backup = old_and_new(uri, settings.backup_dir)
    worker = JobWorker(settings)
    job = queue_and_run(worker, {"backup": backup, "to_db": unique_db("fresh"), "drop": True})
    assert job.status == "ok", job.error
    assert (job.result or {})["safety_backup"] is None
    assert [e.id for e in list_backups(settings.backup_dir)] == [backup]


def test_the_worker_runs_a_queued_restore_after_its_safety_backup(
        shared_mongo: Any, env: dict[str, str], tmp_path: Path) -> None:
    uri = shared_mongo.uri
    settings = settings_for(env, uri, tmp_path / "backups")
    target, backup = old_and_new(uri, settings.backup_dir)
    old = contents(uri, target, ["orders", "users"])
    worker = JobWorker(settings)

    job = queue_and_run(worker, {"backup": backup, "to_db": target, "drop": True})
    assert job.status == "ok", job.error
    result = job.result or {}
    [entry] = safety_entries(settings.backup_dir)
    assert result["safety_backup"] == entry.id and result["dropped"] == ["orders", "users"]
    assert (job.progress or {})["message"] == \
        f"safety backup {entry.id} written before dropping {target}"
    assert f"; safety backup {entry.id} holds what was there before" in describe_job(job)
    events = {e.kind: e.message for e in worker.store.events(0, 2**62, sources=["backup"])}
    assert events["restore_safety_backup"] == \
        f"safety backup {entry.id} written before dropping {target} (restore of {backup})"
    assert f"safety backup {entry.id} written before dropping {target}" in \
        (events["restore_ok"] or "")

    # The safety backup is a backup like the others: the same job restores it back.
    back = queue_and_run(worker, {"backup": entry.id, "to_db": target, "drop": True})
    assert back.status == "ok", back.error
    assert contents(uri, target, ["orders", "users"]) == old


def fill_target(uri: str, target: str) -> None:
    """3 MiB of random bytes: no gzip brings that under the 2 MiB of `small_disk`."""
    seed(uri, target, {"noise": [{"_id": i, "noise": Binary(os.urandom(64 * 1024))}
                                 for i in range(48)]})


def test_a_safety_backup_on_a_full_disk_refuses_the_restore(
        shared_mongo: Any, env: dict[str, str], small_disk: Path) -> None:
    uri = shared_mongo.uri
    settings = settings_for(env, uri, small_disk)
    target, backup = old_and_new(uri, small_disk)
    fill_target(uri, target)
    old = contents(uri, target, ["orders", "users", "noise"])
    before = sorted(p.name for p in small_disk.glob("mongo-*"))
    worker = JobWorker(settings)

    job = queue_and_run(worker, {"backup": backup, "to_db": target, "drop": True})
    assert job.status == "failed"
    assert job.error is not None and "\n" not in job.error
    assert job.error.startswith(f"refusing to drop {target}: its safety backup failed "
                                "(disk full"), job.error
    assert job.error.endswith("nothing was dropped")
    assert contents(uri, target, ["orders", "users", "noise"]) == old
    assert sorted(p.name for p in small_disk.glob("mongo-*")) == before, "no partial file left"

    done = run_ops({**env, "MONGO_URI": uri, "BACKUP_DIR": str(small_disk)}, "restore",
                   backup, "--to-db", target, "--drop")
    assert done.returncode == 1
    [line] = errors_of(done.stderr)  # besides the log's INFO lines
    assert line.startswith(f"error: refusing to drop {target}: its safety backup failed "
                           "(disk full"), done.stderr
    assert "safety backup mongo-" not in done.stdout
    assert contents(uri, target, ["orders", "users", "noise"]) == old
    assert sorted(p.name for p in small_disk.glob("mongo-*")) == before


@pytest.fixture
def read_only_backups(tmp_path: Path) -> Iterator[Path]:
    """A BACKUP_DIR nobody can write to, root included: a read-only tmpfs."""
    path = tmp_path / "read-only"
    path.mkdir()
    with mounted_tmpfs(path, "ro,size=1m"):
        yield path


def test_an_unwritable_backup_dir_refuses_the_restore(
        shared_mongo: Any, env: dict[str, str], tmp_path: Path,
        read_only_backups: Path) -> None:
    uri = shared_mongo.uri
    elsewhere = tmp_path / "elsewhere"
    target, backup = old_and_new(uri, elsewhere)
    old = contents(uri, target, ["orders", "users"])
    archive = str(elsewhere / f"{backup}.archive.gz")

    worker = JobWorker(settings_for(env, uri, read_only_backups))
    job = queue_and_run(worker, {"backup": archive, "to_db": target, "drop": True})
    assert job.status == "failed" and job.error is not None and "\n" not in job.error
    assert job.error.startswith(f"refusing to drop {target}: its safety backup failed"), \
        job.error
    assert contents(uri, target, ["orders", "users"]) == old

    done = run_ops({**env, "MONGO_URI": uri, "BACKUP_DIR": str(read_only_backups)},
                   "restore", archive, "--to-db", target, "--drop")
    assert done.returncode == 1
    errors = errors_of(done.stderr)
    assert len(errors) == 1 and errors[0].startswith(
        f"error: refusing to drop {target}: its safety backup failed"), done.stderr
    assert contents(uri, target, ["orders", "users"]) == old
    assert not list(read_only_backups.iterdir())


def test_the_restore_command_names_its_safety_backup(shared_mongo: Any, env: dict[str, str],
                                                     tmp_path: Path) -> None:
    uri = shared_mongo.uri
    backups = tmp_path / "backups"
    target, backup = old_and_new(uri, backups)
    old = contents(uri, target, ["orders", "users"])
    environ = {**env, "MONGO_URI": uri, "BACKUP_DIR": str(backups)}

    done = run_ops(environ, "restore", backup, "--to-db", target, "--drop")
    assert done.returncode == 0, done.stderr
    match = SAFETY_LINE.search(done.stdout)
    assert match is not None and match.group(2) == target, done.stdout
    safety_id = match.group(1)
    assert done.stdout.index(safety_id) < done.stdout.index("restored "), "said before"

    listed = {b["id"]: b for b in json.loads(run_ops(environ, "backups", "--json").stdout)}
    assert listed[safety_id]["reason"] == f"before restore of {backup} into {target}"
    assert listed[safety_id]["databases"] == [target] and listed[safety_id]["verified"]
    assert run_ops(environ, "verify", safety_id).returncode == 0

    back = run_ops(environ, "restore", safety_id, "--to-db", target, "--drop")
    assert back.returncode == 0, back.stderr
    assert contents(uri, target, ["orders", "users"]) == old


def test_a_restore_that_fails_after_the_drop_names_the_safety_backup(
        shared_mongo: Any, env: dict[str, str], tmp_path: Path) -> None:
    """Any failure once the safety backup exists (here the hook that runs just before the
    first write) says in its one line where the old data is."""
    uri = shared_mongo.uri
    settings = settings_for(env, uri, tmp_path / "backups")
    target, backup = old_and_new(uri, settings.backup_dir)

    def failing_after_the_safety_backup(report: RestoreReport) -> None:
        raise RestoreError("the server went away")

    safety = SafetyBackup(settings, uri, backup, now=lambda: datetime.now(UTC),
                          waiting=lambda: None)
    with pytest.raises(RestoreError) as caught:
        restore(settings.backup_dir / f"{backup}.archive.gz", uri, target, drop=True,
                before_writing=failing_after_the_safety_backup, safety_backup=safety)
    [entry] = safety_entries(settings.backup_dir)
    assert str(caught.value) == (f"the server went away; what {target} held before is in "
                                 f"safety backup {entry.id} (restore it with --drop to bring "
                                 "it back)")


def test_a_safety_backup_is_not_the_last_daily_backup(shared_mongo: Any, env: dict[str, str],
                                                      tmp_path: Path) -> None:
    """After a restore with drop, the newest good file is a one-database safety backup:
    the schedule's catch-up, the Overview, /metrics and retention still go by the daily
    backup, so a night without one is caught up and alerted on."""
    from ops.views.backups import summary

    uri = shared_mongo.uri
    settings = settings_for(env, uri, tmp_path / "backups")
    target = unique_db("alaweal_db")
    seed(uri, target, {"orders": [{"_id": i, "customer": f"{ARABIC} {i}"} for i in range(5)]})
    daily = dump(uri, settings.backup_dir, [target], now=datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    worker = JobWorker(settings)
    job = queue_and_run(worker, {"backup": daily.id, "to_db": target, "drop": True})
    assert job.status == "ok", job.error
    [safety] = safety_entries(settings.backup_dir)
    newest = list_backups(settings.backup_dir)[0]
    assert newest.id == safety.id and newest.ok and not newest.good_daily

    worker._catch_up()  # the last scheduled time passed days after the daily backup
    assert [j.requested_by for j in worker.store.jobs("backup")] == ["catch-up"]
    assert [e.id for e in list_backups(settings.backup_dir) if e.good_daily] == [daily.id]
    shown = summary(settings, worker.store)
    assert shown.last is not None and shown.last.id == safety.id, "the newest file, as it is"
    assert shown.last_good is not None and shown.last_good.id == daily.id
