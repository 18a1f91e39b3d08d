"""After each stored sample: each container's figures into its history, and what changed
(started, stopped, restarted, OOM-killed, health, re-created, removed) as events.

The first reading after a start is compared with the last one stored, so a collector
restart neither repeats nor misses what happened while it was away.
"""

from __future__ import annotations

import logging
import time

from ops.sources.base import Reading
from ops.sources.containers import EVENT_SOURCE, Container, changes, containers
from ops.storage import Store
from ops.storage import containers as history

log = logging.getLogger("collector.containers")

PRUNE_EVERY_SECONDS = 3600


class ContainerRecorder:
    """Keeps the previous reading's containers to tell what changed."""

    def __init__(self, store: Store, keep_hours: int) -> None:
        self.store = store
        self.keep_ms = keep_hours * 3_600_000
        self.last_prune: float | None = None
        history.ensure_table(store)
        stored = store.latest().get("docker")
        self.previous: list[Container] | None = (
            containers(stored.reading.get("info")) if stored and stored.up else None)

    def record(self, ts: int, readings: list[Reading]) -> None:
        reading = next((r for r in readings if r.source == "docker"), None)
        if reading is None or not reading.up:
            return  # an engine that cannot be reached: compare with the last one seen
        found = containers(reading.info)
        history.append(self.store, ts, {c.key: c.values for c in found if c.values})
        for change in changes(self.previous, found):
            self.store.record_event(ts, EVENT_SOURCE, change.kind, change.message)
            log.info("container %s", change.message)
        self.previous = found
        self._prune(ts)

    def _prune(self, ts: int) -> None:
        if self.last_prune is not None and time.monotonic() - self.last_prune < \
                PRUNE_EVERY_SECONDS:
            return
        self.last_prune = time.monotonic()
        removed = history.prune(self.store, ts - self.keep_ms)
        if removed:
            log.info("pruned %d container samples by retention", removed)
