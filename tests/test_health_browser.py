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
    # The report's JSON is drawn when asked for, from this visit's checks: they do not run again (each
    # check's line shows how long it took, which a new run would change).
    checks = page.locator("[data-testid='stMain'] [data-testid='stMarkdown']").all_inner_texts()
    page.get_by_text("Copy report (JSON, secrets masked)").click()
    page.locator("[data-testid='stCode']").wait_for(timeout=30_000)
    assert '"status": "ok"' in page.locator("[data-testid='stCode']").inner_text()
    assert page.locator("[data-testid='stMain'] [data-testid='stMarkdown']").all_inner_texts()[: len(checks)] == checks
    page.close()
