"""Direct upload in a real browser: Chromium PUTs to the local S3 server on another port (another origin).

No request routing anywhere (Playwright would then answer CORS preflights itself).
"""

from __future__ import annotations

import io
import time
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from PIL import Image

from r2.client import S3Client
from r2.naming import thumbnail_key
from r2.settings import Settings
from tests.support.browser import expect
from tests.support.direct_upload import INPUT, ROWS, all_keys, allow, pick, upload_page, uploads
from tests.support.fault_proxy import Fault, FaultProxy

pytestmark = pytest.mark.browser


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "orange").save(out, "PNG")
    return out.getvalue()


def test_direct_upload_stores_the_image_with_its_type_and_thumbnail(browser, settings: Settings, s3: S3Client) -> None:  # type: ignore[no-untyped-def]
    with upload_page(browser, settings, s3) as (page, puts):
        pick(page, "holiday <img src=x onerror=alert(1)>.png", "image/png", png())
        expect(page.locator(ROWS).first).to_contain_text("Stored and checked.", timeout=30_000)
        name = "holiday <img src=x onerror=alert(1)>.png"
        expect(page.locator(ROWS).first).to_contain_text(name)  # literal, not HTML
        (key,) = uploads(s3, settings)
        # the bytes went to the bucket, to a hidden staging key; the server checked and promoted them
        (put_url,) = puts
        assert put_url.startswith(f"{settings.endpoint}/{settings.bucket}/.dashboard/direct/")
        assert put_url.endswith(f"/{key}")
        assert not [k for k in all_keys(s3, settings) if k.startswith(".dashboard/direct/") and k.endswith(".png")]
        head = s3.head_object(Bucket=settings.bucket, Key=key)
        assert head["ContentType"] == "image/png"
        assert unquote(head["Metadata"]["original-name"]) == name
        thumb = s3.head_object(Bucket=settings.bucket, Key=thumbnail_key(key))
        assert thumb["ContentType"] == "image/webp"
        expect(page.get_by_text("1 of 1 file(s) stored.")).to_be_visible()
        rendered = page.content() + page.locator(ROWS).first.inner_text()
        assert "X-Amz-Signature" not in rendered and "X-Amz-Credential" not in rendered  # no signed URL shown


@pytest.mark.parametrize("cors", [None, "http://elsewhere.example"], ids=["no-rule", "wrong-origin"])
def test_without_a_matching_rule_the_page_explains_and_the_app_path_uploads(  # type: ignore[no-untyped-def]
    browser,
    settings: Settings,
    s3: S3Client,
    cors: str | None,
) -> None:
    with upload_page(browser, settings, s3, cors=cors) as (page, _):
        expect(page.get_by_text("Direct upload is not available")).to_be_visible(timeout=30_000)
        # No policy: the answer names the origin. A policy for another origin: the server refuses (403),
        # which does not say which part failed, and the page says exactly that.
        why = "no CORS rule lists the origin http://localhost:" if cors is None else "none of its CORS rules allows"
        expect(page.get_by_text(why).first).to_be_visible()
        expect(page.get_by_role("link", name="Open the CORS page")).to_be_visible()
        assert page.locator(INPUT).count() == 0
        # the fallback: the upload through the app (st.file_uploader) still works
        page.set_input_files(
            '[data-testid="stFileUploaderDropzoneInput"]',
            files=[{"name": "fallback.png", "mimeType": "image/png", "buffer": png()}],
        )
        page.get_by_role("button", name="Upload 1 file").click()
        expect(page.get_by_text("1 of 1 uploaded.")).to_be_visible()
        (key,) = uploads(s3, settings)
        assert s3.head_object(Bucket=settings.bucket, Key=key)["ContentType"] == "image/png"


def test_a_file_over_the_limit_is_refused_before_any_put(browser, settings: Settings, s3: S3Client) -> None:  # type: ignore[no-untyped-def]
    with upload_page(browser, settings, s3, R2_MAX_UPLOAD_MB="0.01") as (page, puts):
        big = png((300, 300)) + b"\0" * 20_000
        pick(page, "big.png", "image/png", big)
        expect(page.locator(ROWS).first).to_contain_text("the limit is 0.0", timeout=30_000)
        expect(page.locator(ROWS).first).to_contain_text("Nothing was uploaded.")
        expect(page.get_by_text("Refused before upload: The file is")).to_be_visible()
        assert puts == [] and uploads(s3, settings) == []


