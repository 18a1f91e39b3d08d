"""What the Overview page shows, built from the store: service tiles, host figures, the
collector's heartbeat. Pages only lay these out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ops import formatting
from ops.config import Settings
from ops.sources.configured import how_to_watch, is_configured
from ops.storage import Latest, Store

SERVICES = (("api", "API"), ("mongo", "Database"), ("redis", "Cache"))


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
    return f"hit rate {formatting.percent(hit_rate)}"


def _detail(source: str, latest: Latest) -> str:
    info = latest.reading.get("info", {})
    version = info.get("version")
    uptime_s = _values(latest).get("uptime_s")
    parts = [f"version {version}" if version else "",
             f"uptime {formatting.uptime(uptime_s)}" if uptime_s is not None else ""]
    return ", ".join(p for p in parts if p)


def service_tiles(store: Store, settings: Settings, now_ts: int) -> list[ServiceTile]:
    latest = store.latest()
    tiles = []
    for source, label in SERVICES:
        item = latest.get(source)
        if not is_configured(settings, source):
            tiles.append(ServiceTile(source, label, "not configured", "",
                                     how_to_watch(source), ""))
        elif item is None:
            tiles.append(ServiceTile(source, label, "waiting", "", "no sample yet", ""))
        else:
            tiles.append(ServiceTile(source, label, "UP" if item.up else "DOWN",
                                     formatting.age(item.since_ts, now_ts).replace(" ago", ""),
                                     _figure(source, item), _detail(source, item)))
    return tiles


def host_figures(store: Store) -> dict[str, Any]:
    return _values(store.latest().get("host"))
