"""/metrics as Prometheus sees it: a real Prometheus scraping the real dashboard server,
and the backup state users alert on, from real backup jobs."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ops.backup.catalogue import list_backups
from ops.backup.jobs import JobRunner
from ops.backup.schedule import NEXT_BACKUP_KEY
from ops.config import load_settings
from ops.storage import Store
from tests.backup_data import seed, unique_db
from tests.servers import ExternalMongo, MongoStandIn, RedisServer, free_port, wait_for_port
from tests.test_api import DashboardServer, dashboard, make_collector

PROMETHEUS = Path("/usr/bin/prometheus")
__all__ = ["dashboard"]  # the fixture, shared with test_api


def samples(text: bytes) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {labels: value}}, parsed by prometheus_client's own parser."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(promql)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def start_prometheus(tmp_path: Path, target_port: int, token: str) -> tuple[
        subprocess.Popen[bytes], int]:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ops
    authorization:
      type: Bearer
      credentials: {token}
    static_configs:
      - targets: ["127.0.0.1:{target_port}"]
""")
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([str(PROMETHEUS), f"--config.file={config}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, timeout=30)
    # The port opens before the storage is ready; queries answer 503 until /-/ready is 200.
    assert wait_for(lambda: _ready(port), 60), "prometheus never became ready"
    return proc, port


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:  # URLError and HTTPError (503 while starting) are OSErrors
        return False


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


@pytest.mark.skipif(not PROMETHEUS.exists(), reason="Debian's prometheus is not installed "
                    "at /usr/bin/prometheus")
def test_prometheus_scrapes_our_metrics(tmp_path: Path, env: dict[str, str],
                                        redis_server: RedisServer,
                                        dashboard: Callable[..., DashboardServer]) -> None:
    token = "scrape-token-0123456789"
    config = {**env, "REDIS_URL": redis_server.url, "OPS_API_TOKEN": token}
    collector = make_collector(config)
    assert collector.run_once()
    server = dashboard(config)
    proc, port = start_prometheus(tmp_path, server.port, token)
    try:
        def redis_up() -> bool:
            found = {r["metric"].get("service"): r["value"][1]
                     for r in query(port, "ops_service_up")}
            return found.get("redis") == "1" and found.get("host") == "1"

        assert wait_for(redis_up, 60), (tmp_path / "prometheus.log").read_text()[-2000:]
        [up] = query(port, 'up{job="ops"}')
        assert up["value"][1] == "1", "scrapes succeed"
        [ratio] = query(port, "ops_host_memory_used_ratio")
        assert 0 < float(ratio["value"][1]) < 1, "a ratio, not a percentage"
        [commands] = query(port, "ops_redis_commands_processed_total")
        assert float(commands["value"][1]) > 0
        assert query(port, 'scrape_samples_scraped{job="ops"}')[0]["value"][1] != "0"

        redis_server.stop()
        assert collector.run_once()

        def redis_down() -> bool:
            found = {r["metric"].get("service"): r["value"][1]
                     for r in query(port, "ops_service_up")}
            return found.get("redis") == "0"

        assert wait_for(redis_down, 30), "the outage reaches Prometheus"
        assert query(port, 'up{job="ops"}')[0]["value"][1] == "1", "still scraped (200)"
    finally:
        proc.terminate()
        proc.wait(20)


def test_backup_state_users_alert_on(env: dict[str, str],
                                     shared_mongo: MongoStandIn | ExternalMongo,
                                     dashboard: Callable[..., DashboardServer]) -> None:
    db = unique_db("metrics")
    seed(shared_mongo.uri, db, {"items": [{"n": i} for i in range(20)]})
    good = load_settings({**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": db},
                         env_file=None)
    closed = load_settings({**env, "MONGO_URI": f"mongodb://ops:pw@127.0.0.1:{free_port()}/",
                            "BACKUP_DATABASES": db}, env_file=None)
    store = Store(good.database_path)
    for settings in (good, closed):
        store.request_job("backup", "test", int(time.time() * 1000))
        job = store.claim_job(int(time.time() * 1000), 1, "test")
        assert job is not None
        JobRunner(settings, store).run_job(job)
    assert [j.status for j in store.jobs(kind="backup")] == ["failed", "ok"]
    next_ms = int(time.time() * 1000) + 3_600_000
    store.set_state(NEXT_BACKUP_KEY, next_ms)
    [backup] = list_backups(good.backup_dir)
    assert backup.ok and backup.manifest is not None
    environ = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": db}
    assert make_collector(environ).run_once()
    server = dashboard(environ)

    answer = server.get("/metrics")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(answer.body)
    assert found["ops_backup_last_success_timestamp_seconds"][()] == pytest.approx(
        backup.manifest.finished.timestamp())
    assert found["ops_backup_last_success_size_bytes"][()] == backup.size_bytes
    assert found["ops_backup_last_success_duration_seconds"][()] == pytest.approx(
        backup.manifest.duration_s)
    assert found["ops_backup_jobs_failed_total"][()] == 1
    assert found["ops_backup_failures_last_24h"][()] == 1
    assert found["ops_backup_next_scheduled_timestamp_seconds"][()] == next_ms / 1000
    assert found["ops_service_up"][(("service", "mongo"),)] == 1
    assert found["ops_mongo_connections"][(("state", "current"),)] >= 1
    assert found["ops_mongo_resident_memory_bytes"][()] > 1_000_000
    assert b"pw@" not in answer.body
