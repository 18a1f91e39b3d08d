"""ALERT_REPEAT_HOURS: a critical alert still firing is told again every N hours.

The Nth repeat is the outbox event `repeat-N`, so it is queued once per channel however
many processes or passes look; after downtime only the latest repeat due is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ops.config import Settings
from ops.storage import Store
from ops.storage import alerts as records

Announce = Callable[[Store, Settings, Mapping[str, Any], str, int], int]


def announce_repeats(store: Store, settings: Settings, now_ts: int,
                     announce: Announce, limits: Mapping[str, float | None] | None = None
                     ) -> int:
    """Queue the repeat due for each firing critical alert; returns rows queued."""
    period_ms = settings.alert_repeat_hours * 3_600_000
    if period_ms <= 0:
        return 0
    queued = 0
    for alert in records.firing(store):
        if alert.severity != "critical" or alert.firing_ts is None:
            continue
        count = (now_ts - alert.firing_ts) // period_ms
        if count >= 1:
            told = {**alert.to_dict(), "limit": (limits or {}).get(alert.rule)}
            queued += announce(store, settings, told, f"repeat-{count}", now_ts)
    return queued
