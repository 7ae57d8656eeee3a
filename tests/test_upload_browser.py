"""The Upload page in a real headless Chromium: drop files, press Upload, see the results."""

from __future__ import annotations

import os

import pytest

from tests.support import corpus
from tests.support.browser import expect, streamlit_app, wait_drawn
from tests.support.env import ROOT

pytestmark = pytest.mark.browser


def test_upload_page_stores_a_photo_and_rejects_a_renamed_html(browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    photo = tmp_path / "holiday photo.jpg"
    photo.write_bytes(corpus.jpeg_gps((1200, 800)))
    evil = tmp_path / "<img src=x onerror=alert(1)>.png"
    evil.write_bytes(corpus.HTML)
    with streamlit_app() as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)  # through app.py: the frame, navigation and wide layout
        # The banner, not the "Starting the local demo bucket…" spinner: app.py's navigation is in place.
        expect(page.get_by_text("data lives in memory").first).to_be_visible(timeout=60_000)
        page.get_by_role("link", name="Upload", exact=True).click()
        expect(page.get_by_text("Accepted:").first).to_be_visible(timeout=30_000)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(photo), str(evil)])
        page.get_by_role("button", name="Upload 2 files").click()
        expect(page.get_by_text("1 of 2 uploaded")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("1 of 2 rejected")).to_be_visible(timeout=30_000)
        expect(page.locator('[data-testid="stCode"]').first).to_contain_text("X-Amz-Signature", timeout=30_000)
        expect(page.get_by_text("holiday photo.jpg →")).to_be_visible(timeout=30_000)
        wait_drawn(page)  # the preview thumbnails and the table, before the picture is taken
        if os.environ.get("SAVE_SCREENSHOTS") == "1":  # refresh docs/upload.png for the README
            page.screenshot(path=str(ROOT / "docs" / "upload.png"), full_page=True)
        assert dialogs == []  # the hostile file name never ran as HTML
        page.close()
