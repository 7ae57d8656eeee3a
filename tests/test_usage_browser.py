"""The Usage page in a real headless Chromium: scan the demo bucket, see the results."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support.browser import streamlit_app

pytestmark = pytest.mark.browser


def test_scan_the_demo_bucket_in_a_browser(browser, demo_app: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(demo_app, wait_until="networkidle")  # app.py first: navigation by role, wide layout
    page.get_by_text("Local demo bucket").first.wait_for(timeout=60_000)
    page.get_by_role("link", name="Usage", exact=True).click()
    page.get_by_text("No scan yet").wait_for(timeout=60_000)
    page.get_by_role("button", name="Scan now").click()
    page.get_by_text("Latest scan just now").wait_for(timeout=60_000)
    page.get_by_text("Objects", exact=True).first.wait_for()  # the scan's figures (and the catalog's)
    page.get_by_text("Chart", exact=True).first.click()  # the Folders tab's chart, drawn when asked for
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # let the chart draw before the screenshot
    shot = Path(os.environ.get("USAGE_SCREENSHOT", tmp_path / "usage.png"))
    page.screenshot(path=str(shot), full_page=True)
    body = page.inner_text("body")
    # The demo bucket: 12 sample images, their 12 thumbnails and the catalog's own table files (app data,
    # counted in the totals; how many depends on its commits).
    scanned = re.search(r"Scanned (\d+) objects", body)
    assert scanned is not None and int(scanned.group(1)) >= 24 and "Traceback" not in body
    page.close()


def test_stop_pauses_a_running_scan_and_resume_finishes_it(browser, s3, settings) -> None:  # type: ignore[no-untyped-def]
    """A slow bucket (one big folder, listed page after page behind a latency proxy): Stop, then Resume."""
    from tests.support.env import env_for
    from tests.support.fault_proxy import fault_proxy
    from tests.support.seeding import seed

    total = 20_000
    seed(settings.bucket, [(f"big/{i:06d}.jpg", 10) for i in range(total)])
    with fault_proxy(settings.endpoint, delay=0.5) as proxy:
        env = env_for(proxy.endpoint, R2_DEFAULT_ROLE="admin")
        with streamlit_app(env) as base:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(base, wait_until="networkidle")
            page.get_by_role("link", name="Usage", exact=True).click()
            page.get_by_role("button", name="Scan now").click()
            page.get_by_text("objects/s").first.wait_for(timeout=60_000)
            page.get_by_role("button", name="Stop").click()
            page.get_by_text("A scan is paused at").wait_for(timeout=60_000)
            paused = page.inner_text("body")
            assert "Traceback" not in paused
            page.get_by_role("button", name="Resume scan").click()
            page.get_by_text("Latest scan just now").wait_for(timeout=120_000)
            page.get_by_text(f"{total:,}", exact=True).first.wait_for(timeout=30_000)
            page.close()
