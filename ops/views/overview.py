"""What the Overview page shows, built from the store: service tiles (the API, each named
HTTP check, the database, the cache), host figures, uptime rows, the collector's
heartbeat. Pages only lay these out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ops import formatting
from ops.catalogue import DOCKER, Service, is_http
from ops.config import Settings
from ops.sources.configured import how_to_watch, is_configured, services
from ops.storage import Latest, Store
from ops.uptime import uptime_table
from ops.views import containers
from ops.views.detail import fact


@dataclass(frozen=True)
class ServiceTile:
    source: str
    label: str
    state: str  # "UP", "DOWN" or "not configured"
    since: str
    figure: str
    detail: str


def _values(latest: Latest | None) -> dict[str, Any]:
    return latest.reading.get("values", {}) if latest else {}


def _figure(service: Service, latest: Latest) -> str:
    values = _values(latest)
    if not latest.up:
        return latest.error or "down"
    if is_http(service):
        return f"{values.get('latency_ms', 0):.0f} ms"
    if service.name == "mongo":
        return f"{values.get('connections_current') or 0:.0f} connections"
    hit_rate = values.get("hit_rate_total_pct")
    return f"hit rate {formatting.percent(hit_rate)} since Redis started"


def _detail(source: str, latest: Latest) -> str:
    version = fact(latest, "version")  # while down, the last known, marked as such
    uptime_s = _values(latest).get("uptime_s")
    parts = [f"version {version}" if version else "",
             f"uptime {formatting.uptime(uptime_s)}" if uptime_s is not None else ""]
    return ", ".join(p for p in parts if p)


def _tile(service: Service, item: Latest | None, settings: Settings,
          now_ts: int) -> ServiceTile:
    source, label = service.name, service.label
    if not is_configured(settings, source):
        return ServiceTile(source, label, "not configured", "", how_to_watch(source), "")
    if item is None:
        return ServiceTile(source, label, "waiting", "", "no sample yet", "")
    return ServiceTile(source, label, "UP" if item.up else "DOWN",
                       formatting.age(item.since_ts, now_ts).replace(" ago", ""),
                       _figure(service, item), _detail(source, item))


def service_tiles(store: Store, settings: Settings, now_ts: int) -> list[ServiceTile]:
    """A tile per service a setting turns on (API, each named check labelled by its name,
    Database, Cache), in the catalogue's order."""
    latest = store.latest()
    return [_tile(service, latest.get(service.name), settings, now_ts)
            for service in services(settings)]


def container_tile(store: Store, now_ts: int) -> ServiceTile:
    """The Containers tile: how many run and what is wrong, or why they are not watched
    (no engine configured: how to watch; the engine unreachable: the error)."""
    watched = containers.read(store)
    label = DOCKER.label
    if watched.state == "not watched":
        return ServiceTile(DOCKER.name, label, "not configured", "",
                           how_to_watch(DOCKER.name), "")
    if watched.state == "unreachable":
        return ServiceTile(DOCKER.name, label, "not watched", "", watched.message, "")
    return ServiceTile(DOCKER.name, label, "UP", formatting.age(
        watched.since_ts, now_ts).replace(" ago", "") if watched.since_ts else "",
        containers.summary(watched), "Docker engine")


def uptime_rows(store: Store, settings: Settings,
                now_ts: int) -> list[tuple[str, dict[str, float | None]]]:
    """(label, uptime % per window) of each watched service with a reading, in the tiles'
    order: the Overview's uptime table, a named check's row labelled by its name."""
    latest = store.latest()
    watched = [service for service in services(settings) if service.name in latest]
    table = uptime_table(store, [s.name for s in watched], now_ts)
    return [(s.label, table[s.name]) for s in watched]


def host_figures(store: Store) -> dict[str, Any]:
    return _values(store.latest().get("host"))
