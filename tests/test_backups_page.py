"""The Backups page as a new admin meets it: a backup of several databases restored one
at a time, selectors on the newest backup, restored copies kept out of the next backup,
the way back from a dead download link, and the download reachable on a phone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from streamlit.testing.v1 import AppTest

from collector.worker import JobWorker
from ops import formatting
from ops.backup.catalogue import list_backups
from ops.backup.dump import dump
from ops.config import load_settings
from ops.storage import Heartbeat, Store
from ops.web.downloads import signed_link
from tests.backup_data import ARABIC, client, seed, snapshot, unique_db
from tests.browser_support import UI_TIMEOUT_MS
from tests.dashboard_server import Dashboard
from tests.s3_server import CREDENTIALS, S3Server
from tests.servers import MongoStandIn
from tests.test_pages import app_for, shown

PHONE = {"width": 390, "height": 844}


def now_ms() -> int:
    return int(time.time() * 1000)


def store_of(env: dict[str, str]) -> Store:
    return Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")


def collector_runs(env: dict[str, str]) -> JobWorker:
    """The collector's job worker, with a fresh heartbeat so the page follows jobs."""
    store_of(env).beat(Heartbeat(1, "h", now_ms(), now_ms(), 5.0, "0.1.0"))
    return JobWorker(load_settings(env, env_file=None))


def run_queued(env: dict[str, str], app: AppTest) -> None:
    """The collector runs what the page queued; the page then shows how it ended."""
    worker = collector_runs(env)
    job = worker.run_pending()
    assert job is not None
    done = worker.store.job(job.id)
    assert done is not None and done.status == "ok", done
    collector_runs(env)
    app.run()
    app.run()


def restore_into(app: AppTest, target: str) -> None:
    app.text_input(key="restore_target").input(target).run()
    app.text_input(key="restore_confirm").input(target).run()
    app.button(key="restore_button").click().run()


def test_several_databases_restored_one_at_a_time(monkeypatch: pytest.MonkeyPatch,
                                                  env: dict[str, str],
                                                  shared_mongo: Any) -> None:
    shop, reports = unique_db("alaweal_db"), unique_db("reports")
    seed(shared_mongo.uri, shop, {"orders": [{"_id": i, "name": f"{ARABIC} {i}"}
                                             for i in range(40)]})
    seed(shared_mongo.uri, reports, {"daily": [{"_id": i} for i in range(7)]})
    env = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": f"{shop},{reports}",
           "ENABLE_AUTO_BACKUP": "false"}
    app = app_for(monkeypatch, env, "pages/backups.py")
    app.button[0].click().run()  # Backup now
    run_queued(env, app)
    [entry] = list_backups(Path(env["OPS_DATA_DIR"]) / "backups")

    table = app.dataframe[0].value
    assert list(table.columns[:3]) == ["created (UTC)", "size", "databases"]
    assert table["databases"].tolist() == [f"{shop}, {reports}"]

    offered = app.selectbox(key="restore_from_db")
    assert offered.options == [shop, reports] and offered.value == shop
    offered.set_value(reports).run()
    target = unique_db("reports_copy")
    restore_into(app, target)
    [job] = store_of(env).jobs("restore")
    assert job.params == {"backup": entry.id, "from_db": reports, "to_db": target,
                          "drop": False}
    run_queued(env, app)
    assert f"7 documents restored into {target}".replace("_", "\\_") in shown(app)
    assert snapshot(shared_mongo.uri, target) == snapshot(shared_mongo.uri, reports)
    with client(shared_mongo.uri) as c:
        assert c[target].list_collection_names() == ["daily"], "that database only"


