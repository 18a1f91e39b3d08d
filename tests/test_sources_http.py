"""HttpSource against a real HTTP server: 2xx up, anything else down, in time."""

from __future__ import annotations

import time

from ops.sources.http import FIELDS, HttpSource, safe_url
from tests.servers import HealthServer, free_port


def test_fields() -> None:
    assert [field.name for field in FIELDS] == ["latency_ms", "status_code"]
    assert not any(field.counter for field in FIELDS)


def test_ok_with_version_and_status_from_the_body(health_server: HealthServer) -> None:
    source = HttpSource(health_server.url)
    reading = source.probe()
    source.close()

    assert reading.up and reading.error is None
    assert reading.source == "api"
    assert reading.values["status_code"] == 200
    assert reading.values["latency_ms"] > 0
    assert reading.info == {"url": health_server.url, "version": "1.0.0", "status": "OK"}
    assert health_server.requests == 1


def test_version_nested_as_in_the_detailed_health_shape(health_server: HealthServer) -> None:
    health_server.body = {
        "status": "OK",
        "services": {"api": {"status": "UP", "version": "2.3.1"}, "cache": {"status": "UP"}},
    }
    reading = HttpSource(health_server.url, name="backend").probe()
    assert reading.source == "backend"
    assert reading.info["version"] == "2.3.1"
    assert reading.info["status"] == "OK"


def test_non_json_body_is_still_up_without_version(health_server: HealthServer) -> None:
    health_server.body = "<html>fine</html>"
    reading = HttpSource(health_server.url).probe()
    assert reading.up
    assert reading.values["status_code"] == 200
    assert "version" not in reading.info and "status" not in reading.info


def test_503_is_down_with_the_code_and_body_status(health_server: HealthServer) -> None:
    health_server.status = 503
    health_server.body = {"status": "ERROR", "version": "1.0.0"}
    reading = HttpSource(health_server.url).probe()
    assert not reading.up
    assert reading.error == "HTTP 503"
    assert reading.values["status_code"] == 503
    assert reading.info["status"] == "ERROR"


def test_404_is_down(health_server: HealthServer) -> None:
    health_server.status = 404
    health_server.body = "not here"
    reading = HttpSource(health_server.url).probe()
    assert not reading.up and reading.error == "HTTP 404"


def test_slow_server_is_down_with_a_timeout_in_time(health_server: HealthServer) -> None:
    health_server.delay = 3.0
    started = time.monotonic()
    reading = HttpSource(health_server.url).probe()
    took = time.monotonic() - started

    assert not reading.up
    assert "timed out" in (reading.error or "")
    assert took < 2.5
    assert reading.took_ms < 2500


def test_same_source_recovers_when_the_server_answers_again(health_server: HealthServer) -> None:
    source = HttpSource(health_server.url)
    health_server.status = 500
    assert not source.probe().up
    health_server.status = 200
    assert source.probe().up


def test_connection_refused_is_down() -> None:
    reading = HttpSource(f"http://127.0.0.1:{free_port()}/health").probe()
    assert not reading.up
    assert reading.error and "Connection refused" in reading.error
    assert reading.values == {}


def test_only_64_kib_of_a_large_body_are_read(health_server: HealthServer) -> None:
    health_server.body = {"version": "9.9.9", "padding": "x" * 200_000}
    reading = HttpSource(health_server.url).probe()
    assert reading.up
    assert "version" not in reading.info  # the capped body is not whole JSON


def test_credentials_and_query_values_are_never_shown(health_server: HealthServer) -> None:
    url = health_server.url.replace("http://", "http://ops:Hunter2pw@") + "?token=abc123"
    source = HttpSource(url)
    reading = source.probe()
    assert reading.up
    assert "Hunter2pw" not in reading.info["url"] and "abc123" not in reading.info["url"]
    assert reading.info["url"] == health_server.url + "?token=***"

    down = HttpSource(url.replace(str(health_server.port), str(free_port()))).probe()
    assert not down.up and "Hunter2pw" not in (down.error or "")


def test_safe_url_keeps_scheme_host_and_path() -> None:
    assert safe_url("https://u:p@api.example:3001/api/monitoring/health?x=1#frag") == (
        "https://api.example:3001/api/monitoring/health?x=***"
    )
    assert safe_url("http://api:3001/health") == "http://api:3001/health"


def test_uptime_from_the_body_plain_or_in_the_seed_shape(health_server: HealthServer) -> None:
    source = HttpSource(health_server.url)
    health_server.body = {"status": "OK", "uptime": {"seconds": 75, "formatted": "1m 15s"}}
    assert source.probe().info["uptime_s"] == 75.0
    health_server.body = {"status": "OK", "uptime": 12.5}
    assert source.probe().info["uptime_s"] == 12.5
    health_server.body = {"status": "OK", "uptime": "long"}
    assert "uptime_s" not in source.probe().info
