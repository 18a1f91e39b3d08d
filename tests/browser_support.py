"""Helpers for the browser test: a seeded database, `python -m ops up` as a user runs it,
Debian's chromium driven by Playwright, and the dashboard's login and navigation."""

from __future__ import annotations

import ast
import http.client
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from playwright.sync_api import Browser, Locator, Page, Playwright, expect
from pymongo import ASCENDING, MongoClient

from ops.config import SETTINGS
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1400, "height": 1000}
# Streamlit renders asynchronously over a websocket; on a busy 2-core machine a first page
# run (imports, plotly, pandas) can take several seconds.
UI_TIMEOUT_MS = 45_000
PAGES = ("Overview", "History", "Backups", "Cache", "Database")  # checked one by one
EXCEPTION = '[data-testid="stException"]'


def declared_pages() -> list[str]:
    """The titles of the pages streamlit_app.py gives st.navigation, in order (in
    English: each is `_("Title")`)."""
    tree = ast.parse((ROOT / "streamlit_app.py").read_text())
    titles = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "Page"):
            continue
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg == "title" and isinstance(value, ast.Call) and value.args:
                value = value.args[0]
            if keyword.arg == "title" and isinstance(value, ast.Constant):
                titles.append(str(value.value))
    return titles


def seed_database(uri: str, name: str, orders: int = 3000, customers: int = 1200) -> int:
    """Two collections with a secondary index each; returns the number of documents."""
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        db = client[name]
        db["customers"].insert_many([
            {"_id": i, "name": f"customer {i}", "email": f"c{i}@example.com",
             "country": ("NL", "DE", "FR", "EG")[i % 4]} for i in range(customers)])
        db["orders"].insert_many([
            {"_id": i, "customer": i % customers, "total": round(i * 1.37 % 500, 2),
             "lines": [{"sku": f"S{j}", "qty": j + 1} for j in range(i % 3 + 1)],
             "status": ("new", "paid", "shipped")[i % 3]} for i in range(orders)])
        db["orders"].create_index([("customer", ASCENDING)], name="by_customer")
        db["customers"].create_index([("email", ASCENDING)], name="by_email", unique=True)
    return orders + customers


class CacheTraffic:
    """Lookups against the real redis-server while the test runs, as an application would
    make them (9 in 10 find their key), so the Cache page has a real hit rate."""

    def __init__(self, url: str, keys: int = 54, absent: int = 6) -> None:
        self.client = redis.Redis.from_url(url)
        self.client.mset({f"session:{i}": f"user {i}" for i in range(keys)})
        self.names = [f"session:{i}" for i in range(keys + absent)]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stopping.wait(0.02):
            try:
                self.client.get(self.names[i % len(self.names)])
            except redis.RedisError:
                return
            i += 1

    def __enter__(self) -> CacheTraffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.client.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def http_get(port: int, path: str, timeout: float = 30) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                      response.read())
    finally:
        conn.close()


class OpsUp:
    """`python -m ops up --port N` (what `./run` executes), with only the given settings."""

    def __init__(self, settings_env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.env = settings_env
        self.data_dir = Path(settings_env["OPS_DATA_DIR"])
        ours = {s.name for s in SETTINGS}
        base = {k: v for k, v in os.environ.items() if k not in ours}
        self.log_path = log_path
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ops", "up", "--port", str(self.port)], cwd=ROOT,
            env={**base, **settings_env}, stdout=self.log, stderr=subprocess.STDOUT)
        self.returncode: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def _alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"`python -m ops up` exited with {self.proc.returncode}:\n"
                               f"{self.log_text()[-4000:]}")

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._alive()
            try:
                if http_get(self.port, "/_stcore/health", timeout=5).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"dashboard not healthy after {timeout} s:\n{self.log_text()}")

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the collector's SQLite file (read-only; the collector is its writer)."""
        path = self.data_dir / "ops.sqlite3"
        if not path.exists():
            return []
        # A read-only connection of its own, not a Store: the collector in another
        # process is the file's only writer, and opening a Store would migrate the file.
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # the collector has not made the tables yet
            return []
        finally:
            conn.close()

    def sample_count(self) -> int:
        rows = self.query("SELECT count(*) FROM samples")
        return int(rows[0][0]) if rows else 0

    def wait_for_samples(self, count: int = 1, sources: tuple[str, ...] = (),
                         timeout: float = 60) -> None:
        """Until `count` samples are stored and each of `sources` has a latest reading."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._alive()
            seen = {row[0] for row in self.query("SELECT source FROM latest")}
            if self.sample_count() >= count and seen.issuperset(sources):
                return
            time.sleep(0.2)
        raise TimeoutError(f"fewer than {count} samples after {timeout} s:\n{self.log_text()}")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as a service manager or Ctrl-C would; the exit status."""
        if self.returncode is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.returncode = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = -signal.SIGKILL
            self.log.close()
        return self.returncode


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(UI_TIMEOUT_MS)
    return context.new_page()


def submit_password(page: Page, password: str) -> None:
    field = page.get_by_label("Password", exact=True)
    field.fill(password)
    page.get_by_role("button", name="Log in").click()


def sidebar_links(page: Page) -> Locator:
    """The page names in the sidebar navigation (each link also holds a material icon,
    whose name is text, and the label in a markdown block)."""
    return page.locator('[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"] '
                        '[data-testid="stMarkdownContainer"]')


def go_to(page: Page, title: str) -> None:
    """Open a page by clicking its entry in the sidebar navigation; until it is drawn."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    settle(page)


SETTLED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && app.dataset.testConnectionState === 'CONNECTED'
        && app.dataset.testScriptState === 'notRunning'
        && document.querySelector('[data-stale="true"]') === null;
}"""


def settle(page: Page) -> None:
    """Until no script run is going on and nothing on the page is left from an earlier
    run (Streamlit marks such elements stale while it runs the page again)."""
    page.wait_for_function(SETTLED, polling=50)


def screenshot(page: Page, path: Path) -> None:
    """The whole page at the test's viewport width.

    Streamlit scrolls its main area inside a window-high frame, so a "full page" capture
    of the document is only the window: the viewport is made as high as the content for
    the capture, then set back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or VIEWPORT
    page.mouse.move(size["width"] - 5, size["height"] - 5)  # no hover effects in the picture
    height = page.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]');
        return main ? main.scrollHeight : document.documentElement.scrollHeight; }""")
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": int(height)})
    try:
        page.screenshot(path=str(path), full_page=True, animations="disabled")
    finally:
        page.set_viewport_size(size)
