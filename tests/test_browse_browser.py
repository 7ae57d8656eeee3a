"""Browse in a real headless Chromium: hostile keys stay text, thumbnails load, missing ones show a placeholder."""

from __future__ import annotations

import os

import pytest

from r2.local import sample_image
from r2.thumbnails import regenerate
from tests.support.browser import expect, images_settled, streamlit_app
from tests.support.env import TEST_BUCKET, env_for, settings_for

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>.png"


def test_grid_shows_hostile_keys_literally_and_thumbnail_fallbacks(browser, s3) -> None:  # type: ignore[no-untyped-def]
    small = sample_image(1, size=(200, 150), fmt="PNG")
    big = sample_image(2, size=(2400, 1600), fmt="JPEG") + os.urandom(300 * 1024)  # > small-original limit
    s3.put_object(Bucket=TEST_BUCKET, Key=HOSTILE, Body=small, ContentType="image/png")
    s3.put_object(Bucket=TEST_BUCKET, Key="**bold**.png", Body=small, ContentType="image/png")
    s3.put_object(Bucket=TEST_BUCKET, Key="big-with-thumb.jpg", Body=big, ContentType="image/jpeg")
    s3.put_object(Bucket=TEST_BUCKET, Key="big-without-thumb.jpg", Body=big, ContentType="image/jpeg")
    s3.put_object(Bucket=TEST_BUCKET, Key="album/inside.jpg", Body=small)
    made = regenerate(s3, settings_for(s3.meta.endpoint_url), ["big-with-thumb.jpg"], actor="test").made
    assert made == ("big-with-thumb.jpg",)

    env = env_for(s3.meta.endpoint_url, R2_DEFAULT_ROLE="member")
    with streamlit_app(env) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url + "/browse")
        grid = page.locator('[data-key="big-with-thumb.jpg"] img')
        expect(grid).to_have_count(1, timeout=30_000)
        expect(page.get_by_text(HOSTILE, exact=True)).to_be_visible()
        expect(page.get_by_text("**bold**.png", exact=True)).to_be_visible()
        expect(page.locator('img[src="x"]')).to_have_count(0)

        def loaded(key: str) -> int:
            return int(
                page.locator(f'[data-key="{key}"] img').evaluate(
                    "img => img.complete ? img.naturalWidth : new Promise(r => img.addEventListener("
                    "'load', () => r(img.naturalWidth)) || img.addEventListener('error', () => r(0)))"
                )
            )

        assert loaded("big-with-thumb.jpg") == 320, "the thumbnail (320 px WebP), not the original"
        assert loaded(HOSTILE) == 200, "a small original is shown as it is"
        assert loaded("big-without-thumb.jpg") == 0
        expect(page.locator('[data-key="big-without-thumb.jpg"]').get_by_text("No thumbnail yet")).to_be_visible()
        images_settled(page)
        assert dialogs == [], "no script from a key ran"
        page.close()
