"""The JSON endpoints over HTTP: the real dashboard server in a subprocess, real samples
written by the collector against real Redis, MongoDB and HTTP servers."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from pymongo import MongoClient

from collector.loop import Collector
from ops.clock import now_ms
from ops.config import load_settings
from ops.housekeeping import Retention
from ops.sources.configured import build_sources
from ops.storage import Store
from tests.backup_data import unique_db
from tests.dashboard_server import Dashboard
from tests.servers import ExternalMongo, HealthServer, MongoStandIn, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[1]
ENDPOINTS = ("/api/monitoring/health/detailed", "/api/monitoring/metrics",
             "/api/monitoring/dashboard", "/api/monitoring/cache/stats")
PROTECTED = (*ENDPOINTS[1:], "/metrics")
TWO_DECIMALS = re.compile(r"\d{1,3}\.\d{2}")
PERCENT = re.compile(r"\d{1,3}\.\d{2}%")
UPTIME = re.compile(r"(\d+d )?(\d+h )?(\d+m )?\d+s")
MB_TEXT = re.compile(r"\d+MB")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class DashboardServer(Dashboard):
    """`streamlit run streamlit_app.py` on a free port, with only the given settings."""

    def get(self, path: str, token: str | None = None,
            authorization: str | None = None) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if authorization is not None:
            headers["Authorization"] = authorization
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                          response.read())
        finally:
            conn.close()


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], DashboardServer]]:
    """Starts dashboard servers with the given environment; stops them after the test."""
    started: list[DashboardServer] = []

    def start(env: dict[str, str]) -> DashboardServer:
        server = DashboardServer(env, tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def make_collector(env: dict[str, str], interval: float = 60,
                   clock: Callable[[], int] = now_ms) -> Collector:
    settings = load_settings(env, env_file=None)
    return Collector(Store(settings.database_path), build_sources(settings), interval,
                     Retention.from_settings(settings), clock=clock)


def stack_env(env: dict[str, str], redis_server: RedisServer,
              mongo: MongoStandIn | ExternalMongo, health: HealthServer, db: str) -> dict[str, str]:
    return {**env, "REDIS_URL": redis_server.url, "MONGO_URI": mongo.uri,
            "BACKUP_DATABASES": db, "API_HEALTH_URL": health.url}


def lookups(url: str, hits: int, misses: int) -> None:
    client = redis.Redis.from_url(url)
    client.set("present", "1")
    for _ in range(hits):
        assert client.get("present") == b"1"
    for _ in range(misses):
        assert client.get("absent") is None
    client.close()


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_system_memory(memory: dict[str, Any], host: dict[str, Any]) -> None:
    assert set(memory) == {"total", "free", "usagePercent"}
    assert is_int(memory["total"]) and is_int(memory["free"]), "whole MB"
    assert memory["total"] == round(host["mem_total_mb"])
    assert abs(memory["free"] - host["mem_free_mb"]) <= 0.5
    assert 0 < memory["free"] < memory["total"]
    assert TWO_DECIMALS.fullmatch(memory["usagePercent"])
    assert memory["usagePercent"] == f"{host['mem_used_pct']:.2f}"


def test_every_endpoint_has_the_seed_shape(env: dict[str, str], redis_server: RedisServer,
                                           shared_mongo: MongoStandIn | ExternalMongo,
                                           health_server: HealthServer,
                                           dashboard: Callable[..., DashboardServer]) -> None:
    db = unique_db("api")
    with MongoClient(shared_mongo.uri, serverSelectionTimeoutMS=5000) as client:
        client[db]["items"].insert_one({"n": 1})
    full = stack_env(env, redis_server, shared_mongo, health_server, db)
    # The collector "started" 75 s ago, so its uptime reads 1m 15s.
    offset = [75_000]
    collector = make_collector(full, clock=lambda: now_ms() - offset[0])
    offset[0] = 0
    lookups(redis_server.url, hits=7, misses=1)
    assert collector.run_once()
    lookups(redis_server.url, hits=3, misses=0)
    assert collector.run_once()
    host = collector.store.latest()["host"].reading["values"]
    redis_values = collector.store.latest()["redis"].reading["values"]
    server = dashboard(full)

    answers = {path: server.get(path) for path in ENDPOINTS}
    for path, answer in answers.items():
        assert answer.status == 200, (path, answer.body)
        assert answer.headers["content-type"].startswith("application/json")

    health = answers[ENDPOINTS[0]].json()
    assert set(health) == {"status", "services", "system", "alerts"}  # alerts: beyond the seed
    assert health["alerts"] == []
    assert health["status"] == "OK"
    assert health["services"] == {
        "api": {"status": "UP", "version": "1.0.0"},
        "database": {"status": "UP", "host": "127.0.0.1", "name": db},
        "cache": {"status": "UP", "hitRate": "90.91%"}}  # 10 hits of 11 lookups
    assert PERCENT.fullmatch(health["services"]["cache"]["hitRate"])
    assert set(health["system"]) == {"memory", "cpu"}
    check_system_memory(health["system"]["memory"], host)
    cpu = health["system"]["cpu"]
    assert set(cpu) == {"cores", "loadAverage"}
    assert is_int(cpu["cores"]) and cpu["cores"] == os.cpu_count()
    assert len(cpu["loadAverage"]) == 3 and all(is_number(v) for v in cpu["loadAverage"])
    assert cpu["loadAverage"] == [host["load_1"], host["load_5"], host["load_15"]]

    metrics = answers[ENDPOINTS[1]].json()
    assert set(metrics) == {"uptime", "memory", "cpu"}
    assert set(metrics["uptime"]) == {"seconds", "formatted"}
    assert is_int(metrics["uptime"]["seconds"]) and 75 <= metrics["uptime"]["seconds"] <= 90
    assert re.fullmatch(r"1m \d{1,2}s", metrics["uptime"]["formatted"])
    assert metrics["uptime"]["formatted"] == (f"1m {metrics['uptime']['seconds'] - 60}s")
    assert set(metrics["memory"]) == {"heapUsed", "system"}
    assert is_int(metrics["memory"]["heapUsed"])
    # rounded half up, as the seed's Math.round (Python's round() would give 192 for 192.5)
    assert metrics["memory"]["heapUsed"] == math.floor(host["process_rss_mb"] + 0.5)
    check_system_memory(metrics["memory"]["system"], host)
    assert set(metrics["cpu"]) == {"count", "loadAverage"}
    assert metrics["cpu"]["count"] == cpu["cores"]
    assert all(TWO_DECIMALS.fullmatch(v) for v in metrics["cpu"]["loadAverage"])
    assert [float(v) for v in metrics["cpu"]["loadAverage"]] == cpu["loadAverage"]

    board = answers[ENDPOINTS[2]].json()
    assert set(board) == {"status", "services", "performance", "cache", "alerts",
                          "availability"}  # the last two: beyond the seed
    assert board["availability"]["cache"]["24h"] == 100.0
    assert board["status"] == "OK"
    assert board["services"] == {"api": True, "database": True, "cache": True}
    assert set(board["performance"]) == {"uptime", "memoryUsage", "cpuCores"}
    assert UPTIME.fullmatch(board["performance"]["uptime"])
    assert board["performance"]["uptime"].startswith("1m ")
    assert MB_TEXT.fullmatch(board["performance"]["memoryUsage"])
    assert board["performance"]["memoryUsage"] == f"{metrics['memory']['heapUsed']}MB"
    assert board["performance"]["cpuCores"] == cpu["cores"]
    assert board["cache"] == {"enabled": True, "stats": {
        "hitRate": "90.91%", "commands": int(redis_values["commands"])}}

    stats = answers[ENDPOINTS[3]].json()
    assert set(stats) == {"status", "enabled", "version", "uptime", "hitRate", "hits", "misses",
                          "connections", "commands", "memory", "keys", "sampledAt"}
    assert stats["status"] == "UP" and stats["enabled"] is True
    assert re.fullmatch(r"\d+\.\d+\.\d+", stats["version"])
    assert UPTIME.fullmatch(stats["uptime"]["formatted"]) and is_int(stats["uptime"]["seconds"])
    assert stats["hitRate"] == {"total": "90.91%", "lastInterval": "100.00%"}
    assert stats["hits"] == {"total": 10, "lastInterval": 3}
    assert stats["misses"] == {"total": 1, "lastInterval": 0}
    assert set(stats["connections"]) == {"connected", "blocked", "totalReceived"}
    assert stats["connections"]["connected"] >= 1
    assert stats["connections"]["totalReceived"] >= stats["connections"]["connected"]
    assert stats["commands"]["totalProcessed"] == int(redis_values["commands"])
    assert is_number(stats["commands"]["opsPerSecond"])
    memory = stats["memory"]
    assert set(memory) == {"used", "peak", "max", "usagePercent", "usageOf",
                           "fragmentationRatio"}
    assert all(is_int(memory[k]) for k in ("used", "peak", "max"))
    assert memory["max"] == 0 and memory["usageOf"] == "host", "the test server has no limit"
    assert TWO_DECIMALS.fullmatch(memory["usagePercent"])
    assert is_number(memory["fragmentationRatio"]) and memory["fragmentationRatio"] > 0
    assert stats["keys"] == {"total": 1, "evicted": 0, "expired": 0,
                             "perDb": {"db0": {"keys": 1, "expires": 0}}}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stats["sampledAt"])


def test_a_stopped_redis_gives_503_once_sampled(env: dict[str, str], redis_server: RedisServer,
                                               health_server: HealthServer,
                                               dashboard: Callable[..., DashboardServer]
                                               ) -> None:
    config = {**env, "REDIS_URL": redis_server.url, "API_HEALTH_URL": health_server.url}
    collector = make_collector(config)
    assert collector.run_once()
    server = dashboard(config)
    assert server.get(ENDPOINTS[0]).status == 200

    redis_server.stop()
    started = time.perf_counter()
    before = server.get(ENDPOINTS[0])
    took = time.perf_counter() - started
    assert before.status == 200, "answers from the stored sample: Redis is not probed"
    assert before.json()["services"]["cache"]["status"] == "UP"
    assert took < 1.0

    assert collector.run_once()
    answers = {path: server.get(path) for path in ENDPOINTS}
    assert {a.status for a in answers.values()} == {503}, "JSON body with 503 on every one"
    health = answers[ENDPOINTS[0]].json()
    assert health["status"] == "DEGRADED"
    assert health["services"]["cache"] == {"status": "DOWN", "hitRate": None}
    assert health["services"]["api"]["status"] == "UP"
    assert answers[ENDPOINTS[2]].json()["services"]["cache"] is False
    assert answers[ENDPOINTS[3]].json()["status"] == "DOWN"
    prometheus = server.get("/metrics")
    assert prometheus.status == 200, "a failed scrape would hide what is down"
    assert b'ops_service_up{service="redis"} 0.0' in prometheus.body
    assert b'ops_service_up{service="api"} 1.0' in prometheus.body

    redis_server.start()
    assert collector.run_once()
    assert server.get(ENDPOINTS[0]).json()["status"] == "OK"


def test_a_stale_heartbeat_gives_503(env: dict[str, str], redis_server: RedisServer,
                                     dashboard: Callable[..., DashboardServer]) -> None:
    config = {**env, "REDIS_URL": redis_server.url}
    server = dashboard(config)
    empty = server.get(ENDPOINTS[0])
    assert empty.status == 503 and empty.json()["status"] == "STALE", "no sample at all"
    assert empty.json()["services"]["cache"]["status"] == "DOWN"

    # A real sample, taken a minute ago by a collector sampling every 5 s.
    collector = make_collector(config, interval=5, clock=lambda: now_ms() - 60_000)
    assert collector.run_once()
    answers = {path: server.get(path) for path in ENDPOINTS}
    assert {a.status for a in answers.values()} == {503}
    assert answers[ENDPOINTS[0]].json()["status"] == "STALE"
    assert answers[ENDPOINTS[0]].json()["services"]["cache"]["status"] == "UP", "last known"
    assert answers[ENDPOINTS[2]].json()["status"] == "STALE"
    assert answers[ENDPOINTS[1]].json()["uptime"] == {"seconds": 0, "formatted": "0s"}
    assert b"ops_collector_running 0.0" in server.get("/metrics").body

    fresh = make_collector(config, interval=60)
    assert fresh.run_once()
    assert server.get(ENDPOINTS[0]).status == 200


def test_token_required_accepted_and_refused(env: dict[str, str],
                                            dashboard: Callable[..., DashboardServer]) -> None:
    token = "t0ken-with-some-length-1234567890"
    config = {**env, "OPS_API_TOKEN": token}
    assert make_collector(config).run_once()
    server = dashboard(config)

    health = server.get(ENDPOINTS[0])
    assert health.status == 200 and health.json()["status"] == "OK", "health needs no token"
    for path in PROTECTED:
        missing = server.get(path)
        assert missing.status == 401, path
        assert "Bearer" in missing.json()["error"]
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert server.get(path, token=token + "x").status == 401
        assert server.get(path, token=token[:-1]).status == 401
        assert server.get(path, authorization=f"Basic {token}").status == 401
        assert server.get(path, authorization=token).status == 401
        accepted = server.get(path, token=token)
        assert accepted.status == 200, (path, accepted.body)
        assert token.encode() not in accepted.body + missing.body
    assert b"ops_service_up" in server.get("/metrics", token=token).body
    assert server.get("/metrics", authorization=f"bearer {token}").status == 200


def test_the_mongodb_password_never_appears(env: dict[str, str],
                                            dashboard: Callable[..., DashboardServer]) -> None:
    password = "Pa55-w0rd-never-shown"
    closed = free_port()
    config = {**env, "MONGO_URI": f"mongodb://ops:{password}@127.0.0.1:{closed}/alaweal_db"
                                  "?authSource=admin"}
    collector = make_collector(config)
    assert collector.run_once()
    mongo = collector.store.latest()["mongo"]
    assert not mongo.up and mongo.error
    server = dashboard(config)

    bodies = [server.get(path) for path in (*ENDPOINTS, "/metrics", "/api/monitoring/nope")]
    health = bodies[0].json()
    assert bodies[0].status == 503 and health["status"] == "DEGRADED"
    assert health["services"]["database"] == {"status": "DOWN", "host": "127.0.0.1",
                                              "name": "alaweal_db"}
    assert b'ops_service_up{service="mongo"} 0.0' in bodies[4].body
    for answer in bodies:
        assert password.encode() not in answer.body
        assert b"ops:" not in answer.body and b"@127.0.0.1" not in answer.body




def test_a_new_sample_is_seen_by_the_next_request_and_nothing_else_is_rebuilt(
        env: dict[str, str], redis_server: RedisServer,
        dashboard: Callable[..., DashboardServer]) -> None:
    """Answers are reused within a second only while nothing was written: a Redis outage
    stored by the collector shows in the very next /metrics and health answer."""
    full = {**env, "REDIS_URL": redis_server.url}
    collector = make_collector(full)
    assert collector.run_once()
    server = dashboard(full)
    assert server.get("/api/monitoring/health/detailed").status == 200
    first, again = server.get("/metrics"), server.get("/metrics")
    assert 'ops_service_up{service="redis"} 1.0' in first.body.decode()
    assert first.body == again.body

    redis_server.stop()
    assert collector.run_once()  # the collector's own connection commits the down sample
    after = server.get("/metrics").body.decode()
    assert 'ops_service_up{service="redis"} 0.0' in after
    health = server.get("/api/monitoring/health/detailed")
    assert health.status == 503 and health.json()["services"]["cache"]["status"] == "DOWN"
