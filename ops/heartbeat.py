"""Is the collector alive? Judged from its heartbeat row, by every reader alike
(pages, JSON endpoints, `ops status`, `ops backup --wait`)."""

from __future__ import annotations

from dataclasses import dataclass

from ops import formatting
from ops.config import Settings
from ops.storage import Heartbeat, Store

STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class CollectorState:
    running: bool
    message: str


def heartbeat_fresh(beat: Heartbeat | None, now_ts: int) -> bool:
    """The collector ticked within the last three sample intervals."""
    if beat is None:
        return False
    return now_ts - beat.last_tick_ts <= STALE_AFTER_INTERVALS * max(beat.interval_s, 1) * 1000


def collector_state(store: Store, settings: Settings, now_ts: int) -> CollectorState:
    """Running when the last heartbeat is younger than three intervals."""
    beat = store.heartbeat()
    if beat is None:
        return CollectorState(False, "collector has not written a sample yet: start it with "
                              "`python -m collector` (or `./run`)")
    if not heartbeat_fresh(beat, now_ts):
        return CollectorState(False, f"collector not running since "
                              f"{formatting.clock(beat.last_tick_ts)} "
                              f"({formatting.age(beat.last_tick_ts, now_ts)})")
    return CollectorState(True, f"collector running, last sample "
                          f"{formatting.age(beat.last_tick_ts, now_ts)}")