def test_selectors_move_to_a_new_backup(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                        shared_mongo: Any) -> None:
    shop = unique_db("alaweal_db")
    seed(shared_mongo.uri, shop, {"orders": [{"_id": i} for i in range(10)]})
    env = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": shop,
           "ENABLE_AUTO_BACKUP": "false"}
    older = dump(shared_mongo.uri, Path(env["OPS_DATA_DIR"]) / "backups", [shop])
    app = app_for(monkeypatch, env, "pages/backups.py")
    keys = ("download_backup", "verify_backup", "restore_backup")
    assert [app.selectbox(key=k).value for k in keys] == [older.id] * 3
    [entry] = list_backups(Path(env["OPS_DATA_DIR"]) / "backups")
    assert app.selectbox(key="verify_backup").options == [
        f"{formatting.clock(entry.created_ms)} · {formatting.size(entry.size_bytes)} · {shop}"]

    app.button[0].click().run()  # Backup now: the worker finishes it, the page reruns
    run_queued(env, app)
    newest = list_backups(Path(env["OPS_DATA_DIR"]) / "backups")[0].id
    assert newest != older.id
    assert [app.selectbox(key=k).value for k in keys] == [newest] * 3

    app.selectbox(key="verify_backup").set_value(older.id).run()  # a choice is kept
    app.run()
    assert app.selectbox(key="verify_backup").value == older.id


def test_a_restored_copy_is_not_in_the_next_backup(monkeypatch: pytest.MonkeyPatch,
                                                   env: dict[str, str],
                                                   mongo_own: MongoStandIn) -> None:
    seed(mongo_own.uri, "alaweal_db", {"orders": [{"_id": i, "name": f"{ARABIC} {i}"}
                                                  for i in range(200)]})
    env = {**env, "MONGO_URI": mongo_own.uri, "ENABLE_AUTO_BACKUP": "false"}
    app = app_for(monkeypatch, env, "pages/backups.py")
    app.button[0].click().run()
    run_queued(env, app)

    app.text_input(key="restore_target").input("alaweal_db_restored").run()
    assert "becomes a restored copy that the daily backups leave out" in shown(app)
    restore_into(app, "alaweal_db_restored")
    run_queued(env, app)
    assert "Left out of the daily backups as restored copies" in shown(app)

    store = store_of(env)
    store.request_job("backup", "test", now_ms())
    run_queued(env, app)
    newest = list_backups(Path(env["OPS_DATA_DIR"]) / "backups")[0]
    assert newest.databases == ["alaweal_db"]

    app.button(key="include_alaweal_db_restored").click().run()  # back it up after all
    assert "Left out of the daily backups" not in shown(app)
    store.request_job("backup", "test", now_ms())
    run_queued(env, app)
    newest = list_backups(Path(env["OPS_DATA_DIR"]) / "backups")[0]
    assert newest.databases == ["alaweal_db", "alaweal_db_restored"]


def test_without_mongodb_backups_are_off(monkeypatch: pytest.MonkeyPatch,
                                         env: dict[str, str]) -> None:
    app = app_for(monkeypatch, env, "pages/backups.py")
    text = shown(app)
    assert "Next scheduled off" in text and "backups off until MONGO_URI is set" in text
    assert "03:00" not in text


@pytest.fixture
def one_backup(shared_mongo: Any, data_dir: Path) -> str:
    shop = unique_db("alaweal_db")
    seed(shared_mongo.uri, shop, {"orders": [{"_id": i} for i in range(5)]})
    dump(shared_mongo.uri, data_dir / "backups", [shop])
    return dump(shared_mongo.uri, data_dir / "backups", [shop]).id


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_dead_download_link_answers_a_browser_with_a_page(
        env: dict[str, str], tmp_path: Path, one_backup: str) -> None:
    server = Dashboard(env, tmp_path)
    try:
        settings = load_settings(env, env_file=None)
        expired = signed_link(settings, one_backup, now=time.time() - 3600)
        page = server.request("GET", expired, headers=BROWSER)
        assert page.status == 403
        assert page.headers["content-type"].startswith("text/html")
        body = page.body.decode()
        assert "This link has expired" in body and 'href="../../../backups"' in body
        assert "{" not in body.split("</style>")[1], "no JSON"

        path, query = signed_link(settings, one_backup).split("?", 1)
        forged = server.request("GET", f"{path}?{query[:-1]}x", headers=BROWSER)
        assert forged.status == 403 and b"not made by the Backups page" in forged.body

        for headers in ({"Accept": "application/json"}, {}, {"Accept": "*/*"}):
            script = server.request("GET", expired, headers=headers)
            assert script.status == 403
            assert script.headers["content-type"] == "application/json"
            assert b'"link expired' in script.body
    finally:
        server.stop()


