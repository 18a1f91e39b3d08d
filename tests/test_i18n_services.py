"""The Cache, Database and Containers pages in Arabic, on what the other Arabic page
tests do not draw: the tables (Redis's keys per database, MongoDB's databases, the
containers and their events), a service that is down showing what it was when last
seen, and the engine's words (states, health, event kinds) told in Arabic while the
names, images and texts the engine wrote stay left-to-right islands."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

import pytest

from ops import formatting
from ops.i18n import LEFT_TO_RIGHT_ISOLATE, ltr, speaking
from ops.sources.containers import Container
from ops.storage import Heartbeat, Latest, Store
from ops.storage import containers as container_samples
from ops.views import containers
from tests.i18n_support import texts
from tests.test_i18n_pages import ARABIC, assert_arabic
from tests.test_pages import app_for


def now_ms() -> int:
    return int(time.time() * 1000)


def test_database_page_down_with_its_last_known_databases(monkeypatch: pytest.MonkeyPatch,
                                                          env: dict[str, str]) -> None:
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    now = now_ms()
    info = {"version": "7.0.12", "host": "db-1:27017",
            "databases": {"shop": {"objects": 12, "data_size_mb": 1.5}}}
    store.set_latest(Latest("mongo", now - 60_000, True, now - 600_000, None,
                            {"values": {}, "info": info}))
    store.set_latest(Latest("mongo", now, False, now - 30_000, "connection refused",
                            {"values": {}, "info": {}}))
    store.beat(Heartbeat(1, "h", now - 600_000, now, 5.0, "0.1.0"))
    app = app_for(monkeypatch, {**env, **ARABIC, "MONGO_URI": "mongodb://127.0.0.1:1/"},
                  "pages/database.py")
    assert_arabic(app)
    said = "\n".join(texts(app))
    assert "آخر ظهور" in said, "the last known version and host, marked as such"
    with speaking("ar"):
        assert formatting.clock(now - 60_000) in said
    frame = app.dataframe[-1].value
    # the first column on the right: the grid lays columns out left to right
    assert list(frame.columns) == ["حجم البيانات (ميغابايت)", "المستندات", "قاعدة البيانات"]
    assert frame.iloc[0, -1] == f"{LEFT_TO_RIGHT_ISOLATE}shop\u2069", "a database name: an island"


def test_cache_page_keys_per_database(monkeypatch: pytest.MonkeyPatch,
                                      env: dict[str, str]) -> None:
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    now = now_ms()
    values = {"uptime_s": 75, "connected_clients": 3, "blocked_clients": 0,
              "used_memory_mb": 2.5, "maxmemory_mb": 0, "memory_used_pct": 0.1,
              "fragmentation_ratio": 1.2, "keys_total": 7, "hit_rate_total_pct": 90.0}
    info = {"version": "7.2.4", "role": "master",
            "keys_per_db": {"db0": {"keys": 5, "expires": 1}, "db1": {"keys": 2, "expires": 0}}}
    store.set_latest(Latest("redis", now, True, now - 600_000, None,
                            {"values": values, "info": info}))
    store.beat(Heartbeat(1, "h", now - 600_000, now, 5.0, "0.1.0"))
    app = app_for(monkeypatch, {**env, **ARABIC, "REDIS_URL": "redis://127.0.0.1:1/0"},
                  "pages/cache.py")
    assert_arabic(app)
    frame = app.dataframe[0].value
    assert list(frame.columns) == ["بمدة صلاحية", "المفاتيح", "قاعدة البيانات"]
    assert list(frame.iloc[:, -1]) == [f"{LEFT_TO_RIGHT_ISOLATE}db0\u2069",
                                      f"{LEFT_TO_RIGHT_ISOLATE}db1\u2069"]


def test_container_states_health_and_events_are_told_names_stay_islands() -> None:
    dead = Container("shop/worker", "c1", "shop-worker-1", "shop/worker:1.4", "exited",
                     exit_code=137, oom_killed=True, health="unhealthy",
                     health_output="curl: (7) Failed to connect")
    odd = Container("x", "c2", "x", "busybox", "frozen")  # a state the engine may add
    with speaking("ar"):
        rows = containers.table([dead, odd], now_ms())
        assert rows[0]["state"] == "خرجت (\u2066137\u2069)، أُنهيت لنفاد الذاكرة"
        assert rows[0]["health"] == "غير سليم"
        assert rows[0]["note"] == ltr("curl: (7) Failed to connect")
        assert rows[0]["image"] == ltr("shop/worker:1.4")
        assert rows[1]["state"] == ltr("frozen") and rows[1]["health"] == "بلا فحص"
        assert containers.named(containers.EVENT_KINDS, "oom_killed") == "أُنهيت لنفاد الذاكرة"
    rows = containers.table([dead, odd], now_ms())  # English: as the engine says it
    assert rows[0]["state"] == "exited (137), OOM-killed" and rows[0]["health"] == "unhealthy"
    assert rows[1]["state"] == "frozen" and rows[1]["health"] == "no check"


def test_a_compose_label_with_markup_is_a_legend_of_text(monkeypatch: pytest.MonkeyPatch,
                                                         env: dict[str, str]) -> None:
    """Plotly draws <a href>, <b> and friends in trace names; a compose service label is
    the engine's text, so the legend gets it escaped (Plotly shows entities as typed)."""
    hostile = '<a href="https://bait.example/">click</a><b>bold</b>'
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    container_samples.ensure_table(store)
    now = int(time.time() * 1000)
    container_samples.append(store, now - 60_000, {hostile: {"cpu_pct": 1.0,
                                                             "mem_used_mb": 10.0}})
    app = app_for(monkeypatch, env, "pages/containers.py")
    assert not app.exception, app.exception
    names = [trace.get("name") for chart in app.get("plotly_chart")
             for trace in json.loads(chart.proto.spec)["data"]]
    assert names and all(name == html.escape(hostile) for name in names), names
