"""The dashboard in Arabic in Chromium, at 1,400 and 390 px: a user picks العربية in the
sidebar; the page is laid out right to left (`dir="rtl"`, the navigation on the right),
no text overflows its box or the window, charts draw with Arabic titles and time running
left to right, Arabic letters come from the shipped font, and the pick survives a reload
and a new login while another browser's session stays English. Screenshots of every page
go to test-artifacts/browser-arabic/ (docs/screenshots/ with OPS_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ops.i18n import _, speaking
from tests.browser_support import (
    EXCEPTION,
    ROOT,
    UI_TIMEOUT_MS,
    OpsUp,
    launch_chromium,
    new_page,
    screenshot,
    settle,
    submit_password,
)
from tests.servers import HealthServer, MongoStandIn, RedisServer
from tests.test_browser import PASSWORD, running_stack

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts" / "browser-arabic"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
PAGES = ("Overview", "History", "Backups", "Cache", "Database", "Containers", "Alerts")
FILES = {"Overview": "overview", "History": "history", "Backups": "backups",
         "Cache": "cache", "Database": "database", "Containers": "containers",
         "Alerts": "alerts"}

# Texts wider than their box (clipped or running into a neighbour), and the document
# wider than the window; each as "what: text".
OVERFLOWS = """() => {
    const found = [];
    const root = document.documentElement;
    if (root.scrollWidth > window.innerWidth + 1)
        found.push(`document ${root.scrollWidth} px wide in a ${window.innerWidth} px window`);
    const texts = document.querySelectorAll(
        '[data-testid="stMarkdownContainer"] p, [data-testid="stMetricLabel"],' +
        '[data-testid="stMetricValue"], [data-testid="stCaptionContainer"],' +
        '[data-testid="stSidebarNavLink"] span, h1, h2, h3, button p');
    for (const node of texts) {
        if (node.offsetParent === null) continue;
        const sidebar = node.closest('[data-testid="stSidebar"]');
        if (sidebar && sidebar.getBoundingClientRect().width < 10) continue;  // collapsed
        const style = getComputedStyle(node);
        if (style.overflowX === 'visible' && style.textOverflow !== 'ellipsis') {
            const box = node.getBoundingClientRect();
            const range = document.createRange(); range.selectNodeContents(node);
            const ink = range.getBoundingClientRect();
            if (ink.width > 0 && (ink.left < box.left - 2 || ink.right > box.right + 2))
                found.push(`overflows its box: ${node.textContent.slice(0, 60)}`);
        } else if (node.scrollWidth > node.clientWidth + 1 && style.textOverflow !== 'ellipsis') {
            found.push(`clipped: ${node.textContent.slice(0, 60)}`);
        }
    }
    return found;
}"""


def arabic(text: str) -> str:
    with speaking("ar"):
        return _(text)


@pytest.fixture
def stack(tmp_path: Path, redis_server: RedisServer, mongo_own: MongoStandIn,
          health_server: HealthServer) -> Iterator[OpsUp]:
    """A week of data, three backups and the live services, behind a password."""
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


def save(page: Page, name: str) -> None:
    path = ARTIFACTS / f"{name}.png"
    screenshot(page, path)
    if os.environ.get("OPS_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOCS_SCREENSHOTS / f"{name}.png")


def pick_arabic(page: Page) -> None:
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
    page.get_by_role("option", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    settle(page)


def open_page(page: Page, english_title: str) -> None:
    title = arabic(english_title)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    settle(page)
    page.wait_for_timeout(500)  # charts lay out after the page's last run
    settle(page)


def check_right_to_left(page: Page, name: str) -> None:
    """The page as laid out right to left, with nothing overflowing, and no error."""
    expect(page.locator(EXCEPTION)).to_have_count(0)
    directions = page.evaluate("[document.documentElement.dir, document.body.dir]")
    markers = page.evaluate("""[...document.querySelectorAll('[data-ops-dir]')]
        .map(node => node.outerHTML)""")
    assert directions == ["rtl", "rtl"], f"{name}: {directions} {markers}"
    assert page.evaluate("document.documentElement.lang") == "ar"
    overflows = page.evaluate(OVERFLOWS)
    assert not overflows, f"{name}: {overflows}"


def test_arabic_in_chromium(stack: OpsUp, browser: Browser) -> None:
    fonts: list[str] = []
    page = new_page(browser)
    page.on("response", lambda answer: fonts.append(answer.url)
            if "/app/static/fonts/" in answer.url and answer.ok else None)
    page.goto(stack.url)
    submit_password(page, PASSWORD)
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    pick_arabic(page)
    expect(page.get_by_role("heading", name=arabic("Overview"), level=1)).to_be_visible()

    # the navigation on the right of the page, and Arabic letters in the shipped font
    sidebar = page.locator('[data-testid="stSidebar"]').bounding_box()
    main = page.locator('[data-testid="stMain"]').bounding_box()
    assert sidebar and main and sidebar["x"] > main["x"] + main["width"] / 2, (sidebar, main)
    page.wait_for_function("document.fonts.check('16px \"Noto Sans Arabic\"', 'نظرة')")
    assert any(url.endswith("NotoSansArabic-Regular.ttf") for url in fonts), fonts

    for english_title in PAGES:
        open_page(page, english_title)
        check_right_to_left(page, english_title)
        save(page, f"ar-{FILES[english_title]}")
        if english_title == "History":
            charts = page.locator('[data-testid="stPlotlyChart"]')
            expect(charts.first).to_be_visible()
            title = charts.first.locator(".gtitle").text_content() or ""
            assert any("\u0600" <= ch <= "\u06ff" for ch in title), title
            # time runs left to right: the axis's earlier end is drawn on the left
            page.wait_for_function("""chart => {
                const plot = chart.querySelector('.js-plotly-plot');
                if (!plot || !plot._fullLayout) return false;
                const axis = plot._fullLayout.xaxis;
                const [start, end] = axis.range.map((value) => axis.r2l(value));
                return start < end && axis.l2p(start) < axis.l2p(end);
            }""", arg=charts.first.element_handle())

    # On a phone: the same pages, nothing wider than the screen.
    page.set_viewport_size(PHONE)
    for english_title in PAGES:
        open_page_on_phone(page, english_title)
        check_right_to_left(page, f"{english_title} on a phone")
        if english_title == "Overview":
            save(page, "ar-overview-mobile")

    # The pick lasts: a reload, and the login form after logging out, are Arabic.
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.reload()
    expect(page.get_by_role("heading", name=arabic(PAGES[-1]), level=1)).to_be_visible()
    assert page.evaluate("document.documentElement.dir") == "rtl"
    expand = page.locator('[data-testid="stExpandSidebarButton"]')
    if expand.is_visible():  # left closed on the phone
        expand.click()
    page.locator('[data-testid="stSidebar"]').get_by_role(
        "button", name=arabic("Log out")).click()
    expect(page.get_by_role("button", name=arabic("Log in"))).to_be_visible(
        timeout=UI_TIMEOUT_MS)
    assert page.evaluate("document.documentElement.dir") == "rtl"
    save(page, "ar-login")


def open_page_on_phone(page: Page, english_title: str) -> None:
    page.locator('[data-testid="stExpandSidebarButton"]').click()
    open_page(page, english_title)


def test_another_browsers_session_stays_english(stack: OpsUp, browser: Browser) -> None:
    arabic_page, english_page = new_page(browser), new_page(browser)
    for page in (arabic_page, english_page):
        page.goto(stack.url)
        submit_password(page, PASSWORD)
        expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    pick_arabic(arabic_page)
    english_page.locator('[data-testid="stSidebarNav"]').get_by_role(
        "link", name="Alerts").click()
    expect(english_page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    english_page.reload()
    expect(english_page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    assert english_page.evaluate("document.documentElement.dir") == "ltr"
    arabic_page.reload()
    expect(arabic_page.get_by_role("heading", name=arabic("Overview"), level=1)).to_be_visible()
    cookies = {c["name"]: c["value"] for c in english_page.context.cookies()}
    assert "ops_language" not in cookies, json.dumps(cookies)
