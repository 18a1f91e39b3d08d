"""Every page in Arabic (AppTest), as its reader sees it: no English word outside the
left-to-right islands (figures, times, names, texts from services), with nothing
configured, with a month of data, and with the services down. (Switching language in one
browser session while another stays English: tests/test_browser_arabic.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ops.i18n import LEFT_TO_RIGHT_ISOLATE
from tests.i18n_support import english_outside_islands, texts
from tests.test_pages import (  # noqa: F401 - month_of_data is a fixture
    CONFIGURED,
    app_for,
    month_of_data,
    services_down,
)

PAGES = ["pages/overview.py", "pages/history.py", "pages/backups.py", "pages/cache.py",
         "pages/database.py", "pages/containers.py", "pages/alerts.py"]
ARABIC = {"OPS_LANGUAGE": "ar"}


def assert_arabic(app: AppTest) -> None:
    assert not app.exception, app.exception
    assert any("\u0600" <= ch <= "\u06ff" for text in texts(app) for ch in text), \
        "the page is in Arabic"
    left = english_outside_islands(app)
    assert not left, "English outside the left-to-right islands:\n" + "\n".join(
        repr(text) for text in left)


@pytest.mark.parametrize("page", PAGES)
def test_nothing_configured(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                            page: str) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert_arabic(app_for(monkeypatch, {**env, **ARABIC}, page))


@pytest.mark.parametrize("page", PAGES)
def test_month_of_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                       month_of_data: Path, page: str) -> None:  # noqa: F811
    data = tmp_path / "data"
    shutil.copytree(month_of_data, data)
    app = app_for(monkeypatch, {"OPS_DATA_DIR": str(data), **CONFIGURED, **ARABIC}, page)
    assert_arabic(app)
    if page == "pages/history.py":
        app.segmented_control(key="history_range").set_value("30 d").run()
        assert_arabic(app)


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/cache.py", "pages/database.py"])
def test_services_down(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                       page: str) -> None:
    services_down(env)
    app = app_for(monkeypatch, {**env, **CONFIGURED, **ARABIC}, page)
    assert_arabic(app)
    said = [text for text in texts(app) if "Connection refused" in text]
    assert said and all(f"{LEFT_TO_RIGHT_ISOLATE}" in text for text in said), \
        "the service's own error is shown, as a left-to-right island"


def test_one_sessions_pick_leaves_anothers_language_alone(monkeypatch: pytest.MonkeyPatch,
                                                           env: dict[str, str]) -> None:
    english = app_for(monkeypatch, env)
    arabic = app_for(monkeypatch, env)
    arabic.sidebar.selectbox[0].set_value("ar").run()
    assert_arabic(arabic)
    english.run()
    assert english.title[0].value == "Overview", "the other session stays English"
    arabic.run()
    assert arabic.title[0].value == "نظرة عامة", "the pick lasts for the session"
