"""What the collector runs after each sample: build the rules' context, judge, announce
(with each rule's limit), and queue the repeats of critical alerts still firing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import psutil

from ops.alerts import container_checks
from ops.alerts.engine import AlertEngine
from ops.alerts.repeats import announce_repeats
from ops.alerts.rules import Context, Rule
from ops.backup.catalogue import list_backups
from ops.catalogue import DOCKER, WATCHED
from ops.clock import now_ms
from ops.config import Settings
from ops.copies.run import failures as copy_failures
from ops.sources.configured import is_configured
from ops.sources.containers import EVENT_SOURCE, Container, containers
from ops.storage import Store
from ops.storage.alerts import Alert

log = logging.getLogger("ops.alerts")

WINDOW_MS = 15 * 60_000
Announce = Callable[[Store, Settings, Mapping[str, Any], str, int], int]


def configured(settings: Settings) -> dict[str, bool]:
    return {service.name: is_configured(settings, service.name) for service in WATCHED}


def _redis_window(store: Store, now_ts: int) -> dict[str, float | None]:
    rows = store.series(now_ts - WINDOW_MS, now_ts, counters=[
        "redis_keyspace_hits", "redis_keyspace_misses", "redis_evicted_keys"], max_points=1)
    row = rows[0] if rows else {}
    return {"hits": row.get("redis_keyspace_hits_sum"),
            "misses": row.get("redis_keyspace_misses_sum"),
            "evicted": row.get("redis_evicted_keys_sum")}


def _backup_disk_pct(settings: Settings) -> float | None:
    try:
        return float(psutil.disk_usage(str(settings.backup_dir)).percent)
    except OSError:
        return None


def _last_failure(store: Store, kind: str) -> str | None:
    """The error of the newest finished job of `kind`, when it did not succeed."""
    for job in store.jobs(kind=kind, limit=10):
        if not job.active:
            return None if job.status == "ok" else (job.error or job.status)
    return None


def _containers(store: Store, now_ts: int) -> tuple[tuple[Container, ...],
                                                  dict[str, frozenset[str]]]:
    """The latest docker reading's containers, and the restarts and OOM kills recorded
    of each in the last 15 minutes (ops/alerts/container_checks.py)."""
    watched = store.latest().get(DOCKER.name)
    if watched is None or not watched.up:
        return (), {}
    found = tuple(containers(watched.reading.get("info")))
    events = store.events(now_ts - container_checks.RECENT_MS, now_ts, [EVENT_SOURCE])
    return found, {c.key: frozenset(e.kind for e in events
                                    if (e.message or "").startswith(f"{c.key} "))
                   for c in found}


def context(store: Store, settings: Settings, now_ts: int, row: Mapping[str, Any],
            errors: Mapping[str, str | None]) -> Context:
    good = next((e for e in list_backups(settings.backup_dir) if e.good_daily), None)
    found, recent = _containers(store, now_ts)
    return Context(
        now_ts=now_ts, row=row, errors=errors, configured=configured(settings),
        redis_window=_redis_window(store, now_ts) if settings.redis_url else {},
        backup_disk_pct=_backup_disk_pct(settings),
        last_good_backup_ts=int(good.created.timestamp() * 1000) if good else None,
        watched_since_ts=store.first_event_ts("mongo"),
        auto_backup=settings.enable_auto_backup,
        last_backup_failure=_last_failure(store, "backup"),
        last_drill_failure=_last_failure(store, "drill"),
        copy_failures=copy_failures(settings, store),
        containers=found, container_events=recent)


class AlertWatch:
    def __init__(self, store: Store, settings: Settings, rules: tuple[Rule, ...],
                 announce: Announce) -> None:
        self.store = store
        self.settings = settings
        self._announce = announce
        self.engine = AlertEngine(store, rules, self._tell)
        # Each rule's limit, so a message can say it beside the value.
        self.limits = {rule.name: rule.threshold for rule in rules}

    def _tell(self, alert: Alert, event: str) -> None:
        log.log(logging.WARNING if event == "firing" else logging.INFO, "alert %s %s: %s",
                alert.rule, event.upper(), alert.message)
        told = {**alert.to_dict(), "limit": self.limits.get(alert.rule)}
        self._announce(self.store, self.settings, told, event,
                       (alert.firing_ts if event == "firing" else alert.resolved_ts) or now_ms())

    def after_tick(self, now_ts: int, row: Mapping[str, Any],
                   errors: Mapping[str, str | None]) -> list[tuple[Alert, str]]:
        changes = self.engine.evaluate(context(self.store, self.settings, now_ts, row, errors))
        announce_repeats(self.store, self.settings, now_ts, self._announce, self.limits)
        return changes
