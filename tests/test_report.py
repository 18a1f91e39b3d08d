"""The report's shapes from hand-built store contents: empty store, nothing configured,
a service down, a stale heartbeat, and the formats the seed fixes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ops import __version__, report
from ops.config import Settings, load_settings
from ops.report import Snapshot
from ops.storage import Heartbeat, Latest
from ops.web.prometheus import BackupFacts, exposition

NOW = 1_800_000_000_000
HOST_VALUES = {"mem_total_mb": 15732.4, "mem_free_mb": 11224.2, "mem_used_pct": 28.65,
               "load_1": 8.61, "load_5": 8.87, "load_15": 8.83, "cpu_pct": 12.5, "cores": 8,
               "disk_used_pct": 40.0, "disk_free_mb": 1000.0, "process_rss_mb": 52.3}
REDIS_VALUES = {"ping_ms": 0.5, "uptime_s": 3600, "connected_clients": 3, "blocked_clients": 0,
                "ops_per_sec": 7, "used_memory_mb": 2.5, "used_memory_peak_mb": 2.4,
                "maxmemory_mb": 256.0, "memory_used_pct": 0.5859, "fragmentation_ratio": 4.123,
                "hit_rate_total_pct": 90.91, "keys_total": 4, "keyspace_hits": 300,
                "keyspace_misses": 30, "commands": 302, "connections_received": 12,
                "evicted_keys": 1, "expired_keys": 2}
PASSWORD = "Sup3rS3cret"


def settings(**env: str) -> Settings:
    return load_settings({"OPS_DATA_DIR": "/nonexistent/ops", **env}, env_file=None)


def reading(source: str, values: dict[str, Any], up: bool = True,
            info: dict[str, Any] | None = None, ts: int = NOW - 1000) -> Latest:
    return Latest(source, ts, up, ts - 60_000, None if up else "refused",
                  {"values": values if up else {}, "info": info or {}, "took_ms": 1.0})


def beat(age_ms: int = 1000, interval_s: float = 5, started_ago_ms: int = 75_000) -> Heartbeat:
    return Heartbeat(1, "box", NOW - started_ago_ms, NOW - age_ms, interval_s, "0.1.0")


def snapshot(*latest: Latest, heartbeat: Heartbeat | None = None,
             interval: dict[str, float | None] | None = None) -> Snapshot:
    return Snapshot(NOW, {item.source: item for item in latest}, heartbeat, interval or {})


def full_settings() -> Settings:
    return settings(MONGO_URI=f"mongodb://ops:{PASSWORD}@mongo:27017/alaweal_db?authSource=admin",
                    REDIS_URL="redis://redis:6379/0",
                    API_HEALTH_URL="http://api:3001/api/health")


def all_up() -> Snapshot:
    return snapshot(
        reading("host", HOST_VALUES, info={"hostname": "box"}),
        reading("redis", REDIS_VALUES, info={"version": "7.2.4",
                                             "keys_per_db": {"db0": {"keys": 4, "expires": 1}}}),
        reading("mongo", {"connections_current": 5, "connections_available": 100,
                          "resident_mb": 172, "op_insert": 10, "op_query": 20},
                info={"version": "7.0.2", "databases": {"shop": {}, "alaweal_db": {}}}),
        reading("api", {"latency_ms": 12.5, "status_code": 200}, info={"version": "2.3.1"}),
        heartbeat=beat(), interval={"keyspace_hits": 30, "keyspace_misses": 10})


def test_empty_store_is_stale_with_nulls_not_invented_figures() -> None:
    empty = snapshot()
    nothing = settings()
    health = report.health_detailed(empty, nothing)
    assert health["status"] == "STALE"
    assert report.http_status(health["status"]) == 503
    assert health["services"] == {
        "api": {"status": "NOT_CONFIGURED", "version": __version__},
        "database": {"status": "NOT_CONFIGURED", "host": None, "name": None},
        "cache": {"status": "NOT_CONFIGURED", "hitRate": None}}
    assert health["system"] == {"memory": {"total": None, "free": None, "usagePercent": None},
                                "cpu": {"cores": None, "loadAverage": [None, None, None]}}
    assert report.metrics(empty, nothing) == {
        "uptime": {"seconds": 0, "formatted": "0s"},
        "memory": {"heapUsed": None,
                   "system": {"total": None, "free": None, "usagePercent": None}},
        "cpu": {"count": None, "loadAverage": [None, None, None]}}
    board = report.dashboard(empty, nothing)
    assert board["services"] == {"api": None, "database": None, "cache": None}
    assert board["cache"] == {"enabled": False, "stats": {"hitRate": None, "commands": None}}
    stats = report.cache_stats(empty, nothing)
    assert stats["status"] == "NOT_CONFIGURED" and stats["enabled"] is False
    assert stats["sampledAt"] is None and stats["memory"]["used"] is None


def test_nothing_configured_with_a_running_collector_is_ok() -> None:
    host_only = snapshot(reading("host", HOST_VALUES), heartbeat=beat())
    health = report.health_detailed(host_only, settings())
    assert health["status"] == "OK"
    assert {s["status"] for s in health["services"].values()} == {"NOT_CONFIGURED"}
    assert health["system"]["memory"] == {"total": 15732, "free": 11224, "usagePercent": "28.65"}
    assert report.http_status(health["status"]) == 200


def test_seed_formats() -> None:
    up, config = all_up(), full_settings()
    health = report.health_detailed(up, config)
    assert health == {
        "status": "OK",
        "services": {"api": {"status": "UP", "version": "2.3.1"},
                     "database": {"status": "UP", "host": "mongo", "name": "alaweal_db"},
                     "cache": {"status": "UP", "hitRate": "90.91%"}},
        "system": {"memory": {"total": 15732, "free": 11224, "usagePercent": "28.65"},
                   "cpu": {"cores": 8, "loadAverage": [8.61, 8.87, 8.83]}},
        "alerts": []}
    assert report.metrics(up, config) == {
        "uptime": {"seconds": 75, "formatted": "1m 15s"},
        "memory": {"heapUsed": 52,
                   "system": {"total": 15732, "free": 11224, "usagePercent": "28.65"}},
        "cpu": {"count": 8, "loadAverage": ["8.61", "8.87", "8.83"]}}
    assert report.dashboard(up, config) == {
        "status": "OK",
        "services": {"api": True, "database": True, "cache": True},
        "performance": {"uptime": "1m 15s", "memoryUsage": "52MB", "cpuCores": 8},
        "cache": {"enabled": True, "stats": {"hitRate": "90.91%", "commands": 302}},
        "alerts": [], "availability": {}}
    assert PASSWORD not in json.dumps([health, report.dashboard(up, config)])


def test_cache_stats_shape() -> None:
    """Whole MB round half up (2.5 -> 3) as the seed's Math.round does."""
    stats = report.cache_stats(all_up(), full_settings())
    assert stats == {
        "status": "UP", "enabled": True, "version": "7.2.4",
        "uptime": {"seconds": 3600, "formatted": "1h 0m 0s"},
        "hitRate": {"total": "90.91%", "lastInterval": "75.00%"},
        "hits": {"total": 300, "lastInterval": 30},
        "misses": {"total": 30, "lastInterval": 10},
        "connections": {"connected": 3, "blocked": 0, "totalReceived": 12},
        "commands": {"totalProcessed": 302, "opsPerSecond": 7},
        "memory": {"used": 3, "peak": 2, "max": 256, "usagePercent": "0.59",
                   "usageOf": "maxmemory", "fragmentationRatio": 4.12},
        "keys": {"total": 4, "evicted": 1, "expired": 2,
                 "perDb": {"db0": {"keys": 4, "expires": 1}}},
        "sampledAt": "2027-01-15T07:59:59Z"}


