"""The History page on a new install (AppTest): a few samples from a real collector against
a real redis-server and MongoDB stand-in, drawn visibly over long ranges, with empty
charts saying what is true."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from collector.loop import Collector
from ops.config import load_settings
from ops.housekeeping import Retention
from ops.i18n import LEFT_TO_RIGHT_ISOLATE, speaking
from ops.sources.configured import build_sources
from ops.storage import Heartbeat, Store
from ops.views.history import CHARTS, csv_text, history_frame, line_name, title
from tests.servers import MongoStandIn, RedisServer
from tests.test_pages import app_for, month_of_data, shown

__all__ = ["month_of_data"]  # the fixture, shared with tests/test_pages.py


def layouts_and_traces(app: AppTest) -> dict[str, dict[str, Any]]:
    specs = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    return {spec["layout"]["title"]["text"]: spec for spec in specs}


def utc(text: str) -> datetime:
    """A time as Plotly writes it (with or without its offset: both are UTC here)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_a_new_install_draws_its_few_samples_visibly(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], redis_server: RedisServer,
        mongo_own: MongoStandIn) -> None:
    env = {**env, "REDIS_URL": redis_server.url, "MONGO_URI": mongo_own.uri}
    settings = load_settings(env, env_file=None)
    collector = Collector(Store(settings.database_path), build_sources(settings), 5,
                          Retention.from_settings(settings))
    for _ in range(3):
        collector.run_once()

    app = app_for(monkeypatch, env, "pages/history.py")
    app.segmented_control(key="history_range").set_value("24 h").run()
    assert not app.exception
    charts = layouts_and_traces(app)
    memory = charts["Memory used"]
    assert all(trace["mode"] == "lines+markers" for trace in memory["data"]), \
        "three points get markers, so they are seen"
    first = min(utc(x) for trace in memory["data"] for x in trace["x"])
    axis_from, axis_to = map(utc, memory["layout"]["xaxis"]["range"])
    assert axis_from <= first < axis_to
    assert first - axis_from < timedelta(minutes=5), \
        "the axis starts near the first sample, not 24 hours before it"
    legend = memory["layout"]["legend"]
    assert legend["y"] > 1 and legend["yanchor"] == "bottom", "legend above: dates stay visible"
    text = shown(app)
    assert "History starts at" in text
    # MongoDB is watched and up, but the stand-in reports no operation counters.
    assert "MongoDB reported no operation counters in this range." in text
    assert "is mongo watched" not in text
    # The API is not configured: the chart says how to watch it.
    assert "API is not watched: set API_HEALTH_URL" in text


def test_long_ranges_of_a_month_keep_plain_lines(monkeypatch: pytest.MonkeyPatch,
                                                 month_of_data: Path) -> None:
    """Many points: lines without markers (a marker per point would be a smear)."""
    app = app_for(monkeypatch, {"OPS_DATA_DIR": str(month_of_data)}, "pages/history.py")
    app.segmented_control(key="history_range").set_value("30 d").run()
    memory = layouts_and_traces(app)["Memory used"]
    assert {trace["mode"] for trace in memory["data"]} == {"lines"}
    assert "History starts at" not in shown(app)


def test_pages_show_times_in_the_display_zone(monkeypatch: pytest.MonkeyPatch,
                                              env: dict[str, str],
                                              redis_server: RedisServer) -> None:
    env = {**env, "REDIS_URL": redis_server.url, "OPS_DISPLAY_TIMEZONE": "Asia/Riyadh"}
    settings = load_settings(env, env_file=None)
    store = Store(settings.database_path)
    Collector(store, build_sources(settings), 5, Retention.from_settings(settings)).run_once()
    store.beat(Heartbeat(1, "h", 0, 1_000_000, 5.0, "0.1.0"))  # long silent: a banner
    app = app_for(monkeypatch, env)
    assert "collector not running since 1970-01-01 03:16:40 +03" in shown(app)
    app.switch_page("pages/history.py")
    app.run()
    memory = layouts_and_traces(app)["Memory used"]
    assert memory["layout"]["xaxis"]["title"]["text"] == "Asia/Riyadh"


def test_a_down_service_tile_keeps_its_last_known_version(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], redis_server: RedisServer) -> None:
    env = {**env, "REDIS_URL": redis_server.url}
    settings = load_settings(env, env_file=None)
    collector = Collector(Store(settings.database_path), build_sources(settings), 5,
                          Retention.from_settings(settings))
    collector.run_once()
    redis_server.stop()
    collector.run_once()
    text = shown(app_for(monkeypatch, env))
    assert "DOWN" in text
    assert re.search(r"version \d+\\\.\d+\\\.\d+ \\\(last seen \d{4}", text), text


def test_arabic_charts_run_left_to_right_with_numeric_dates(monkeypatch: pytest.MonkeyPatch,
                                                            month_of_data: Path) -> None:
    """On an Arabic page: titles and legends in Arabic, dates as numbers (Plotly names
    months in English), time still running left to right."""
    app = app_for(monkeypatch, {"OPS_DATA_DIR": str(month_of_data), "OPS_LANGUAGE": "ar"},
                  "pages/history.py")
    assert not app.exception, app.exception
    charts = layouts_and_traces(app)
    assert len(charts) == len(CHARTS)
    for spec in charts.values():
        axis = spec["layout"]["xaxis"]
        assert axis["tickformat"] == "%d/%m %H:%M"
        assert axis.get("autorange") != "reversed"
        start, end = map(utc, axis["range"])
        assert start < end, "the axis runs from the earlier time on the left"
    with speaking("ar"):
        memory_title, names = title(CHARTS[0]), {line_name(line) for line in CHARTS[0].lines}
    assert memory_title == "الذاكرة المستخدمة"
    assert {trace["name"] for trace in charts[memory_title]["data"]} == names == {
        "المتوسط", "الذروة"}


def test_english_charts_keep_plotly_dates(monkeypatch: pytest.MonkeyPatch,
                                          month_of_data: Path) -> None:
    app = app_for(monkeypatch, {"OPS_DATA_DIR": str(month_of_data)}, "pages/history.py")
    assert "tickformat" not in layouts_and_traces(app)["Memory used"]["layout"]["xaxis"]


def test_the_csv_keeps_english_headers_in_arabic(month_of_data: Path) -> None:
    """Scripts read the download: its headers are the series' names whatever the page's
    language, without isolates."""
    end = int(datetime.now(UTC).timestamp() * 1000)
    frame = history_frame(Store(month_of_data / "ops.sqlite3"), end - 3_600_000, end)
    english = csv_text(frame).splitlines()[0]
    with speaking("ar"):
        header = csv_text(frame).splitlines()[0]
    assert header == english
    assert header.startswith("time (") and "host_mem_used_pct" in header
    assert LEFT_TO_RIGHT_ISOLATE not in header