VERTICALLY_INTO_VIEW = """el => {
    for (let box = el.parentElement; box; box = box.parentElement) {
        if (box.scrollHeight > box.clientHeight + 1) {
            box.scrollTop += el.getBoundingClientRect().top - box.getBoundingClientRect().top
                - 100;
            return;
        }
    }
}"""
SIDEWAYS_SCROLLED = """el => {
    let total = 0;
    for (let box = el.parentElement; box; box = box.parentElement) total += box.scrollLeft;
    return total;
}"""


@pytest.mark.browser
def test_on_a_phone_the_newest_backup_downloads_without_scrolling(
        browser: Browser, env: dict[str, str], tmp_path: Path, one_backup: str) -> None:
    server = Dashboard(env, tmp_path)
    try:
        page = browser.new_page(viewport=PHONE)
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"http://127.0.0.1:{server.port}/backups")
        expect(page.get_by_role("heading", name="Catalogue")).to_be_visible()
        link = page.get_by_role("link", name="Download")
        assert f"/api/backups/{one_backup}/download?" in (link.get_attribute("href") or "")
        # Scrolled down only (Streamlit's main section scrolls, not the document), then
        # the whole button is on screen and nothing was scrolled sideways.
        link.evaluate(VERTICALLY_INTO_VIEW)
        expect(link).to_be_in_viewport(ratio=1)
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert link.evaluate(SIDEWAYS_SCROLLED) == 0
    finally:
        server.stop()


def test_run_drill_from_the_page_and_read_its_result_in_the_catalogue(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], shared_mongo: Any) -> None:
    shop = unique_db("alaweal_db")
    seed(shared_mongo.uri, shop, {"orders": [{"_id": i, "name": f"{ARABIC} {i}"}
                                             for i in range(12)]})
    env = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": shop,
           "ENABLE_AUTO_BACKUP": "false"}
    made = dump(shared_mongo.uri, Path(env["OPS_DATA_DIR"]) / "backups", [shop])
    app = app_for(monkeypatch, env, "pages/backups.py")
    assert app.dataframe[0].value["drill"].tolist() == [""]
    assert "Set BACKUP_DRILL=weekly" in shown(app)

    app.button(key="drill_button").click().run()
    [job] = store_of(env).jobs("drill")
    assert job.params == {"backup": made.id}
    run_queued(env, app)

    said = shown(app).replace("\\", "")  # the page shows the texts inert (plain)
    assert "restored and matched: 1 database, 1 collection, 12 documents" in said
    assert "Last restore drill:" in said
    [cell] = app.dataframe[0].value["drill"].tolist()
    assert cell.startswith("matched ")


def test_a_copy_is_listed_and_fetched_back_from_the_page(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], shared_mongo: Any,
        tmp_path: Path) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    s3 = S3Server(tmp_path / "s3")
    s3.start()
    try:
        shop = unique_db("alaweal_db")
        seed(shared_mongo.uri, shop, {"orders": [{"_id": i} for i in range(9)]})
        url = s3.url(s3.bucket("offsite"))
        env = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": shop,
               "ENABLE_AUTO_BACKUP": "false", "BACKUP_COPY_URLS": url}
        worker = collector_runs(env)
        worker.store.request_job("backup", "admin", now_ms())
        worker.run_pending()
        copy = worker.run_pending()
        assert copy is not None and copy.status == "ok", copy
        [entry] = list_backups(Path(env["OPS_DATA_DIR"]) / "backups")
        app = app_for(monkeypatch, env, "pages/backups.py")
        assert app.dataframe[0].value["copies"].tolist() == ["1/1 good"]

        entry.file.unlink()  # the local file is lost
        Path(str(entry.file) + ".json").unlink()
        app.run()
        app.button(key="list_copies_button").click().run()
        app.run()
        assert app.selectbox(key="fetch_backup").value == entry.id
        app.button(key="fetch_button").click().run()
        [job] = store_of(env).jobs("fetch")
        assert job.params == {"backup": entry.id}
        run_queued(env, app)
        assert [e.id for e in list_backups(Path(env["OPS_DATA_DIR"]) / "backups")] == [entry.id]
        assert "fetched back and verified" in shown(app).replace("\\", "")
    finally:
        s3.stop()
