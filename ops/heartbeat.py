"""Is the collector alive? Judged from its heartbeat row, by every reader alike
(pages, JSON endpoints, `ops status`, `ops backup --wait`)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from ops import formatting
from ops.config import Settings
from ops.storage import Heartbeat, Store

STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class CollectorState:
    running: bool
    message: str


def _interval_ms(beat: Heartbeat) -> float:
    return max(beat.interval_s, 1) * 1000


def from_the_future(beat: Heartbeat, now_ts: int) -> bool:
    """The last tick is stamped more than one interval ahead of now: the wall clock was
    stepped back since, and a live collector would have ticked on the new clock."""
    return beat.last_tick_ts - now_ts > _interval_ms(beat)


def heartbeat_fresh(beat: Heartbeat | None, now_ts: int) -> bool:
    """The collector ticked within the last three sample intervals (and not in what is
    now the future)."""
    if beat is None or from_the_future(beat, now_ts):
        return False
    return now_ts - beat.last_tick_ts <= STALE_AFTER_INTERVALS * _interval_ms(beat)


def collector_state(store: Store, settings: Settings, now_ts: int) -> CollectorState:
    """Running when the last heartbeat is younger than three intervals."""
    beat = store.heartbeat()
    if beat is None:
        return CollectorState(False, "collector has not written a sample yet: start it with "
                              "`python -m collector` (or `./run`)")
    if from_the_future(beat, now_ts):
        return CollectorState(False, f"collector not running: its last sample is stamped "
                              f"{formatting.clock(beat.last_tick_ts)}, ahead of this "
                              "machine's clock (the clock was set back since)")
    if not heartbeat_fresh(beat, now_ts):
        return CollectorState(False, f"collector not running since "
                              f"{formatting.clock(beat.last_tick_ts)} "
                              f"({formatting.age(beat.last_tick_ts, now_ts)})"
                              f"{_disk_full_note(settings)}")
    return CollectorState(True, f"collector running, last sample "
                          f"{formatting.age(beat.last_tick_ts, now_ts)}")


# Below this, SQLite cannot add a page to the file or its WAL.
DISK_FULL_BYTES = 1024 * 1024


def _disk_full_note(settings: Settings) -> str:
    """Why a live collector may have gone quiet: its data disk is full, so it holds its
    samples in memory until space returns (the history shows them late, not lost)."""
    try:
        free = shutil.disk_usage(settings.ops_data_dir).free
    except OSError:
        return ""
    if free >= DISK_FULL_BYTES:
        return ""
    return (f"; the data disk is full ({formatting.size(free)} free on "
            f"{settings.ops_data_dir}): a running collector holds its samples in memory "
            "and writes them when space is freed")
