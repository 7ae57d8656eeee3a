"""Search in a real headless Chromium: an image is found by part of its original name, its uploader and
its date, answered from the catalog; every search is a deep link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from r2.catalog import Catalog
from r2.uploads import Uploaded, upload_files
from tests.support import corpus
from tests.support.browser import expect, streamlit_app
from tests.support.env import env_for, settings_for

pytestmark = pytest.mark.browser


def test_find_an_image_by_part_of_its_name_by_uploader_and_by_date(browser, s3) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(s3.meta.endpoint_url)
    cat = Catalog(settings, s3)
    ann = upload_files(
        s3, settings, [("Clinic Front Door.jpg", corpus.jpeg_gps())], actor="ann@example.com", catalog=cat
    )
    bob = upload_files(s3, settings, [("garden.png", corpus.plain("PNG"))], actor="bob@example.com", catalog=cat)
    assert all(isinstance(r, Uploaded) for r in ann + bob)
    today = datetime.now(UTC).date()

    env = env_for(s3.meta.endpoint_url, R2_DEFAULT_ROLE="member")
    with streamlit_app(env) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url + "/search")
        expect(page.get_by_text("2 match(es)", exact=False)).to_be_visible(timeout=30_000)

        page.get_by_role("textbox", name="Name contains").fill("front d")  # part of the name, any case
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_text("1 match(es)", exact=False)).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Clinic Front Door.jpg", exact=True)).to_be_visible()
        expect(page.get_by_text("garden.png", exact=True)).to_have_count(0)
        assert "name=front+d" in page.url or "name=front%20d" in page.url, "the search is a deep link"

        page.goto(url + "/search?uploader=bob")
        expect(page.get_by_text("1 match(es)", exact=False)).to_be_visible(timeout=30_000)
        expect(page.get_by_text("garden.png", exact=True)).to_be_visible()
        expect(page.get_by_text("bob@example.com", exact=False).first).to_be_visible()

        page.goto(url + f"/search?since={today.isoformat()}&until={today.isoformat()}&sort=name")
        expect(page.get_by_text("2 match(es)", exact=False)).to_be_visible(timeout=30_000)
        page.goto(url + f"/search?since={(today + timedelta(days=1)).isoformat()}")
        expect(page.get_by_text("No image matches", exact=False)).to_be_visible(timeout=30_000)
        page.close()
