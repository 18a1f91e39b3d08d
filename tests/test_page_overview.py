"""The Overview page (AppTest): empty store, live data, a service down, nothing configured."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from collector.loop import Collector
from ops.config import load_settings
from ops.heartbeat import collector_state
from ops.housekeeping import Retention
from ops.i18n import speaking
from ops.sources.configured import build_sources
from ops.storage import Heartbeat, Latest, Store
from tests.servers import RedisServer

ROOT = Path(__file__).resolve().parents[1]


def run_page(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> AppTest:
    for name in ("MONGO_URI", "REDIS_URL", "API_HEALTH_URL", "HTTP_CHECKS", "OPS_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    return app.run()


def texts(app: AppTest) -> str:
    parts = [m.value for m in app.markdown] + [c.value for c in app.caption]
    parts += [w.value for w in app.warning] + [i.value for i in app.info]
    parts += [f"{m.label} {m.value}" for m in app.metric]
    return "\n".join(str(p) for p in parts)


def test_empty_store_says_collector_not_started(monkeypatch: pytest.MonkeyPatch,
                                                env: dict[str, str]) -> None:
    app = run_page(monkeypatch, env)
    assert not app.exception
    shown = texts(app)
    assert "collector has not written a sample yet" in shown
    for name in ("MONGO_URI", "REDIS_URL", "API_HEALTH_URL"):
        assert f"Not watched. Set `{name}`" in shown


def test_live_data_and_a_service_that_went_down(monkeypatch: pytest.MonkeyPatch,
                                               env: dict[str, str],
                                               redis_server: RedisServer) -> None:
    env = {**env, "REDIS_URL": redis_server.url}
    settings = load_settings(env, env_file=None)
    collector = Collector(Store(settings.database_path), build_sources(settings), 5,
                          Retention.from_settings(settings))
    collector.run_once()
    app = run_page(monkeypatch, env)
    assert not app.exception
    shown = texts(app)
    assert "UP" in shown and "hit rate" in shown
    assert "Memory used" in shown and "collector running" in shown

    redis_server.stop()
    collector.run_once()
    shown = texts(run_page(monkeypatch, env))
    assert "DOWN" in shown
    assert "Connection refused" in shown or "Error" in shown


def test_stale_heartbeat_shows_a_banner(monkeypatch: pytest.MonkeyPatch,
                                        env: dict[str, str]) -> None:
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    store.beat(Heartbeat(1, "h", 0, 1_000_000, 5.0, "0.1.0"))
    shown = texts(run_page(monkeypatch, env))
    assert "collector not running since 1970-01-01 00:16:40 UTC" in shown


def test_bad_setting_is_shown_on_the_page(monkeypatch: pytest.MonkeyPatch,
                                          env: dict[str, str]) -> None:
    app = run_page(monkeypatch, {**env, "BACKUP_TIME": "25:99"})
    assert [e.value for e in app.error] == [
        ("Settings error: BACKUP_TIME='25:99' is invalid: expected HH:MM on a 24-hour clock, "
        "e.g. 03:00 or 02:30")]


def test_the_collector_line_is_english_for_commands_and_arabic_on_pages(
        env: dict[str, str]) -> None:
    """`ops status` prints the English message; an Arabic page shows the same state in
    Arabic, the command and the times as left-to-right islands."""
    settings = load_settings(env, env_file=None)
    store = Store(settings.database_path)
    state = collector_state(store, settings, 2_000_000)
    assert state.message == state.shown == (
        "collector has not written a sample yet: start it with `python -m collector` "
        "(or `./run`)")
    with speaking("ar"):
        arabic = collector_state(store, settings, 2_000_000).shown
    assert arabic.startswith("لم يكتب المُجمِّع") and "\u2066`python -m collector`\u2069" in arabic

    store.beat(Heartbeat(1, "h", 0, 1_000_000, 5.0, "0.1.0"))
    state = collector_state(store, settings, 2_000_000)
    assert state.message.startswith("collector not running since 1970-01-01 00:16:40 UTC (")
    with speaking("ar"):
        arabic = collector_state(store, settings, 2_000_000).shown
    assert arabic.startswith("المُجمِّع متوقف منذ \u20661970-01-01 00:16:40 UTC\u2069 (منذ ")


def test_arabic_tiles_with_services_down(monkeypatch: pytest.MonkeyPatch,
                                         env: dict[str, str]) -> None:
    """Arabic states and uptime headers; a named check's name and a service's error as
    the admin and the service wrote them, as left-to-right islands."""
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    now = int(time.time() * 1000)
    for source in ("redis", "frontend"):
        store.set_latest(Latest(source, now, False, now - 60_000,
                                f"{source}: Connection refused", {"values": {}, "info": {}}))
        store.record_event(now - 60_000, source, "down", "down")
    store.set_latest(Latest("host", now, True, now - 60_000, None,
                            {"values": {"mem_used_pct": 40.0, "cores": 4}, "info": {}}))
    store.beat(Heartbeat(1, "h", now - 60_000, now, 5.0, "0.1.0"))
    app = run_page(monkeypatch, {**env, "OPS_LANGUAGE": "ar", "REDIS_URL": "redis://127.0.0.1:1/0",
                                 "HTTP_CHECKS": "frontend=http://127.0.0.1:1/"})
    assert not app.exception, app.exception
    markdown = [m.value for m in app.markdown]
    assert "**\u2066frontend\u2069** \u00a0 :red-badge[متوقف]" in markdown
    assert "\u2066frontend\\: Connection refused\u2069" in markdown
    assert any(c.value.startswith("متوقف منذ \u2066") for c in app.caption)
    table = app.dataframe[0].value
    assert list(table.columns) == ["الخدمة", "24 ساعة", "7 أيام", "30 يومًا", "سنة"]
    assert "المُجمِّع يعمل" in "\n".join(c.value for c in app.caption)
