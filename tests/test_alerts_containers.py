"""The container alert rules against the real engine of the `docker_engine` fixture: a
container killed by the OOM killer, one in a restart loop, one whose health check fails,
one near its memory limit - each fires its rule, with the compose service as subject."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collector.loop import Collector
from ops.alerts.rules import DEFAULT_RULES, load_rules
from ops.alerts.watch import AlertWatch
from ops.config import Settings, load_settings
from ops.storage import Store
from ops.storage import alerts as records
from tests.docker_engine import HUNGRY, DockerEngine
from tests.test_sources_docker import make_collector


class Told:
    """The announce hook: every (rule, subject, event, message) the engine announced."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str]] = []

    def __call__(self, store: Store, settings: Settings, alert: dict[str, Any], event: str,
                 ts: int) -> int:
        self.seen.append((alert["rule"], alert["subject"], event, alert["message"] or ""))
        return 0


def judge(collector: Collector, watch: AlertWatch, ticks: int) -> None:
    for _ in range(ticks):
        tick = collector.run_once()
        assert tick is not None
        watch.after_tick(tick.ts, tick.row, {r.source: r.error for r in tick.readings})


def test_oom_restart_loop_unhealthy_and_memory_fire(env: dict[str, str], tmp_path: Path,
                                                    docker_engine: DockerEngine) -> None:
    rules_file = tmp_path / "rules.toml"
    # A memory limit of 16 MB: a shell that sleeps uses a few hundred KB, so a 1 % threshold
    # is crossed for real; no waiting for the default 5 minutes.
    rules_file.write_text("[rules.container_memory_high]\nthreshold = 1\nfor_seconds = 0\n")
    settings = load_settings({**env, "DOCKER_HOST": docker_engine.host,
                              "ALERT_RULES_FILE": str(rules_file)}, env_file=None)
    collector, store = make_collector(env, docker_engine)
    told = Told()
    watch = AlertWatch(store, settings, load_rules(settings.alert_rules_file), told)
    labels = {"com.docker.compose.project": "alaweal"}
    try:
        judge(collector, watch, 1)
        docker_engine.run("hungry", "--memory", "16m", "--memory-swap", "16m",
                          labels={**labels, "com.docker.compose.service": "hungry"},
                          command=HUNGRY)
        docker_engine.run("looping", "--restart", "always", command="sleep 0.3; exit 3",
                          labels={**labels, "com.docker.compose.service": "looping"})
        docker_engine.run("sick", "--health-cmd", "echo db unreachable; exit 1",
                          "--health-interval", "1s", "--health-retries", "1",
                          labels={**labels, "com.docker.compose.service": "sick"})
        docker_engine.run("small", "--memory", "16m",
                          labels={**labels, "com.docker.compose.service": "small"})
        docker_engine.wait_for("hungry", "OOM-killed", lambda d: d["State"]["OOMKilled"], 120)
        docker_engine.wait_for("sick", "unhealthy",
                               lambda d: d["State"]["Health"]["Status"] == "unhealthy")
        docker_engine.wait_for("looping", "restarted", lambda d: d["RestartCount"] >= 1)
        judge(collector, watch, 3)
    finally:
        collector.close()
        docker_engine.docker("rm", "-f", "hungry", "looping", "sick", "small")
    fired = {(rule, subject): message for rule, subject, event, message in told.seen
             if event == "firing"}
    assert fired[("container_oom_killed", "alaweal/hungry")].startswith(
        "alaweal/hungry was killed for lack of memory (OOM killer; limit 16")
    assert fired[("container_down", "alaweal/hungry")] == \
        "alaweal/hungry is exited with exit code 137"
    assert fired[("container_down", "alaweal/looping")].startswith(
        "alaweal/looping is restarting (restart count ")
    assert fired[("container_unhealthy", "alaweal/sick")] == \
        "alaweal/sick is unhealthy: db unreachable"
    assert fired[("container_memory_high", "alaweal/small")].startswith("alaweal/small memory ")
    assert ("container_down", "alaweal/small") not in fired, "a running container is up"
    assert ("container_down", "alaweal/sick") not in fired
    stored = {(a.rule, a.subject) for a in records.firing(store)}
    assert ("container_oom_killed", "alaweal/hungry") in stored


def test_container_rules_are_in_the_defaults_and_changeable(tmp_path: Path) -> None:
    names = {rule.name: rule for rule in DEFAULT_RULES}
    assert names["container_memory_high"].threshold == 90
    assert names["container_memory_high"].for_seconds == 300
    assert names["container_down"].severity == names["container_oom_killed"].severity == \
        "critical"
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text("rules:\n  container_unhealthy:\n    enabled: false\n")
    changed = {rule.name: rule for rule in load_rules(rules_file)}
    assert not changed["container_unhealthy"].enabled
