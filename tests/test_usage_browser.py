"""The Usage page in a real headless Chromium: scan the demo bucket, see the results."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import browser, streamlit_app  # noqa: F401

pytestmark = pytest.mark.browser


def test_scan_the_demo_bucket_in_a_browser(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    with streamlit_app() as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(base, wait_until="networkidle")  # app.py first: navigation by role, wide layout
        page.get_by_text("Local demo bucket").first.wait_for(timeout=60_000)
        page.get_by_role("link", name="Usage", exact=True).click()
        page.get_by_text("No scan yet").wait_for(timeout=60_000)
        page.get_by_role("button", name="Scan now").click()
        page.get_by_text("Latest scan just now").wait_for(timeout=60_000)
        page.get_by_text("Objects", exact=True).wait_for()
        page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=30_000)
        page.wait_for_timeout(1500)  # let the chart draw before the screenshot
        body = page.inner_text("body")
        assert "12" in body and "Traceback" not in body
        shot = Path(os.environ.get("USAGE_SCREENSHOT", tmp_path / "usage.png"))
        page.screenshot(path=str(shot), full_page=True)
        page.close()
