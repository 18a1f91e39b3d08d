"""What the History page draws: chart definitions, bucketed series, periods of downtime.

Each chart names the stored gauges and counters it needs; the store aggregates them in
SQL (at most ~1,500 points whatever the range). Ratios such as the Redis hit rate are
computed per bucket from summed hits and misses, never averaged.

Titles, units, line names and ranges are English keys here (the CSV download keeps
English headers: scripts read it); pages show them with title(), unit(), line_name()
and range_name(), in the page's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from ops import formatting
from ops.catalogue import MONGO_OPERATIONS, is_counter
from ops.i18n import N_, _, ltr
from ops.sources.redis import hit_rate
from ops.storage import Store

MAX_POINTS = 1500

RANGES: dict[str, timedelta] = {
    "15 min": timedelta(minutes=15), "1 h": timedelta(hours=1), "6 h": timedelta(hours=6),
    "24 h": timedelta(hours=24), "7 d": timedelta(days=7), "30 d": timedelta(days=30),
    "90 d": timedelta(days=90), "1 y": timedelta(days=365),
}
# The ranges (keys of RANGES, widget values) as pages name them.
RANGE_NAMES = {"15 min": N_("15 min"), "1 h": N_("1 h"), "6 h": N_("6 h"), "24 h": N_("24 h"),
               "7 d": N_("7 d"), "30 d": N_("30 d"), "90 d": N_("90 d"), "1 y": N_("1 y"),
               "custom": N_("custom")}


def range_name(key: str) -> str:
    """A range's name in the page's language: `1 h`, `custom`."""
    return _(RANGE_NAMES.get(key, key))


@dataclass(frozen=True)
class Line:
    column: str  # a key of the series rows
    label: str  # marked N_, shown with line_name()
    peak: bool = False  # the bucket maximum, drawn dotted
    verbatim: bool = False  # a name a service uses (MongoDB's operations): shown as written


@dataclass(frozen=True)
class Chart:
    title: str  # marked N_, shown with title()
    unit: str  # marked N_ unless a unit symbol, shown with unit()
    source: str  # whose downtime is shaded
    lines: tuple[Line, ...]


# Computed per bucket from summed hits and misses (HIT_RATE_FROM), never averaged.
HIT_RATE = "redis_hit_rate_pct"
HIT_RATE_FROM = ("redis_keyspace_hits", "redis_keyspace_misses")

CHARTS: tuple[Chart, ...] = (
    Chart(N_("Memory used"), "%", "host", (Line("host_mem_used_pct", N_("average")),
                                           Line("host_mem_used_pct_max", N_("peak"),
                                                peak=True))),
    Chart(N_("CPU"), "%", "host", (Line("host_cpu_pct", N_("average")),
                                   Line("host_cpu_pct_max", N_("peak"), peak=True))),
    Chart(N_("Load average"), N_("processes"), "host",
          (Line("host_load_1", N_("1 min")), Line("host_load_5", N_("5 min")),
           Line("host_load_15", N_("15 min")))),
    Chart("Redis hit rate", "%", "redis", (Line(HIT_RATE, N_("hits / lookups")),)),
    Chart("Redis operations", N_("per second"), "redis",
          (Line("redis_commands_per_s", N_("commands/s")),)),
    Chart("Redis memory", "MB", "redis",
          (Line("redis_used_memory_mb", N_("used")),
           Line("redis_used_memory_peak_mb", N_("peak since start")))),
    Chart("Redis fragmentation", N_("ratio"), "redis",
          (Line("redis_fragmentation_ratio", N_("resident / used")),)),
    Chart("MongoDB connections", N_("connections"), "mongo",
          (Line("mongo_connections_current", N_("current")),)),
    Chart("MongoDB operations", N_("per second"), "mongo",
          tuple(Line(f"mongo_op_{op}_per_s", op, verbatim=True) for op in MONGO_OPERATIONS)),
    Chart("API latency", "ms", "api", (Line("api_latency_ms", N_("average")),
                                       Line("api_latency_ms_max", N_("slowest"), peak=True))),
)

# Titles naming a product, whose name stays as written (a left-to-right island).
_NAMED_TITLES = {
    "Redis hit rate": N_("{redis} hit rate"), "Redis operations": N_("{redis} operations"),
    "Redis memory": N_("{redis} memory"), "Redis fragmentation": N_("{redis} fragmentation"),
    "MongoDB connections": N_("{mongodb} connections"),
    "MongoDB operations": N_("{mongodb} operations"), "API latency": N_("{api} latency"),
}
# Units written as symbols, the same in every language.
_SYMBOLS = ("%", "MB", "ms")


def title(chart: Chart) -> str:
    """A chart's title in the page's language: `Memory used`, `Redis hit rate`."""
    named = _NAMED_TITLES.get(chart.title)
    if named is None:
        return _(chart.title)
    return _(named).format(redis=ltr("Redis"), mongodb=ltr("MongoDB"), api=ltr("API"))


def unit(chart: Chart) -> str:
    """A chart's unit (its y axis title) in the page's language."""
    return ltr(chart.unit) if chart.unit in _SYMBOLS else _(chart.unit)


def line_name(line: Line) -> str:
    """A line's name in the legend, in the page's language."""
    return ltr(line.label) if line.verbatim else _(line.label)

def _needed() -> tuple[list[str], list[str], list[str]]:
    """The gauges (averaged), counters (summed, as rates) and peaks (maxima) the charts
    draw; a `<counter>_per_s` line is a rate because the catalogue says it counts."""
    gauges: list[str] = []
    counters: list[str] = []
    peaks: list[str] = []
    for line in (line for chart in CHARTS for line in chart.lines):
        rate_of = line.column.removesuffix("_per_s")
        if line.column == HIT_RATE:
            counters += [c for c in HIT_RATE_FROM if c not in counters]
        elif line.column != rate_of and is_counter(rate_of):
            counters.append(rate_of)
        elif line.peak:
            peaks.append(line.column.removesuffix("_max"))
        else:
            gauges.append(line.column)
    return gauges, counters, peaks


def history_frame(store: Store, start_ts: int, end_ts: int,
                  max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Every charted series over the range in one SQL pass, one row per bucket."""
    gauges, counters, peaks = _needed()
    rows = store.series(start_ts, end_ts, gauges, counters, max_points, peaks=peaks)
    hits, misses = (f"{name}_sum" for name in HIT_RATE_FROM)
    for row in rows:
        row[HIT_RATE] = hit_rate(row[hits], row[misses])
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame.insert(0, "time", pd.to_datetime(frame["ts"], unit="ms", utc=True))
    return frame


