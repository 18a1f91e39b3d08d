"""Watching the watcher: the dashboard raises collector_silent when the collector stops
sampling, sends it once through the channels, and resolves it once sampling resumes -
judged from a seeded heartbeat, and for real with a collector killed under a live
dashboard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ops.alerts import notify, silent
from ops.config import load_settings
from ops.storage import Heartbeat, Store, outbox
from ops.storage import alerts as records
from tests.dashboard_server import ROOT, Dashboard
from tests.receivers import HttpReceiver
from tests.servers import wait_until

T0 = 1_764_213_125_000


def beat(store: Store, last_tick_ts: int) -> None:
    store.beat(Heartbeat(pid=1, hostname="h", started_ts=T0 - 60_000,
                         last_tick_ts=last_tick_ts, interval_s=5, version="test"))


def test_silent_fires_once_and_resolves_once(tmp_path: Path) -> None:
    receiver = HttpReceiver().start()
    try:
        settings = load_settings({"OPS_DATA_DIR": str(tmp_path),
                                  "ALERT_URLS": f"json://127.0.0.1:{receiver.port}/s"},
                                 env_file=None)
        store = Store(settings.database_path)
        assert silent.judge(store, settings, T0, notify.announce) is None  # never sampled
        beat(store, T0)
        assert silent.judge(store, settings, T0 + 15_000, notify.announce) is None  # 3 x 5 s
        fired = silent.judge(store, settings, T0 + 16_000, notify.announce)
        assert fired is not None and fired[1] == "firing"
        for later in (T0 + 20_000, T0 + 60_000):  # still silent: nothing new
            assert silent.judge(store, settings, later, notify.announce) is None
        [alert] = records.firing(store)
        assert (alert.rule, alert.subject, alert.severity) == ("collector_silent", "collector",
                                                               "critical")
        assert alert.message is not None and alert.message.startswith(
            "collector is not sampling: no sample for 16s")
        beat(store, T0 + 70_000)
        resolved = silent.judge(store, settings, T0 + 70_500, notify.announce)
        assert resolved is not None and resolved[1] == "resolved"
        assert silent.judge(store, settings, T0 + 71_000, notify.announce) is None
        notify.deliver_due(store, settings, T0 + 80_000)
    finally:
        receiver.stop()
    [digest] = receiver.delivered  # both were due at once: one message
    said = digest.json()["message"]
    assert "FIRING [critical] collector silent" in said
    assert "RESOLVED collector silent: collector is sampling again after 1m 10s" in said
    assert [row.event for row in reversed(outbox.recent(store))] == ["firing", "resolved"]


def test_collector_killed_under_a_live_dashboard(env: dict[str, str], tmp_path: Path) -> None:
    receiver = HttpReceiver().start()
    environ = {**env, "SAMPLE_INTERVAL_SECONDS": "1", "ENABLE_AUTO_BACKUP": "false",
               "ALERT_URLS": f"json://127.0.0.1:{receiver.port}/hook/T0KEN5ecret"}
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")},
            **environ}
    logs = tmp_path / "collector.log"

    def start_collector() -> subprocess.Popen[bytes]:
        with open(logs, "ab") as log:
            return subprocess.Popen([sys.executable, "-m", "collector"], cwd=ROOT, env=full,
                                    stdout=log, stderr=log)

    def about_collector() -> list[str]:
        return [r.json()["title"] for r in receiver.delivered
                if "collector silent" in r.json()["title"]]

    collector = start_collector()
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    dashboard = Dashboard(environ, tmp_path)
    try:
        wait_until(lambda: store.sample_count() >= 2, "first samples", 60)
        collector.send_signal(signal.SIGKILL)
        collector.wait(10)
        wait_until(lambda: about_collector(), "the collector_silent message", 60)
        time.sleep(4)  # more passes of the dashboard's watcher: nothing else is sent
        [fired] = about_collector()
        assert fired.startswith("FIRING [critical] collector silent: collector is not sampling")
        collector = start_collector()
        wait_until(lambda: len(about_collector()) >= 2, "the resolved message", 60)
        time.sleep(4)
        assert [title.split(" collector")[0] for title in about_collector()] == \
            ["FIRING [critical]", "RESOLVED"]
        assert "again after" in about_collector()[1]
        assert "T0KEN5ecret" not in logs.read_text()
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(30)
        dashboard.stop()
        receiver.stop()
    assert "T0KEN5ecret" not in (tmp_path / f"dashboard-{dashboard.port}.log").read_text()
