"""What is watched is what the collector watches: `ops status`, the JSON endpoints and the
pages, run with none of the collector's variables, still see Redis as watched, and down
when it is - a cron check fails - and say their own settings differ."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ops.config import SETTINGS
from ops.storage import Store
from tests.dashboard_server import Dashboard
from tests.servers import RedisServer, wait_until
from tests.test_pages import app_for, shown

ROOT = Path(__file__).resolve().parents[1]


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without any of our settings, plus `settings`."""
    ours = {s.name for s in SETTINGS}
    return {**{k: v for k, v in os.environ.items() if k not in ours}, **settings}


def latest_up(data_dir: Path, source: str) -> bool | None:
    """Whether the collector's latest reading of `source` is up (None: none yet)."""
    path = data_dir / "ops.sqlite3"
    if not path.exists():
        return None
    store = Store(path)
    try:
        item = store.latest().get(source)
    finally:
        store.close()
    return None if item is None else item.up


def test_readers_without_the_settings_see_what_the_collector_watches(
        tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    log = open(tmp_path / "collector.log", "wb")  # noqa: SIM115
    collector = subprocess.Popen(
        [sys.executable, "-m", "collector"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=environment(OPS_DATA_DIR=str(data_dir), REDIS_URL=redis_server.url,
                        SAMPLE_INTERVAL_SECONDS="1", ENABLE_AUTO_BACKUP="false"))
    try:
        wait_until(lambda: latest_up(data_dir, "redis") is True, "Redis seen up")
        redis_server.stop()
        wait_until(lambda: latest_up(data_dir, "redis") is False, "Redis seen down")

        # A cron check from a shell that has only the data directory.
        status = subprocess.run([sys.executable, "-m", "ops", "status"], cwd=ROOT,
                                env=environment(OPS_DATA_DIR=str(data_dir)),
                                capture_output=True, text=True, timeout=60, check=False)
        assert status.returncode == 1, status.stdout + status.stderr
        health = json.loads(status.stdout)
        assert health["status"] == "DEGRADED"
        assert health["services"]["cache"]["status"] == "DOWN"
        assert "differ from the collector's, which watches redis" in status.stderr

        # The JSON endpoints of a dashboard started without REDIS_URL agree.
        dashboard = Dashboard({"OPS_DATA_DIR": str(data_dir)}, tmp_path)
        try:
            answer = dashboard.request("GET", "/api/monitoring/health/detailed")
            assert answer.status == 503
            assert json.loads(answer.body)["services"]["cache"]["status"] == "DOWN"
        finally:
            dashboard.stop()

        # And so do the pages: Redis is down, not "not watched".
        app = app_for(monkeypatch, {"OPS_DATA_DIR": str(data_dir)})
        assert "These settings differ from the collector's" in shown(app)
        assert "DOWN" in shown(app) and "Not watched. Set `REDIS_URL`" not in shown(app)
        app.switch_page("pages/cache.py")
        text = shown(app.run())
        assert "Redis is down" in text and "not watched" not in text
    finally:
        collector.terminate()
        collector.wait(20)
        log.close()
