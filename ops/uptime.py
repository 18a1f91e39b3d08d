"""Uptime % of a service from its up/down events, which are kept at full precision
whatever the tier of the samples, so a year's figure is exact to the second.

Time before the first event of a service (when it was not watched yet) does not count.
"""

from __future__ import annotations

from ops.clock import DAY_MS
from ops.storage import Event, Store

WINDOWS = {"24 h": DAY_MS, "7 d": 7 * DAY_MS, "30 d": 30 * DAY_MS, "1 y": 365 * DAY_MS}


def uptime_pct(store: Store, source: str, start_ts: int, end_ts: int) -> float | None:
    """Share of the watched time in [start_ts, end_ts] the service was up, or None."""
    return _from_events(_history(store, source, start_ts, end_ts), start_ts, end_ts)


def uptime_table(store: Store, sources: list[str], now_ts: int,
                 windows: dict[str, int] | None = None) -> dict[str, dict[str, float | None]]:
    """Uptime % per source and window, from one read of each source's events (the
    longest window's; the shorter ones are within it)."""
    spans = windows or WINDOWS
    longest = now_ts - max(spans.values(), default=0)
    table = {}
    for source in sources:
        events = _history(store, source, longest, now_ts)
        table[source] = {name: _from_events(events, now_ts - span, now_ts)
                         for name, span in spans.items()}
    return table


def _history(store: Store, source: str, start_ts: int, end_ts: int) -> list[Event]:
    """The source's events in [start_ts, end_ts], oldest first, after the last one before
    start_ts (which tells whether it was down when the range began)."""
    before = store.events(0, start_ts - 1, sources=[source], limit=1)
    inside = store.events(start_ts, end_ts, sources=[source], limit=1_000_000)
    return [*before, *reversed(inside)]


def _from_events(events: list[Event], start_ts: int, end_ts: int) -> float | None:
    earlier = [e for e in events if e.ts < start_ts]
    inside = [e for e in events if start_ts <= e.ts <= end_ts]
    if not earlier and not inside:
        return None
    cursor = start_ts if earlier else inside[0].ts
    watched = end_ts - cursor
    down = earlier[-1].kind == "down" if earlier else False
    down_ms = 0
    for event in inside:
        if down:
            down_ms += event.ts - cursor
        cursor, down = event.ts, event.kind == "down"
    if down:
        down_ms += end_ts - cursor
    return 100.0 if watched <= 0 else 100.0 * (watched - down_ms) / watched
