"""RedisSource against a real redis-server: figures, counters, hit rate, outages."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis

from ops.sources.redis import FIELDS, RedisSource, hit_rate
from tests.servers import RedisServer

MB = 1024 * 1024
COUNTERS = {
    "keyspace_hits", "keyspace_misses", "commands", "connections_received",
    "evicted_keys", "expired_keys",
}


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A separate client to cause activity the source then sees."""
    conn = redis.Redis.from_url(redis_server.url)
    yield conn
    conn.close()


def test_fields_declare_the_server_counters() -> None:
    assert {field.name for field in FIELDS if field.counter} == COUNTERS
    assert [field.name for field in FIELDS if not field.counter] == [
        "ping_ms", "uptime_s", "connected_clients", "blocked_clients", "ops_per_sec",
        "used_memory_mb", "used_memory_peak_mb", "maxmemory_mb", "memory_used_pct",
        "fragmentation_ratio", "hit_rate_total_pct", "keys_total",
    ]


def test_probe_of_a_fresh_server(redis_server: RedisServer) -> None:
    source = RedisSource(redis_server.url)
    reading = source.probe()
    source.close()

    assert reading.up and reading.error is None and reading.source == "redis"
    values = reading.values
    assert set(values) == {field.name for field in FIELDS}
    assert values["ping_ms"] > 0
    assert values["connected_clients"] >= 1
    assert values["blocked_clients"] == 0
    assert 0 < values["used_memory_mb"] <= values["used_memory_peak_mb"]
    assert values["maxmemory_mb"] == 0
    assert values["fragmentation_ratio"] > 0
    assert values["hit_rate_total_pct"] is None  # no lookups yet: unknown, not 0 %
    assert values["keys_total"] == 0
    assert reading.info["version"].count(".") == 2
    assert reading.info["mode"] == "standalone"
    assert reading.info["role"] == "master"
    assert reading.info["keys_per_db"] == {}
    assert reading.info["maxmemory_policy"] == "noeviction"


def test_counters_are_the_servers_raw_totals_and_grow(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    source = RedisSource(redis_server.url)
    before = source.probe().values
    for i in range(50):
        client.set(f"key:{i}", i)
    other = redis.Redis.from_url(redis_server.url)
    other.ping()
    other.close()
    after = source.probe().values

    assert after["commands"] - before["commands"] >= 50
    assert after["connections_received"] > before["connections_received"]
    assert after["keys_total"] == 50


def test_hit_rate_from_real_hits_and_misses(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    client.set("present", "yes")
    for _ in range(3):
        assert client.get("present") == b"yes"
    assert client.get("absent") is None

    values = RedisSource(redis_server.url).probe().values
    assert values["keyspace_hits"] == 3
    assert values["keyspace_misses"] == 1
    assert values["hit_rate_total_pct"] == 75.0


def test_hit_rate_is_none_without_lookups() -> None:
    """The one formula every reader uses: since start, per interval, summed over a range."""
    assert hit_rate(3, 1) == 75.0
    assert hit_rate(10, 0) == 100.0
    assert hit_rate(0, 5) == 0.0
    assert hit_rate(0, 0) is None, "no lookups is not a 0 % hit rate"
    assert hit_rate(None, 4) is None and hit_rate(4, None) is None


def test_memory_share_of_host_without_limit_and_of_maxmemory_with_one(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    default = RedisSource(redis_server.url).probe().values
    assert default["maxmemory_mb"] == 0
    assert default["memory_used_pct"] is not None and 0 < default["memory_used_pct"] < 100

    on_small_host = RedisSource(redis_server.url, host_memory_mb=lambda: 64.0).probe().values
    expected = on_small_host["used_memory_mb"] / 64 * 100
    assert on_small_host["memory_used_pct"] == pytest.approx(expected, abs=0.05)

    client.config_set("maxmemory", "100mb")
    limited = RedisSource(redis_server.url).probe().values
    assert limited["maxmemory_mb"] == 100.0
    expected = limited["used_memory_mb"] / 100 * 100
    assert limited["memory_used_pct"] == pytest.approx(expected, abs=0.05)


def test_keys_per_database_with_expires(redis_server: RedisServer, client: redis.Redis) -> None:
    client.set("a", 1)
    client.set("b", 2, ex=600)
    db3 = redis.Redis.from_url(redis_server.url.removesuffix("/0") + "/3")
    db3.mset({"x": 1, "y": 2, "z": 3})
    db3.close()

    reading = RedisSource(redis_server.url).probe()
    assert reading.info["keys_per_db"] == {
        "db0": {"keys": 2, "expires": 1},
        "db3": {"keys": 3, "expires": 0},
    }
    assert reading.values["keys_total"] == 5


def test_expired_and_evicted_keys_are_counted(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    client.set("short", 1, px=1)
    time.sleep(0.05)
    assert client.get("short") is None  # the lookup expires it
    client.config_set("maxmemory-policy", "allkeys-lru")
    used = client.info("memory")["used_memory"]
    client.config_set("maxmemory", used + 200_000)
    for i in range(200):
        client.set(f"big:{i}", "x" * 10_000)

    reading = RedisSource(redis_server.url).probe()
    assert reading.values["expired_keys"] >= 1
    assert reading.values["evicted_keys"] > 0
    assert reading.info["maxmemory_policy"] == "allkeys-lru"


def test_down_when_stopped_and_up_again_after_restart(redis_server: RedisServer) -> None:
    source = RedisSource(redis_server.url)
    assert source.probe().up

    redis_server.stop()
    down = source.probe()
    assert not down.up
    assert down.error and "ConnectionError" in down.error
    assert down.values == {}

    redis_server.start()
    again = source.probe()
    assert again.up, again.error
    assert again.values["uptime_s"] < 60
    source.close()


def test_server_that_never_answers_is_down_within_the_timeout() -> None:
    with socket.socket() as listener:  # accepts connections, never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        source = RedisSource(f"redis://127.0.0.1:{port}/0")
        started = time.monotonic()
        reading = source.probe()
        took = time.monotonic() - started

    assert not reading.up
    assert "Timeout" in (reading.error or "")
    assert took < 3.0  # one socket timeout, no retries


def test_wrong_password_is_down_and_not_echoed(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    client.config_set("requirepass", "right-one")
    host_port = redis_server.url.removeprefix("redis://")
    reading = RedisSource(f"redis://:Wr0ngPassw0rd@{host_port}").probe()
    assert not reading.up
    assert reading.error
    assert "Wr0ngPassw0rd" not in reading.error

    good = RedisSource(f"redis://:right-one@{host_port}").probe()
    assert good.up, good.error
