"""The seed's JSON shapes (`/api/monitoring/...`), built from what the store holds.

Pure functions of a `Snapshot` (the latest reading of each source, the collector's
heartbeat, the newest sample's Redis deltas, the time of the request) and the settings:
no I/O here, so every edge case is a plain unit test.

Choices where the seed has no Node process or is silent:

- Units: memory in whole MB, `usagePercent` a string with two decimals ("28.65"), load
  averages as numbers in /health/detailed and as two-decimal strings in /metrics, as the
  seed shows them. A figure we do not have (no sample yet, service down) is `null`; keys
  are always present.
- `uptime`: the API's uptime when its health body gives one (`info["uptime_s"]` of the
  "api" reading, advanced by the age of that reading); otherwise the collector's uptime
  from its heartbeat, and 0 while the collector is not running.
- `heapUsed` / `memoryUsage`: there is no Node heap; it is the collector's own resident
  memory (RSS) in whole MB, from the host reading.
- Hit rates: one format everywhere, two decimals and a percent sign ("90.91%", also in
  /health/detailed where the seed shows "90%"): the hit rate since Redis started.
  `null` until Redis has served a lookup (no lookups is not a 0 % hit rate).
- `services.database`: `host` is the host list of MONGO_URI without port or credentials
  ("mongo"); `name` the first watched database (BACKUP_DATABASES, else the first one
  the collector saw, else the URI's database).
- `services.api.version`: the `version` of the API's health body, else this project's.
- Service status: "UP", "DOWN", or "NOT_CONFIGURED" when its setting is unset. A
  configured service with no reading yet counts as "DOWN". More health URLs (api_2, ...)
  appear beside "api" and count like it; so do the named HTTP checks (HTTP_CHECKS), each
  under its own name as `{status, version}`, `version` null when its body has none (it
  is not the API: this project's version would be a lie).
- Top-level `status`: "STALE" when the collector has not ticked for 3 sample intervals
  (or never has): the figures are old; else "DEGRADED" when a configured service is
  down; else "OK". Endpoints answer 503 for anything but "OK".
- `/api/monitoring/dashboard`: `services.<name>` is true (UP), false (DOWN) or null (not
  configured); `cache.enabled` is whether REDIS_URL is set. Beyond the seed it adds
  `availability` (uptime % per service over "24h", "7d", "30d", "1y", from the up/down
  events) and, like /health/detailed, `alerts`: the firing alerts, each
  `{rule, subject, severity, message, since}`.
- `/api/monitoring/cache/stats` (no JSON in the seed), the shape chosen:
  `{status, enabled, version, uptime: {seconds, formatted},
  hitRate: {total, lastInterval}, hits: {total, lastInterval}, misses: {...},
  connections: {connected, blocked, totalReceived},
  commands: {totalProcessed, opsPerSecond},
  memory: {used, peak, max, usagePercent, usageOf, fragmentationRatio},
  keys: {total, evicted, expired, perDb}, sampledAt}` - memory in whole MB (`max` 0 is
  no limit), `usagePercent` of `usageOf` ("maxmemory", or "host" without a limit),
  totals since Redis started, `lastInterval` over the newest sample's interval,
  `sampledAt` ISO 8601 UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ops import __version__, catalogue, formatting
from ops.clock import iso_ms
from ops.config import Settings
from ops.heartbeat import heartbeat_fresh
from ops.sources.configured import (
    instances,
    is_configured,
    service_of,
    services,
    watched_sources,
)
from ops.sources.mongo import split_uri
from ops.sources.redis import hit_rate
from ops.storage import Heartbeat, Latest

OK, DEGRADED, STALE = "OK", "DEGRADED", "STALE"
UP, DOWN, NOT_CONFIGURED = "UP", "DOWN", "NOT_CONFIGURED"
JSON = dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """One read of the store at `now_ts` (ms): everything the endpoints are built from."""

    now_ts: int
    latest: Mapping[str, Latest] = field(default_factory=dict)
    heartbeat: Heartbeat | None = None
    # Deltas of the newest sample: {"keyspace_hits": n, "keyspace_misses": m}.
    redis_interval: Mapping[str, float | None] = field(default_factory=dict)
    # Firing alerts: {rule, subject, severity, message, since} with `since` ISO 8601 UTC.
    alerts: tuple[Mapping[str, Any], ...] = ()
    # Uptime % per source and window ("24h", "7d", "30d", "1y"), from up/down events.
    availability: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)


# --- small conversions ---


def _whole(value: float | None) -> int | None:
    """Whole numbers rounded half up, as the seed's Math.round (Python's round is half-even)."""
    return None if value is None else math.floor(value + 0.5)


def _two(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _text2(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def hit_rate_text(hits: float | None, misses: float | None) -> str | None:
    """"90.91%"; None when there were no lookups to rate."""
    rate = hit_rate(hits, misses)
    return None if rate is None else f"{rate:.2f}%"


def _values(snapshot: Snapshot, source: str) -> Mapping[str, Any]:
    """The numeric figures of a source's latest reading ({} when down or never read)."""
    item = snapshot.latest.get(source)
    return (item.reading.get("values") or {}) if item else {}


