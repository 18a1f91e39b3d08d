"""Counters to per-interval deltas: never negative, nothing across an outage."""

from __future__ import annotations

from ops.deltas import CounterTracker, columns_for, delta
from ops.sources.base import Field, Reading

FIELDS = (Field("hits", "", "", counter=True), Field("clients", "", ""))


def reading(up: bool, hits: float | None = None, clients: float | None = None) -> Reading:
    return Reading("redis", up, None if up else "down",
                   {"hits": hits, "clients": clients} if up else {})


def test_columns_for_names_gauges_and_counter_deltas() -> None:
    assert columns_for("redis", FIELDS) == ["redis_up", "redis_hits_delta", "redis_clients"]


def test_delta_rules() -> None:
    assert delta(10, 15) == 5
    assert delta(None, 15) is None
    assert delta(15, None) is None
    assert delta(15, 3) is None, "a counter that went down is a restart, not -12"


def test_tracker_sequence_with_outage_and_restart() -> None:
    tracker = CounterTracker()
    rows = [tracker.row(r, FIELDS) for r in (
        reading(True, 100, 3), reading(True, 130, 4), reading(False),
        reading(True, 160, 2), reading(True, 5, 2), reading(True, 9, 2))]
    assert [row["redis_hits_delta"] for row in rows] == [None, 30, None, None, None, 4]
    assert [row["redis_up"] for row in rows] == [1, 1, 0, 1, 1, 1]
    assert rows[2]["redis_clients"] is None
    assert rows[3]["redis_clients"] == 2
