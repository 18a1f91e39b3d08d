"""Numbers as the seed's JSON and the pages show them: `1m 15s`, `28.65`, `90.91%`, `52 MB`.

On an Arabic page (ops.i18n) each figure is a left-to-right island in the sentence, in
the digits OPS_DIGITS chose, and the words around it ("ago", "never") are translated;
elsewhere (JSON, commands, logs) the English forms stay exactly as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from ops.i18n import _, digits, ltr

# The zone pages show times in (OPS_DISPLAY_TIMEZONE): the dashboard sets it from its
# settings on every run; commands and logs keep UTC, which is what scripts parse.
_display_zone: tzinfo = UTC


def set_display_zone(zone: tzinfo) -> None:
    global _display_zone  # one setting of the process, read by every page
    _display_zone = zone


def display_zone() -> tzinfo:
    return _display_zone


def zone_name() -> str:
    """The display zone as headers name it: `Asia/Riyadh`, `UTC`."""
    return _display_zone.key if isinstance(_display_zone, ZoneInfo) else "UTC"


def local(ts: int) -> datetime:
    """A stored time (ms) in the display zone."""
    return datetime.fromtimestamp(ts / 1000, _display_zone)


def uptime(seconds: float | None, units: int = 4) -> str:
    """`1m 15s`, `3h 0m 5s`, `2d 4h 1m 0s`: leading zero units left out, as in the seed;
    `units` keeps only the largest ones (`2d 4h`), for a figure in a narrow box."""
    if seconds is None:
        return _("unknown")
    left = int(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        count, left = divmod(left, size)
        if count or parts:
            parts.append(f"{count}{unit}")
    return figure(" ".join([*parts, f"{left}s"][:units]))


def figure(text: str) -> str:
    """A figure as the page shows it: its own left-to-right island in the page's digits
    (on English pages and in JSON: the text itself)."""
    return ltr(digits(text))


def percent(value: float | None, places: int = 2) -> str:
    return _("n/a") if value is None else figure(f"{value:.{places}f}%")


def megabytes(value: float | None) -> str:
    """A size given in MB as pages show it: `1.2 MB`, `9,876 MB`, `22.6 GB` (GB from
    10,000 MB on). The seed's JSON has its own form, `52MB` (see ops.report)."""
    if value is None:
        return _("n/a")
    if value >= 10_000:
        return figure(f"{value / 1024:,.1f} GB")
    return figure(f"{value:.1f} MB" if value < 10 else f"{value:,.0f} MB")


def size(n_bytes: float | None) -> str:
    if n_bytes is None:
        return _("n/a")
    value = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return figure(f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}")
        value /= 1024
    return figure(f"{value:.1f} TB")


def age(since_ts: int | None, now_ts: int, units: int = 4) -> str:
    """How long ago, in the seed's uptime form: `5m 3s ago` (`units` as in uptime)."""
    if since_ts is None:
        return _("never")
    return _("{duration} ago").format(duration=uptime(max(0, now_ts - since_ts) / 1000,
                                                      units))


def clock(ts: int | None) -> str:
    """`2026-12-02 14:05:09 +03`: the display zone's time, labelled with its offset or
    abbreviation (`UTC`, `CET`)."""
    if ts is None:
        return _("never")
    return figure(local(ts).strftime("%Y-%m-%d %H:%M:%S %Z"))
