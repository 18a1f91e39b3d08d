"""Backups that survive the host: copies to a real S3 API (moto's server on 127.0.0.1)
and a real sshd, made by the collector's job worker after each backup, read back before
they count, kept per target for BACKUP_COPY_RETENTION_DAYS, retried with backoff when the
target is down, found and copied again when damaged at the target, fetched back and
restored when the local file is gone - plain and age-encrypted (decrypted by Debian's
`age` too)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bson import Binary

from collector.worker import JobWorker
from ops.alerts.rules import DEFAULT_RULES
from ops.alerts.watch import AlertWatch
from ops.backup.catalogue import list_backups
from ops.backup.dump import dump
from ops.config import Settings, load_settings
from ops.copies import records
from ops.copies.copier import fetch, remote_backups
from ops.copies.run import copy_everywhere
from ops.copies.targets import CopyError, open_target, shown
from ops.snapshot import read_snapshot
from ops.storage import Job
from ops.storage import alerts as alert_records
from ops.web.prometheus import exposition, read_backup_facts
from tests.backup_data import raw_documents, seed, unique_db
from tests.s3_server import CREDENTIALS, S3Server
from tests.servers import wait_until
from tests.sftp_server import SftpServer
from tests.test_backup_jobs import start_collector
from tests.test_cli import run_ops


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    server = S3Server(tmp_path / "s3")
    server.start()
    yield server
    server.stop()


def settings_for(env: dict[str, str], uri: str, urls: str, **extra: str) -> Settings:
    return load_settings({**env, **CREDENTIALS, "MONGO_URI": uri, "ENABLE_AUTO_BACKUP": "false",
                          "BACKUP_COPY_URLS": urls, **extra}, env_file=None)


def environ(settings_env: dict[str, str]) -> dict[str, str]:
    return {**settings_env, **CREDENTIALS}


def backup_now(worker: JobWorker) -> tuple[Job, Job]:
    """Backup now as the page asks, then the copy job the backup queued."""
    worker.store.request_job("backup", "admin", worker.runner.now_ms())
    backup = worker.run_pending()
    assert backup is not None and backup.status == "ok", backup
    copy = worker.run_pending()
    assert copy is not None and copy.kind == "copy", copy
    return backup, copy


def objects(server: S3Server, bucket: str) -> dict[str, bytes]:
    client = server.client()
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            for o in listed}


def shop(uri: str, documents: int = 40, blob: int = 0) -> str:
    name = unique_db("shop")
    seed(uri, name, {"orders": [{"_id": i, "n": i, "blob": Binary(os.urandom(blob))}
                                for i in range(documents)]})
    return name


def test_each_backup_is_copied_read_back_and_listed_with_its_copies(
        s3: S3Server, shared_mongo: Any, env: dict[str, str]) -> None:
    db = shop(shared_mongo.uri, documents=12, blob=1 << 20)  # ~12 MB: a multipart upload
    bucket = s3.bucket("ops-backups")
    url = s3.url(bucket, "nightly")
    settings = settings_for(env, shared_mongo.uri, url, BACKUP_DATABASES=db)
    worker = JobWorker(settings)

    _, copy = backup_now(worker)

    assert copy.status == "ok", copy.error
    [entry] = list_backups(settings.backup_dir)
    stored = objects(s3, bucket)
    assert sorted(stored) == [f"nightly/{entry.file.name}", f"nightly/{entry.file.name}.json"]
    assert stored[f"nightly/{entry.file.name}"] == entry.file.read_bytes()
    assert entry.size_bytes > 8 << 20
    [record] = records.records_of(worker.store, entry.id)
    assert (record.target, record.status, record.size) == (shown(url), "good", entry.size_bytes)
    assert record.sha256 == hashlib.sha256(entry.file.read_bytes()).hexdigest()
    listed = json.loads(run_ops(environ(env_of(settings, env)), "backups", "--json").stdout)
    assert [(c["target"], c["status"]) for c in listed[0]["copies"]] == [(shown(url), "good")]
    remote = run_ops(environ(env_of(settings, env)), "backups", "--remote")
    assert remote.returncode == 0, remote.stderr
    assert f"{shown(url)}: 1 backups" in remote.stdout and "complete" in remote.stdout
    assert "ops-test-secret" not in remote.stdout + remote.stderr
    kinds = [e.kind for e in worker.store.events(0, 2**62, sources=["backup"])]
    assert "copy_ok" in kinds
    now = worker.runner.now_ms()
    scraped = exposition(read_snapshot(worker.store, now), settings,
                         read_backup_facts(worker.store, settings, now)).decode()
    [line] = [line for line in scraped.splitlines() if line.startswith(
        f'ops_backup_copy_last_success_timestamp_seconds{{target="{shown(url)}"}} ')]
    assert float(line.rsplit(" ", 1)[1]) == record.ts / 1000


def env_of(settings: Settings, env: dict[str, str]) -> dict[str, str]:
    """The settings a command run needs to see the same store, backups and targets."""
    return {**env, "MONGO_URI": settings.mongo_uri.reveal() if settings.mongo_uri else "",
            "BACKUP_COPY_URLS": ",".join(settings.backup_copy_urls or []),
            "BACKUP_DATABASES": ",".join(settings.backup_databases or [])}


def test_a_lost_host_restores_from_the_copy(s3: S3Server, shared_mongo: Any,
                                            env: dict[str, str]) -> None:
    db = shop(shared_mongo.uri)
    bucket = s3.bucket("offsite")
    settings = settings_for(env, shared_mongo.uri, s3.url(bucket), BACKUP_DATABASES=db)
    backup_now(JobWorker(settings))
    [entry] = list_backups(settings.backup_dir)
    shutil.rmtree(settings.backup_dir)  # the disk is gone; the copy is all there is
    target = unique_db("shop_back")

    result = run_ops(environ(env_of(settings, env)), "restore", entry.id, "--to-db", target)

    assert result.returncode == 0, result.stderr
    assert "fetching it from the copies" in result.stderr
    assert raw_documents(shared_mongo.uri, target, "orders") == \
        raw_documents(shared_mongo.uri, db, "orders")
    [back] = list_backups(settings.backup_dir)  # fetched back: a local backup again
    assert back.id == entry.id and back.ok and oct(back.file.stat().st_mode & 0o777) == "0o600"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_target_down_is_retried_with_backoff_and_the_local_backup_stays_good(
        s3: S3Server, shared_mongo: Any, env: dict[str, str]) -> None:
    db = shop(shared_mongo.uri)
    bucket = s3.bucket("flaky")
    settings = settings_for(env, shared_mongo.uri, s3.url(bucket), BACKUP_DATABASES=db)
    clock = Clock()
    worker = JobWorker(settings, clock)
    s3.stop()

    backup, copy = backup_now(worker)

    assert backup.status == "ok" and copy.status == "failed"
    assert copy.error is not None and "\n" not in copy.error and shown(s3.url(bucket)) in \
        copy.error
    [entry] = list_backups(settings.backup_dir)
    assert entry.ok
    [record] = records.records_of(worker.store, entry.id)
    assert record.status == "failed" and record.attempts == 1
    assert record.retry_ts == record.ts + 60_000
    assert copy_alerts(settings, worker) == [
        f"copy to {shown(s3.url(bucket))} failed: {entry.id}: {record.error}"]
    assert worker.run_pending() is None  # not before its time
    s3.start()
    s3.bucket("flaky")  # moto starts empty
    clock.now += timedelta(minutes=2)
    retried = worker.run_pending()
    assert retried is not None and retried.kind == "copy" and retried.status == "ok"
    [record] = records.records_of(worker.store, entry.id)
    assert record.status == "good" and record.error is None
    assert copy_alerts(settings, worker) == []


def copy_alerts(settings: Settings, worker: JobWorker) -> list[str]:
    """What the collector's alert watch has firing for copies, after a few samples."""
    watch = AlertWatch(worker.store, settings, DEFAULT_RULES, lambda *args: 1)
    for _ in range(3):
        watch.after_tick(worker.runner.now_ms(), {"mongo_up": 1}, {})
    return [a.message for a in alert_records.firing(worker.store)
            if a.rule == "backup_copy_failed"]


