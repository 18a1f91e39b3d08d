"""Attacks on backup jobs: a restore aimed at MongoDB's own databases, and storms of
Backup now.

Against a real MongoDB stand-in, real SQLite, the real page (streamlit's AppTest), real
`python -m ops` processes and a real collector process. A restore into admin, local or
config (any spelling) is refused by the page before anything is queued, by the command
with exit status 2, and by the job itself when a row is queued straight into the store;
the system databases are compared before and after. Twenty requests from threads and
processes while a real collector runs make one backup, no failed job and no
backup_failed alert; backups forced in the same second get distinct names.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from streamlit.testing.v1 import AppTest

from collector.worker import JobWorker
from ops.backup.catalogue import list_backups
from ops.backup.dump import dump
from ops.backup.requests import request_backup_job
from ops.backup.verify import verify
from ops.clock import now_ms
from ops.config import SYSTEM_DATABASES, Settings, load_settings
from ops.storage import Heartbeat, Store
from ops.storage import alerts as records
from tests.backup_data import seed, unique_db
from tests.servers import wait_until
from tests.test_pages import app_for as page_app

ROOT = Path(__file__).resolve().parents[1]
SPELLINGS = ["admin", "Admin", "ADMIN", "local", "LOCAL", "config", "Config", " admin",
             "ａｄｍｉｎ"]  # the last: fullwidth letters, NFKC-equal to admin


def run_ops(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT,
                          env={**os.environ, **environ}, capture_output=True, text=True,
                          timeout=120, check=False)


def drain(worker: JobWorker) -> list[Any]:
    finished = []
    while (job := worker.run_pending()) is not None:
        finished.append(job)
    return finished


def backup_events(store: Store) -> list[str]:
    return [e.kind for e in reversed(store.events(0, 2**62, sources=["backup"]))]


def app_for(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> AppTest:
    """The Backups page as the dashboard runs it, with only these settings."""
    app = page_app(monkeypatch, environ, "pages/backups.py")
    assert not app.exception, app.exception
    return app


# --- 2. restore targets -----------------------------------------------------------------


def system_state(uri: str) -> dict[str, Any]:
    """Every collection and document of admin, local and config, and the database names
    (a case variant of admin created by a restore would show there)."""
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        state: dict[str, Any] = {"databases": sorted(client.list_database_names())}
        for name in SYSTEM_DATABASES:
            db = client[name]
            state[name] = {c: sorted(db[c].find(), key=str)
                           for c in sorted(db.list_collection_names())}
    return state


@pytest.fixture
def stack(env: dict[str, str], mongo_own: Any) -> tuple[dict[str, str], Settings, str]:
    """A MongoDB of the test's own with a marker in each system database (what a drop
    would destroy), a customer database, and a real backup of it in the catalogue."""
    with MongoClient(mongo_own.uri, serverSelectionTimeoutMS=5000) as client:
        for name in SYSTEM_DATABASES:
            client[name]["ops_marker"].insert_one({"_id": 1, "keep": f"{name} stays"})
    seed(mongo_own.uri, "shop", {"orders": [{"_id": i, "total": i * 2.5} for i in range(40)]})
    environ = {**env, "MONGO_URI": mongo_own.uri, "BACKUP_DATABASES": "shop",
               "ENABLE_AUTO_BACKUP": "false"}
    settings = load_settings(environ, env_file=None)
    manifest = dump(mongo_own.uri, settings.backup_dir, ["shop"])
    return environ, settings, manifest.id


def test_the_restore_command_refuses_every_spelling_of_a_system_database(
        stack: tuple[dict[str, str], Settings, str], mongo_own: Any) -> None:
    environ, _, backup = stack
    before = system_state(mongo_own.uri)
    for name in SPELLINGS:
        done = run_ops(environ, "restore", backup, "--to-db", name, "--drop")
        assert done.returncode == 2, (name, done.stderr)
        [line] = done.stderr.strip().splitlines()
        assert line.startswith(f"error: refusing to restore into {name!r}: admin, local and "
                               "config are MongoDB's own databases"), line
    assert system_state(mongo_own.uri) == before
    control = run_ops(environ, "restore", backup, "--to-db", "shop_copy")
    assert control.returncode == 0, control.stderr  # the same command restores elsewhere


def test_a_restore_job_queued_straight_into_the_store_is_refused(
        stack: tuple[dict[str, str], Settings, str], mongo_own: Any) -> None:
    _, settings, backup = stack
    before = system_state(mongo_own.uri)
    worker = JobWorker(settings)
    for name in ("admin", "CONFIG", "Local"):
        worker.store.request_job("restore", "someone with the store", now_ms(),
                                 {"backup": backup, "to_db": name, "drop": True}, join=False)
    finished = drain(worker)
    assert [job.status for job in finished] == ["failed"] * 3
    assert all(job.error.startswith(f"refusing to restore into {job.params['to_db']!r}")
               for job in finished), [job.error for job in finished]
    assert backup_events(worker.store) == ["restore_failed"] * 3, "refused before it started"
    assert system_state(mongo_own.uri) == before


def test_the_restore_form_refuses_before_queueing(
        stack: tuple[dict[str, str], Settings, str], mongo_own: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    environ, settings, backup = stack
    before = system_state(mongo_own.uri)
    store = Store(settings.database_path)
    app = app_for(monkeypatch, environ)
    for name in ("Admin", "config", "ａｄｍｉｎ"):
        app.text_input(key="restore_target").input(name)
        app.text_input(key="restore_confirm").input(name)
        app.checkbox(key="restore_drop").check()
        app.run()
        said = " ".join(str(e.value) for e in app.error)
        assert "refusing to restore into" in said and "MongoDB" in said, said
        app.button(key="restore_button").click().run()  # a click the browser would block
        assert not app.exception, app.exception
        assert store.jobs("restore") == [], "nothing was queued"
    # The same form queues a restore into a database of the user's.
    app.text_input(key="restore_target").input("shop_restored")
    app.text_input(key="restore_confirm").input("shop_restored")
    app.run()
    assert not [e for e in app.error if "refusing" in str(e.value)]
    app.button(key="restore_button").click().run()
    [job] = store.jobs("restore")
    assert (job.params["to_db"], job.params["backup"]) == ("shop_restored", backup)
    [done] = drain(JobWorker(settings))
    assert done.status == "ok", done.error
    assert system_state(mongo_own.uri)["admin"] == before["admin"]


# --- 4. Backup now storms -----------------------------------------------------------------


def start_collector(environ: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "collector"], cwd=ROOT,
                                env={**os.environ, **environ}, stdout=out, stderr=out)


def test_twenty_requests_against_a_running_collector_make_one_backup(
        env: dict[str, str], shared_mongo: Any, tmp_path: Path) -> None:
    """Ten dashboard sessions (threads, the page's own call) and ten `python -m ops
    backup` processes, spread over about 1.7 s as the 20 clicks were, while a real
    collector runs the backup they ask for."""
    db = unique_db("storm")
    seed(shared_mongo.uri, db, {"orders": [{"n": i} for i in range(300)]})
    environ = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": db,
               "ENABLE_AUTO_BACKUP": "false", "SAMPLE_INTERVAL_SECONDS": "1"}
    settings = load_settings(environ, env_file=None)
    collector = start_collector(environ, tmp_path / "collector.log")
    try:
        store = Store(settings.database_path)
        wait_until(lambda: store.heartbeat() is not None, "the collector's first sample")
        answers: list[tuple[int, bool]] = []

        def click(number: int) -> None:
            time.sleep(number * 0.17)
            asked = request_backup_job(store, "dashboard", now_ms())
            answers.append((asked.job.id, asked.created))

        sessions = [threading.Thread(target=click, args=(n,)) for n in range(10)]
        for session in sessions:
            session.start()
        commands = []
        for _ in range(10):
            commands.append(subprocess.Popen(
                [sys.executable, "-m", "ops", "backup"], cwd=ROOT,
                env={**os.environ, **environ}, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True))
            time.sleep(0.17)
        for session in sessions:
            session.join(60)
        outputs = [command.communicate(timeout=120) for command in commands]
        assert all(command.returncode == 0 for command in commands), outputs
        printed = [out.split() for out, _ in outputs]
        answers += [(int(words[2]), words[3] == "queued") for words in printed]
        assert len(answers) == 20 and len({job_id for job_id, _ in answers}) == 1, answers
        assert sum(created for _, created in answers) == 1, "one request queued, 19 joined"

        [job] = wait_until(lambda: [j for j in store.jobs("backup") if not j.active],
                           "the backup to end")
        assert job.status == "ok", job.error
        # Alert rules are judged after each sample: let a few pass after the end.
        wait_until(lambda: store.heartbeat().last_tick_ts > (job.finished_ts or 0) + 3000,
                   "three samples after the backup")
        assert len(store.jobs("backup")) == 1 and store.count_jobs("backup", "failed") == 0
        assert len(list_backups(settings.backup_dir)) == 1
        assert "backup_failed" not in backup_events(store)
        assert [a.rule for a in records.every(store) if a.rule.startswith("backup")] == []

        # Asked again without --again: the answer is the backup that just finished.
        again = run_ops(environ, "backup", "--wait")
        assert again.returncode == 0, again.stderr
        assert re.match(rf"backup job {job.id} finished \d+ s ago .*not taking another",
                        again.stdout), again.stdout
        assert len(store.jobs("backup")) == 1
        # Forced twice in a row (often within one second): two more, distinct names.
        for _ in range(2):
            forced = run_ops(environ, "backup", "--again", "--wait")
            assert forced.returncode == 0, forced.stderr
        assert [j.status for j in store.jobs("backup")] == ["ok"] * 3
        assert len({e.id for e in list_backups(settings.backup_dir)}) == 3
        assert "backup_failed" not in backup_events(store)
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(30) == 0


def test_two_backups_forced_in_the_same_second_get_distinct_names(
        env: dict[str, str], shared_mongo: Any) -> None:
    db = unique_db("second")
    seed(shared_mongo.uri, db, {"orders": [{"n": i} for i in range(25)]})
    settings = load_settings({**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": db},
                             env_file=None)
    now = datetime(2026, 11, 27, 3, 0, 0, 250_000, tzinfo=UTC)  # the clock stands still
    worker = JobWorker(settings, clock=lambda: now)
    ts = int(now.timestamp() * 1000)

    first = request_backup_job(worker.store, "dashboard", ts)
    assert first.created
    assert [job.status for job in drain(worker)] == ["ok"]
    unasked = request_backup_job(worker.store, "dashboard", ts)
    assert (unasked.recent, unasked.created, unasked.job.id) == (True, False, first.job.id)
    forced = request_backup_job(worker.store, "dashboard", ts, again=True)
    assert forced.created
    assert [job.status for job in drain(worker)] == ["ok"]

    entries = sorted(list_backups(settings.backup_dir), key=lambda e: e.id)
    assert [e.id for e in entries] == ["mongo-20261127T030000Z", "mongo-20261127T030001Z"]
    for entry in entries:
        assert entry.ok and entry.manifest is not None and entry.manifest.started == now
        assert verify(entry.file, entry.manifest).documents_total == 25
    assert backup_events(worker.store) == ["backup_started", "backup_ok"] * 2


def test_backup_now_right_after_a_backup_asks_before_taking_another(
        env: dict[str, str], shared_mongo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    db = unique_db("confirm")
    seed(shared_mongo.uri, db, {"orders": [{"n": i} for i in range(10)]})
    environ = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": db,
               "ENABLE_AUTO_BACKUP": "false"}
    settings = load_settings(environ, env_file=None)
    store = Store(settings.database_path)
    store.beat(Heartbeat(1, "h", now_ms(), now_ms(), 5.0, "0.1.0"))
    worker = JobWorker(settings)
    request_backup_job(worker.store, "schedule", now_ms())
    [done] = drain(worker)
    assert done.status == "ok"

    app = app_for(monkeypatch, environ)
    next(b for b in app.button if b.label == "Backup now").click().run()
    assert not app.exception, app.exception
    assert [job.id for job in store.jobs("backup")] == [done.id], "nothing queued unasked"
    [asked] = [w.value for w in app.warning if "take another" in str(w.value)]
    assert re.fullmatch(r"A backup finished \d+ s ago - take another\?", str(asked))
    app.button(key="backup_again").click().run()
    assert not app.exception, app.exception
    newest = store.jobs("backup")[0]
    assert newest.id != done.id and (newest.status, newest.requested_by) == (
        "queued", "dashboard")
