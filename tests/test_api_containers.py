"""GET /api/monitoring/containers and the ops_container_* series of /metrics, over HTTP
from the real dashboard server, after the collector read the real engine of the
`docker_engine` fixture; checked against `docker inspect` at the same moment. The token
guards both, as every endpoint but health."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.dashboard_server import Dashboard
from tests.docker_engine import DockerEngine
from tests.test_page_containers import tick

TWO_DECIMALS = re.compile(r"\d{1,4}\.\d{2}")
TOKEN = "t0ken-for-the-api"


def test_containers_json_and_metrics(env: dict[str, str], tmp_path: Path,
                                     docker_engine: DockerEngine) -> None:
    labels = {"com.docker.compose.project": "alaweal", "com.docker.compose.service": "redis"}
    full = {**env, "DOCKER_HOST": docker_engine.host, "OPS_API_TOKEN": TOKEN}
    docker_engine.run("api-redis-1", "--memory", "256m", labels=labels)
    dashboard = Dashboard(full, tmp_path)
    try:
        tick(full, times=2)  # now: the collector is fresh for three intervals
        inspected = docker_engine.inspect("api-redis-1")
        try:
            refused = dashboard.request("GET", "/api/monitoring/containers")
            answer = dashboard.request("GET", "/api/monitoring/containers",
                                       headers={"Authorization": f"Bearer {TOKEN}"})
            scraped = dashboard.request("GET", "/metrics",
                                        headers={"Authorization": f"Bearer {TOKEN}"})
        finally:
            dashboard.stop()
    finally:
        docker_engine.docker("rm", "-f", "api-redis-1")
    assert refused.status == 401
    assert answer.status == 200, answer.body
    body = json.loads(answer.body)
    assert body["status"] == "OK"
    (found,) = [c for c in body["containers"] if c["name"] == "api-redis-1"]
    assert found["service"] == "alaweal/redis" and found["composeService"] == "redis"
    assert found["state"] == inspected["State"]["Status"] == "running"
    assert found["startedAt"] == inspected["State"]["StartedAt"]
    assert found["restarts"] == inspected["RestartCount"] and found["oomKilled"] is False
    assert found["memory"]["limit"] == 256 and isinstance(found["memory"]["used"], int)
    assert TWO_DECIMALS.fullmatch(found["memory"]["usagePercent"])
    assert TWO_DECIMALS.fullmatch(found["cpu"]["usagePercent"]), found["cpu"]
    assert found["uptime"]["formatted"].endswith("s") and found["pids"] == 1
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(scraped.body.decode())
               for s in family.samples}
    who = (("container", "api-redis-1"), ("service", "alaweal/redis"))
    assert samples[("ops_container_running", who)] == 1
    assert samples[("ops_container_memory_limit_bytes", who)] == 256 * 1024 * 1024
    assert samples[("ops_container_restarts", who)] == 0
    assert ("ops_container_cpu_ratio", who) in samples
    assert samples[("ops_docker_containers_running", ())] >= 1


def test_containers_json_when_the_engine_cannot_be_reached(env: dict[str, str],
                                                           tmp_path: Path) -> None:
    full = {**env, "DOCKER_HOST": f"unix://{tmp_path}/gone.sock"}
    dashboard = Dashboard(full, tmp_path)
    try:
        tick(full)
        answer = dashboard.request("GET", "/api/monitoring/containers")
    finally:
        dashboard.stop()
    body = json.loads(answer.body)
    assert answer.status == 503
    assert body["status"] == "DOWN" and body["containers"] == []
    assert "gone.sock cannot be reached" in body["error"]