def test_wrong_or_missing_credentials_are_one_line_without_a_secret(
        s3: S3Server, shared_mongo: Any, env: dict[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    db = shop(shared_mongo.uri)
    settings = settings_for(env, shared_mongo.uri, s3.url(s3.bucket("creds")),
                            BACKUP_DATABASES=db)
    dump(shared_mongo.uri, settings.backup_dir, [db])
    [entry] = list_backups(settings.backup_dir)
    for name in CREDENTIALS:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    worker = JobWorker(settings)

    [record] = copy_everywhere(settings, worker.store, entry, worker.runner.now_ms)

    assert record.status == "failed" and record.error is not None
    assert "no credentials" in record.error and "\n" not in record.error
    # A wrong endpoint port: refused, said in one line naming the target only.
    bad = "s3://creds/?endpoint=http://127.0.0.1:1&addressing=path"
    with pytest.raises(CopyError) as refused:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONG")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
        open_target(bad, settings).list()
    assert "\n" not in str(refused.value) and "very-secret-value" not in str(refused.value)
    assert str(refused.value).startswith("s3://creds/: listing failed")


def test_a_copy_damaged_at_the_target_is_found_and_copied_again(
        s3: S3Server, shared_mongo: Any, env: dict[str, str]) -> None:
    db = shop(shared_mongo.uri)
    bucket = s3.bucket("rot")
    settings = settings_for(env, shared_mongo.uri, s3.url(bucket), BACKUP_DATABASES=db)
    clock = Clock()
    worker = JobWorker(settings, clock)
    backup_now(worker)
    [entry] = list_backups(settings.backup_dir)
    key = entry.file.name
    damaged = bytearray(entry.file.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    s3.client().put_object(Bucket=bucket, Key=key, Body=bytes(damaged))

    clock.now += timedelta(hours=25)  # the daily read-back is due
    again = worker.run_pending()

    assert again is not None and again.kind == "copy" and again.status == "ok", again
    assert objects(s3, bucket)[key] == entry.file.read_bytes()
    kinds = [e.kind for e in worker.store.events(0, 2**62, sources=["backup"])]
    assert "copy_damaged" in kinds


def test_retention_per_target_keeps_the_newest_good_copy_and_foreign_files(
        s3: S3Server, shared_mongo: Any, env: dict[str, str]) -> None:
    db = shop(shared_mongo.uri, documents=3)
    bucket = s3.bucket("kept")
    url = s3.url(bucket, "p")
    settings = settings_for(env, shared_mongo.uri, url, BACKUP_DATABASES=db,
                            BACKUP_COPY_RETENTION_DAYS="3")
    client = s3.client()
    client.put_object(Bucket=bucket, Key="p/notes.txt", Body=b"the admin's own")
    client.put_object(Bucket=bucket, Key="p/mongo-20200101T000000Z.archive.gz.bak", Body=b"x")
    now = datetime.now(UTC)
    worker = JobWorker(settings)
    for days_ago in (10, 5, 1, 0):
        made = dump(shared_mongo.uri, settings.backup_dir, [db],
                    now=now - timedelta(days=days_ago))
        entry = next(e for e in list_backups(settings.backup_dir) if e.id == made.id)
        copy_everywhere(settings, worker.store, entry, worker.runner.now_ms)

    held = sorted(b.id for b in remote_backups(open_target(url, settings)))
    assert len(held) == 2  # 1 and 0 days old; 5 and 10 pruned
    assert set(objects(s3, bucket)) >= {"p/notes.txt", "p/mongo-20200101T000000Z.archive.gz.bak"}
    assert [r.backup for r in records.all_records(worker.store)] == held


def test_encrypted_copies_decrypt_with_age_and_restore_every_document(
        s3: S3Server, shared_mongo: Any, env: dict[str, str], tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key_file)], check=True, capture_output=True)
    public = next(line.split(": ")[1] for line in key_file.read_text().splitlines()
                  if line.startswith("# public key"))
    db = shop(shared_mongo.uri, documents=30, blob=2000)
    bucket = s3.bucket("sealed")
    settings = settings_for(env, shared_mongo.uri, s3.url(bucket), BACKUP_DATABASES=db,
                            BACKUP_COPY_ENCRYPT_TO=public)
    backup_now(JobWorker(settings))
    [entry] = list_backups(settings.backup_dir)
    stored = objects(s3, bucket)
    sealed = stored[entry.file.name + ".age"]
    assert sealed.startswith(b"age-encryption.org/v1\n")
    (tmp_path / "copy.age").write_bytes(sealed)
    opened = subprocess.run(["age", "-d", "-i", str(key_file), str(tmp_path / "copy.age")],
                            check=True, capture_output=True).stdout
    assert opened == entry.file.read_bytes()  # without this tool

    shutil.rmtree(settings.backup_dir)
    target = unique_db("sealed_back")
    without_key = run_ops(environ(env_of(settings, env)), "restore", entry.id, "--to-db", target)
    assert without_key.returncode == 1
    assert without_key.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "BACKUP_COPY_IDENTITY_FILE" in without_key.stderr
    assert not list(settings.backup_dir.glob("*.partial"))
    restored = run_ops({**environ(env_of(settings, env)),
                        "BACKUP_COPY_IDENTITY_FILE": str(key_file)},
                       "restore", entry.id, "--to-db", target)
    assert restored.returncode == 0, restored.stderr
    assert raw_documents(shared_mongo.uri, target, "orders") == \
        raw_documents(shared_mongo.uri, db, "orders")


def test_a_collector_killed_mid_copy_lists_no_good_copy_and_resumes(
        s3: S3Server, shared_mongo: Any, env: dict[str, str], tmp_path: Path) -> None:
    db = shop(shared_mongo.uri, documents=40, blob=1 << 20)  # ~40 MB: a copy that takes time
    bucket = s3.bucket("killed")
    settings = settings_for(env, shared_mongo.uri, s3.url(bucket), BACKUP_DATABASES=db)
    dump(shared_mongo.uri, settings.backup_dir, [db])
    [entry] = list_backups(settings.backup_dir)
    run_env = {**environ(env_of(settings, env)), "ENABLE_AUTO_BACKUP": "false",
               "SAMPLE_INTERVAL_SECONDS": "1"}
    store = JobWorker(settings).store
    collector = start_collector(run_env, tmp_path / "collector.log")
    try:
        wait_until(lambda: any(r.status == "copying" for r in records.all_records(store)),
                   "the copy to start")
        collector.send_signal(signal.SIGKILL)
        collector.wait(30)
    finally:
        if collector.poll() is None:
            collector.kill()
    assert not any(b.complete for b in remote_backups(open_target(s3.url(bucket), settings)))
    assert [r.status for r in records.all_records(store)] == ["copying"]

    collector = start_collector(run_env, tmp_path / "collector.log")
    try:
        wait_until(lambda: [r.status for r in records.all_records(store)] == ["good"],
                   "the copy to be made again")
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(30) == 0
    assert objects(s3, bucket)[entry.file.name] == entry.file.read_bytes()


def test_copies_go_to_s3_and_sftp_and_the_sftp_one_restores_when_all_else_is_lost(
        s3: S3Server, shared_mongo: Any, env: dict[str, str], tmp_path: Path) -> None:
    db = shop(shared_mongo.uri, documents=25, blob=500)
    with SftpServer(tmp_path / "sshd") as sftp:
        both = f"{s3.url(s3.bucket('two'))},{sftp.url(str(tmp_path / 'vault'))}"
        keys = {"BACKUP_COPY_SSH_KEY_FILE": str(sftp.key_file),
                "BACKUP_COPY_KNOWN_HOSTS_FILE": str(sftp.known_hosts)}
        settings = settings_for(env, shared_mongo.uri, both, BACKUP_DATABASES=db, **keys)
        _, copy = backup_now(JobWorker(settings))
        assert copy.status == "ok", copy.error
        [entry] = list_backups(settings.backup_dir)
        assert sorted(p.name for p in (tmp_path / "vault").iterdir()) == [
            entry.file.name, entry.file.name + ".json"]
        assert (tmp_path / "vault" / entry.file.name).read_bytes() == entry.file.read_bytes()
        listed = run_ops({**environ(env_of(settings, env)), **keys}, "backups")
        assert "2/2 good" in listed.stdout

        shutil.rmtree(settings.backup_dir)
        s3.stop()  # the bucket is gone too: the sftp copy is the last one
        target = unique_db("from_sftp")
        result = run_ops({**environ(env_of(settings, env)), **keys}, "restore", entry.id,
                         "--to-db", target)
    assert result.returncode == 0, result.stderr
    assert raw_documents(shared_mongo.uri, target, "orders") == \
        raw_documents(shared_mongo.uri, db, "orders")


def test_fetch_takes_backup_ids_only_and_leaves_another_fetch_alone(
        s3: S3Server, shared_mongo: Any, env: dict[str, str]) -> None:
    db = shop(shared_mongo.uri, documents=3)
    settings = settings_for(env, shared_mongo.uri, s3.url(s3.bucket("fetching")),
                            BACKUP_DATABASES=db)
    backup_now(JobWorker(settings))
    [entry] = list_backups(settings.backup_dir)
    target = open_target(s3.url("fetching"), settings)
    with pytest.raises(CopyError, match="is not a backup id"):
        fetch(target, "../../etc/passwd", settings.backup_dir, None)
    shutil.rmtree(settings.backup_dir)
    settings.backup_dir.mkdir(mode=0o700)
    partial = settings.backup_dir / (entry.file.name + ".partial")
    partial.write_bytes(b"another fetch is writing this")
    with pytest.raises(CopyError, match="cannot create"):
        fetch(target, entry.id, settings.backup_dir, None)
    assert partial.read_bytes() == b"another fetch is writing this"
