"""Every alert rule fires and resolves from samples stored by the test, with time
injected; flapping does not spam; the rules file changes rules or names what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ops.alerts.rules import DEFAULT_RULES, RulesFileError, load_rules
from ops.alerts.watch import AlertWatch
from ops.config import Settings, load_settings
from ops.deltas import columns_for
from ops.sources import host, http, mongo, redis
from ops.storage import Store
from ops.storage import alerts as records
from ops.storage.tiers import RAW

ROOT = Path(__file__).resolve().parents[1]
STEP = 5000
BASE_ROW = {"host_up": 1, "host_mem_used_pct": 40.0, "host_load_5": 1.0, "host_cores": 4,
            "host_disk_used_pct": 50.0, "api_up": 1, "api_latency_ms": 20.0, "redis_up": 1,
            "redis_maxmemory_mb": 0, "redis_memory_used_pct": 1.0, "mongo_up": 1,
            "mongo_connections_current": 10, "mongo_connections_available": 990,
            "redis_keyspace_hits_delta": 100, "redis_keyspace_misses_delta": 5,
            "redis_evicted_keys_delta": 0}


class Recorder:
    """Takes announcements the way ops.alerts.notify.announce does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, store: Store, settings: Settings, alert: dict[str, Any], event: str,
                 now_ts: int) -> int:
        self.calls.append((alert["rule"], alert["subject"], event))
        return 1


