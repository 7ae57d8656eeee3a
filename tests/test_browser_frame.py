"""`streamlit run app.py` in local mode, seen by a real headless Chromium."""

import pytest
from playwright.sync_api import expect

from tests.browser import streamlit_app

pytestmark = pytest.mark.browser


def test_frame_shows_local_demo_bucket(browser) -> None:  # type: ignore[no-untyped-def]
    with streamlit_app() as url:
        page = browser.new_page()
        page.goto(url)
        # The sidebar banner, not the "Starting the local demo bucket…" spinner shown before app.py's
        # navigation exists (seeding runs the upload pipeline: thumbnails take a few seconds under load).
        expect(page.get_by_text("data lives in memory").first).to_be_visible(timeout=60_000)
        links = page.locator('[data-testid="stSidebarNavLink"]')
        expect(links).to_have_count(7)
        expect(links).to_contain_text(["Browse", "Search", "Upload", "CORS", "Health", "Usage", "Audit"])
        expect(page.get_by_text("role admin")).to_be_visible()
        page.close()
