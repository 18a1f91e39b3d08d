"""Counters into per-interval deltas, and a sample row out of one tick's readings.

Servers report counters as totals since they started. The store keeps the difference
between two consecutive readings, so any later bucket's rate is exact (summed deltas over
summed seconds). A counter that went down means the server restarted in between: that
interval has no delta rather than a negative or absurd one. Which fields are counters is
the catalogue's: a source's fields default to its entries there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ops.catalogue import Field
from ops.catalogue import fields as catalogued
from ops.sources.base import Reading

Row = dict[str, float | int | None]


def columns_for(source: str, fields: Iterable[Field] | None = None) -> list[str]:
    """The sample columns one source fills: `<source>_up`, gauges and counter deltas."""
    names = [f"{source}_up"]
    for field in catalogued(source) if fields is None else fields:
        names.append(f"{source}_{field.name}_delta" if field.counter else f"{source}_{field.name}")
    return names


def delta(previous: float | None, current: float | None) -> float | None:
    if previous is None or current is None or current < previous:
        return None
    return current - previous


class CounterTracker:
    """Remembers each source's previous counters; only a reading of the tick before counts."""

    def __init__(self) -> None:
        self._previous: dict[str, Mapping[str, float | None]] = {}

    def row(self, reading: Reading, fields: Iterable[Field] | None = None) -> Row:
        declared = list(catalogued(reading.source) if fields is None else fields)
        previous = self._previous.pop(reading.source, {})
        row: Row = {f"{reading.source}_up": int(reading.up)}
        for field in declared:
            value = reading.values.get(field.name) if reading.up else None
            if field.counter:
                row[f"{reading.source}_{field.name}_delta"] = delta(previous.get(field.name), value)
            else:
                row[f"{reading.source}_{field.name}"] = value
        if reading.up:
            self._previous[reading.source] = {f.name: reading.values.get(f.name)
                                              for f in declared if f.counter}
        return row
