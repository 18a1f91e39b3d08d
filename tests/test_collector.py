"""The collector against real servers: outages recorded, rates sane after restarts,
a subprocess run for a few ticks then stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from collector.loop import Collector
from collector.probing import ProbeRunner
from ops.clock import now_ms
from ops.config import load_settings
from ops.heartbeat import collector_state
from ops.housekeeping import Retention
from ops.sources.configured import build_sources
from ops.storage import Store
from ops.storage.tiers import RAW
from tests.conftest import fill_up
from tests.servers import HealthServer, RedisServer

START = 1_790_000_000_000
ROOT = Path(__file__).resolve().parents[1]


def make_collector(env: dict[str, str], interval: int = 1) -> Collector:
    settings = load_settings(env, env_file=None)
    return Collector(Store(settings.database_path), build_sources(settings), interval,
                     Retention.from_settings(settings))


def test_redis_outage_is_recorded_and_rates_stay_sane(env: dict[str, str],
                                                      redis_server: RedisServer) -> None:
    collector = make_collector({**env, "REDIS_URL": redis_server.url})
    client = redis.Redis.from_url(redis_server.url)
    for _ in range(50):
        client.get("missing")
    first = collector.run_once()
    client.set("k", "v")
    for _ in range(30):
        client.get("k")
    second = collector.run_once()
    assert first and second
    assert second.row["redis_up"] == 1
    assert second.row["redis_keyspace_hits_delta"] == 30
    assert second.row["redis_keyspace_misses_delta"] == 0

    redis_server.stop()
    down = collector.run_once()
    assert down and down.row["redis_up"] == 0
    assert down.row["host_up"] == 1, "one source failing does not stop the others"
    latest = collector.store.latest()["redis"]
    assert not latest.up and latest.error

    redis_server.start()  # same port, counters start again from zero
    back = collector.run_once()
    after = collector.run_once()
    assert back and after and back.row["redis_up"] == 1, "picked up again on the next tick"
    assert back.row["redis_keyspace_hits_delta"] is None, "no delta across the outage"
    for column in ("redis_keyspace_hits_delta", "redis_commands_delta"):
        assert after.row[column] is not None and after.row[column] >= 0

    kinds = [(e.kind, e.message is not None) for e in
             reversed(collector.store.events(0, 2**62, sources=["redis"]))]
    assert kinds == [("up", False), ("down", True), ("up", False)]
    series = collector.store.series(0, 2**62, [], ["redis_keyspace_hits"])
    assert all((r["redis_keyspace_hits_per_s"] or 0) >= 0 for r in series)


def test_a_hanging_source_is_down_at_the_deadline_and_others_are_read(
        env: dict[str, str], health_server: HealthServer) -> None:
    health_server.delay = 4
    settings = load_settings({**env, "API_HEALTH_URL": health_server.url}, env_file=None)
    runner = ProbeRunner(build_sources(settings))
    readings = {r.source: r for r in runner.probe_all(deadline_s=0.5) or []}
    assert readings["host"].up
    assert not readings["api"].up and "timeout" in (readings["api"].error or "")
    again = {r.source: r for r in runner.probe_all(deadline_s=0.2) or []}
    assert not again["api"].up, "still hanging: not probed a second time"
    assert health_server.requests == 1
    runner.close()


def test_unknown_previous_sources_are_forgotten(env: dict[str, str],
                                                redis_server: RedisServer) -> None:
    make_collector({**env, "REDIS_URL": redis_server.url}).run_once()
    collector = make_collector(env)
    collector.run_once()
    assert set(collector.store.latest()) == {"host"}


def test_collector_process_samples_every_source_and_stops_on_sigterm(
        env: dict[str, str], redis_server: RedisServer, shared_mongo: object,
        health_server: HealthServer, tmp_path: Path) -> None:
    mongo_uri = shared_mongo.uri  # type: ignore[attr-defined]
    environ = {**os.environ, **env, "SAMPLE_INTERVAL_SECONDS": "1",
               "REDIS_URL": redis_server.url, "MONGO_URI": mongo_uri,
               "API_HEALTH_URL": health_server.url, "ENABLE_AUTO_BACKUP": "true"}
    process = subprocess.Popen([sys.executable, "-m", "collector"], cwd=ROOT, env=environ,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and store.sample_count() < 4:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "Starting automated backup system..." in output
    assert "Scheduled daily backups (retention: 7 days)" in output

    count = store.sample_count()
    assert count >= 4
    rows = [tuple(row.values()) for row in store.tier_rows(RAW, columns=[
        "host_up", "redis_up", "mongo_up", "api_up", "host_mem_used_pct", "redis_ping_ms",
        "mongo_ping_ms", "api_latency_ms"])]
    assert all(row[:4] == (1, 1, 1, 1) for row in rows)
    assert all(value is not None for row in rows for value in row[4:])
    latest = store.latest()
    assert set(latest) == {"host", "redis", "mongo", "api"}
    assert latest["api"].reading["info"]["version"] == "1.0.0"
    beat = store.heartbeat()
    assert beat is not None and beat.pid == process.pid and beat.interval_s == 1


def test_mongo_password_never_reaches_logs_or_store(env: dict[str, str], tmp_path: Path) -> None:
    from tests.servers import free_port

    uri = f"mongodb://admin:s3cretPW@127.0.0.1:{free_port()}/"
    environ = {**os.environ, **env, "SAMPLE_INTERVAL_SECONDS": "1", "MONGO_URI": uri}
    process = subprocess.Popen([sys.executable, "-m", "collector"], cwd=ROOT, env=environ,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and store.sample_count() < 2:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=15)
    assert "mongo is DOWN" in output
    dump = "\n".join(store.dump())
    assert "mongo" in dump and "down" in dump
    assert "s3cretPW" not in output
    assert "s3cretPW" not in dump


def test_once_prints_one_sample_as_json_and_writes_nothing(env: dict[str, str],
                                                           redis_server: RedisServer) -> None:
    environ = {**os.environ, **env, "REDIS_URL": redis_server.url}
    result = subprocess.run([sys.executable, "-m", "collector", "--once"], cwd=ROOT,
                            env=environ, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    sample = json.loads(result.stdout)
    assert set(sample["sources"]) == {"host", "redis"}
    assert sample["sources"]["redis"]["up"] is True
    assert sample["sources"]["host"]["values"]["mem_total_mb"] > 0
    assert not (Path(env["OPS_DATA_DIR"]) / "ops.sqlite3").exists()


def test_unwritable_data_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "volume"
    blocker.write_text("a file where the data directory should be")
    data = blocker / "data"
    environ = {"PATH": "/usr/bin:/bin", "OPS_DATA_DIR": str(data)}
    result = subprocess.run([sys.executable, "-m", "collector"], cwd=ROOT, env=environ,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: OPS_DATA_DIR={data} is not writable by uid ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_full_disk_holds_samples_in_memory_and_writes_them_when_space_returns(
        small_disk: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The data directory's filesystem fills up under the collector: it keeps sampling,
    logs the cause once with its traceback, and writes every held sample, in order, with
    an event saying what happened, as soon as space is back."""
    env = {"OPS_DATA_DIR": str(small_disk)}
    times = iter(range(START, START + 10_000 * 5000, 5000))
    settings = load_settings(env, env_file=None)
    store = Store(settings.database_path)
    collector = Collector(store, build_sources(settings), 5, Retention(48, 30, 400, 500),
                          clock=lambda: next(times))
    ticks = 0
    try:
        for _ in range(3):
            assert collector.run_once() is not None
            ticks += 1
        store.checkpoint()  # the WAL emptied: the next writes must grow it
        filler = fill_up(small_disk)
        while len(collector.held.samples) < 5:  # bounded: the disk is full
            assert collector.run_once() is not None
            ticks += 1
            assert ticks < 200, "writes never failed on a full disk"
        failures = [r for r in caplog.records if "cannot write the history" in r.getMessage()]
        assert len(failures) == 1 and failures[0].exc_info is not None
        stamps = [s.ts for s in collector.held.samples]
        # What every page and `ops heartbeat` say meanwhile (the last beat is long past).
        said = collector_state(store, settings, now_ms()).message
        assert "the data disk is full" in said and str(small_disk) in said

        filler.unlink()
        tick = collector.run_once()
        ticks += 1
        assert tick is not None and not collector.held.samples
    finally:
        collector.close()
    written = {row["ts"] for row in store.tier_rows(RAW, columns=["ts"])}
    events = store.events(0, tick.ts, sources=["store"])
    store.close()  # the file closed, so the small disk can be unmounted
    assert set(stamps) <= written and tick.ts in written
    assert len(written) == ticks, "every tick is in the history, none lost"
    [resumed] = events
    assert resumed.kind == "write_resumed"
    assert f"{len(stamps)} samples held in memory were written late" in (resumed.message or "")