class Bench:
    """A store, settings and an alert watch, fed one stored sample at a time."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.settings = load_settings({
            "OPS_DATA_DIR": str(tmp_path), "MONGO_URI": "mongodb://127.0.0.1:1/",
            "REDIS_URL": "redis://127.0.0.1:1/0", "API_HEALTH_URL": "http://127.0.0.1:1/h",
            **env}, env_file=None)
        self.store = Store(self.settings.database_path)
        self.store.ensure_columns(c for name, fields in (
            ("host", host.FIELDS), ("redis", redis.FIELDS), ("mongo", mongo.FIELDS),
            ("api", http.FIELDS)) for c in columns_for(name, fields))
        self.recorder = Recorder()
        self.watch = AlertWatch(self.store, self.settings, DEFAULT_RULES, self.recorder)
        self.ts = 1_000_000_000_000

    def tick(self, errors: dict[str, str | None] | None = None, **values: Any) -> list[Any]:
        self.ts += STEP
        self.store.append_sample(self.ts, {"dt_s": 5.0, **BASE_ROW, **values})
        row = self.store.tier_rows(RAW, self.ts, self.ts + 1)[0]
        return self.watch.after_tick(self.ts, row, errors or {})

    def ticks(self, count: int, **values: Any) -> list[Any]:
        return [change for _ in range(count) for change in self.tick(**values)]

    def events(self, rule: str) -> list[str]:
        return [event for name, _, event in self.recorder.calls if name == rule]


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    return Bench(tmp_path)


def test_quiet_stack_raises_nothing(bench: Bench) -> None:
    bench.ticks(100)
    assert bench.recorder.calls == []


def test_service_down_fires_on_the_third_sample_and_resolves(bench: Bench) -> None:
    bench.tick(redis_up=0, errors={"redis": "Error 111 connecting"})
    bench.tick(redis_up=0, errors={"redis": "Error 111 connecting"})
    assert bench.events("service_down") == []
    bench.tick(redis_up=0, errors={"redis": "Error 111 connecting"})
    assert bench.recorder.calls == [("service_down", "cache", "firing")]
    [alert] = records.firing(bench.store)
    assert alert.message == "cache is down: Error 111 connecting"
    bench.ticks(2)
    assert bench.events("service_down") == ["firing"], "recovering, not resolved yet"
    bench.tick()
    assert bench.events("service_down") == ["firing", "resolved"]
    [done] = records.history(bench.store)
    assert done.status == "resolved" and done.resolved_ts - done.firing_ts == 3 * STEP


@pytest.mark.parametrize(("rule", "values", "samples_to_fire"), [
    ("api_latency", {"api_latency_ms": 2500.0}, 3),
    ("memory_high", {"host_mem_used_pct": 95.0}, 61),  # 5 minutes of 5 s samples
    ("load_high", {"host_load_5": 12.0}, 61),
    ("disk_high", {"host_disk_used_pct": 97.0}, 1),
    ("redis_memory_high", {"redis_maxmemory_mb": 100, "redis_memory_used_pct": 96.0}, 61),
    ("mongo_connections_high", {"mongo_connections_current": 900,
                                "mongo_connections_available": 100}, 61),
])
def test_threshold_rules_fire_after_their_duration_and_resolve(
        bench: Bench, rule: str, values: dict[str, Any], samples_to_fire: int) -> None:
    bench.ticks(samples_to_fire - 1, **values)
    assert bench.events(rule) == []
    bench.tick(**values)
    assert bench.events(rule) == ["firing"]
    bench.ticks(3)
    assert bench.events(rule) == ["firing", "resolved"]


def test_hit_rate_low_needs_enough_traffic(bench: Bench) -> None:
    bench.ticks(10, redis_keyspace_hits_delta=1, redis_keyspace_misses_delta=5)
    assert bench.events("redis_hit_rate_low") == [], "60 lookups: too few to judge"
    bench.ticks(1, redis_keyspace_hits_delta=100, redis_keyspace_misses_delta=900)
    assert bench.events("redis_hit_rate_low") == ["firing"]
    [alert] = [a for a in records.firing(bench.store) if a.rule == "redis_hit_rate_low"]
    assert alert.value == pytest.approx(100 * 110 / 1060), "summed hits over summed lookups"
    bench.ticks(200, redis_keyspace_hits_delta=1000, redis_keyspace_misses_delta=0)
    assert bench.events("redis_hit_rate_low") == ["firing", "resolved"]


def test_evictions(bench: Bench) -> None:
    bench.tick(redis_evicted_keys_delta=40)
    assert bench.events("redis_evicting") == ["firing"]
    bench.ticks(185)  # the 15-minute window passes without evictions
    assert bench.events("redis_evicting") == ["firing", "resolved"]


def test_backup_missing_and_backup_failed(bench: Bench) -> None:
    bench.store.record_event(bench.ts - 27 * 3_600_000, "mongo", "up", None)
    bench.tick()
    assert bench.events("backup_missing") == ["firing"]
    job, _ = bench.store.request_job("backup", "test", bench.ts)
    bench.store.finish_job(job.id, bench.ts, "failed", error="disk full (No space left)")
    bench.tick()
    assert bench.events("backup_failed") == ["firing"]
    [failed] = [a for a in records.firing(bench.store) if a.rule == "backup_failed"]
    assert failed.message == "the last backup failed: disk full (No space left)"
    job, _ = bench.store.request_job("backup", "test", bench.ts)
    bench.store.finish_job(job.id, bench.ts, "ok", result={})
    bench.ticks(3)
    assert bench.events("backup_failed") == ["firing", "resolved"]


def test_a_flapping_service_does_not_spam(bench: Bench) -> None:
    for _ in range(30):
        bench.tick(api_up=0, errors={"api": "HTTP 503"})
        bench.tick()
    assert bench.events("service_down") == [], "never down three samples in a row"
    bench.ticks(3, api_up=0)
    for _ in range(30):  # firing, then up one sample in two
        bench.tick()
        bench.tick(api_up=0)
    assert bench.events("service_down") == ["firing"], "not resolved and fired again"


def test_pending_that_goes_away_is_cleared_quietly(bench: Bench) -> None:
    bench.ticks(2, mongo_up=0)
    bench.tick()
    assert bench.recorder.calls == []
    statuses = [alert.status for alert in records.every(bench.store)]
    assert statuses == ["cleared"]
    assert records.history(bench.store) == []


def test_rules_file_toml_and_yaml(tmp_path: Path) -> None:
    toml = tmp_path / "rules.toml"
    toml.write_text('[rules.memory_high]\nthreshold = 80\nfor_seconds = 0\n'
                    '[rules.api_latency]\nenabled = false\n')
    rules = {r.name: r for r in load_rules(toml)}
    assert rules["memory_high"].threshold == 80 and rules["memory_high"].for_seconds == 0
    assert rules["api_latency"].enabled is False
    assert rules["load_high"] == {r.name: r for r in DEFAULT_RULES}["load_high"]
    yml = tmp_path / "rules.yaml"
    yml.write_text("rules:\n  service_down:\n    for_samples: 5\n    severity: warning\n")
    rules = {r.name: r for r in load_rules(yml)}
    assert rules["service_down"].for_samples == 5
    assert rules["service_down"].severity == "warning"


@pytest.mark.parametrize(("text", "expected"), [
    ("[rules.nope]\nthreshold = 1\n", "unknown rule 'nope'"),
    ("[rules.memory_high]\ncheck = 1\n", "rules.memory_high.check cannot be set"),
    ('[rules.memory_high]\nthreshold = "high"\n', "rules.memory_high.threshold='high'"),
    ("[rules.memory_high\n", "cannot read it"),
    ("[rules.memory_high]\nthreshold = nan\n", "rules.memory_high.threshold=nan"),
    ("[rules.memory_high]\nthreshold = inf\n", "rules.memory_high.threshold=inf"),
])
def test_bad_rules_file_is_named_on_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(RulesFileError) as caught:
        load_rules(path)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_a_binary_or_huge_rules_file_is_refused_before_parsing(tmp_path: Path) -> None:
    binary = tmp_path / "rules.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(RulesFileError) as caught:
        load_rules(binary)
    assert "cannot read it" in str(caught.value) and "utf-8" in str(caught.value)
    huge = tmp_path / "rules.yaml"
    huge.write_text("rules:\n" + "  # padding\n" * 200_000)
    with pytest.raises(RulesFileError) as caught:
        load_rules(huge)
    assert "too large for a rules file" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_collector_stops_on_a_bad_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[rules.nope]\n")
    result = subprocess.run([sys.executable, "-m", "collector"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={
                                "PATH": "/usr/bin:/bin", "OPS_DATA_DIR": str(tmp_path),
                                "ALERT_RULES_FILE": str(path)})
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: ALERT_RULES_FILE {path}: unknown rule 'nope'")
    assert not (tmp_path / "ops.sqlite3").exists()


def test_a_rules_file_is_read_again_only_when_it_changes(tmp_path: Path) -> None:
    from ops.alerts import rules as rules_module

    path = tmp_path / "rules.toml"
    path.write_text("[rules.memory_high]\nthreshold = 70\n")
    first = {r.name: r for r in load_rules(path)}
    hits = rules_module._load_rules.cache_info().hits
    assert {r.name: r for r in load_rules(path)} == first
    assert rules_module._load_rules.cache_info().hits == hits + 1, "served without reading"
    path.write_text("[rules.memory_high]\nthreshold = 75.5\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert {r.name: r for r in load_rules(path)}["memory_high"].threshold == 75.5
