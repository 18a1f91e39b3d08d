"""The docker source and the container history against a real Docker engine (started by
the `docker_engine` fixture): figures checked against `docker inspect` and `docker stats
--no-stream` at the same moment; an OOM kill, a restart loop, health changes and a
re-created compose service caused for real."""

from __future__ import annotations

import re
import time
from pathlib import Path

from collector.containers import EVENT_SOURCE, ContainerRecorder
from collector.loop import Collector, Tick
from ops.clock import now_ms
from ops.config import load_settings
from ops.housekeeping import Retention
from ops.sources import docker_stats
from ops.sources.base import Reading
from ops.sources.configured import build_sources
from ops.sources.containers import Container, containers
from ops.sources.docker import DockerSource, target
from ops.storage import Store
from ops.storage import containers as history
from tests.docker_engine import HUNGRY, DockerEngine

UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "kB": 1000, "MB": 1000**2}


def _bytes(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)\s*([A-Za-z]+)", text.strip())
    assert match, text
    return float(match[1]) * UNITS[match[2]]


def _one(reading: Reading, name: str) -> Container:
    found = {c.name: c for c in containers(reading.info)}
    assert name in found, sorted(found)
    return found[name]


def make_collector(env: dict[str, str], engine: DockerEngine) -> tuple[Collector, Store]:
    """A collector at a 2 s interval: the engine's stats round takes up to a second."""
    settings = load_settings({**env, "DOCKER_HOST": engine.host,
                              "SAMPLE_INTERVAL_SECONDS": "2"}, env_file=None)
    store = Store(settings.database_path)
    recorder = ContainerRecorder(store, settings.metrics_raw_retention_hours)

    def record(tick: Tick) -> None:
        recorder.record(tick.ts, tick.readings)

    collector = Collector(store, build_sources(settings), 2, Retention.from_settings(settings),
                          after_tick=[record])
    return collector, store


def container_events(store: Store, key: str) -> list[tuple[str, str]]:
    found = store.events(0, now_ms() + 1000, [EVENT_SOURCE])
    return [(e.kind, e.message or "") for e in reversed(found) if (e.message or "")
            .startswith(key + " ")]


def test_busy_container_cpu_and_memory_as_docker_stats(docker_engine: DockerEngine) -> None:
    docker_engine.run("busy", "--memory", "64m", command="yes > /dev/null")
    docker_engine.run("idle")
    source = DockerSource(docker_engine.host)
    try:
        first = _one(source.probe(), "busy")
        assert first.running and first.values["cpu_pct"] is None, "unknown on a first reading"
        time.sleep(1.5)
        reading = source.probe()
        cli = docker_engine.stats("busy")
        inspected = docker_engine.inspect("busy")
    finally:
        source.close()
        docker_engine.docker("rm", "-f", "busy", "idle")
    busy, idle = _one(reading, "busy"), _one(reading, "idle")
    assert reading.up and reading.took_ms < 2000
    assert busy.id == inspected["Id"] and busy.image == docker_engine.busybox_image()
    assert busy.restarts == inspected["RestartCount"] == 0
    # `yes` would keep a core busy, but the machine is shared with other work: docker
    # stats and this reading cover different seconds, so both need only see it working
    # where the sleeping container is idle.
    cpu, idle_cpu = busy.values["cpu_pct"], idle.values["cpu_pct"]
    assert cpu is not None and idle_cpu is not None and cpu > 5 > idle_cpu, reading.info
    assert float(cli["CPUPerc"].rstrip("%")) > 5, cli
    used, limit = (_bytes(part) for part in cli["MemUsage"].split("/"))
    assert busy.values["mem_limit_mb"] == 64 and limit == 64 * 1024**2 and busy.mem_limited
    mem = busy.values["mem_used_mb"]
    assert mem is not None and abs(mem * 1024**2 - used) < 1024**2, (busy.values, cli)
    assert busy.values["pids"] == float(cli["PIDs"])
    assert reading.values["running"] is not None and reading.values["running"] >= 1


def test_oom_killed_container_is_read_from_inspect(docker_engine: DockerEngine) -> None:
    docker_engine.run("hungry", "--memory", "16m", "--memory-swap", "16m",
                      command=HUNGRY)
    inspected = docker_engine.wait_for("hungry", "exited", lambda d: d["State"]["Status"]
                                       == "exited")
    source = DockerSource(docker_engine.host)
    try:
        hungry = _one(source.probe(), "hungry")
    finally:
        source.close()
        docker_engine.docker("rm", "-f", "hungry")
    assert inspected["State"]["OOMKilled"] is True, inspected["State"]
    assert hungry.oom_killed and hungry.state == "exited"
    assert hungry.exit_code == inspected["State"]["ExitCode"] == 137
    assert hungry.values == {}, "a stopped container has no stats"


def test_unreachable_engine_is_a_down_reading(tmp_path: Path) -> None:
    source = DockerSource(f"unix://{tmp_path}/none.sock")
    reading = source.probe()
    source.close()
    assert not reading.up and reading.error is not None
    assert reading.error.startswith(f"the Docker engine at unix://{tmp_path}/none.sock cannot "
                                    "be reached: ")
    assert "\n" not in reading.error


def test_docker_is_watched_when_set_or_when_the_local_socket_is_there(tmp_path: Path) -> None:
    assert target("tcp://proxy:2375") == "tcp://proxy:2375"
    assert target(None, tmp_path / "docker.sock") is None
    (tmp_path / "docker.sock").write_text("not a socket")
    assert target(None, tmp_path / "docker.sock") is None


