"""The Backups page in Arabic with real backups in the catalogue: a backup copied off the
host, drilled and verified, the jobs followed to their end, the copies listed and a restore
target typed - no English word outside the left-to-right islands (names, figures, files
and the texts the backup code stores stay islands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.backup_data import ARABIC, seed, unique_db
from tests.i18n_support import english_outside_islands, texts
from tests.s3_server import CREDENTIALS, S3Server
from tests.test_backups_page import collector_runs, now_ms
from tests.test_pages import app_for

PAGE = "pages/backups.py"


def page(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], **state: object) -> AppTest:
    """The Backups page drawn afresh through the dashboard, with this session state (what
    the page's buttons leave there). Every check draws a new page: after the first run of
    a page, AppTest's next runs go back to the language picker's first option."""
    app = app_for(monkeypatch, env)
    for key, value in state.items():
        app.session_state[key] = value
    app.switch_page(PAGE).run()
    return app


def run_job(env: dict[str, str], kind: str, params: dict[str, object]) -> int:
    """A job the page's button would queue, run by the collector to its end."""
    worker = collector_runs(env)
    job, _ = worker.store.request_job(kind, "dashboard", now_ms(), params, join=False)
    done = worker.run_pending()
    assert done is not None and done.status == "ok", done
    collector_runs(env)
    return job.id


def english_left(app: AppTest) -> list[str]:
    """The English left outside the islands, but for the download links of the catalogue
    (a link column's cells are URLs: an isolate in one would break the link)."""
    assert not app.exception, app.exception
    return [text for text in english_outside_islands(app) if "/download?" not in text]


def test_real_backups_in_arabic(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                shared_mongo: Any, tmp_path: Path) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    s3 = S3Server(tmp_path / "s3")
    s3.start()
    try:
        shop, reports = unique_db("alaweal_db"), unique_db("reports")
        seed(shared_mongo.uri, shop, {"orders": [{"_id": i, "name": f"{ARABIC} {i}"}
                                                 for i in range(30)]})
        seed(shared_mongo.uri, reports, {"daily": [{"_id": i} for i in range(5)]})
        env = {**env, "MONGO_URI": shared_mongo.uri, "BACKUP_DATABASES": f"{shop},{reports}",
               "ENABLE_AUTO_BACKUP": "false", "BACKUP_COPY_URLS": s3.url(s3.bucket("offsite")),
               "OPS_LANGUAGE": "ar"}
        worker = collector_runs(env)
        for _ in range(2):  # two backups, each copied off the host
            worker.store.request_job("backup", "admin", now_ms())
            assert worker.run_pending() is not None
            copy = worker.run_pending()
            assert copy is not None and copy.status == "ok", copy

        app = page(monkeypatch, env)
        assert english_left(app) == []
        assert len(app.dataframe[0].value) == 2, "both backups in the catalogue"
        newest = app.selectbox(key="drill_backup").value

        for kind in ("drill", "verify"):  # each followed to its end
            job = run_job(env, kind, {"backup": newest})
            app = page(monkeypatch, env, followed_job=job, shown_job_end=job)
            assert english_left(app) == []
            assert app.success, "the job's end is said"
        assert any("تمرين استعادة" in text for text in texts(app)), "the drill, in Arabic"

        for target in (f"{shop}_copy", "admin"):  # a restore's notice, then a refusal
            app = page(monkeypatch, env, restore_target=target)
            assert english_left(app) == []

        app = page(monkeypatch, env, list_copies=True)  # what the targets hold
        assert english_left(app) == []
        assert len(app.dataframe) >= 3, "the catalogue, a target's listing, the events"
    finally:
        s3.stop()