def test_cache_without_lookups_or_limit() -> None:
    values = {**REDIS_VALUES, "keyspace_hits": 0, "keyspace_misses": 0, "maxmemory_mb": 0.0}
    quiet = snapshot(reading("redis", values), heartbeat=beat(),
                     interval={"keyspace_hits": 0, "keyspace_misses": 0})
    config = settings(REDIS_URL="redis://redis:6379/0")
    stats = report.cache_stats(quiet, config)
    assert stats["hitRate"] == {"total": None, "lastInterval": None}
    assert stats["memory"]["usageOf"] == "host" and stats["memory"]["max"] == 0
    assert report.health_detailed(quiet, config)["services"]["cache"]["hitRate"] is None


def test_a_service_down_is_degraded() -> None:
    config = full_settings()
    up = all_up()
    down = Snapshot(NOW, {**up.latest, "redis": reading("redis", {}, up=False)}, up.heartbeat)
    health = report.health_detailed(down, config)
    assert health["status"] == "DEGRADED" and report.http_status("DEGRADED") == 503
    assert health["services"]["cache"] == {"status": "DOWN", "hitRate": None}
    assert health["services"]["database"]["status"] == "UP"
    assert report.dashboard(down, config)["services"] == {"api": True, "database": True,
                                                          "cache": False}
    stats = report.cache_stats(down, config)
    assert stats["status"] == "DOWN" and stats["hits"] == {"total": None, "lastInterval": None}