def test_restart_loop_health_changes_and_events(env: dict[str, str],
                                                docker_engine: DockerEngine) -> None:
    collector, store = make_collector(env, docker_engine)
    try:
        collector.run_once()
        docker_engine.run("looping", "--restart", "always", command="sleep 0.3; exit 3")
        docker_engine.run("checked", "--health-cmd", "test -f /tmp/ok", "--health-interval",
                          "1s", "--health-retries", "1", command="touch /tmp/ok; sleep 100000")
        docker_engine.wait_for("checked", "healthy",
                               lambda d: d["State"]["Health"]["Status"] == "healthy")
        collector.run_once()
        docker_engine.wait_for("looping", "restarted twice", lambda d: d["RestartCount"] >= 2)
        docker_engine.docker("exec", "checked", "rm", "/tmp/ok")
        docker_engine.wait_for("checked", "unhealthy",
                               lambda d: d["State"]["Health"]["Status"] == "unhealthy")
        tick = collector.run_once()
        assert tick is not None
        reading = next(r for r in tick.readings if r.source == "docker")
        looping, checked = _one(reading, "looping"), _one(reading, "checked")
        inspected = docker_engine.inspect("looping")
        docker_engine.docker("exec", "checked", "touch", "/tmp/ok")
        docker_engine.wait_for("checked", "healthy again",
                               lambda d: d["State"]["Health"]["Status"] == "healthy")
        collector.run_once()
    finally:
        collector.close()
        docker_engine.docker("rm", "-f", "looping", "checked")
    assert looping.restarts >= 2 and looping.restarts <= inspected["RestartCount"]
    assert checked.health == "unhealthy" and tick.row["docker_unhealthy"] == 1
    assert ("restarted", f"looping restarted (restart count {looping.restarts})") in \
        container_events(store, "looping")
    health = [e for e in container_events(store, "checked") if e[0] == "health"]
    assert health == [("health", "checked is unhealthy"), ("health", "checked is healthy")]
    assert container_events(store, "checked")[0] == ("started", "checked started")


def test_recreated_compose_service_keeps_its_history(env: dict[str, str],
                                                     docker_engine: DockerEngine) -> None:
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "api",
              "com.docker.compose.container-number": "1"}
    collector, store = make_collector(env, docker_engine)
    try:
        collector.run_once()  # the engine without the service
        first_id = docker_engine.run("shop-api-1", labels=labels)
        for _ in range(2):
            collector.run_once()
        docker_engine.docker("rm", "-f", "shop-api-1")
        second_id = docker_engine.run("shop_api_1", labels=labels)
        for _ in range(2):
            collector.run_once()
    finally:
        collector.close()
        docker_engine.docker("rm", "-f", "shop_api_1")
    assert first_id != second_id
    assert "shop/api" in history.keys(store, 0, now_ms() + 1000)
    assert history.count(store, ["shop/api"]) == 4, "both containers' rows under one key"
    kinds = [kind for kind, _ in container_events(store, "shop/api")]
    assert kinds == ["started", "recreated", "started"], container_events(store, "shop/api")
    rows = history.series(store, "shop/api", 0, now_ms() + 1000)
    assert len(rows) >= 1 and all(row["mem_used_mb"] is not None for row in rows)


def test_collector_restart_compares_with_the_stored_reading(env: dict[str, str],
                                                            docker_engine: DockerEngine) -> None:
    collector, store = make_collector(env, docker_engine)
    try:
        docker_engine.run("steady")
        collector.run_once()
        collector.close()
        collector, _ = make_collector(env, docker_engine)  # a new process, the same store
        docker_engine.docker("stop", "-t", "0", "steady")
        collector.run_once()
    finally:
        collector.close()
        docker_engine.docker("rm", "-f", "steady")
    events = container_events(store, "steady")
    assert [kind for kind, _ in events] == ["stopped"], events
    assert events[0][1].startswith("steady is exited with exit code"), events


def test_docker_stats_arithmetic_on_both_cgroup_versions() -> None:
    """The CLI's formulas on the Engine API's documents: cgroup v1 names the inactive file
    cache total_inactive_file, v2 inactive_file (this machine runs v1, so v2's document
    is written out as the engine sends it)."""
    v1 = {"memory_stats": {"usage": 10_000, "limit": 50_000,
                           "stats": {"total_inactive_file": 4_000, "inactive_file": 1}}}
    v2 = {"memory_stats": {"usage": 10_000, "limit": 50_000, "stats": {"inactive_file": 3_000}}}
    assert docker_stats.memory_used(v1) == 6_000 and docker_stats.memory_used(v2) == 7_000
    assert docker_stats.memory_used({"memory_stats": {}}) is None, "not running"
    before = {"cpu_stats": {"cpu_usage": {"total_usage": 1_000}, "system_cpu_usage": 100_000,
                            "online_cpus": 4}}
    after = {"cpu_stats": {"cpu_usage": {"total_usage": 6_000}, "system_cpu_usage": 120_000,
                           "online_cpus": 4}}
    assert docker_stats.cpu_percent(None, after) is None, "unknown on a first reading"
    # (5000 / 20000) x 4 CPUs x 100 = 100 %: one core's worth, as docker stats says.
    assert docker_stats.cpu_percent(docker_stats.totals(before), after) == 100.0
    older = {"cpu_stats": {"cpu_usage": {"total_usage": 6_000, "percpu_usage": [1, 2]},
                           "system_cpu_usage": 120_000}}
    assert docker_stats.online_cpus(older) == 2, "per-CPU list where online_cpus is missing"
