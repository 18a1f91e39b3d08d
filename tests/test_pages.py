"""Every page (AppTest) with an empty store, with 30 days of data, with services down or
not configured; the Backup now flow; login."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from bench.synthetic import fill, finish_with_latest
from collector.worker import JobWorker
from ops.config import load_settings
from ops.storage import Heartbeat, Latest, Store
from tests.backup_data import seed, unique_db

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["pages/overview.py", "pages/history.py", "pages/backups.py", "pages/cache.py",
         "pages/database.py", "pages/alerts.py"]
DAY_MS = 86_400_000
CONFIGURED = {"MONGO_URI": "mongodb://ops:pw@127.0.0.1:1/", "REDIS_URL": "redis://127.0.0.1:1/0",
              "API_HEALTH_URL": "http://127.0.0.1:1/health"}


def now_ms() -> int:
    return int(time.time() * 1000)


def app_for(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], page: str | None = None
            ) -> AppTest:
    for name in ("MONGO_URI", "REDIS_URL", "API_HEALTH_URL", "HTTP_CHECKS", "OPS_ADMIN_PASSWORD",
                 "BACKUP_DATABASES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    app.run()
    if page is not None:
        app.switch_page(page)
        app.run()
    return app


def shown(app: AppTest) -> str:
    parts: list[Any] = [m.value for m in app.markdown] + [c.value for c in app.caption]
    for kind in (app.warning, app.info, app.error, app.success, app.title, app.subheader):
        parts += [e.value for e in kind]
    parts += [f"{m.label} {m.value}" for m in app.metric]
    return "\n".join(str(p) for p in parts)


@pytest.fixture(scope="module")
def month_of_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 days of 5 s samples with outages, written once for the module."""
    directory = tmp_path_factory.mktemp("month")
    store = Store(directory / "ops.sqlite3")
    now = now_ms()
    fill(store, now - 30 * DAY_MS, now)
    finish_with_latest(store, now)
    store.checkpoint()
    store.close()
    return directory


@pytest.mark.parametrize("page", PAGES)
def test_empty_store_nothing_configured(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                        page: str) -> None:
    app = app_for(monkeypatch, env, page)
    assert not app.exception, app.exception
    text = shown(app)
    expected = {"pages/overview.py": "Not watched. Set `REDIS_URL`",
                "pages/history.py": "No samples in this range yet.",
                "pages/backups.py": "not watched: set MONGO_URI",
                "pages/cache.py": "not watched: set REDIS_URL",
                "pages/database.py": "not watched: set MONGO_URI",
                "pages/alerts.py": "Nothing is firing."}[page]
    assert expected in text


@pytest.mark.parametrize("page", PAGES)
def test_month_of_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, month_of_data: Path,
                       page: str) -> None:
    data = tmp_path / "data"
    shutil.copytree(month_of_data, data)
    app = app_for(monkeypatch, {"OPS_DATA_DIR": str(data), **CONFIGURED}, page)
    assert not app.exception, app.exception
    if page == "pages/history.py":
        app.segmented_control(key="history_range").set_value("30 d").run()
        assert not app.exception
        charts = app.get("plotly_chart")
        assert len(charts) == 10, "every chart drawn from 30 days of data"
        layouts = {json.loads(c.proto.spec)["layout"]["title"]["text"]:
                   json.loads(c.proto.spec)["layout"] for c in charts}
        assert layouts["Redis hit rate"]["shapes"], "the outages are shaded"
        assert not layouts["Memory used"].get("shapes"), "the host was never down"
        assert "Download this range as CSV" in [b.label for b in app.get("download_button")]
    else:
        text = shown(app)
        assert "UP" in text or "Catalogue" in text or "Backups" in text or "Rules" in text


def services_down(env: dict[str, str]) -> None:
    """Redis, MongoDB and the API down a minute ago ("Connection refused"), as the
    collector records it, with its heartbeat fresh."""
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    now = now_ms()
    for source in ("redis", "mongo", "api"):
        store.set_latest(Latest(source, now, False, now - 60_000,
                                f"{source}: Connection refused", {"values": {}, "info": {}}))
    store.beat(Heartbeat(1, "h", now - 60_000, now, 5.0, "0.1.0"))


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/cache.py", "pages/database.py"])
def test_services_down(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], page: str) -> None:
    services_down(env)
    text = shown(app_for(monkeypatch, {**env, **CONFIGURED}, page))
    assert "DOWN" in text or "is down" in text
    assert "Connection refused" in text
    assert "pw@" not in text, "the MongoDB password is never shown"


def test_backup_now_flow(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                         shared_mongo: Any) -> None:
    db_name = unique_db("flow")
    seed(shared_mongo.uri, db_name, {"a": [{"n": i} for i in range(120)],
                                     "b": [{"n": i} for i in range(30)]})
    env = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": db_name,
           "ENABLE_AUTO_BACKUP": "false"}
    app = app_for(monkeypatch, env, "pages/backups.py")
    assert "No backups in" in shown(app)

    app.button[0].click().run()  # Backup now, with no collector running
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    [job] = store.jobs()
    assert (job.kind, job.status, job.requested_by) == ("backup", "queued", "dashboard")
    assert "collector has not written a sample yet" in shown(app)

    store.beat(Heartbeat(1, "h", now_ms(), now_ms(), 5.0, "0.1.0"))
    worker = JobWorker(load_settings(env, env_file=None))
    claimed = store.claim_job(now_ms(), 1, "h")
    assert claimed is not None
    store.job_progress(claimed.id, {"collections_done": 1, "collections_total": 2,
                                    "documents_done": 120, "documents_estimated": 150,
                                    "current": f"{db_name}.b"})
    app.run()
    progress = app.get("progress")
    assert progress and "1/2 collections" in str(progress[0].proto.text)

    worker.runner.run_job(store.job(claimed.id))
    store.beat(Heartbeat(1, "h", now_ms(), now_ms(), 5.0, "0.1.0"))
    app.run()
    app.run()
    text = shown(app)
    assert "finished" in text and "150 documents" in text
    assert "Catalogue" in text


def test_backup_failure_is_shown(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    env = {**env, "MONGO_URI": "mongodb://127.0.0.1:1/", "ENABLE_AUTO_BACKUP": "false"}
    app = app_for(monkeypatch, env, "pages/backups.py")
    app.button[0].click().run()
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    store.beat(Heartbeat(1, "h", now_ms(), now_ms(), 5.0, "0.1.0"))
    worker = JobWorker(load_settings(env, env_file=None))
    worker.run_pending()
    app.run()
    app.run()
    assert "failed: MongoDB unreachable" in shown(app)


def test_nothing_without_a_session(monkeypatch: pytest.MonkeyPatch,
                                   env: dict[str, str]) -> None:
    """With a password, a run without a valid session cookie (AppTest sends none) draws
    no page, only the way back to /login. (Logging in, the cookie and the gate in front of
    the websocket are in tests/test_attack_access.py and tests/test_browser.py.)"""
    app = app_for(monkeypatch, {**env, "OPS_ADMIN_PASSWORD": "correct horse"})
    assert [t.value for t in app.title] == ["Ops dashboard"]
    assert "log in again" in shown(app) and "/login" in shown(app)
    assert "Overview" not in shown(app) and not app.metric and not app.button
    for page in PAGES:  # every page refuses to draw on its own, too
        app.switch_page(page)
        app.run()
        assert not app.metric and not app.get("plotly_chart") and not app.dataframe
    assert "correct horse" not in shown(app)