def test_a_renamed_non_image_is_removed_after_verification(browser, settings: Settings, s3: S3Client) -> None:  # type: ignore[no-untyped-def]
    html = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
    with upload_page(browser, settings, s3) as (page, puts):
        pick(page, "cat.png", "image/png", html)
        row = page.locator(ROWS).first
        expect(row).to_contain_text("Removed after the check: The file is an HTML page", timeout=30_000)
        assert len(puts) == 1  # it did reach the bucket (staged, never visible)...
        assert uploads(s3, settings) == []  # ...and is gone
        assert not [k for k in all_keys(s3, settings) if k.startswith(".dashboard/direct/") and k.endswith(".png")]
        expect(page.get_by_text("cat.png: Removed after the check")).to_be_visible()


def test_a_cors_block_in_the_browser_is_named_as_such(browser, settings: Settings, s3: S3Client) -> None:  # type: ignore[no-untyped-def]
    # The server-side check passes (it is cached for 30 s); then the rule loses if-none-match, so the
    # browser's own preflight fails: the PUT ends with a network error and no status.
    with upload_page(browser, settings, s3) as (page, _):
        page.locator(INPUT).wait_for(state="attached", timeout=30_000)
        origin = page.url.split("/upload")[0]
        allow(s3, settings, origin, headers=("content-type",))
        pick(page, "a.png", "image/png", png())
        expect(page.locator(ROWS).first).to_contain_text("That is a CORS block", timeout=30_000)
        expect(page.get_by_text("a.png: Failed: The browser blocked the upload")).to_be_visible()
        assert uploads(s3, settings) == []


def test_more_files_than_run_at_once_are_all_uploaded(browser, settings: Settings, s3: S3Client) -> None:  # type: ignore[no-untyped-def]
    # 3 PUTs run in parallel; the others wait in the component's queue (a regression: they once never started)
    files = [{"name": f"p{i}.png", "mimeType": "image/png", "buffer": png((20 + i, 20))} for i in range(5)]
    with upload_page(browser, settings, s3) as (page, puts):
        page.locator(INPUT).wait_for(state="attached", timeout=30_000)
        page.set_input_files(INPUT, files=files)
        expect(page.get_by_text("5 of 5 file(s) stored.")).to_be_visible()
        assert len(puts) == 5 and len(uploads(s3, settings)) == 5


def _signed_put(method: str, path: str) -> bool:
    return method == "PUT" and "X-Amz-Signature=" in path


def _expiry(path: str) -> float:
    query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
    signed = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed.timestamp() + int(query["X-Amz-Expires"])


def test_links_that_would_expire_in_the_queue_are_renewed_before_their_put(  # type: ignore[no-untyped-def]
    browser, settings: Settings, s3: S3Client
) -> None:
    # A long queue of slow uploads: 3 PUTs run at once and each takes 8 s here, but links live 6 s.
    # The files queued behind them must not start with a dead link: R2 refuses it (moto would not,
    # so the proxy checks each PUT's signed date and lifetime against its arrival).
    arrivals: list[tuple[float, str]] = []
    with FaultProxy(settings.endpoint) as proxy:
        proxy.on_request = lambda m, path: arrivals.append((time.time(), path)) if _signed_put(m, path) else None
        proxy.inject(Fault("delay", seconds=8, match=_signed_put))
        files = [{"name": f"q{i}.png", "mimeType": "image/png", "buffer": png((20 + i, 20))} for i in range(5)]
        slow = replace(settings, endpoint=proxy.endpoint)
        with upload_page(browser, slow, s3, R2_UPLOAD_URL_TTL_SECONDS="6") as (page, _):
            page.locator(INPUT).wait_for(state="attached", timeout=30_000)
            page.set_input_files(INPUT, files=files)
            expect(page.get_by_text("5 of 5 file(s) stored.")).to_be_visible(timeout=60_000)
    assert len(uploads(s3, settings)) == 5
    assert len(arrivals) == 5  # one PUT per file: none was refused and sent again
    late = [round(arrived - _expiry(path), 1) for arrived, path in arrivals if arrived > _expiry(path)]
    assert late == []  # every PUT started while its link was alive
    assert len({_expiry(path) for _, path in arrivals}) >= 2  # the queued ones were signed afresh
