"""Uptime % from events across any range, exact to the millisecond."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.storage import Store
from ops.uptime import uptime_pct, uptime_table

H = 3_600_000


@pytest.fixture
def store(tmp_path: Path) -> Store:
    db = Store(tmp_path / "ops.sqlite3")
    db.record_event(0, "redis", "up", None)  # first seen
    db.record_event(10 * H, "redis", "down", "refused")
    db.record_event(11 * H, "redis", "up", None)
    db.record_event(30 * H, "redis", "down", "refused")
    return db


def test_uptime_over_windows_that_cut_through_outages(store: Store) -> None:
    assert uptime_pct(store, "redis", 0, 20 * H) == pytest.approx(95.0)
    assert uptime_pct(store, "redis", 10 * H + H // 2, 12 * H) == pytest.approx(200 / 3)
    assert uptime_pct(store, "redis", 29 * H, 31 * H) == pytest.approx(50.0), \
        "still down at the end of the window"
    assert uptime_pct(store, "redis", 12 * H, 13 * H) == 100.0, "no event inside: state before"


def test_time_before_first_seen_does_not_count(store: Store) -> None:
    store.record_event(100 * H, "api", "up", None)
    store.record_event(101 * H, "api", "down", "503")
    assert uptime_pct(store, "api", 0, 102 * H) == pytest.approx(50.0)
    assert uptime_pct(store, "mongo", 0, 102 * H) is None, "never watched"


def test_a_year_of_events_across_tier_boundaries(tmp_path: Path) -> None:
    db = Store(tmp_path / "ops.sqlite3")
    day = 24 * H
    db.record_event(0, "mongo", "up", None)
    for d in range(1, 365):  # a 6-minute outage every day for a year
        db.record_event(d * day, "mongo", "down", "timeout")
        db.record_event(d * day + 360_000, "mongo", "up", None)
    table = uptime_table(db, ["mongo"], now_ts=365 * day)
    assert table["mongo"]["1 y"] == pytest.approx(100 * (1 - 364 * 360_000 / (365 * day)))
    assert table["mongo"]["24 h"] == pytest.approx(100 * (1 - 360_000 / day))
    assert table["mongo"]["30 d"] == pytest.approx(100 * (1 - 30 * 360_000 / (30 * day)))