def down_periods(store: Store, source: str, start_ts: int,
                 end_ts: int) -> list[tuple[int, int]]:
    """[(from, to)] when `source` was down inside the range, from its up/down events."""
    before = store.events(0, start_ts - 1, sources=[source], limit=1)
    down_since = start_ts if before and before[0].kind == "down" else None
    periods = []
    for event in reversed(store.events(start_ts, end_ts, sources=[source], limit=100_000)):
        if event.kind == "down" and down_since is None:
            down_since = event.ts
        elif event.kind == "up" and down_since is not None:
            periods.append((down_since, event.ts))
            down_since = None
    if down_since is not None:
        periods.append((down_since, end_ts))
    return periods


def csv_text(frame: pd.DataFrame) -> str:
    """The charted range as CSV: time first (ISO 8601 with its offset, in the display
    zone, which the header names), then every series, rounded to what the figures mean
    (3 decimals; hit rates 2, as on the pages)."""
    if frame.empty:
        return ""
    out = frame.drop(columns=["ts", "time"]).round(3)
    # A range without lookups has no hit rate at all: an all-None column, not numbers.
    out[HIT_RATE] = pd.to_numeric(out[HIT_RATE], errors="coerce").round(2)
    local = frame["time"].dt.tz_convert(formatting.display_zone())
    out.insert(0, f"time ({formatting.zone_name()})",
               local.map(lambda t: t.isoformat(timespec="milliseconds")))
    return str(out.to_csv(index=False))
