"""Starlette routes for the JSON endpoints and /metrics, mounted on the dashboard server.

Every answer is built from what the store holds (the collector's latest sample): no
service is ever probed here, so the endpoints answer in milliseconds while MongoDB or
Redis hang. The SQLite reads (a handful of indexed lookups, well under a millisecond;
WAL: they never wait for the collector) run on the event loop itself: under 50
concurrent clients, a hop to the thread pool and its GIL contention tripled the p99.
Settings are read per request (cheap), so a changed `.env` or token takes effect
without a restart. What is read from the store is built once per second and reused while
nothing is written to it (see `_Reading`), so 50 concurrent scrapers cost about what one
does.

- The four `/api/monitoring/...` endpoints answer 200 when the report's status is "OK"
  and 503 with the same JSON body otherwise (a configured service down, or the collector
  stale); see ops.report for the shapes.
- `/metrics` always answers 200 while it can read the store: Prometheus counts any other
  status as a failed scrape and would drop the very series that say what is down.
- With OPS_API_TOKEN set, everything but `/api/monitoring/health/detailed` needs
  `Authorization: Bearer <token>`; otherwise 401 with a JSON error.
- Errors are one line of JSON (`{"error": ...}`); settings errors are already masked and
  no URI is ever put into a body.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ops import report
from ops.clock import now_ms
from ops.config import Settings, SettingsError, load_settings
from ops.report import Snapshot
from ops.snapshot import read_snapshot
from ops.storage import Store, StoreError
from ops.watching import as_collector_watches
from ops.web import containers_json
from ops.web import prometheus as metrics

log = logging.getLogger("ops.web.routes")

PREFIX = "/api/monitoring"
NO_STORE = {"Cache-Control": "no-store"}

Builder = Callable[[Snapshot, Settings], dict[str, Any]]

_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def store_for(path: Path) -> Store:
    """The one Store for `path`, shared by every request and thread: opened (and
    migrated) on first use, not per request; each thread gets its own connection."""
    store = _stores.get(path)
    if store is None:
        with _stores_lock:
            store = _stores.get(path)
            if store is None:
                store = _stores[path] = Store(path)
    return store


def close_stores() -> None:
    """Close the shared Stores (at shutdown, or between tests on temporary files)."""
    with _stores_lock:
        stores = list(_stores.values())
        _stores.clear()
        _readings.clear()
    global _settings_read
    _settings_read = None
    for store in stores:
        store.close()


def authorized(header: str | None, settings: Settings) -> bool:
    """No token configured, or `Bearer <token>` matching it.

    Both sides are hashed before `hmac.compare_digest`, so the time taken does not even
    tell the token's length.
    """
    if settings.ops_api_token is None:
        return True
    scheme, _, given = (header or "").strip().partition(" ")
    expected = hashlib.sha256(settings.ops_api_token.reveal().encode()).digest()
    offered = hashlib.sha256(given.strip().encode()).digest()
    return hmac.compare_digest(offered, expected) and scheme.lower() == "bearer"


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={**NO_STORE,
                                                                        **(headers or {})})


def _unauthorized() -> JSONResponse:
    return _error(401, "unauthorized: send the header Authorization: Bearer <OPS_API_TOKEN>",
                  {"WWW-Authenticate": 'Bearer realm="ops"'})


_settings_read: tuple[int, Settings] | None = None


def _settings() -> Settings | Response:
    """This request's settings, watching what the collector watches (ops.watching), or
    the one-line error (secrets masked) as a 500. Read at most once per second (about
    0.2 ms each, on the event loop): a changed `.env` still counts within a second."""
    global _settings_read  # one per process, like the readings below
    second = int(time.monotonic())
    if _settings_read is not None and _settings_read[0] == second:
        return _settings_read[1]
    try:
        settings = load_settings()
    except SettingsError as err:
        return _error(500, str(err))
    try:
        watched = as_collector_watches(settings, store_for(settings.database_path))[0]
    except (sqlite3.Error, OSError, StoreError) as err:
        return _store_error(err)
    _settings_read = (second, watched)
    return watched


def _store_error(err: Exception) -> Response:
    log.warning("store unreadable: %s", err)
    return _error(500, f"the metrics store cannot be read: {err}")


@dataclass
class _Reading:
    """What the endpoints answer from: one snapshot of the store, and the /metrics text
    made from it for one set of settings.

    Kept while the store's data version (it changes with every commit by another
    connection, so a new sample is seen by the very next request) and the wall-clock
    second are the same: figures that depend on the time, such as the collector's
    freshness and uptime windows, are then at most one second old."""

    key: tuple[int, int]
    snapshot: Snapshot
    settings: Settings | None = None
    body: bytes | None = None


_readings: dict[Path, _Reading] = {}


def _reading(path: Path) -> _Reading:
    store = store_for(path)
    now = now_ms()
    key = (store.data_version(), now // 1000)
    reading = _readings.get(path)
    if reading is None or reading.key != key:
        reading = _readings[path] = _Reading(key, read_snapshot(store, now))
    return reading


def _snapshot_now(path: Path) -> Snapshot:
    return _reading(path).snapshot


def json_endpoint(build: Builder, public: bool = False,
                  own_status: bool = False) -> Callable[[Request], Any]:
    """An endpoint answering `build(snapshot, settings)`, 503 unless the status is OK:
    the stack's status, or with `own_status` the one in the body (see containers_json)."""

    async def endpoint(request: Request) -> Response:
        settings = _settings()
        if isinstance(settings, Response):
            return settings
        if not public and not authorized(request.headers.get("authorization"), settings):
            return _unauthorized()
        path = settings.database_path
        try:
            snapshot = _snapshot_now(path)
        except (sqlite3.Error, OSError, StoreError) as err:
            return _store_error(err)
        body = build(snapshot, settings)
        status = containers_json.http_status(body) if own_status else report.http_status(
            report.overall_status(snapshot, settings))
        return JSONResponse(body, status_code=status, headers=NO_STORE)

    return endpoint


def _exposition(settings: Settings) -> bytes:
    """The /metrics text of the current reading, made once per reading and settings."""
    reading = _reading(settings.database_path)
    if reading.body is None or reading.settings != settings:
        store = store_for(settings.database_path)
        facts = metrics.read_backup_facts(store, settings, reading.snapshot.now_ts)
        reading.body = metrics.exposition(reading.snapshot, settings, facts)
        reading.settings = settings
    return reading.body


async def prometheus_endpoint(request: Request) -> Response:
    settings = _settings()
    if isinstance(settings, Response):
        return settings
    if not authorized(request.headers.get("authorization"), settings):
        return _unauthorized()
    try:
        body = _exposition(settings)
    except (sqlite3.Error, OSError, StoreError) as err:
        return _store_error(err)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4, headers=NO_STORE)


def routes() -> list[BaseRoute]:
    return [
        Route(f"{PREFIX}/health/detailed", json_endpoint(report.health_detailed, public=True),
              methods=["GET"]),
        Route(f"{PREFIX}/metrics", json_endpoint(report.metrics), methods=["GET"]),
        Route(f"{PREFIX}/dashboard", json_endpoint(report.dashboard), methods=["GET"]),
        Route(f"{PREFIX}/cache/stats", json_endpoint(report.cache_stats), methods=["GET"]),
        Route(f"{PREFIX}/containers",
              json_endpoint(containers_json.containers_report, own_status=True),
              methods=["GET"]),
        Route("/metrics", prometheus_endpoint, methods=["GET"]),
    ]
