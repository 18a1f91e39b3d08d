"""Figures as the pages show them, and the History CSV as a spreadsheet reads it."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ops import formatting
from ops.storage import Store
from ops.views.history import HIT_RATE, csv_text, history_frame


def test_megabytes_one_convention_per_size() -> None:
    assert formatting.megabytes(None) == "n/a"
    assert formatting.megabytes(1.234) == "1.2 MB"
    assert formatting.megabytes(512.4) == "512 MB"
    assert formatting.megabytes(9_876.2) == "9,876 MB"
    assert formatting.megabytes(23_189) == "22.6 GB", "past 10,000 MB: GB, one decimal"
    assert formatting.megabytes(2_000_000) == "1,953.1 GB"


def test_history_csv_has_iso_times_with_offset_and_rounded_figures(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.sqlite3")
    store.ensure_columns(["host_mem_used_pct", "redis_keyspace_hits_delta",
                          "redis_keyspace_misses_delta"])
    for i in range(3):  # hits / lookups = 2 / 3: 66.666...% before rounding
        store.append_sample(1_780_000_000_000 + i * 5000, {
            "dt_s": 5.0, "host_mem_used_pct": 41.123456789,
            "redis_keyspace_hits_delta": 2, "redis_keyspace_misses_delta": 1})
    rows = list(csv.DictReader(io.StringIO(csv_text(history_frame(
        store, 1_780_000_000_000 - 1000, 1_780_000_000_000 + 20_000)))))
    store.close()
    assert rows, "one row per point"
    first = rows[0]
    assert next(iter(first)) == "time (UTC)"
    assert datetime.fromisoformat(first["time (UTC)"]).utcoffset() is not None
    assert first["time (UTC)"].endswith("+00:00")
    assert first["host_mem_used_pct"] == "41.123"
    assert first[HIT_RATE] == "66.67"


def test_times_in_the_display_zone_say_which(tmp_path: Path) -> None:
    formatting.set_display_zone(ZoneInfo("Asia/Riyadh"))
    assert formatting.clock(1_000_000) == "1970-01-01 03:16:40 +03"
    assert formatting.zone_name() == "Asia/Riyadh"
    store = Store(tmp_path / "ops.sqlite3")
    store.ensure_columns(["host_mem_used_pct"])
    store.append_sample(1_780_000_000_000, {"dt_s": 5.0, "host_mem_used_pct": 40.0})
    text = csv_text(history_frame(store, 1_780_000_000_000 - 1000, 1_780_000_000_000 + 1000))
    store.close()
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["time (Asia/Riyadh)"] == "2026-05-28T23:26:40.000+03:00"


def test_history_csv_of_a_range_without_lookups(tmp_path: Path) -> None:
    """No Redis lookups (or no Redis): the hit rate column is empty, not an error."""
    store = Store(tmp_path / "ops.sqlite3")
    store.ensure_columns(["host_mem_used_pct"])
    store.append_sample(1_780_000_000_000, {"dt_s": 5.0, "host_mem_used_pct": 40.0})
    rows = list(csv.DictReader(io.StringIO(csv_text(history_frame(
        store, 1_780_000_000_000 - 1000, 1_780_000_000_000 + 1000)))))
    store.close()
    assert rows[0][HIT_RATE] == "" and rows[0]["host_mem_used_pct"] == "40.0"
