"""A page on another origin PUTs to a presigned URL in real Chromium: blocked, then the policy is applied
through the CORS page (the real app, driven by Playwright), then allowed. No request routing (any
`page.route()` makes Playwright answer the preflights itself)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from r2 import cors_store
from r2.client import S3Client
from r2.presign import sign_put
from r2.settings import Settings
from tests.support.browser import expect, page_origin, streamlit_app

pytestmark = pytest.mark.browser

UPLOADER = b"""<!doctype html><title>uploader</title><script>
async function upload(url, text) {
  try {
    const r = await fetch(url, {method: "PUT", body: text,
                                headers: {"Content-Type": "image/png", "If-None-Match": "*"}});
    return {status: r.status, etag: r.headers.get("ETag")};
  } catch (e) { return {error: String(e)}; }
}
</script>"""


@pytest.fixture
def other_origin() -> Iterator[str]:
    with page_origin(UPLOADER) as origin:
        yield origin


def put_from(page, s3: S3Client, settings: Settings, key: str) -> dict:  # type: ignore[no-untyped-def]
    body = "not really a png"
    url = sign_put(s3, settings.bucket, key, 300, content_type="image/png", content_length=len(body))
    return page.evaluate("([url, text]) => upload(url, text)", [url, body])  # type: ignore[no-any-return]


def test_put_is_blocked_until_the_policy_is_applied_through_the_cors_page(
    browser,
    s3: S3Client,
    settings: Settings,
    other_origin: str,
) -> None:
    uploader = browser.new_page()
    uploader.goto(f"{other_origin}/upload.html")
    blocked = put_from(uploader, s3, settings, "uploads/before.png")
    assert "Failed to fetch" in blocked.get("error", ""), blocked
    assert s3.list_objects_v2(Bucket=settings.bucket, Prefix="uploads/").get("KeyCount") == 0

    env = {
        "R2_ENDPOINT": settings.endpoint,
        "R2_ACCESS_KEY_ID": settings.access_key_id,
        "R2_SECRET_ACCESS_KEY": settings.secret_access_key,
        "R2_BUCKET": settings.bucket,
        "R2_DEFAULT_ROLE": "developer",
        "R2_APP_ORIGIN": other_origin,  # the preset then allows the uploader page's origin
    }
    with streamlit_app(env) as app_url:
        app = browser.new_page()
        app.goto(f"{app_url}/cors")
        expect(app.get_by_text("has no CORS policy")).to_be_visible(timeout=30_000)
        app.get_by_role("tab", name="Edit").click()
        app.locator(".st-key-cors_preset button").first.click()  # a button with help renders twice
        expect(app.get_by_text("Valid: 1 rule(s), 0 warning(s)")).to_be_visible(timeout=15_000)
        app.locator(".st-key-cors_apply button").click()
        expect(app.get_by_text("Applied and read back the CORS policy")).to_be_visible(timeout=30_000)
        app.close()
    assert cors_store.read_policy(s3, settings.bucket).rules[0].origins == (other_origin,)  # type: ignore[union-attr]

    allowed = put_from(uploader, s3, settings, "uploads/after.png")
    assert allowed.get("status") == 200, allowed
    assert allowed.get("etag"), "ETag must be readable (ExposeHeaders)"
    assert s3.head_object(Bucket=settings.bucket, Key="uploads/after.png")["ContentType"] == "image/png"
    uploader.close()
