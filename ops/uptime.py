"""Uptime % of a service from its up/down events, which are kept at full precision
whatever the tier of the samples, so a year's figure is exact to the second.

Time before the first event of a service (when it was not watched yet) does not count.
"""

from __future__ import annotations

from ops.clock import DAY_MS
from ops.storage import Store

WINDOWS = {"24 h": DAY_MS, "7 d": 7 * DAY_MS, "30 d": 30 * DAY_MS, "1 y": 365 * DAY_MS}


def uptime_pct(store: Store, source: str, start_ts: int, end_ts: int) -> float | None:
    """Share of the watched time in [start_ts, end_ts] the service was up, or None."""
    before = store.events(0, start_ts - 1, sources=[source], limit=1)
    inside = list(reversed(store.events(start_ts, end_ts, sources=[source], limit=1_000_000)))
    if not before and not inside:
        return None
    cursor = start_ts if before else inside[0].ts
    watched = end_ts - cursor
    down = before[0].kind == "down" if before else False
    down_ms = 0
    for event in inside:
        if down:
            down_ms += event.ts - cursor
        cursor, down = event.ts, event.kind == "down"
    if down:
        down_ms += end_ts - cursor
    return 100.0 if watched <= 0 else 100.0 * (watched - down_ms) / watched


def uptime_table(store: Store, sources: list[str], now_ts: int,
                 windows: dict[str, int] | None = None) -> dict[str, dict[str, float | None]]:
    return {source: {name: uptime_pct(store, source, now_ts - span, now_ts)
                     for name, span in (windows or WINDOWS).items()} for source in sources}
