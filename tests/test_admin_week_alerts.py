"""An admin's first week, alerts and detail pages: what each screen says is true.

Resolved alerts say what recovered and after how long; a test notification shows as
delivered once the notifier delivered it; the webhook is shown without its path and never
as a link; a service that is down still shows what it was when last seen; every rate
names its window. Real servers throughout: redis-server, an HTTP receiver, an SMTP
server, the real Notifier thread and the collector's own loop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from collector.loop import Collector
from ops import formatting
from ops.config import load_settings
from ops.housekeeping import Retention
from ops.sources.configured import build_sources
from ops.storage import Heartbeat, Latest, Store
from tests.servers import RedisServer
from tests.test_pages import app_for, now_ms, shown

MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def unescaped(text: str) -> str:
    """What the reader sees of a text passed through pages.common.plain."""
    return MARKDOWN_ESCAPE.sub(r"\1", text).replace("\u2060", "")


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float = 20) -> None:
    """Wait for something another thread or process does; fails naming it."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- d. a service that is down still shows what it was when last seen ---


def collector_for(env: dict[str, str]) -> Collector:
    settings = load_settings(env, env_file=None)
    return Collector(Store(settings.database_path), build_sources(settings), 1,
                     Retention.from_settings(settings))


def test_store_keeps_the_last_up_info_through_an_outage(tmp_path: Path) -> None:
    store = Store(tmp_path / "ops.sqlite3")
    info = {"version": "7.2.4", "role": "master"}
    store.set_latest(Latest("redis", 1000, False, 1000, "refused", {"info": {}}))
    assert "last_up_info" not in store.latest()["redis"].reading, "never up: nothing known"
    store.set_latest(Latest("redis", 2000, True, 2000, None, {"info": info}))
    assert "last_up_info" not in store.latest()["redis"].reading
    for ts in (3000, 4000):  # carried from one down reading to the next
        store.set_latest(Latest("redis", ts, False, 3000, "refused", {"info": {}}))
        assert store.latest()["redis"].reading["last_up_info"] == {"ts": 2000, "info": info}
    store.set_latest(Latest("redis", 5000, True, 5000, None, {"info": {"version": "7.4.0"}}))
    assert store.latest()["redis"].reading == {"info": {"version": "7.4.0"}}


def test_cache_page_shows_the_last_known_version_and_role_while_redis_is_down(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
        redis_server: RedisServer) -> None:
    env = {**env, "REDIS_URL": redis_server.url}
    collector = collector_for(env)
    version = str(redis.Redis.from_url(redis_server.url).info()["redis_version"])
    up = collector.run_once()
    assert up and up.row["redis_up"] == 1
    up_ts = collector.store.latest()["redis"].ts
    redis_server.stop()
    for _ in range(2):
        down = collector.run_once()
        assert down and down.row["redis_up"] == 0
    collector.store.beat(Heartbeat(1, "h", up_ts, now_ms(), 1.0, "0.1.0"))

    text = unescaped(shown(app_for(monkeypatch, env, "pages/cache.py")))
    seen = f"(last seen {formatting.clock(up_ts)})"
    assert f"version {version} {seen}" in text
    assert f"role master {seen}" in text
    assert "?" not in text.split("version", 1)[1].split("\n", 1)[0]
    assert "Redis is down" in text

    redis_server.start()
    back = collector.run_once()
    assert back and back.row["redis_up"] == 1
    text = unescaped(shown(app_for(monkeypatch, env, "pages/cache.py")))
    assert f"version {version} · " in text and "last seen" not in text


def test_database_page_shows_the_last_known_version_host_and_databases(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    now = now_ms()
    info = {"version": "7.0.12", "host": "db-1:27017",
            "databases": {"shop": {"objects": 12, "data_mb": 1.5}}}
    store.set_latest(Latest("mongo", now - 60_000, True, now - 600_000, None,
                            {"values": {}, "info": info}))
    store.set_latest(Latest("mongo", now, False, now - 30_000, "connection refused",
                            {"values": {}, "info": {}}))
    store.beat(Heartbeat(1, "h", now - 600_000, now, 5.0, "0.1.0"))
    app = app_for(monkeypatch, {**env, "MONGO_URI": "mongodb://127.0.0.1:1/"},
                  "pages/database.py")
    text = unescaped(shown(app))
    seen = f"(last seen {formatting.clock(now - 60_000)})"
    assert f"version 7.0.12 {seen}" in text and f"db-1:27017 {seen}" in text
    assert f"As last seen, {formatting.clock(now - 60_000)}:" in text
    assert app.dataframe[-1].value.to_dict("records") == [
        {"database": "shop", "objects": 12, "data_mb": 1.5}]
