"""End to end in a real browser: `python -m ops up` (what `./run` executes) against a real
redis-server, a MongoDB stand-in holding a seeded database and an HTTP health endpoint,
driven by Debian's chromium through Playwright.

Covers the login (nothing shown before it), every page through the sidebar, a page URL
opened directly on a fresh server, Backup now followed to its end, the backup downloaded
from the catalogue and checked against its manifest, and refused download links.
Screenshots of every page go to test-artifacts/browser/; with OPS_UPDATE_SCREENSHOTS=1
they are also written to docs/screenshots/ for the README.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bench.synthetic import fill
from ops.backup.dump import dump
from ops.clock import DAY_MS, now_ms
from ops.config import load_settings
from ops.housekeeping import roll_up_due
from ops.storage import Store
from ops.views.history import CHARTS
from ops.web.downloads import signed_link
from tests.browser_support import (
    EXCEPTION,
    PAGES,
    ROOT,
    CacheTraffic,
    OpsUp,
    declared_pages,
    go_to,
    http_get,
    launch_chromium,
    new_page,
    screenshot,
    seed_database,
    settle,
    sidebar_links,
    submit_password,
)
from tests.servers import HealthServer, MongoStandIn, RedisServer

pytestmark = pytest.mark.browser

PASSWORD = "tr0ub4dor & 3"
DATABASE = "shop"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
BACKUP_WAIT_MS = 60_000
# The History screenshot should show lines, not single points.
SAMPLES_BEFORE_HISTORY = 10
# Charts History draws from this stack (the stand-in reports no operation counters).
CHARTED = ("Memory used", "CPU", "Load average", "Redis hit rate", "Redis memory",
           "MongoDB connections", "API latency")


def seed_a_week(data_dir: Path, mongo_uri: str) -> None:
    """What a running install holds after a week, so the pages (and the README's
    screenshots) look like one: 7 days of samples with outages, rolled up as the
    collector would have, and a backup on each of the last three nights."""
    store = Store(data_dir / "ops.sqlite3")
    now = now_ms()
    # Ending 20 minutes ago: rules looking back 15 minutes judge only the live stack
    # (the synthetic Redis evicts keys, which would fire an alert on every page).
    fill(store, now - 7 * DAY_MS, now - 20 * 60_000)
    roll_up_due(store, now)
    store.close()
    for nights_ago in (3, 2, 1):
        night = (datetime.now(UTC) - timedelta(days=nights_ago)).replace(
            hour=3, minute=0, second=0, microsecond=0)
        dump(mongo_uri, data_dir / "backups", [DATABASE], now=night)


@contextmanager
def running_stack(tmp_path: Path, redis_server: RedisServer, mongo_own: MongoStandIn,
                  health_server: HealthServer, artifacts: Path) -> Iterator[OpsUp]:
    """The whole stack as a user starts it, over a seeded week, behind a password, with
    cache traffic; stopped with SIGTERM even when the test fails, its log kept in
    `artifacts`."""
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    seed_database(mongo_own.uri, DATABASE)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    seed_a_week(data_dir, mongo_own.uri)
    up = OpsUp({
        "OPS_DATA_DIR": str(data_dir), "MONGO_URI": mongo_own.uri,
        "BACKUP_DATABASES": DATABASE, "REDIS_URL": redis_server.url,
        "API_HEALTH_URL": health_server.url, "SAMPLE_INTERVAL_SECONDS": "1",
        "ENABLE_AUTO_BACKUP": "false", "OPS_ADMIN_PASSWORD": PASSWORD,
    }, tmp_path / "ops-up.log")
    try:
        with CacheTraffic(redis_server.url):
            up.wait_healthy()
            up.wait_for_samples(1, sources=("host", "api", "mongo", "redis"))
            yield up
    finally:
        up.stop()
        artifacts.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(up.log_path, artifacts / "ops-up.log")


@pytest.fixture
def stack(tmp_path: Path, redis_server: RedisServer, mongo_own: MongoStandIn,
          health_server: HealthServer) -> Iterator[OpsUp]:
    with running_stack(tmp_path, redis_server, mongo_own, health_server, ARTIFACTS) as up:
        yield up


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            for number, page in enumerate(p for c in chromium.contexts for p in c.pages):
                if not page.is_closed():  # the state at the end, for a failure's report
                    screenshot(page, ARTIFACTS / f"at-end-{number}.png")
            chromium.close()


def save_screenshot(page: Page, name: str) -> None:
    path = ARTIFACTS / f"{name}.png"
    screenshot(page, path)
    if os.environ.get("OPS_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / f"{name}.png")


def rendered_without_error(page: Page, last: str) -> None:
    """Until the page's last element shows (or an exception box); then no exception."""
    end = page.get_by_text(last, exact=False)
    expect(end.or_(page.locator(EXCEPTION)).first).to_be_visible()
    settle(page)
    boxes = page.locator(EXCEPTION)
    if boxes.count():
        pytest.fail(f"{page.url} shows an exception:\n" + "\n".join(boxes.all_inner_texts()))
    expect(end.first).to_be_visible()
    # No error on a healthy stack. The banner of firing alerts is left out: an alert such
    # as a nearly full disk may fire on the machine that runs the test.
    errors = page.locator('[data-testid="stAlertContentError"]').filter(
        has_not_text="alert(s) firing")
    expect(errors).to_have_count(0)


