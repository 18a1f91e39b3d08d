"""The dashboard on a phone (390 px wide) in Chromium: choosing a page from the sidebar
closes the sidebar, which would otherwise stay over the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser_support import UI_TIMEOUT_MS
from tests.dashboard_server import Dashboard

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def test_choosing_a_page_on_a_phone_closes_the_sidebar(browser: Browser, tmp_path: Path) -> None:
    server = Dashboard({"OPS_DATA_DIR": str(tmp_path / "data")}, tmp_path)
    try:
        page = browser.new_page(viewport=PHONE)
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"http://127.0.0.1:{server.port}/")
        expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
        close = page.locator('[data-testid="stSidebarCollapseButton"] button')
        expect(close).to_be_hidden()  # a phone starts with the sidebar closed
        page.wait_for_function("window.opsClosesSidebar === true")
        page.locator('[data-testid="stExpandSidebarButton"]').click()
        expect(close).to_be_visible()
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Alerts").click()
        expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
        expect(close).to_be_hidden()
        expect(page.get_by_role("heading", name="Firing (0)")).to_be_in_viewport()
    finally:
        server.stop()
