"""Named HTTP checks (HTTP_CHECKS=frontend=...,admin=...): each a service of its own under
its name - stored columns and events, a tile, health/detailed beside an unchanged `api`,
/metrics, uptime, alerts - against real health servers probed by a real collector tick."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector.loop import Collector, Tick
from ops import catalogue
from ops.alerts.rules import DEFAULT_RULES
from ops.alerts.watch import AlertWatch
from ops.clock import now_ms
from ops.config import Settings, SettingsError, load_settings
from ops.housekeeping import Retention
from ops.report import health_detailed
from ops.snapshot import read_snapshot
from ops.sources.configured import build_sources, http_sources, watched_sources
from ops.storage import Store
from ops.storage import alerts as records
from ops.storage.tiers import RAW
from ops.views.overview import service_tiles, uptime_rows
from ops.watching import as_collector_watches, record
from ops.web.prometheus import BackupFacts, exposition
from tests.servers import HealthServer
from tests.test_pages import app_for, shown

# --- the setting ---


def test_checks_are_read_in_order_beside_the_api() -> None:
    settings = load_settings({
        "API_HEALTH_URL": "http://api:3001/health,http://api2/health",
        "HTTP_CHECKS": " frontend=http://frontend/ , admin=http://admin:8080/health?x=a=b,"},
        env_file=None)
    assert settings.http_checks == {"frontend": "http://frontend/",
                                    "admin": "http://admin:8080/health?x=a=b"}
    assert http_sources(settings) == ["api", "api_2", "frontend", "admin"]
    assert [s.name for s in build_sources(settings)][-4:] == http_sources(settings)
    assert load_settings({}, env_file=None).http_checks is None
    assert load_settings({"HTTP_CHECKS": ""}, env_file=None).http_checks is None


@pytest.mark.parametrize(("value", "problem"), [
    ("http://frontend/", "name=URL pairs separated by commas"),
    ("frontend=", "'frontend=' is not name=URL"),
    ("=http://frontend/", "'=http://frontend/' is not name=URL"),
    (",", "one or more name=URL pairs"),
    ("Frontend=http://frontend/", "lower-case letters, digits and _ starting with a letter"),
    ("front-end=http://frontend/", "it names stored columns), not 'front-end'"),
    ("2fa=http://auth/", "starting with a letter"),
    ("a" * 33 + "=http://x/", "at most 32 long"),
    ("api=http://x/", "not 'api': host, api, mongo, redis"),
    ("redis=http://x/", "not 'redis'"),
    ("host=http://x/", "not 'host'"),
    ("mongo=http://x/", "not 'mongo'"),
    ("database=http://x/", "not 'database'"),
    ("backup=http://x/", "not 'backup'"),
    ("api_2=http://x/", "names starting with api_ are api's columns"),
    ("frontend=http://a/,frontend=http://b/", "'frontend' is there twice"),
    ("frontend=ftp://frontend/",
     "a URL starting with http:// or https://, e.g. frontend=http://frontend/health"),
    ("admin=http://user:pa/ss@admin/", "password has / and @ percent-encoded"),
])
def test_a_bad_value_is_one_line_naming_the_problem(value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"HTTP_CHECKS": value}, env_file=None)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("HTTP_CHECKS=") and "is invalid: expected" in message
    assert problem in message
    assert "pa/ss" not in message, "a password never shows"


def test_the_catalogue_knows_a_check_only_when_told() -> None:
    assert catalogue.service("frontend", ["frontend"]).label == "frontend"
    assert catalogue.fields("frontend", ["frontend"]) is catalogue.fields("api")
    assert catalogue.service("api_2", ["frontend"]).name == "api"
    with pytest.raises(KeyError):
        catalogue.service("frontend")


# --- a real collector against real health servers ---


@pytest.fixture
def frontend() -> Iterator[HealthServer]:
    server = HealthServer()
    server.body = {"status": "OK", "version": "2.4.0"}
    yield server
    server.close()


@pytest.fixture
def admin() -> Iterator[HealthServer]:
    server = HealthServer()
    server.status, server.body = 503, {"status": "maintenance"}
    yield server
    server.close()


class Stack:
    """Settings with the API, frontend and admin checks, a store, a collector whose ticks
    the alert rules judge as `python -m collector` does, and what they announced."""

    def __init__(self, env: dict[str, str], api: HealthServer, frontend: HealthServer,
                 admin: HealthServer) -> None:
        self.env = {**env, "API_HEALTH_URL": api.url,
                    "HTTP_CHECKS": f"frontend={frontend.url},admin={admin.url}"}
        self.settings = load_settings(self.env, env_file=None)
        self.store = Store(self.settings.database_path)
        self.announced: list[tuple[str, str, str]] = []
        self.watch = AlertWatch(self.store, self.settings, DEFAULT_RULES, self._announce)
        self.collector = Collector(self.store, build_sources(self.settings), 5,
                                   Retention.from_settings(self.settings),
                                   after_tick=[self._judge])

    def _announce(self, store: Store, settings: Settings, alert: dict[str, Any], event: str,
                  now_ts: int) -> int:
        self.announced.append((alert["rule"], alert["subject"], event))
        return 1

    def _judge(self, tick: Tick) -> None:
        self.watch.after_tick(tick.ts, tick.row, {r.source: r.error for r in tick.readings})

    def tick(self) -> Tick:
        tick = self.collector.run_once()
        assert tick is not None
        return tick


@pytest.fixture
def stack(env: dict[str, str], health_server: HealthServer, frontend: HealthServer,
          admin: HealthServer) -> Iterator[Stack]:
    made = Stack(env, health_server, frontend, admin)
    yield made
    made.collector.close()


def test_each_check_is_stored_under_its_name(stack: Stack) -> None:
    assert watched_sources(stack.settings) == ["api", "frontend", "admin"]
    tick = stack.tick()
    assert tick.row["frontend_up"] == 1 and tick.row["admin_up"] == 0
    [row] = stack.store.tier_rows(RAW, columns=[
        "api_up", "frontend_up", "frontend_latency_ms", "frontend_status_code", "admin_up",
        "admin_status_code"])
    assert row["api_up"] == 1 and row["frontend_up"] == 1 and row["admin_up"] == 0
    assert row["frontend_latency_ms"] is not None and row["frontend_status_code"] == 200
    assert row["admin_status_code"] is None, "a down source stores no figures"
    latest = stack.store.latest()
    assert latest["frontend"].reading["info"]["version"] == "2.4.0"
    assert not latest["admin"].up and latest["admin"].error == "HTTP 503"
    assert latest["admin"].reading["values"]["status_code"] == 503
    [down] = stack.store.events(0, 2**62, sources=["admin"])
    assert (down.kind, down.message) == ("down", "HTTP 503")
    assert [e.kind for e in stack.store.events(0, 2**62, sources=["frontend"])] == ["up"]


def test_health_detailed_keeps_api_and_adds_the_checks(stack: Stack) -> None:
    stack.tick()
    snapshot = read_snapshot(stack.store, now_ms())
    health = health_detailed(snapshot, stack.settings)
    without = health_detailed(snapshot, load_settings(
        {k: v for k, v in stack.env.items() if k != "HTTP_CHECKS"}, env_file=None))
    assert health["services"]["api"] == without["services"]["api"] == {
        "status": "UP", "version": "1.0.0"}
    assert list(health["services"]) == ["api", "frontend", "admin", "database", "cache"]
    assert health["services"]["frontend"] == {"status": "UP", "version": "2.4.0"}
    assert health["services"]["admin"] == {"status": "DOWN", "version": None}
    assert health["status"] == "DEGRADED", "a check that is down is a service down"
    assert without["status"] == "OK"
    assert set(snapshot.availability) == {"api", "frontend", "admin"}


def test_metrics_label_each_check_by_its_name(stack: Stack) -> None:
    stack.tick()
    text = exposition(read_snapshot(stack.store, now_ms()), stack.settings,
                      BackupFacts()).decode()
    found = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
             for family in text_string_to_metric_families(text) for sample in family.samples}
    assert 'ops_service_up{service="frontend"} 1.0' in text
    assert found[("ops_service_up", (("service", "admin"),))] == 0.0
    assert found[("ops_service_up", (("service", "api"),))] == 1.0
    for name in ("api", "frontend", "admin"):  # a refused request has a latency too
        assert found[("ops_api_latency_seconds", (("service", name),))] >= 0
    assert found[("ops_service_uptime_ratio", (("service", "admin"), ("window", "24h")))] == 0


def test_the_overview_shows_a_tile_per_check(stack: Stack, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    stack.tick()
    tiles = service_tiles(stack.store, stack.settings, now_ms())
    assert [(t.label, t.state) for t in tiles] == [
        ("API", "UP"), ("frontend", "UP"), ("admin", "DOWN"),
        ("Database", "not configured"), ("Cache", "not configured")]
    assert tiles[2].figure == "HTTP 503" and tiles[1].figure.endswith(" ms")
    assert [label for label, _ in uptime_rows(stack.store, stack.settings, now_ms())] == [
        "API", "frontend", "admin"]

    app = app_for(monkeypatch, stack.env)
    assert not app.exception, app.exception
    page = shown(app)
    assert "**frontend** &nbsp; :green-badge[UP]" in page
    assert "**admin** &nbsp; :red-badge[DOWN]" in page
    assert "HTTP 503" in page


def test_a_check_that_stays_down_fires_service_down_under_its_name(stack: Stack,
                                                                   admin: HealthServer) -> None:
    for _ in range(2):
        stack.tick()
    assert stack.announced == [], "down twice: not yet"
    stack.tick()
    assert stack.announced == [("service_down", "admin", "firing")]
    [alert] = records.firing(stack.store)
    assert (alert.subject, alert.message) == ("admin", "admin is down: HTTP 503")

    admin.status = 200
    for _ in range(3):
        stack.tick()
    assert stack.announced[-1] == ("service_down", "admin", "resolved")


def test_a_slow_check_fires_the_latency_rule_under_its_name(stack: Stack) -> None:
    """The sample is the real tick's with the frontend's latency set by the test (a real
    slow answer would race the probe's deadline)."""
    tick = stack.tick()
    slow = {**tick.row, "frontend_latency_ms": 2500.0, "admin_up": 1}
    for step in range(1, 4):
        stack.watch.after_tick(tick.ts + step * 5000, slow, {})
    assert stack.announced == [("api_latency", "frontend", "firing")]
    [alert] = records.firing(stack.store)
    assert alert.message == "frontend answered in 2500 ms (limit 1000 ms)"


def test_readers_without_the_settings_see_the_collector_s_checks(stack: Stack,
                                                                 env: dict[str, str]) -> None:
    record(stack.store, stack.settings)
    mine, note = as_collector_watches(load_settings(env, env_file=None), stack.store)
    assert list(mine.http_checks or {}) == ["frontend", "admin"]
    assert note is not None and "watches api, frontend, admin" in note
    same, none = as_collector_watches(stack.settings, stack.store)
    assert none is None and same.http_checks == stack.settings.http_checks
