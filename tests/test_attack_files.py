"""Attacks on the files on disk: another local user reads nothing of ours, and a link
planted in BACKUP_DIR is neither listed, verified, restored, pruned nor served.

The attacker is a real other uid: `setpriv` drops to nobody:nogroup without supplementary
groups and runs `cat` and `ls` against what a real collector, a real `python -m ops`
command and a real dashboard server wrote (started from a shell whose umask is 022, as
outside Docker), with backups of a real MongoDB stand-in. The directories live under
/tmp in one that anyone may traverse (pytest's own temporary directories are private to
root, which would make the attack fail for the wrong reason); a control file there shows
the attacker can read what is readable.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ops.backup.catalogue import find, list_backups
from ops.backup.dump import dump
from ops.backup.errors import NotFoundError
from ops.backup.files import NotRegularFileError, open_regular
from ops.backup.manifest import Manifest, write_manifest
from ops.config import load_settings
from ops.storage import Store
from ops.web.downloads import signed_link, signing_key
from tests.backup_data import seed, unique_db
from tests.dashboard_server import Dashboard
from tests.servers import wait_until

ROOT = Path(__file__).resolve().parents[1]
SHELL_UMASK = "022"  # what a login shell usually has: files 0644, directories 0755
PLANTED_AT = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


# --- the attacker and the places it attacks ---------------------------------------------


def as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    """`argv` run as user nobody, group nogroup, no other groups."""
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           *argv], capture_output=True, text=True, errors="replace", timeout=30,
                          check=False)


def denied(path: Path) -> bool:
    """nobody can neither read the file nor list the directory at `path`."""
    done = as_nobody("ls", "-A", str(path)) if path.is_dir() else as_nobody("cat", str(path))
    return done.returncode != 0 and "Permission denied" in done.stderr


def readable(path: Path) -> bool:
    done = as_nobody("ls", "-A", str(path)) if path.is_dir() else as_nobody("cat", str(path))
    return done.returncode == 0


def open_to_others(top: Path) -> list[str]:
    """Every directory, file or other entry under `top` (itself included) that keeps a
    group or other permission bit; links are not followed (their own mode means nothing)."""
    found = []
    for path in [top, *sorted(top.rglob("*"))]:
        info = path.lstat()
        if not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) & 0o077:
            found.append(f"{path.relative_to(top.parent)} {stat.S_IMODE(info.st_mode):04o}")
    return found


@pytest.fixture
def public(tmp_path: Path) -> Iterator[Path]:
    """A directory anyone may traverse, with a control file anyone may read."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("reading as another user needs root and setpriv(1)")
    base = Path(tempfile.mkdtemp(prefix="ops-attack-", dir="/tmp"))
    base.chmod(0o755)
    control = base / "control.txt"
    control.write_text("anyone may read this\n")
    control.chmod(0o644)
    assert readable(control), "the attacker reads what is readable: the setup works"
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def in_shell(argv: list[str], environ: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`argv` started from a shell whose umask is 022, with only our settings given."""
    with open(log, "ab") as out:
        return subprocess.Popen(["sh", "-c", f'umask {SHELL_UMASK}; exec "$@"', "sh", *argv],
                                cwd=ROOT, env={**os.environ, **environ}, stdout=out,
                                stderr=out)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0


def store_files(data: Path) -> list[Path]:
    files = [data / name for name in ("ops.sqlite3", "ops.sqlite3-wal", "ops.sqlite3-shm")]
    missing = [f.name for f in files if not f.exists()]
    assert not missing, f"the attack needs them to exist: {missing}"
    return files


# --- 1. nothing readable by another local user --------------------------------------------


def test_a_collector_and_its_backup_leave_nothing_another_user_can_read(
        public: Path, shared_mongo: Any, tmp_path: Path) -> None:
    db = unique_db("private")
    seed(shared_mongo.uri, db, {"customers": [{"email": f"c{i}@example.com", "card": "4111"}
                                              for i in range(50)]})
    data = public / "data"  # made by the collector itself
    environ = {"OPS_DATA_DIR": str(data), "MONGO_URI": shared_mongo.uri,
               "BACKUP_DATABASES": db, "ENABLE_AUTO_BACKUP": "true",
               "SAMPLE_INTERVAL_SECONDS": "1"}
    collector = in_shell([sys.executable, "-m", "collector"], environ, tmp_path / "c.log")
    try:
        # No backup yet: the catch-up backup starts at once.
        [backup] = wait_until(lambda: list_backups(data / "backups"), "the catch-up backup")
        assert backup.ok and backup.documents == 50
        targets = [*store_files(data), backup.file, backup.file.with_name(
            backup.file.name + ".json"), data / "collector.pid", data / "collector.lock",
            data / "backups" / ".backup.lock", data, data / "backups"]
        assert [t.name for t in targets if not denied(t)] == []
        assert open_to_others(data) == []
    finally:
        stop(collector)


def old_version_state(public: Path, uri: str) -> tuple[Path, Store, list[Path]]:
    """A data directory as an older version left it: directories 0755, every file 0644
    (the store kept open, so its -wal and -shm exist), a backup, the link-signing key, the
    collector's pid and lock files and the backup lock."""
    data, backups = public / "data", public / "data" / "backups"
    db = unique_db("old")
    seed(uri, db, {"customers": [{"email": f"c{i}@example.com"} for i in range(20)]})
    store = Store(data / "ops.sqlite3")
    store.record_event(1, "mongo", "down", "customer database unreachable")
    manifest = dump(uri, backups, [db])
    signing_key(data)
    for name in ("collector.pid", "collector.lock"):
        (data / name).write_text("1 old-host\n")
    (backups / ".backup.lock").write_bytes(b"")
    files = [*store_files(data), backups / manifest.file, backups / (manifest.file + ".json"),
             data / ".download-key", data / "collector.pid", data / "collector.lock",
             backups / ".backup.lock"]
    for path in files:
        path.chmod(0o644)
    for directory in (data, backups):
        directory.chmod(0o755)
    return data, store, [*files, data, backups]


def plant_links(public: Path) -> tuple[Path, list[Path]]:
    """A file of someone else's, and links to it in the backup directory named like our
    files: tightening must not follow them and change that file's mode. (Not beside the
    store: SQLite itself would take a -journal there for a hot journal.)"""
    victim = public / "victim.txt"
    victim.write_text("not ours\n")
    victim.chmod(0o644)
    backups = public / "data" / "backups"
    links = [backups / "mongo-20200101T000000Z.archive.gz",
             backups / "mongo-20200101T000000Z.archive.gz.json"]
    for link in links:
        link.symlink_to(victim)
    return victim, links


def test_a_collector_starting_where_an_older_version_left_0644_makes_it_private(
        public: Path, shared_mongo: Any, tmp_path: Path) -> None:
    data, store, targets = old_version_state(public, shared_mongo.uri)
    victim, links = plant_links(public)
    assert [t.name for t in targets if not readable(t)] == [], "the attack works before"

    environ = {"OPS_DATA_DIR": str(data), "MONGO_URI": shared_mongo.uri,
               "ENABLE_AUTO_BACKUP": "false", "SAMPLE_INTERVAL_SECONDS": "1"}
    log = tmp_path / "c.log"
    collector = in_shell([sys.executable, "-m", "collector"], environ, log)
    try:
        wait_until(lambda: store.heartbeat() is not None and store.heartbeat().pid ==
                   collector.pid, "the collector's first sample")
        assert [t.name for t in targets if not denied(t)] == []
        assert open_to_others(data) == []
    finally:
        stop(collector)
        store.close()
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644, "no link was followed"
    assert all(link.is_symlink() for link in links) and readable(victim)
    said = [line for line in log.read_text().splitlines() if "private" in line]
    assert len(said) == 1 and "ops.sqlite3 0644->0600" in said[0], "logged once, in one line"


def test_any_ops_command_makes_an_older_version_s_files_private(
        public: Path, shared_mongo: Any, tmp_path: Path) -> None:
    data, store, targets = old_version_state(public, shared_mongo.uri)
    victim, _ = plant_links(public)
    store.close()  # no -wal and -shm left once the last connection closes
    targets = [t for t in targets if t.exists()]
    assert [t.name for t in targets if not readable(t)] == [], "the attack works before"

    command = in_shell([sys.executable, "-m", "ops", "backups", "--json"],
                       {"OPS_DATA_DIR": str(data)}, tmp_path / "ops.log")
    assert command.wait(60) == 0
    assert [t.name for t in targets if not denied(t)] == []
    assert open_to_others(data) == []
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644, "no link was followed"
    assert (tmp_path / "ops.log").read_text().startswith("["), "stdout is the answer alone"


def test_the_dashboard_server_writes_nothing_another_user_can_read(
        public: Path, tmp_path: Path) -> None:
    data = public / "data"
    old = os.umask(0o022)  # the server inherits a shell's umask
    try:
        dashboard = Dashboard({"OPS_DATA_DIR": str(data)}, tmp_path)
    finally:
        os.umask(old)
    try:
        assert dashboard.request("GET", "/api/monitoring/health/detailed").status in (200, 503)
        link = "/api/backups/mongo-20261127T030000Z/download?expires=1&signature=x"
        assert dashboard.request("GET", link).status == 403  # made the link-signing key
        targets = [*store_files(data), data / ".download-key", data]
        assert [t.name for t in targets if not denied(t)] == []
        assert open_to_others(data) == []
    finally:
        dashboard.stop()


def test_making_the_store_private_keeps_sqlite_s_locks(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops every POSIX lock the process holds on it:
    making ops.sqlite3 and its -shm private as another thread opens its connection must
    not release the write lock this thread holds (a second writer would then corrupt
    the file)."""
    path = tmp_path / "ops.sqlite3"
    store = Store(path)
    # Another process's writer, which must find the file locked: a plain connection that
    # does not wait (the store's would wait out its busy timeout).
    writer = ("import sqlite3, sys; conn = sqlite3.connect(sys.argv[1], timeout=0); "
              "conn.execute('BEGIN IMMEDIATE')")
    with store.transaction():
        store.record_event(1, "host", "up")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").chmod(0o644)  # as an older version left them
        opened = threading.Thread(target=store.heartbeat)  # its own connection, made private
        opened.start()
        opened.join()
        assert [stat.S_IMODE(Path(f"{path}{suffix}").stat().st_mode) for suffix in (
            "", "-wal", "-shm")] == [0o600] * 3, "the new connection made them private"
        second = subprocess.run([sys.executable, "-c", writer, str(path)], capture_output=True,
                                text=True, timeout=60, check=False)
        assert second.returncode != 0 and "database is locked" in second.stderr
    store.close()


# --- 3. the catalogue lists regular files only ----------------------------------------------


def plant_backup_links(backups: Path, secret: Path) -> str:
    """`mongo-20261127T030000Z.archive.gz -> secret`, with a symlinked manifest that
    vouches for exactly those bytes (status ok, verified): followed, it would be listed as
    a good backup and served."""
    planted = "mongo-20261127T030000Z"
    data = secret.read_bytes()
    vouching = secret.with_name("vouching.json")
    write_manifest(Manifest(
        id=planted, file=f"{planted}.archive.gz", sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data), started=PLANTED_AT, finished=PLANTED_AT, duration_s=1.0,
        server_version="7.0.0", tool="ops-dashboard 0.1.0", status="ok", verified=True),
        vouching)
    (backups / f"{planted}.archive.gz").symlink_to(secret)
    (backups / f"{planted}.archive.gz.json").symlink_to(vouching)
    return planted


def run_ops(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT,
                          env={**os.environ, **environ}, capture_output=True, text=True,
                          timeout=120, check=False)


def test_a_link_planted_in_the_backup_directory_is_not_listed_nor_served(
        env: dict[str, str], shared_mongo: Any, tmp_path: Path) -> None:
    db = unique_db("links")
    seed(shared_mongo.uri, db, {"orders": [{"n": i} for i in range(30)]})
    environ = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": db}
    settings = load_settings(environ, env_file=None)
    real = dump(shared_mongo.uri, settings.backup_dir, [db])
    # /etc/shadow as the attacker would aim at it (a stand-in: its bytes must not reach
    # a test log if the attack succeeded).
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$canary-hash-do-not-serve:19000:0:99999:7:::\n")
    secret.chmod(0o600)
    planted = plant_backup_links(settings.backup_dir, secret)
    # A regular archive whose manifest is a link to a good backup's manifest.
    copy = settings.backup_dir / "mongo-20250101T000000Z.archive.gz"
    shutil.copyfile(settings.backup_dir / real.file, copy)
    copy.with_name(copy.name + ".json").symlink_to(settings.backup_dir / (real.file + ".json"))

    listed = json.loads(run_ops(environ, "backups", "--json").stdout)
    assert {b["id"]: b["status"] for b in listed} == {
        real.id: "ok", "mongo-20250101T000000Z": "unreadable manifest"}
    link = settings.backup_dir / f"{planted}.archive.gz"
    for args in (("verify", planted), ("verify", str(link)),
                 ("restore", str(link), "--to-db", unique_db("into"))):
        done = run_ops(environ, *args)
        assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, args
        assert "canary" not in done.stdout + done.stderr
    with pytest.raises(NotFoundError):
        find(settings.backup_dir, planted)
    with pytest.raises(NotRegularFileError):
        open_regular(link)  # what a link swapped in after a listing meets

    dashboard = Dashboard(environ, tmp_path)
    try:
        answer = dashboard.request("GET", signed_link(settings, planted))
        assert answer.status == 404 and b"canary" not in answer.body
        good = dashboard.request("GET", signed_link(settings, real.id))
        assert good.status == 200, "the same route serves a real backup"
        assert hashlib.sha256(good.body).hexdigest() == real.sha256
        assert good.headers["content-disposition"] == f'attachment; filename="{real.file}"'
        answer = dashboard.request("GET", signed_link(settings, "mongo-20250101T000000Z"))
        assert answer.status == 200, "a regular archive is served; its linked manifest unread"
    finally:
        dashboard.stop()

    pruned = run_ops({**environ, "BACKUP_RETENTION_DAYS": "1"}, "prune")
    assert pruned.returncode == 0 and pruned.stdout.splitlines()[0] == (
        "removed mongo-20250101T000000Z"), "the old regular copy only"
    assert link.is_symlink() and "canary" in secret.read_text(), "nothing deleted through it"
    assert (settings.backup_dir / (real.file + ".json")).is_file(), "nor through its manifest"
