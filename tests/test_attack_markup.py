"""Text from monitored services is text: in Chromium, Markdown and HTML planted in version
strings, error texts and alert messages show as typed, and the browser neither follows
a link nor fetches an image from them.

The hostile texts are written into a real store the way the collector writes what
services answer (their version, their error), since no real Redis or MongoDB can be
made to report such a version; the dashboard then reads them as it always does.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ops.clock import now_ms
from ops.storage import Store
from ops.storage import alerts as records
from ops.storage.rows import Heartbeat, Latest
from pages.common import WORD_JOINER
from tests.browser_support import new_page
from tests.dashboard_server import Dashboard
from tests.servers import wait_until

pytestmark = pytest.mark.browser


class Bait:
    """An HTTP server that counts every request: the browser must never make one."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hostile(self, where: str) -> str:
        """Markdown link, image, bare URL, HTML image and tag, a colour shortcode."""
        bait = f"http://{self.host}/{where}"
        return (f"[click]({bait}/link) ![x]({bait}/md.png) {bait}/bare "
                f"<img src={bait}/html.png> <b>bold</b> :red[red] **strong**")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def plant(data_dir: Path, bait: Bait) -> dict[str, str]:
    """What services said, as the collector stores it; the texts to find on the pages."""
    store = Store(data_dir / "ops.sqlite3")
    now = now_ms()
    texts = {name: bait.hostile(name) for name in ("api", "redis", "role", "mongo", "alert")}
    store.beat(Heartbeat(1, "host", now - 60_000, now, 5.0, "test"))
    store.set_latest(Latest("api", now, True, now - 60_000, None,
                            {"values": {"latency_ms": 12.0},
                             "info": {"version": texts["api"]}}))
    store.set_latest(Latest("redis", now, True, now - 60_000, None,
                            {"values": {"uptime_s": 60.0},
                             "info": {"version": texts["redis"], "role": texts["role"]}}))
    store.set_latest(Latest("mongo", now, False, now - 60_000, texts["mongo"],
                            {"values": {}, "info": {}}))
    alert = records.create(store, "service_down", "mongo", "critical", now - 30_000, None,
                           texts["alert"])
    alert.status, alert.firing_ts = "firing", now - 20_000
    records.save(store, alert)
    store.close()
    return texts


def visible_text(page: Page) -> str:
    """The page's text as a reader sees it: whitespace collapsed, invisible word joiners
    (which keep URLs in service texts from becoming links) left out."""
    return " ".join(page.inner_text("body").replace(WORD_JOINER, "").split())


def test_service_texts_show_as_typed_and_fetch_nothing(browser: Browser, tmp_path: Path) -> None:
    bait = Bait()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    texts = plant(data_dir, bait)
    server = Dashboard({"OPS_DATA_DIR": str(data_dir), "ENABLE_AUTO_BACKUP": "false",
                        "API_HEALTH_URL": "http://127.0.0.1:9/health",
                        "REDIS_URL": "redis://127.0.0.1:9/0",
                        "MONGO_URI": "mongodb://127.0.0.1:9/"}, tmp_path)
    try:
        page = new_page(browser)
        shown = {"/": ("api", "alert"), "/cache": ("redis", "role"),
                 "/database": ("mongo",), "/alerts": ("alert",)}
        for path, names in shown.items():
            page.goto(f"http://127.0.0.1:{server.port}{path}")
            expect(page.get_by_text("click", exact=False).first).to_be_visible()
            page.wait_for_load_state("networkidle")
            for name in names:  # the whole text, every character as typed (the page's
                # live panels render after the banner, so wait for the text to appear)
                wait_until(lambda name=name: texts[name] in visible_text(page),
                           f"{path}: {name}'s text as typed", 60)
            expect(page.locator(f'a[href*="{bait.host}"]')).to_have_count(0)
            expect(page.locator(f'img[src*="{bait.host}"]')).to_have_count(0)
            expect(page.locator("b", has_text="bold")).to_have_count(0)
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        page.wait_for_timeout(1000)  # an image the page did make would load by now
        assert bait.paths == [], f"the browser fetched {bait.paths}"
    finally:
        server.stop()
        bait.close()
