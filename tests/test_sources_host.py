"""HostSource against this machine: figures present, consistent with psutil and sane."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from ops.sources.host import FIELDS, HostSource


def test_fields_are_declared_gauges_in_snake_case() -> None:
    names = [field.name for field in FIELDS]
    assert names == [
        "mem_total_mb", "mem_free_mb", "mem_used_pct", "load_1", "load_5", "load_15",
        "cpu_pct", "cores", "disk_used_pct", "disk_free_mb", "process_rss_mb",
    ]
    assert not any(field.counter for field in FIELDS)
    assert HostSource.fields == FIELDS


def test_probe_reports_memory_cpu_and_disk(data_dir: Path) -> None:
    source = HostSource(data_dir)
    reading = source.probe()
    source.close()

    assert reading.up and reading.error is None and reading.source == "host"
    values = reading.values
    assert set(values) == {field.name for field in FIELDS}
    total_mb = psutil.virtual_memory().total / 1024 / 1024
    assert abs(values["mem_total_mb"] - total_mb) < 1
    assert 0 < values["mem_free_mb"] <= values["mem_total_mb"]
    expected_pct = (values["mem_total_mb"] - values["mem_free_mb"]) / values["mem_total_mb"] * 100
    assert abs(values["mem_used_pct"] - expected_pct) < 1
    assert values["cores"] == os.cpu_count()
    assert 0 <= values["cpu_pct"] <= 100
    assert all(values[name] >= 0 for name in ("load_1", "load_5", "load_15"))
    assert 0 < values["disk_used_pct"] < 100
    assert values["disk_free_mb"] > 0
    assert reading.info["hostname"]
    assert reading.info["boot_time"].endswith("+00:00")


def test_process_rss_is_this_process(data_dir: Path) -> None:
    rss_mb = psutil.Process().memory_info().rss / 1024 / 1024
    reading = HostSource(data_dir).probe()
    # Same process, moments apart: within a few MB of what psutil says directly.
    assert abs(reading.values["process_rss_mb"] - rss_mb) < 20


def test_cpu_percent_measures_the_interval_since_the_previous_probe(data_dir: Path) -> None:
    source = HostSource(data_dir)
    busy_until = psutil.cpu_times().user + 0.3
    deadline = time.monotonic() + 5
    while psutil.cpu_times().user < busy_until and time.monotonic() < deadline:
        sum(range(10_000))  # keep one CPU busy for a moment
    reading = source.probe()
    assert reading.values["cpu_pct"] > 0


def test_missing_data_dir_leaves_host_up_with_unknown_disk(tmp_path: Path) -> None:
    reading = HostSource(tmp_path / "gone").probe()
    assert reading.up
    assert reading.values["disk_used_pct"] is None and reading.values["disk_free_mb"] is None
    assert "FileNotFoundError" in reading.info["disk_error"]
    assert reading.values["mem_total_mb"] > 0
