"""Watching the watcher: the dashboard raises `collector_silent` when the collector has
not sampled for three intervals, and resolves it when sampling resumes.

The collector cannot say it is dead, so the dashboard process judges it from the
heartbeat (ops.heartbeat) and sends through the same channels and outbox, exactly once
per silence: the open alert is looked up and created in one transaction (BEGIN
IMMEDIATE), and the outbox takes one message per alert, event and channel. A store
where no collector ever sampled raises nothing (a fresh install is not an outage).
When both processes are down nothing here runs: that is for Prometheus (`up == 0`) or an
external check of the health endpoint (see the README).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ops import formatting
from ops.alerts.wording import resolved_text
from ops.config import Settings
from ops.heartbeat import STALE_AFTER_INTERVALS, heartbeat_fresh
from ops.storage import Heartbeat, Store
from ops.storage import alerts as records
from ops.storage.alerts import Alert

log = logging.getLogger("ops.alerts.silent")

RULE = "collector_silent"
SUBJECT = "collector"
SEVERITY = "critical"
Announce = Callable[[Store, Settings, Mapping[str, Any], str, int], int]


def _silent_text(beat: Heartbeat, now_ts: int) -> str:
    quiet_s = max(0, now_ts - beat.last_tick_ts) / 1000
    return (f"collector is not sampling: no sample for {formatting.uptime(quiet_s)} "
            f"(it samples every {beat.interval_s:g} s; silent after "
            f"{STALE_AFTER_INTERVALS} intervals)")


def judge(store: Store, settings: Settings, now_ts: int,
          announce: Announce) -> tuple[Alert, str] | None:
    """Fire or resolve `collector_silent` as the heartbeat says; returns the change."""
    beat = store.heartbeat()
    if beat is None:
        return None
    fresh = heartbeat_fresh(beat, now_ts)
    if fresh == ((RULE, SUBJECT) not in records.open_alerts(store)):
        return None  # nothing to change: no write lock taken, every second
    with store.transaction():
        alert = records.open_alerts(store).get((RULE, SUBJECT))
        if not fresh and alert is None:
            alert = records.create(store, RULE, SUBJECT, SEVERITY, beat.last_tick_ts,
                                   (now_ts - beat.last_tick_ts) / 1000,
                                   _silent_text(beat, now_ts))
            alert.status, alert.firing_ts = "firing", now_ts
            records.save(store, alert)
            change = (alert, "firing")
        elif fresh and alert is not None:
            alert.status, alert.resolved_ts = "resolved", now_ts
            alert.message = resolved_text(RULE, "collector is sampling",
                                          (now_ts - alert.pending_ts) / 1000, alert.message)
            records.save(store, alert)
            change = (alert, "resolved")
        else:
            return None
        announce(store, settings, alert.to_dict(), change[1], now_ts)
    log.log(logging.ERROR if change[1] == "firing" else logging.INFO, "alert %s %s: %s",
            RULE, change[1].upper(), alert.message)
    return change
