"""What the Overview page shows, built from the store: service tiles (the API, each named
HTTP check, the database, the cache), host figures, uptime rows, the collector's
heartbeat. Pages only lay these out. Texts are in the page's language (ops.i18n), what
a service wrote a left-to-right island; a tile's `state` stays the English key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ops import formatting
from ops.catalogue import DOCKER, Service, is_http
from ops.config import Settings
from ops.i18n import _, ltr, ngettext
from ops.sources.configured import how_to_watch, is_configured, services
from ops.storage import Latest, Store
from ops.uptime import uptime_table
from ops.views import containers
from ops.views.detail import known


@dataclass(frozen=True)
class ServiceTile:
    source: str
    label: str
    state: str  # "UP", "DOWN", "not configured", "waiting" or "not watched" (shown with _())
    since: str
    figure: str
    detail: str


def _values(latest: Latest | None) -> dict[str, Any]:
    return latest.reading.get("values", {}) if latest else {}


def _figure(service: Service, latest: Latest) -> str:
    values = _values(latest)
    if not latest.up:
        return ltr(latest.error) if latest.error else _("down")
    if is_http(service):
        return formatting.figure(f"{values.get('latency_ms', 0):.0f} ms")
    if service.name == "mongo":
        count = values.get("connections_current") or 0
        return ngettext("{count} connection", "{count} connections", round(count)).format(
            count=formatting.figure(f"{count:.0f}"))
    hit_rate = values.get("hit_rate_total_pct")
    return _("hit rate {rate} since {redis} started").format(
        rate=formatting.percent(hit_rate), redis=ltr("Redis"))


def _version(latest: Latest) -> str:
    """`version 7.2.4`; while down, the last known, marked as such."""
    value, seen_ts = known(latest, "version")
    if value is None:
        return ""
    if seen_ts is None:
        return _("version {version}").format(version=ltr(value))
    return _("version {version} (last seen {time})").format(
        version=ltr(value), time=formatting.clock(seen_ts))


def _detail(source: str, latest: Latest) -> str:
    uptime_s = _values(latest).get("uptime_s")
    parts = [_version(latest),
             _("uptime {duration}").format(duration=formatting.uptime(uptime_s))
             if uptime_s is not None else ""]
    shown = [p for p in parts if p]
    if len(shown) == 2:
        return _("{first}, {second}").format(first=shown[0], second=shown[1])
    return "".join(shown)


def _for(since_ts: int, now_ts: int) -> str:
    """How long a state has lasted: `5m 3s`."""
    return formatting.uptime(max(0, now_ts - since_ts) / 1000)


def label(service: Service) -> str:
    """A service's label as a page shows it: the catalogue's, translated; a named
    check's name as the admin wrote it (a left-to-right island)."""
    return ltr(service.label) if service.reports else _(service.label)


def _tile(service: Service, item: Latest | None, settings: Settings,
          now_ts: int) -> ServiceTile:
    source = service.name
    shown = label(service)
    if not is_configured(settings, source):
        return ServiceTile(source, shown, "not configured", "", how_to_watch(source), "")
    if item is None:
        return ServiceTile(source, shown, "waiting", "", _("no sample yet"), "")
    return ServiceTile(source, shown, "UP" if item.up else "DOWN",
                       _for(item.since_ts, now_ts), _figure(service, item),
                       _detail(source, item))


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
    shown = label(DOCKER)
    if watched.state == "not watched":
        return ServiceTile(DOCKER.name, shown, "not configured", "",
                           how_to_watch(DOCKER.name), "")
    if watched.state == "unreachable":
        return ServiceTile(DOCKER.name, shown, "not watched", "",
                           _("Containers are not watched: {error}.").format(
                               error=ltr(watched.error)), "")
    return ServiceTile(DOCKER.name, shown, "UP",
                       _for(watched.since_ts, now_ts) if watched.since_ts else "",
                       containers.summary(watched),
                       _("{docker} engine").format(docker=ltr("Docker")))


def uptime_rows(store: Store, settings: Settings,
                now_ts: int) -> list[tuple[str, dict[str, float | None]]]:
    """(label, uptime % per window) of each watched service with a reading, in the tiles'
    order: the Overview's uptime table, a named check's row labelled by its name."""
    latest = store.latest()
    watched = [service for service in services(settings) if service.name in latest]
    table = uptime_table(store, [s.name for s in watched], now_ts)
    return [(label(s), table[s.name]) for s in watched]


def host_figures(store: Store) -> dict[str, Any]:
    return _values(store.latest().get("host"))
