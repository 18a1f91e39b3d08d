"""What the Overview page shows, built from the store: service tiles, host figures, the
collector's heartbeat. Pages only lay these out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ops import formatting
from ops.catalogue import WATCHED, Service
from ops.config import Settings
from ops.sources.configured import how_to_watch, is_configured
from ops.storage import Latest, Store


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


def _figure(source: str, latest: Latest) -> str:
    values = _values(latest)
    if not latest.up:
        return latest.error or "down"
    if source == "api":
        return f"{values.get('latency_ms', 0):.0f} ms"
    if source == "mongo":
        return f"{values.get('connections_current') or 0:.0f} connections"
    hit_rate = values.get("hit_rate_total_pct")
    return f"hit rate {formatting.percent(hit_rate)} since Redis started"


def _detail(source: str, latest: Latest) -> str:
    info = latest.reading.get("info", {})
    version = info.get("version")
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
                       _figure(source, item), _detail(source, item))


def service_tiles(store: Store, settings: Settings, now_ts: int) -> list[ServiceTile]:
    """A tile per watched service of the catalogue (API, Database, Cache), in its order."""
    latest = store.latest()
    return [_tile(service, latest.get(service.name), settings, now_ts) for service in WATCHED]


def host_figures(store: Store) -> dict[str, Any]:
    return _values(store.latest().get("host"))