def _info(snapshot: Snapshot, source: str) -> Mapping[str, Any]:
    item = snapshot.latest.get(source)
    return (item.reading.get("info") or {}) if item else {}


# --- statuses ---


def seed_services(settings: Settings) -> list[tuple[str, str]]:
    """(key in the seed's JSON, source) of every service, configured or not: "api", more
    health URLs beside it (api_2, ...) and the named checks, under their own names,
    "database", "cache"."""
    pairs = []
    for service in services(settings):
        names = (instances(settings, service) or [service.name]) if service.many \
            else [service.name]
        pairs += [((service.seed_key or name) if name == service.name else name, name)
                  for name in names]
    return pairs


def service_status(snapshot: Snapshot, settings: Settings, source: str) -> str:
    """UP/DOWN from the latest reading; a configured source never read counts as DOWN."""
    if not is_configured(settings, source):
        return NOT_CONFIGURED
    item = snapshot.latest.get(source)
    return UP if item is not None and item.up else DOWN


def collector_fresh(snapshot: Snapshot) -> bool:
    """True when the last tick is younger than three sample intervals."""
    return heartbeat_fresh(snapshot.heartbeat, snapshot.now_ts)


def overall_status(snapshot: Snapshot, settings: Settings) -> str:
    if not collector_fresh(snapshot):
        return STALE
    statuses = (service_status(snapshot, settings, s) for s in watched_sources(settings))
    return DEGRADED if DOWN in statuses else OK


def http_status(status: str) -> int:
    """200 only when everything watched is up and the figures are fresh."""
    return 200 if status == OK else 503


# --- shared pieces ---


def database_host(uri: str) -> str:
    """The host names of a MongoDB URI, without ports or credentials ("mongo")."""
    hosts, _ = split_uri(uri)
    names = [urlsplit(f"//{item}").hostname or item for item in hosts.split(",") if item]
    return ",".join(names)


def database_name(snapshot: Snapshot, settings: Settings) -> str | None:
    """The first watched database: configured, else seen by the collector, else the URI's."""
    if settings.backup_databases:
        return settings.backup_databases[0]
    seen = _info(snapshot, "mongo").get("databases")
    if isinstance(seen, dict) and seen:
        return str(sorted(seen)[0])
    if settings.mongo_uri is None:
        return None
    path = urlsplit(settings.mongo_uri.reveal()).path.strip("/")
    return path or None


