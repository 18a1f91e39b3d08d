"""`python -m ops`: every command documented; status and heartbeat for scripts and
container healthchecks."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from ops.backup.dump import dump
from ops.cli.commands import COMMANDS
from ops.storage import Heartbeat, Latest, Store
from tests.backup_data import seed, unique_db
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]


def run_ops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=60)


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in COMMANDS:
        assert f"`python -m ops {command.name}" in readme, command.name


def test_heartbeat_exit_status_follows_the_collector(env: dict[str, str]) -> None:
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    missing = run_ops(env, "heartbeat")
    assert missing.returncode == 1 and "has not written a sample yet" in missing.stderr
    now = int(time.time() * 1000)
    store.beat(Heartbeat(1, "h", now, now, 5.0, "0.1.0"))
    assert run_ops(env, "heartbeat").returncode == 0
    store.beat(Heartbeat(1, "h", now, now - 16_000, 5.0, "0.1.0"))
    stale = run_ops(env, "heartbeat")
    assert stale.returncode == 1 and "collector not running since" in stale.stderr


def test_a_heartbeat_from_the_future_is_not_a_live_collector(env: dict[str, str]) -> None:
    """The wall clock was set back after the collector's last tick (the collector died,
    or it would have ticked on the new clock): heartbeat and status must not say OK."""
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    now = int(time.time() * 1000)
    store.set_latest(Latest("host", now, True, now, None, {"values": {}, "info": {}}))
    store.beat(Heartbeat(1, "h", now, now + 3_600_000, 5.0, "0.1.0"))
    beat = run_ops(env, "heartbeat")
    assert beat.returncode == 1
    assert "ahead of this machine's clock" in beat.stderr and "0s ago" not in beat.stderr
    status = run_ops(env, "status")
    assert status.returncode == 1 and json.loads(status.stdout)["status"] != "OK"
    store.beat(Heartbeat(1, "h", now, now + 2_000, 5.0, "0.1.0"))  # within one interval
    assert run_ops(env, "heartbeat").returncode == 0


def test_status_prints_the_seed_health_shape(env: dict[str, str]) -> None:
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    now = int(time.time() * 1000)
    store.set_latest(Latest("host", now, True, now, None, {"values": {
        "mem_total_mb": 15732, "mem_free_mb": 11224, "mem_used_pct": 28.654, "cores": 8,
        "load_1": 8.61, "load_5": 8.87, "load_15": 8.83}, "info": {}}))
    store.beat(Heartbeat(1, "h", now, now, 5.0, "0.1.0"))
    result = run_ops(env, "status")
    assert result.returncode == 0, result.stderr
    health = json.loads(result.stdout)
    assert health["status"] == "OK"
    assert health["system"]["memory"] == {"total": 15732, "free": 11224, "usagePercent": "28.65"}
    assert health["system"]["cpu"] == {"cores": 8, "loadAverage": [8.61, 8.87, 8.83]}

    down = run_ops({**env, "REDIS_URL": "redis://127.0.0.1:1/0"}, "status")
    assert down.returncode == 1, "a configured service without a reading is not OK"


def test_backup_commands_fail_with_one_line_without_the_password(
        env: dict[str, str], shared_mongo: Any) -> None:
    db = unique_db("cli")
    seed(shared_mongo.uri, db, {"items": [{"n": i} for i in range(20)]})
    backup_dir = Path(env["OPS_DATA_DIR"]) / "backups"
    manifest = dump(shared_mongo.uri, backup_dir, [db])
    (backup_dir / (manifest.file + ".json")).write_text("{ not json")

    verified = run_ops(env, "verify", manifest.id)
    assert verified.returncode == 1
    [line] = verified.stderr.strip().splitlines()
    assert line.startswith(f"error: {manifest.file}.json: unreadable manifest (")

    closed = f"mongodb://ops:S3cret-pw@127.0.0.1:{free_port()}/"
    restored = run_ops({**env, "MONGO_URI": closed}, "restore", manifest.id, "--to-db", "x")
    assert restored.returncode == 1
    [line] = [text for text in restored.stderr.strip().splitlines()
              if not text.startswith("restoring")]
    assert line.startswith("error: restore into x failed (mongodb://ops:***@127.0.0.1")
    assert "S3cret-pw" not in restored.stderr + restored.stdout


def _foreign_sqlite(path: Path) -> None:
    # Another program's database, made with its own raw connection on purpose.
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()


def _newer_version(path: Path) -> None:
    Store(path).close()
    # A migration this version does not know, as a newer release would have recorded;
    # closed, so the write is in the main file (the last close checkpoints the WAL).
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('ops', 'm999_from_the_future', '2027-01-01')")
    conn.close()


@pytest.mark.parametrize(("make", "says"), [
    (lambda p: p.write_bytes(b"not a database, mongodb://u:s3cret@x/\n" * 64),
     "is not a readable SQLite file"),
    (lambda p: (Store(p).close(), p.write_bytes(p.read_bytes()[:1000])),
     "is not a readable SQLite file"),
    (_foreign_sqlite, "holds another program's tables (customers)"),
    (_newer_version, "was written by a newer version (schema m999_from_the_future)"),
])
def test_a_store_file_that_is_not_ours_stops_every_program_with_one_line(
        env: dict[str, str], make: Any, says: str) -> None:
    store_file = Path(env["OPS_DATA_DIR"]) / "ops.sqlite3"
    make(store_file)
    before = store_file.read_bytes()
    environ = {**env, "MONGO_URI": "mongodb://u:s3cret@127.0.0.1:1/"}
    for args in (["-m", "ops", "samples"], ["-m", "ops", "status"], ["-m", "collector"]):
        result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True,
                                env={**os.environ, **environ}, text=True, timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {store_file} "), result.stderr
        assert says in lines[0] and "s3cret" not in result.stderr
    assert store_file.read_bytes() == before, "the file is never modified"


def test_samples_reads_as_times_and_help_speaks_to_admins(env: dict[str, str]) -> None:
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    store.ensure_columns(["host_up"])
    store.append_sample(1_790_000_000_000, {"host_up": 1})
    store.beat(Heartbeat(1, "h", 1_790_000_000_000, 1_790_000_000_000, 5.0, "0.1.0"))
    shown = json.loads(run_ops(env, "samples").stdout)
    assert shown["samples"] == 1
    assert shown["first"] == shown["last"] == "2026-09-21T14:13:20Z"
    assert shown["collector_last_tick"] == "2026-09-21T14:13:20Z"
    helped = run_ops(env, "--help").stdout
    assert "./run ops COMMAND" in helped and "the README and the tests" not in helped


def test_the_run_script_runs_ops_commands_from_a_plain_shell(env: dict[str, str]) -> None:
    """`./run ops ...` needs no activated environment: the system Python lacks the
    packages, the project's own environment has them."""
    plain = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), **env}
    result = subprocess.run(["./run", "ops", "samples"], cwd=ROOT, env=plain,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["samples"] == 0


def test_a_second_collector_on_the_same_data_directory_stops_naming_the_first(
        env: dict[str, str]) -> None:
    environ = {**os.environ, **env, "SAMPLE_INTERVAL_SECONDS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "collector"], cwd=ROOT, env=environ,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
        deadline = time.monotonic() + 60
        while store.heartbeat() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        second = subprocess.run([sys.executable, "-m", "collector"], cwd=ROOT, env=environ,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        [line] = second.stderr.strip().splitlines()
        assert line.startswith(f"error: another collector (pid {first.pid} on ")
        assert env["OPS_DATA_DIR"] in line
        samples = store.sample_count()
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
    pid_file = Path(env["OPS_DATA_DIR"]) / "collector.pid"
    assert pid_file.stat().st_mode & 0o077 == 0, "private to the service's user"
    assert samples >= 1


def test_ops_up_gives_the_dashboard_two_malloc_arenas(env: dict[str, str],
                                                       tmp_path: Path) -> None:
    """The dashboard's memory levelled off only with glibc's arenas limited (BENCHMARKS.md,
    Dashboard memory over hours): `ops up` sets it unless the admin did."""
    from tests.browser_support import OpsUp

    up = OpsUp(env, tmp_path / "up.log")
    try:
        up.wait_healthy()
        children = psutil.Process(up.proc.pid).children(recursive=True)
        [dashboard] = [p for p in children if "streamlit" in " ".join(p.cmdline())]
        assert dashboard.environ().get("MALLOC_ARENA_MAX") == "2"
        [collector] = [p for p in children if "collector" in " ".join(p.cmdline())]
        assert "MALLOC_ARENA_MAX" not in collector.environ()
    finally:
        assert up.stop() == 0
