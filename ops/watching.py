"""What is watched is what the collector watches: one answer for every reader.

`ops status` run from a shell without the variables, or a dashboard started with another
env file, would otherwise call a service "not configured" that the collector probes (and
say OK while it is down). So the collector records, at start, what it watches (each
service's target, the named HTTP checks' names and URLs included, secrets masked, and
the databases it backs up) in the store, and the readers - `ops status`, the pages, the
JSON endpoints, /metrics - read their settings through `as_collector_watches`: the same
fields, taken from that record. A reader whose own settings disagree gets one line
saying so. Before any collector has run on the store, readers go by their own settings.

The targets in the record are masked: readers show them, never connect with them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ops.config import Secret, Settings
from ops.redaction import clean_data, redact
from ops.storage import Store

STATE_KEY = "watching"


def targets(settings: Settings) -> dict[str, Any]:
    """The watched services of these settings, as the record holds them (cleaned as the
    store cleans what it writes, so a reader's own compare equal)."""
    return dict(clean_data({
        "mongo": redact(settings.mongo_uri.reveal()) if settings.mongo_uri else None,
        "redis": redact(settings.redis_url.reveal()) if settings.redis_url else None,
        "api": [redact(url) for url in settings.api_health_url or []],
        # The named HTTP checks, name: URL; None when there are none, as in a record
        # written before HTTP_CHECKS existed (so such a record still agrees).
        "checks": {name: redact(url) for name, url in (settings.http_checks or {}).items()}
                  or None,
        "databases": settings.backup_databases,
    }))


def record(store: Store, settings: Settings) -> None:
    """Called by the collector at start: from now on this is what is watched."""
    store.set_state(STATE_KEY, targets(settings))


def _recorded(store: Store) -> dict[str, Any] | None:
    found = store.state(STATE_KEY)
    return found if isinstance(found, dict) else None


def _names(watched: dict[str, Any]) -> list[str]:
    names = [f"api ({len(watched['api'])} URLs)" if len(watched["api"]) > 1 else "api"
             ] if watched.get("api") else []
    return names + list(watched.get("checks") or {}) + [
        name for name in ("mongo", "redis") if watched.get(name)]


def as_collector_watches(settings: Settings, store: Store) -> tuple[Settings, str | None]:
    """`settings` with MONGO_URI, REDIS_URL, API_HEALTH_URL, HTTP_CHECKS and
    BACKUP_DATABASES as the collector recorded them, and a line when the reader's own
    differ (None when they agree or no collector has recorded anything yet)."""
    watched = _recorded(store)
    if watched is None:
        return settings, None
    mine = targets(settings)
    effective = dataclasses.replace(
        settings,
        mongo_uri=Secret(watched["mongo"]) if watched.get("mongo") else None,
        redis_url=Secret(watched["redis"]) if watched.get("redis") else None,
        api_health_url=list(watched.get("api") or []) or None,
        http_checks=dict(watched.get("checks") or {}) or None,
        backup_databases=watched.get("databases"))
    if mine == {key: watched.get(key) for key in mine}:
        return effective, None
    theirs = ", ".join(_names(watched)) or "the host only"
    return effective, (f"These settings differ from the collector's, which watches "
                       f"{theirs}: what it watches is shown.")