def uptime_seconds(snapshot: Snapshot) -> int:
    """The API's uptime when its health body gives one, else the collector's (see above)."""
    api = snapshot.latest.get("api")
    reported = _info(snapshot, "api").get("uptime_s")
    if api is not None and api.up and isinstance(reported, (int, float)):
        return max(0, int(reported + (snapshot.now_ts - api.ts) / 1000))
    beat = snapshot.heartbeat
    if beat is None or not collector_fresh(snapshot):
        return 0
    return max(0, (snapshot.now_ts - beat.started_ts) // 1000)


def uptime(snapshot: Snapshot) -> JSON:
    seconds = uptime_seconds(snapshot)
    return {"seconds": seconds, "formatted": formatting.uptime(seconds)}


def system_memory(snapshot: Snapshot) -> JSON:
    host = _values(snapshot, "host")
    return {"total": _whole(host.get("mem_total_mb")), "free": _whole(host.get("mem_free_mb")),
            "usagePercent": _text2(host.get("mem_used_pct"))}


def load_average(snapshot: Snapshot) -> list[float | None]:
    host = _values(snapshot, "host")
    return [_two(host.get(key)) for key in ("load_1", "load_5", "load_15")]


def heap_used_mb(snapshot: Snapshot) -> int | None:
    """The collector's resident memory: the nearest thing to the seed's Node heap."""
    return _whole(_values(snapshot, "host").get("process_rss_mb"))


def cores(snapshot: Snapshot) -> int | None:
    return _whole(_values(snapshot, "host").get("cores"))


def cache_hit_rate(snapshot: Snapshot) -> str | None:
    redis = _values(snapshot, "redis")
    return hit_rate_text(redis.get("keyspace_hits"), redis.get("keyspace_misses"))


def api_version(snapshot: Snapshot, source: str = "api") -> str:
    version = _info(snapshot, source).get("version")
    return str(version) if version else __version__


# --- the endpoints ---


def health_detailed(snapshot: Snapshot, settings: Settings) -> JSON:
    """GET /api/monitoring/health/detailed."""
    services = {key: {"status": service_status(snapshot, settings, source),
                      **_health_figures(snapshot, settings, source)}
                for key, source in seed_services(settings)}
    return {
        "status": overall_status(snapshot, settings),
        "services": services,
        "system": {"memory": system_memory(snapshot),
                   "cpu": {"cores": cores(snapshot), "loadAverage": load_average(snapshot)}},
        "alerts": list(snapshot.alerts),
    }


def _health_figures(snapshot: Snapshot, settings: Settings, source: str) -> JSON:
    """What /health/detailed says of a service beside its status."""
    service = service_of(settings, source)
    if service.reports:  # a named check: no fallback to this project's version
        version = _info(snapshot, source).get("version")
        return {"version": str(version) if version else None}
    kind = service.name
    if kind == "mongo":
        uri = settings.mongo_uri
        return {"host": database_host(uri.reveal()) if uri else None,
                "name": database_name(snapshot, settings)}
    if kind == "redis":
        return {"hitRate": cache_hit_rate(snapshot)}
    return {"version": api_version(snapshot, source)}


def metrics(snapshot: Snapshot, settings: Settings) -> JSON:
    """GET /api/monitoring/metrics: uptime, memory (heap stand-in and host), CPU."""
    del settings  # same signature as the other endpoints; nothing here depends on it
    return {
        "uptime": uptime(snapshot),
        "memory": {"heapUsed": heap_used_mb(snapshot), "system": system_memory(snapshot)},
        "cpu": {"count": cores(snapshot),
                "loadAverage": [_text2(v) for v in load_average(snapshot)]},
    }


def dashboard(snapshot: Snapshot, settings: Settings) -> JSON:
    """GET /api/monitoring/dashboard: service booleans, key figures, cache summary."""
    services: JSON = {}
    for key, source in seed_services(settings):
        status = service_status(snapshot, settings, source)
        services[key] = None if status == NOT_CONFIGURED else status == UP
    heap = heap_used_mb(snapshot)
    commands = _values(snapshot, "redis").get("commands")
    return {
        "status": overall_status(snapshot, settings),
        "services": services,
        "performance": {"uptime": formatting.uptime(uptime_seconds(snapshot)),
                        "memoryUsage": None if heap is None else f"{heap}MB",
                        "cpuCores": cores(snapshot)},
        "cache": {"enabled": settings.redis_url is not None,
                  "stats": {"hitRate": cache_hit_rate(snapshot), "commands": _whole(commands)}},
        "alerts": list(snapshot.alerts),
        "availability": availability(snapshot),
    }


def availability(snapshot: Snapshot) -> JSON:
    """Uptime % per seed service name and window, two decimals; null when never watched."""
    names = {service.name: service.seed_key for service in catalogue.WATCHED}
    return {names.get(source) or source: {window: None if pct is None else round(pct, 2)
                                        for window, pct in windows.items()}
            for source, windows in snapshot.availability.items()}


def cache_stats(snapshot: Snapshot, settings: Settings) -> JSON:
    """GET /api/monitoring/cache/stats: the Redis figures (shape in the module docstring)."""
    redis = _values(snapshot, "redis")
    info = _info(snapshot, "redis")
    interval = snapshot.redis_interval
    hits, misses = interval.get("keyspace_hits"), interval.get("keyspace_misses")
    item = snapshot.latest.get("redis")
    redis_uptime = _whole(redis.get("uptime_s"))
    return {
        "status": service_status(snapshot, settings, "redis"),
        "enabled": settings.redis_url is not None,
        "version": info.get("version"),
        "uptime": {"seconds": redis_uptime,
                   "formatted": None if redis_uptime is None else formatting.uptime(redis_uptime)},
        "hitRate": {"total": hit_rate_text(redis.get("keyspace_hits"),
                                           redis.get("keyspace_misses")),
                    "lastInterval": hit_rate_text(hits, misses)},
        "hits": {"total": _whole(redis.get("keyspace_hits")), "lastInterval": _whole(hits)},
        "misses": {"total": _whole(redis.get("keyspace_misses")),
                   "lastInterval": _whole(misses)},
        "connections": {"connected": _whole(redis.get("connected_clients")),
                        "blocked": _whole(redis.get("blocked_clients")),
                        "totalReceived": _whole(redis.get("connections_received"))},
        "commands": {"totalProcessed": _whole(redis.get("commands")),
                     "opsPerSecond": _two(redis.get("ops_per_sec"))},
        "memory": _cache_memory(redis),
        "keys": {"total": _whole(redis.get("keys_total")),
                 "evicted": _whole(redis.get("evicted_keys")),
                 "expired": _whole(redis.get("expired_keys")),
                 "perDb": info.get("keys_per_db") or {}},
        "sampledAt": iso_ms(item.ts) if item else None,
    }


def _cache_memory(redis: Mapping[str, Any]) -> JSON:
    limit = redis.get("maxmemory_mb")
    return {
        "used": _whole(redis.get("used_memory_mb")),
        "peak": _whole(redis.get("used_memory_peak_mb")),
        "max": _whole(limit),
        "usagePercent": _text2(redis.get("memory_used_pct")),
        "usageOf": None if limit is None else ("maxmemory" if limit > 0 else "host"),
        "fragmentationRatio": _two(redis.get("fragmentation_ratio")),
    }
