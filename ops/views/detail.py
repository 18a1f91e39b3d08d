"""Figures for the Cache and Database pages: the latest reading plus totals over a range."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ops import formatting
from ops.catalogue import counters
from ops.i18n import _, ltr
from ops.sources.redis import hit_rate
from ops.storage import Latest, Store


def known(latest: Latest | None, name: str) -> tuple[Any, int | None]:
    """An info item, and None; or, while the source is down, its value when last up and
    the time it was seen then (ops.storage.store keeps it as `last_up_info`)."""
    if latest is None:
        return None, None
    value = (latest.reading.get("info") or {}).get(name)
    if value is not None or latest.up:
        return value, None
    last = latest.reading.get("last_up_info") or {}
    value = (last.get("info") or {}).get(name)
    return (value, last.get("ts")) if value is not None else (None, None)


def fact(latest: Latest | None, name: str,
         shown: Callable[[str], str] = ltr) -> str | None:
    """`7.2.4`, or `7.2.4 (last seen <time>)` while down; None when never seen. The
    service's own value as `shown` makes it: a left-to-right island on Arabic pages
    (a page passes its Markdown escaping, pages.common.plain)."""
    value, seen_ts = known(latest, name)
    if value is None:
        return None
    if seen_ts is None:
        return shown(str(value))
    return _("{value} (last seen {time})").format(value=shown(str(value)),
                                                  time=formatting.clock(seen_ts))


REDIS_COUNTERS = counters("redis")
MONGO_COUNTERS = counters("mongo")


@dataclass(frozen=True)
class Detail:
    """A source's latest reading, and its counters summed over a range."""

    latest: Latest | None
    totals: dict[str, Any]

    @property
    def values(self) -> dict[str, Any]:
        return self.latest.reading.get("values", {}) if self.latest else {}

    @property
    def info(self) -> dict[str, Any]:
        return self.latest.reading.get("info", {}) if self.latest else {}

    def known(self, name: str) -> tuple[Any, int | None]:
        return known(self.latest, name)

    def fact(self, name: str, shown: Callable[[str], str] = ltr) -> str:
        """`7.2.4`; `7.2.4 (last seen <time>)` while down; `unknown` when never seen."""
        return fact(self.latest, name, shown) or _("unknown")

    def value(self, name: str, digits: int = 0, unit: str = "") -> str:
        number = self.values.get(name)
        return _("n/a") if number is None else formatting.figure(f"{number:,.{digits}f}{unit}")

    def megabytes(self, name: str) -> str:
        return formatting.megabytes(self.values.get(name))

    def state(self, now_ts: int) -> str:
        if self.latest is None:
            return _("no sample yet")
        since = formatting.uptime(max(0, now_ts - self.latest.since_ts) / 1000)
        if self.latest.up:
            return _("UP for {duration}").format(duration=since)
        return _("DOWN for {duration}").format(duration=since)


def totals(store: Store, source: str, counters: tuple[str, ...], start_ts: int,
           end_ts: int) -> dict[str, Any]:
    """Each counter's sum and rate over the whole range (one bucket)."""
    names = [f"{source}_{c}" for c in counters]
    rows = store.series(start_ts, end_ts, counters=names, max_points=1)
    row = rows[0] if rows else {}
    found = {c: row.get(f"{source}_{c}_sum") for c in counters}
    found.update({f"{c}_per_s": row.get(f"{source}_{c}_per_s") for c in counters})
    return found


def redis_detail(store: Store, start_ts: int, end_ts: int) -> Detail:
    found = totals(store, "redis", REDIS_COUNTERS, start_ts, end_ts)
    found["hit_rate_pct"] = hit_rate(found["keyspace_hits"], found["keyspace_misses"])
    return Detail(store.latest().get("redis"), found)


def mongo_detail(store: Store, start_ts: int, end_ts: int) -> Detail:
    return Detail(store.latest().get("mongo"), totals(store, "mongo", MONGO_COUNTERS,
                                                      start_ts, end_ts))
