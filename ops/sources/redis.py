"""Redis: one PING for latency and one INFO for everything else, per probe.

Counters are the server's raw totals since it started; the collector turns them into
per-interval deltas (and the interval hit rate). `hit_rate_total_pct` is the hit rate
over the server's whole life, the figure `redis-cli INFO` users know.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psutil
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ops.catalogue import REDIS_FIELDS
from ops.redaction import remember_url
from ops.sources.base import PROBE_TIMEOUT_SECONDS, Reading, elapsed_ms

MB = 1024 * 1024

FIELDS = REDIS_FIELDS  # declared in ops.catalogue, where every reader finds them

# INFO name -> field name, for numbers taken as they are.
_PLAIN = {
    "uptime_in_seconds": "uptime_s",
    "connected_clients": "connected_clients",
    "blocked_clients": "blocked_clients",
    "instantaneous_ops_per_sec": "ops_per_sec",
    "mem_fragmentation_ratio": "fragmentation_ratio",
    "keyspace_hits": "keyspace_hits",
    "keyspace_misses": "keyspace_misses",
    "total_commands_processed": "commands",
    "total_connections_received": "connections_received",
    "evicted_keys": "evicted_keys",
    "expired_keys": "expired_keys",
}


def _mb(n_bytes: float) -> float:
    return round(n_bytes / MB, 2)


def _number(value: Any) -> float | None:
    """An INFO value as a number; INFO may lack a field on older or trimmed servers."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _host_memory_mb() -> float:
    return psutil.virtual_memory().total / MB


class RedisSource:
    """One client for the source's life; redis-py reconnects on the next command."""

    name = "redis"
    fields = FIELDS

    def __init__(self, url: str, host_memory_mb: Callable[[], float] | None = None) -> None:
        remember_url(url)  # error texts are cleaned of its password (Reading)
        self._host_memory_mb = host_memory_mb or _host_memory_mb
        # No retries: the default retries with backoff would stretch a probe of a dead
        # server far beyond its timeout; the next probe is the retry.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=PROBE_TIMEOUT_SECONDS,
            socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
            health_check_interval=0,
            retry=Retry(NoBackoff(), 0),
        )

    def probe(self) -> Reading:
        started = time.perf_counter()
        try:
            self._client.ping()
            ping_ms = elapsed_ms(started)
            info = self._client.info("all")
            values = {"ping_ms": ping_ms} | self._values(info)
        except (redis.RedisError, OSError, ValueError) as err:
            return Reading.down(self.name, err, elapsed_ms(started))
        return Reading(
            self.name, True, values=values, info=_info(info), took_ms=elapsed_ms(started)
        )

    def close(self) -> None:
        self._client.close()

    def _values(self, info: dict[str, Any]) -> dict[str, float | None]:
        values = {field: _number(info.get(key)) for key, field in _PLAIN.items()}
        used = _number(info.get("used_memory"))
        peak = _number(info.get("used_memory_peak"))
        limit = _number(info.get("maxmemory")) or 0
        values["used_memory_mb"] = None if used is None else _mb(used)
        values["used_memory_peak_mb"] = None if peak is None else _mb(peak)
        values["maxmemory_mb"] = _mb(limit)
        values["memory_used_pct"] = self._memory_used_pct(used, limit)
        rate = hit_rate(values["keyspace_hits"], values["keyspace_misses"])
        values["hit_rate_total_pct"] = None if rate is None else round(rate, 2)
        values["keys_total"] = sum(db["keys"] for db in _keyspace(info).values())
        return values

    def _memory_used_pct(self, used: float | None, limit: float) -> float | None:
        """Share of the limit, or of the host's memory when Redis has no limit."""
        if used is None:
            return None
        ceiling = limit or self._host_memory_mb() * MB
        # Four decimals: a small Redis on a big host is a few thousandths of a percent.
        return round(used / ceiling * 100, 4) if ceiling else None


def hit_rate(hits: float | None, misses: float | None) -> float | None:
    """Keyspace hits / lookups in %, from any counts (since start, an interval, summed
    over a range); None without lookups: no lookups is not a 0 % hit rate."""
    if hits is None or misses is None or hits + misses <= 0:
        return None
    return hits / (hits + misses) * 100


def _keyspace(info: dict[str, Any]) -> dict[str, dict[str, int]]:
    """{"db0": {"keys": n, "expires": m}} from INFO's keyspace section."""
    return {
        key: {"keys": int(value.get("keys", 0)), "expires": int(value.get("expires", 0))}
        for key, value in info.items()
        if key.startswith("db") and key[2:].isdigit() and isinstance(value, dict)
    }


def _info(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": info.get("redis_version"),
        "mode": info.get("redis_mode"),
        "role": info.get("role"),
        "keys_per_db": _keyspace(info),
        "maxmemory_policy": info.get("maxmemory_policy"),
    }