def test_configured_but_never_read_counts_as_down() -> None:
    config = settings(REDIS_URL="redis://redis:6379/0")
    health = report.health_detailed(snapshot(reading("host", HOST_VALUES), heartbeat=beat()),
                                    config)
    assert health["status"] == "DEGRADED"
    assert health["services"]["cache"]["status"] == "DOWN"


@pytest.mark.parametrize(("age_ms", "status"), [(15_000, "OK"), (15_001, "STALE"),
                                                (3_600_000, "STALE")])
def test_stale_after_three_intervals(age_ms: int, status: str) -> None:
    aged = Snapshot(NOW, all_up().latest, beat(age_ms=age_ms, interval_s=5))
    assert report.overall_status(aged, full_settings()) == status
    if status == "STALE":
        assert report.metrics(aged, full_settings())["uptime"] == {"seconds": 0,
                                                                   "formatted": "0s"}


def test_stale_wins_over_degraded() -> None:
    up = all_up()
    both = Snapshot(NOW, {**up.latest, "api": reading("api", {}, up=False)},
                    beat(age_ms=600_000))
    assert report.overall_status(both, full_settings()) == "STALE"


def test_api_uptime_from_its_health_body_and_more_health_urls() -> None:
    config = settings(API_HEALTH_URL="http://api:3001/health,http://web:80/health")
    api = reading("api", {"latency_ms": 3}, info={"version": "1.0.0", "uptime_s": 100},
                  ts=NOW - 5000)
    extra = reading("api_2", {}, up=False)
    state = snapshot(reading("host", HOST_VALUES), api, extra, heartbeat=beat())
    assert report.metrics(state, config)["uptime"] == {"seconds": 105, "formatted": "1m 45s"}
    health = report.health_detailed(state, config)
    assert health["status"] == "DEGRADED"
    assert health["services"]["api_2"] == {"status": "DOWN", "version": __version__}
    assert list(report.dashboard(state, config)["services"]) == ["api", "api_2", "database",
                                                                 "cache"]


def test_database_host_and_name_never_carry_the_password() -> None:
    assert report.database_host(f"mongodb://u:{PASSWORD}@a.example:27017,b.example:27018/"
                                "?replicaSet=rs0") == "a.example,b.example"
    assert report.database_host("mongodb://[::1]:27017/") == "::1"
    uri_db = settings(MONGO_URI=f"mongodb://u:{PASSWORD}@mongo/from_uri")
    assert report.database_name(snapshot(), uri_db) == "from_uri"
    listed = settings(MONGO_URI="mongodb://mongo/", BACKUP_DATABASES="alaweal_db,other")
    assert report.database_name(all_up(), listed) == "alaweal_db"
    seen = settings(MONGO_URI="mongodb://mongo/")
    assert report.database_name(all_up(), seen) == "alaweal_db"


