"""The Health page in a real browser against the embedded demo bucket (streamlit run + Chromium)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_health_page_is_green_on_the_demo_bucket(browser, demo_app: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 1700})
    page.goto(f"{demo_app}/health")
    page.get_by_text("Everything works").wait_for(timeout=60_000)
    body = page.inner_text("body")
    assert "CORS for this app" in body and "Signed PUT URL" in body
    assert "Something is broken" not in body
    page.close()
