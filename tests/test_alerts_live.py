"""Alerting end to end with real processes: redis-server stopped under a running
collector, the webhook receiver run by the test gets one firing and one resolved."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ops.storage import Store
from ops.storage import alerts as records
from ops.storage.tiers import RAW
from tests.servers import RedisServer

ROOT = Path(__file__).resolve().parents[1]


class Receiver:
    """A webhook endpoint that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                outer.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/T0KEN"

    def events(self) -> list[tuple[str, str]]:
        """(event, rule) of each message, read from its title: `FIRING [critical] service
        down: ...` (Apprise's JSON: version, title, message, type)."""
        found = []
        for body in self.bodies:
            event, _, rest = body["title"].partition(" ")
            rule = rest.split("] ", 1)[-1].split(":", 1)[0].split(" (", 1)[0]
            found.append((event.lower(), rule.replace(" ", "_")))
        return found


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_redis_stopped_fires_once_and_resolves_once(env: dict[str, str],
                                                    redis_server: RedisServer,
                                                    tmp_path: Path) -> None:
    receiver = Receiver()
    environ = {**os.environ, **env, "REDIS_URL": redis_server.url,
               "SAMPLE_INTERVAL_SECONDS": "1", "ENABLE_AUTO_BACKUP": "false",
               "ALERT_WEBHOOK_URL": receiver.url, "ALERT_WEBHOOK_FORMAT": "json"}
    with open(tmp_path / "collector.log", "wb") as log:
        collector = subprocess.Popen([sys.executable, "-m", "collector"], cwd=ROOT,
                                     env=environ, stdout=log, stderr=log)
    store = Store(Path(env["OPS_DATA_DIR"]) / "ops.sqlite3")
    try:
        wait_until(lambda: store.sample_count() >= 2, 60, "first samples")
        redis_server.stop()
        stopped = time.monotonic()
        wait_until(lambda: ("firing", "service_down") in receiver.events(), 60,
                   "the firing message")
        fired_after = time.monotonic() - stopped
        [alert] = records.firing(store)
        assert alert.subject == "cache" and "cache is down" in (alert.message or "")
        assert alert.firing_ts is not None
        down_samples = sum(
            row["redis_up"] == 0
            for row in store.tier_rows(RAW, None, alert.firing_ts + 1, ["redis_up"]))
        assert down_samples == 3, "fired on the third down sample"

        redis_server.start()
        wait_until(lambda: ("resolved", "service_down") in receiver.events(), 60,
                   "the resolved message")
        time.sleep(3)  # a few more ticks: nothing else may be sent
        assert receiver.events() == [("firing", "service_down"), ("resolved", "service_down")]
        assert fired_after < 60
        assert "T0KEN" not in (tmp_path / "collector.log").read_text()
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(30) == 0
        receiver.server.shutdown()