def check_login_only(page: Page) -> None:
    """The login form and nothing of the dashboard: no navigation, no page content."""
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(["Ops dashboard"])
    expect(page.locator('[data-testid="stSidebarNav"]')).to_have_count(0)
    for absent in ('[data-testid="stMetric"]', '[data-testid="stDataFrame"]',
                   '[data-testid="stPlotlyChart"]', EXCEPTION):
        expect(page.locator(absent)).to_have_count(0)
    for title in declared_pages():
        expect(page.get_by_role("heading", name=title)).to_have_count(0)


def log_in(page: Page) -> None:
    submit_password(page, PASSWORD)
    expect(page.locator('[data-testid="stSidebarNav"]')).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def backup_link_in_catalogue(page: Page, backup_id: str) -> tuple[str, int]:
    """The catalogue's download link for the backup, and its row (0 = first).

    The catalogue is an st.dataframe: a canvas grid. Its cells are also written, as text,
    into the accessible table the grid keeps inside the canvas; the link read there is
    the one the grid draws as "download"."""
    grid = page.locator('[data-testid="stDataFrame"]').filter(
        has=page.locator("th", has_text="download"))
    cells = grid.locator('td[role="gridcell"]', has_text=f"/api/backups/{backup_id}/download")
    expect(cells).to_have_count(1)
    row = int(cells.get_attribute("id").rsplit("-", 1)[1])  # glide-cell-<col>-<row>
    return cells.inner_text().strip(), row


def click_download(page: Page, row: int) -> Path:
    """Click "download" in the catalogue grid and return the file the browser saved.

    The grid draws the link on a canvas: the test moves the pointer along the row from
    the right edge (the last column is "download") until the grid shows a hand over the
    link, then clicks it there."""
    grid = page.locator('[data-testid="stDataFrame"]').filter(
        has=page.locator("th", has_text="download"))
    canvas = grid.locator('[data-testid="data-grid-canvas"]')
    box = canvas.bounding_box()
    assert box is not None
    rows = int(grid.locator('table[role="grid"]').get_attribute("aria-rowcount") or 0)
    row_height = (box["height"] - 2) / rows  # the header row has the same height
    y = box["y"] + 1 + row_height * (row + 1.5)
    x = None
    for offset in range(4, 400, 4):
        page.mouse.move(box["x"] + box["width"] - offset, y)
        if canvas.evaluate("e => getComputedStyle(e).cursor") == "pointer":
            x = box["x"] + box["width"] - offset - 10  # inside the text, not on its edge
            break
    assert x is not None, "no link under the pointer in the download column"
    # The link opens in a new tab that turns into a download at once; Playwright reports
    # such a download on the page that opened the tab.
    with page.expect_download() as started:
        page.mouse.click(x, y)
    download = started.value
    assert download.failure() is None
    path = download.path()
    saved = ARTIFACTS / "download" / download.suggested_filename
    saved.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, saved)
    return saved


