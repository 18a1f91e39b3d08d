"""What the JSON endpoints, `/metrics` and `ops status` are built from: one read of the
store into a `Snapshot` (latest readings, heartbeat, the newest sample's Redis deltas,
firing alerts, uptime), so every reader reports the same facts."""

from __future__ import annotations

from typing import Any

from ops import catalogue
from ops.clock import iso_ms
from ops.report import Snapshot
from ops.storage import Store
from ops.storage import alerts as records
from ops.uptime import WINDOWS, uptime_table

REDIS_INTERVAL_COUNTERS = ("keyspace_hits", "keyspace_misses")
# The Overview's windows under the JSON's names: "24 h" is "24h".
API_WINDOWS = {name.replace(" ", ""): span for name, span in WINDOWS.items()}


def read_snapshot(store: Store, now_ts: int) -> Snapshot:
    """The latest readings, the heartbeat, and the newest sample's Redis deltas."""
    latest = store.latest()
    interval: dict[str, float | None] = {}
    redis = latest.get("redis")
    if redis is not None and redis.up:
        row = store.last_sample([f"redis_{name}_delta" for name in REDIS_INTERVAL_COUNTERS])
        if row is not None and row["ts"] == redis.ts:
            interval = {name: row[f"redis_{name}_delta"] for name in REDIS_INTERVAL_COUNTERS}
    watched = sorted((name for name in latest if name != "host"), key=_listed)
    return Snapshot(now_ts, latest, store.heartbeat(), interval, firing_alerts(store),
                    uptime_table(store, watched, now_ts, API_WINDOWS))


def _listed(source: str) -> tuple[int, str]:
    """Where a watched source is listed: the API's URLs, the named checks beside them (the
    latest readings are those of the sources the collector probes, so a name the
    catalogue does not know is one of its checks), the database, the cache."""
    try:
        found = catalogue.service(source)
    except KeyError:
        return 1, source
    if found not in catalogue.WATCHED:  # the Docker engine: after the services
        return 2 * len(catalogue.WATCHED), source
    return 2 * catalogue.WATCHED.index(found), source


def firing_alerts(store: Store) -> tuple[dict[str, Any], ...]:
    return tuple({"rule": a.rule, "subject": a.subject, "severity": a.severity,
                  "message": a.message, "since": iso_ms(a.firing_ts or a.pending_ts)}
                 for a in records.firing(store))
