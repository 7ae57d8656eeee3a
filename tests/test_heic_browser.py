"""HEIC photos in a real headless Chromium: the direct path and the app path store a JPEG,
and Browse shows it (Chromium itself cannot show HEIC, which is why it is converted)."""

from __future__ import annotations

import pytest

from r2.client import S3Client
from r2.settings import Settings
from tests.support.browser import Page, expect, streamlit_app
from tests.support.direct_upload import ROWS, all_keys, pick, upload_page, uploads
from tests.support.env import env_from
from tests.support.heic import heic_photo

pytestmark = pytest.mark.browser


def _shown_in_browse(page: Page, url: str, key: str) -> None:
    folder, _, _ = key.partition("/")
    page.goto(f"{url}/browse?folder={folder}")
    tile = page.locator(f'[data-key="{key}"] img')
    expect(tile).to_have_count(1, timeout=30_000)
    width = int(
        tile.evaluate(
            "img => img.complete ? img.naturalWidth : new Promise(r => { img.addEventListener("
            "'load', () => r(img.naturalWidth)); img.addEventListener('error', () => r(0)); })"
        )
    )
    assert width > 0, "Browse shows the converted photo"


def _stored_as_jpeg(s3: S3Client, settings: Settings, name: str) -> str:
    (key,) = uploads(s3, settings)
    assert key.endswith(".jpg")
    head = s3.head_object(Bucket=settings.bucket, Key=key)
    assert head["ContentType"] == "image/jpeg" and head["Metadata"]["original-name"] == name
    return key


def test_a_heic_sent_directly_is_stored_as_jpeg_and_shown_in_browse(  # type: ignore[no-untyped-def]
    browser, settings: Settings, s3: S3Client
) -> None:
    with upload_page(browser, settings, s3) as (page, puts):
        # Chromium on Linux knows no type for .heic: the page decides by the name, the server by content
        pick(page, "IMG_1234.HEIC", "", heic_photo((640, 480)))
        expect(page.locator(ROWS).first).to_contain_text("Stored and checked.", timeout=30_000)
        key = _stored_as_jpeg(s3, settings, "IMG_1234.HEIC")
        (put_url,) = puts
        assert put_url.startswith(f"{settings.endpoint}/{settings.bucket}/.dashboard/direct/")
        assert put_url.endswith(key.rpartition(".")[0].rpartition("/")[2] + ".heic")  # staged as sent
        assert not [k for k in all_keys(s3, settings) if k.startswith(".dashboard/direct/") and k.endswith(".heic")]
        _shown_in_browse(page, page.url.rpartition("/")[0], key)


def test_a_heic_through_the_app_is_stored_as_jpeg_and_shown_in_browse(  # type: ignore[no-untyped-def]
    browser, settings: Settings, s3: S3Client
) -> None:
    with streamlit_app(env_from(settings)) as url:
        page = browser.new_page()
        page.goto(f"{url}/upload")
        page.set_input_files(
            '[data-testid="stFileUploaderDropzoneInput"]',
            files=[{"name": "IMG_5678.heic", "mimeType": "image/heic", "buffer": heic_photo((640, 480))}],
        )
        page.get_by_role("button", name="Upload 1 file").click()
        expect(page.get_by_text("1 of 1 uploaded.")).to_be_visible(timeout=30_000)
        key = _stored_as_jpeg(s3, settings, "IMG_5678.heic")
        _shown_in_browse(page, url, key)
        page.close()