def test_dashboard_in_a_real_browser(stack: OpsUp, browser: Browser) -> None:
    settings = load_settings(stack.env, env_file=None)

    # A page URL opened directly as the very first visit of this server: the login form
    # only; after login the navigation lists exactly the pages the app declares (not
    # every module of pages/, such as `common`).
    declared = declared_pages()
    assert set(PAGES) <= set(declared), declared
    first = new_page(browser)
    first.goto(stack.url + "/history")
    check_login_only(first)
    save_screenshot(first, "login")
    log_in(first)
    expect(sidebar_links(first)).to_have_text(declared)
    # the page asked for before login is the page shown after it
    expect(first.get_by_role("heading", name="History", level=1)).to_be_visible()
    assert urlsplit(first.url).path == "/history"
    go_to(first, "Overview")
    go_to(first, "History")
    assert urlsplit(first.url).path == "/history"
    # The login survives a reload and a bookmark opened in a new tab (the session cookie).
    first.reload()
    expect(first.get_by_role("heading", name="History", level=1)).to_be_visible()
    tab = first.context.new_page()
    tab.goto(stack.url + "/alerts")
    expect(tab.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    # Log out ends it in every tab: a reload, or the bookmark, asks for the password.
    tab.locator('[data-testid="stSidebar"]').get_by_role("button", name="Log out").click()
    check_login_only(tab)
    first.reload()
    check_login_only(first)
    first.context.close()

    # The dashboard's address in a new session: login form only, a wrong password refused.
    page = new_page(browser)
    page.goto(stack.url)
    check_login_only(page)
    submit_password(page, "not the password")
    expect(page.get_by_text("Wrong password.")).to_be_visible()
    check_login_only(page)
    log_in(page)
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(sidebar_links(page)).to_have_text(declared)
    for label in ("API", "Database", "Cache"):
        tile = page.locator('[data-testid="stMarkdownContainer"] p').filter(
            has=page.locator("strong", has_text=re.compile(f"^{label}$")))
        expect(tile).to_have_text(re.compile(rf"^{label}\s+UP$"))
    rendered_without_error(page, "collector running")

    # Backups: Backup now, followed to its end by the page.
    go_to(page, "Backups")
    rendered_without_error(page, "The collector runs the backup")
    page.get_by_role("button", name="Backup now").click()
    done = page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="finished")
    expect(done).to_be_visible(timeout=BACKUP_WAIT_MS)
    found = re.search(r"(mongo-\d{8}T\d{6}Z)\.archive\.gz", done.inner_text())
    assert found, done.inner_text()
    backup_id = found.group(1)
    rendered_without_error(page, "Recent backup events")
    manifest = json.loads((settings.backup_dir / f"{backup_id}.archive.gz.json").read_text())
    assert manifest["status"] == "ok"

    # The catalogue's link, downloaded by clicking it in the browser ...
    link, row = backup_link_in_catalogue(page, backup_id)
    downloaded = click_download(page, row)
    assert downloaded.name == f"{backup_id}.archive.gz"
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == manifest["sha256"]
    save_screenshot(page, "backups")
    # ... and fetched over HTTP: the same bytes, as a gzip attachment.
    answer = http_get(stack.port, link)
    assert answer.status == 200, answer.body[:200]
    assert answer.headers["content-type"] == "application/gzip"
    assert f"{backup_id}.archive.gz" in answer.headers["content-disposition"]
    assert hashlib.sha256(answer.body).hexdigest() == manifest["sha256"]

    # A link whose signature or expiry was changed, or that has expired, is refused.
    path, query = link.split("?", 1)
    params = {k: v[0] for k, v in parse_qs(query).items()}
    forged = {**params, "signature": params["signature"][:-1] +
              ("0" if params["signature"][-1] != "0" else "1")}
    extended = {**params, "expires": str(int(params["expires"]) + 3600)}
    for changed in (forged, extended):
        refused = http_get(stack.port, f"{path}?{urlencode(changed)}")
        assert refused.status == 403, refused.body
        assert json.loads(refused.body) == {"error": "bad signature"}
    expired = signed_link(settings, backup_id, now=time.time() - 3600)
    refused = http_get(stack.port, expired)
    assert refused.status == 403, refused.body
    assert "expired" in json.loads(refused.body)["error"]

    # Cache and Database.
    go_to(page, "Cache")
    rendered_without_error(page, "Keys in all databases")
    expect(page.get_by_role("heading", name="Hit rate")).to_be_visible()
    save_screenshot(page, "cache")
    go_to(page, "Database")
    rendered_without_error(page, "Databases")
    tables = page.locator('[data-testid="stDataFrame"]')
    expect(tables.locator('td[role="gridcell"]', has_text=re.compile(f"^{DATABASE}$"))
           ).to_have_count(1)
    save_screenshot(page, "database")

    # Any other page the app declares: drawn without an exception.
    for title in declared:
        if title not in PAGES:
            go_to(page, title)
            rendered_without_error(page, title)
            save_screenshot(page, title.lower())

    # History, once the collector has written enough samples for lines.
    stack.wait_for_samples(SAMPLES_BEFORE_HISTORY)
    go_to(page, "History")
    rendered_without_error(page, "Shaded: the service was down")
    page.get_by_text("7 d", exact=True).click()  # the seeded week
    settle(page)
    # Each chart is drawn or says it has no data (Plotly loads after the page's text).
    charts = page.locator('[data-testid="stPlotlyChart"]')
    empty = page.locator('[data-testid="stCaptionContainer"]', has_text=re.compile(
        "No samples in this range yet|reported no operation counters|is not watched"))
    expect(charts.or_(empty)).to_have_count(len(CHARTS))
    expect(charts.locator(".gtitle")).to_have_count(charts.count())
    for title in CHARTED:
        expect(charts.filter(has_text=title)).to_have_count(1)
    save_screenshot(page, "history")

    # Overview last: it now shows the backup too.
    go_to(page, "Overview")
    rendered_without_error(page, "collector running")
    save_screenshot(page, "overview")

    # On a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    rendered_without_error(page, "collector running")
    save_screenshot(page, "overview-mobile")

    page.context.close()
    assert stack.stop() == 0, stack.log_text()[-3000:]
    assert "Traceback" not in stack.log_text(), stack.log_text()[-3000:]
