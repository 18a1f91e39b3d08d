"""The Containers page and the Overview's containers tile: not watched (nothing set, or an
engine that cannot be reached), and live against the real engine of the `docker_engine`
fixture, with text from the engine (labels) shown as typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.containers import ContainerRecorder
from collector.loop import Collector, Tick
from ops.config import load_settings
from ops.housekeeping import Retention
from ops.i18n import ltr, speaking
from ops.sources.configured import build_sources
from ops.storage import Store
from tests.docker_engine import DockerEngine
from tests.test_i18n_pages import assert_arabic
from tests.test_pages import app_for, shown

PAGE = "pages/containers.py"


def tick(env: dict[str, str], times: int = 1) -> None:
    """What the collector with these settings records, `times` ticks."""
    settings = load_settings({**env, "SAMPLE_INTERVAL_SECONDS": "2"}, env_file=None)
    store = Store(settings.database_path)
    recorder = ContainerRecorder(store, 48)

    def record(done: Tick) -> None:
        recorder.record(done.ts, done.readings)

    collector = Collector(store, build_sources(settings), 2, Retention.from_settings(settings),
                          after_tick=[record])
    for _ in range(times):
        collector.run_once()
    collector.close()
    store.close()


def test_not_configured_says_how_to_watch(monkeypatch: pytest.MonkeyPatch,
                                          env: dict[str, str]) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    app = app_for(monkeypatch, env, PAGE)
    assert not app.exception, app.exception
    assert "Containers are not watched: set DOCKER_HOST, e.g." in shown(app)
    overview = app_for(monkeypatch, env, "pages/overview.py")
    assert "Not watched. Set `DOCKER_HOST`" in shown(overview)


def test_unreachable_engine_is_not_watched_on_the_page(monkeypatch: pytest.MonkeyPatch,
                                                       env: dict[str, str],
                                                       tmp_path: Path) -> None:
    engine = f"unix://{tmp_path}/gone.sock"
    tick({**env, "DOCKER_HOST": engine})
    app = app_for(monkeypatch, {**env, "DOCKER_HOST": engine}, PAGE)
    assert not app.exception, app.exception
    text = shown(app)
    assert "Containers are not watched: the Docker engine at unix" in text
    assert "gone\\.sock cannot be reached" in text, "engine text escaped, shown as typed"
    overview = app_for(monkeypatch, env, "pages/overview.py")
    assert "not watched" in shown(overview)
    assert "gone\\.sock cannot be reached" in shown(overview)


def test_live_table_history_and_events(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                       docker_engine: DockerEngine) -> None:
    hostile = "**shop** <b>x</b> [link](http://evil.example/)"
    labels = {"com.docker.compose.project": "alaweal",
              "com.docker.compose.service": hostile}
    full = {**env, "DOCKER_HOST": docker_engine.host}
    try:
        tick(full)
        docker_engine.run("page-web", "--memory", "32m", labels=labels)
        tick(full, times=2)
        app = app_for(monkeypatch, full, PAGE)
        arabic = app_for(monkeypatch, {**full, "OPS_LANGUAGE": "ar"}, PAGE)
        monkeypatch.delenv("OPS_LANGUAGE")
    finally:
        docker_engine.docker("rm", "-f", "page-web")
    assert not app.exception, app.exception
    frame = app.dataframe[0].value
    row = frame[frame["container"] == "page-web"].iloc[0]
    assert row["service"] == f"alaweal/{hostile}", "engine text is shown as typed"
    assert row["state"] == "running" and row["health"] == "no check"
    assert row["memory / limit"].endswith(" / 32 MB")
    events = app.dataframe[1].value
    assert f"alaweal/{hostile} started" in list(events["what"])
    assert "1 of 1 running" in shown(app)
    assert not any("evil.example" in str(m.value) and "](" not in str(m.value)
                   for m in app.markdown), "no link made of a label"
    overview = app_for(monkeypatch, full, "pages/overview.py")
    assert "1 of 1 running" in shown(overview)
    # In Arabic: headers, states and charts told; what the engine named stays as typed,
    # a left-to-right island.
    assert_arabic(arabic)
    frame = arabic.dataframe[0].value
    with speaking("ar"):
        row = frame[frame["الحاوية"] == ltr("page-web")].iloc[0]
        assert row["الخدمة"] == ltr(f"alaweal/{hostile}") and row["الحالة"] == "تعمل"