def families(text: bytes) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {labels: value}} from the Prometheus text."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_prometheus_units_and_absent_figures() -> None:
    up, config = all_up(), full_settings()
    facts = BackupFacts(last_success_ts=1_700_000_000.5, last_success_size_bytes=2048,
                        last_success_duration_s=3.25, failed_jobs=2, failures_last_24h=1,
                        next_scheduled_ts=1_700_086_400)
    found = families(exposition(up, config, facts))
    assert found["ops_service_up"] == {(("service", s),): 1.0
                                       for s in ("host", "api", "mongo", "redis")}
    assert found["ops_host_memory_used_ratio"][()] == pytest.approx(0.2865)
    assert found["ops_host_memory_total_bytes"][()] == pytest.approx(15732.4 * 2**20)
    assert found["ops_host_load15"][()] == 8.83
    assert found["ops_redis_keyspace_hit_ratio"][()] == pytest.approx(0.9091)
    assert found["ops_redis_evicted_keys_total"][()] == 1
    assert found["ops_mongo_opcounters_total"] == {(("type", "insert"),): 10,
                                                   (("type", "query"),): 20}
    assert found["ops_mongo_connections"][(("state", "current"),)] == 5
    assert found["ops_api_latency_seconds"][(("service", "api"),)] == pytest.approx(0.0125)
    assert found["ops_collector_last_tick_timestamp_seconds"][()] == (NOW - 1000) / 1000
    assert found["ops_backup_last_success_size_bytes"][()] == 2048
    assert found["ops_backup_jobs_failed_total"][()] == 2
    assert found["ops_backup_failures_last_24h"][()] == 1
    assert found["ops_backup_next_scheduled_timestamp_seconds"][()] == 1_700_086_400

    down = Snapshot(NOW, {**up.latest, "redis": reading("redis", {}, up=False)}, None)
    found = families(exposition(down, config, BackupFacts()))
    assert found["ops_service_up"][(("service", "redis"),)] == 0
    assert not any(name.startswith("ops_redis_") for name in found), "no figures of a down Redis"
    assert found["ops_collector_running"][()] == 0
    assert "ops_collector_last_tick_timestamp_seconds" not in found
    assert "ops_backup_last_success_timestamp_seconds" not in found


def test_firing_alerts_and_availability_beyond_the_seed() -> None:
    from dataclasses import replace

    alert = {"rule": "service_down", "subject": "cache", "severity": "critical",
             "message": "cache is down: Error 111", "since": "2026-11-27T03:00:00Z"}
    up = replace(all_up(), alerts=(alert,),
                 availability={"redis": {"24h": 99.12345, "1y": None}, "api": {"24h": 100.0}})
    config = full_settings()
    assert report.health_detailed(up, config)["alerts"] == [alert]
    board = report.dashboard(up, config)
    assert board["alerts"] == [alert]
    assert board["availability"] == {"cache": {"24h": 99.12, "1y": None},
                                     "api": {"24h": 100.0}}


def test_firing_alerts_and_uptime_in_prometheus_text() -> None:
    from dataclasses import replace

    from ops.web.prometheus import BackupFacts, exposition

    alert = {"rule": "service_down", "subject": "cache", "severity": "critical",
             "message": "cache is down", "since": "2026-11-27T03:00:00Z"}
    up = replace(all_up(), alerts=(alert,), availability={"redis": {"24h": 99.5}})
    text = exposition(up, full_settings(), BackupFacts()).decode()
    assert 'ops_alert_firing{rule="service_down",severity="critical",subject="cache"} 1.0' in text
    assert "ops_alerts_firing 1.0" in text
    assert 'ops_service_uptime_ratio{service="redis",window="24h"} 0.995' in text
