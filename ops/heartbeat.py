"""Is the collector alive? Judged from its heartbeat row, by every reader alike
(pages, JSON endpoints, `ops status`, `ops backup --wait`)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from ops import formatting
from ops.config import Settings
from ops.i18n import N_, _, ltr
from ops.storage import Heartbeat, Store

STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class CollectorState:
    running: bool
    message: str  # English, as commands print it
    shown: str  # the same, as a page shows it: in the page's language


def _state(running: bool, text: str, note: tuple[str, str] = ("", ""),
           **parts: str) -> CollectorState:
    """A state told in English (`text`, marked N_) and in the page's language."""
    return CollectorState(running, text.format(**parts) + note[0],
                          _(text).format(**parts) + note[1])


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
        return _state(False, N_("collector has not written a sample yet: start it with "
                                "{command} (or {run})"),
                      command=ltr("`python -m collector`"), run=ltr("`./run`"))
    if from_the_future(beat, now_ts):
        return _state(False, N_("collector not running: its last sample is stamped {time}, "
                                "ahead of this machine's clock (the clock was set back "
                                "since)"), time=formatting.clock(beat.last_tick_ts))
    if not heartbeat_fresh(beat, now_ts):
        return _state(False, N_("collector not running since {time} ({ago})"),
                      _disk_full_note(settings), time=formatting.clock(beat.last_tick_ts),
                      ago=formatting.age(beat.last_tick_ts, now_ts))
    return _state(True, N_("collector running, last sample {ago}"),
                  ago=formatting.age(beat.last_tick_ts, now_ts))


# Below this, SQLite cannot add a page to the file or its WAL.
DISK_FULL_BYTES = 1024 * 1024


def _disk_full_note(settings: Settings) -> tuple[str, str]:
    """Why a live collector may have gone quiet: its data disk is full, so it holds its
    samples in memory until space returns (the history shows them late, not lost). In
    English and in the page's language; empty when the disk has room."""
    try:
        free = shutil.disk_usage(settings.ops_data_dir).free
    except OSError:
        return "", ""
    if free >= DISK_FULL_BYTES:
        return "", ""
    text = N_("; the data disk is full ({free} free on {path}): a running collector holds "
              "its samples in memory and writes them when space is freed")
    parts = {"free": formatting.size(free), "path": ltr(settings.ops_data_dir)}
    return text.format(**parts), _(text).format(**parts)
