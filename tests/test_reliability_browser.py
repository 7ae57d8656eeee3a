"""In a real headless Chromium: hostile keys, metadata, file names, audit entries and CORS history
render as text on every page (no script runs: `window.__xss` is never set, no dialog opens), no
secret reaches a page, and a session stuck on a hanging endpoint does not stop the app serving others.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from r2 import cors, cors_store
from r2.audit import AuditEvent, record
from r2.client import S3Client
from r2.local import demo_cors_rules
from r2.settings import Settings
from tests.support import corpus
from tests.support.browser import expect, images_settled, streamlit_app
from tests.support.env import TEST_BUCKET
from tests.support.fault_proxy import Fault, FaultProxy, call

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss=1;alert(1)">'
SCRIPT = "<script>window.__xss=2</script>"
MARKDOWN = "**bold** [click](javascript:window.__xss=3) <b>b<b>"
SVG = "<svg onload=window.__xss=4>"
SECRET = "SECRETbrowserVALUE-7c6b5a4f3e2d1c0b9a8f"
HOSTILE_KEYS = [f"uploads/{XSS}.png", f"uploads/{SVG}.png", f"uploads/{MARKDOWN}.png"]  # no "/" inside a name


def env_for(endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "R2_ENDPOINT": endpoint,
        "R2_ACCESS_KEY_ID": "test-access-key",
        "R2_SECRET_ACCESS_KEY": SECRET,
        "R2_BUCKET": TEST_BUCKET,
        "R2_DEFAULT_ROLE": "admin",
        **extra,
    }


def seed_hostile(s3: S3Client, origin: str) -> None:
    png = corpus.plain("PNG")
    for key in HOSTILE_KEYS:
        s3.put_object(
            Bucket=TEST_BUCKET,
            Key=key,
            Body=png,
            ContentType="image/png",
            Metadata={"original-name": quote(XSS + SCRIPT), "uploaded-by": quote(MARKDOWN)},
        )
    record(s3, TEST_BUCKET, AuditEvent(actor=XSS, action="upload", target=SCRIPT, detail=MARKDOWN))
    cors_store.apply(s3, TEST_BUCKET, cors.parse(demo_cors_rules(origin)), actor=XSS, reason=SCRIPT + MARKDOWN)


def test_hostile_text_renders_literally_on_every_page(browser, s3: S3Client) -> None:  # type: ignore[no-untyped-def]
    with streamlit_app(env_for(s3.meta.endpoint_url)) as url:
        seed_hostile(s3, url)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_init_script("window.__xss = undefined;")
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        def visit(path: str, ready: str) -> None:
            page.goto(url + path)
            expect(page.get_by_text(ready).first).to_be_visible(timeout=60_000)
            images_settled(page)  # images loaded or failed: their handlers have run
            assert page.evaluate("window.__xss") is None, path
            assert page.locator('img[src="x"]').count() == 0, path
            assert SECRET not in page.content(), path

        page.goto(url)  # through app.py first: its navigation is then in place for deep links
        expect(page.get_by_role("link", name="Browse", exact=True)).to_be_visible(timeout=60_000)
        visit("/?folder=uploads/", f"{XSS}.png")
        expect(page.get_by_text(f"{SVG}.png", exact=True)).to_be_visible()
        expect(page.get_by_text(f"{MARKDOWN}.png", exact=True)).to_be_visible()
        visit("/?folder=uploads/&view=list", "Browse")
        visit(f"/?folder=uploads/&object={quote(HOSTILE_KEYS[0], safe='')}", "Browse")
        visit("/audit", "Audit")
        visit("/cors", "CORS")
        visit("/health", "Health")
        visit("/upload", "Accepted:")
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            [{"name": f"{XSS}{MARKDOWN}.png", "mimeType": "image/png", "buffer": corpus.plain("PNG")}]
        )
        page.get_by_role("button", name="Upload 1 file").click()
        expect(page.get_by_text("1 of 1 uploaded")).to_be_visible(timeout=30_000)
        # Chromium sends '"' in a file name as %22; the rest arrives, and shows, as typed.
        expect(page.get_by_text(f"{MARKDOWN}.png →", exact=False)).to_be_visible(timeout=30_000)
        expect(page.get_by_text(f"<img src=x onerror=%22window.__xss=1;alert(1)%22>{MARKDOWN}.png →")).to_be_visible()
        images_settled(page)
        assert page.evaluate("window.__xss") is None
        assert dialogs == []
        context.close()


def test_a_session_stuck_on_a_hanging_endpoint_does_not_stop_other_sessions(
    browser,  # type: ignore[no-untyped-def]
    s3: S3Client,
    settings: Settings,
) -> None:
    """Session A's listing hangs (the endpoint never answers it, nor A's retries); session B, opened
    while A waits, gets its pages served. Streamlit runs each session's script in its own thread.

    Every attempt of A's Browse listing hangs, not only the first: A's client gives up on an attempt
    after its 30 s read timeout and retries, so with one hang a machine that took longer than that to
    serve B let A's retry list the bucket, and "A got no listing" would fail. The Audit page's own
    listings (B) are under `.dashboard/` and pass."""
    s3.put_object(Bucket=TEST_BUCKET, Key="uploads/a.png", Body=corpus.plain("PNG"), ContentType="image/png")
    listing = call("GET", "list-type")

    def browse_listing(method: str, path: str) -> bool:
        return listing(method, path) and "prefix=.dashboard" not in path

    with FaultProxy(settings.endpoint) as proxy, streamlit_app(env_for(proxy.url)) as url:
        proxy.inject(Fault("hang", match=browse_listing))
        a = browser.new_context()
        b = browser.new_context()
        page_a, page_b = a.new_page(), b.new_page()
        page_a.goto(url + "/browse")
        deadline = time.monotonic() + 60
        while proxy.count("GET", "list-type") < 1:  # A's LIST reached the endpoint and hangs there
            assert time.monotonic() < deadline, "session A never listed"
            page_a.wait_for_timeout(100)
        page_b.goto(url + "/cors")
        expect(page_b.get_by_text("Live policy").first).to_be_visible(timeout=60_000)
        page_b.goto(url + "/audit")
        expect(page_b.get_by_text("Audit").first).to_be_visible(timeout=60_000)
        assert proxy.count("GET", "list-type") >= 1
        # A got no listing: the bucket's root would show the folder (the tile is inside it, so a check
        # for the tile, as here before, could never fail).
        expect(page_a.get_by_role("button", name="uploads/")).to_have_count(0)
        a.close()
        b.close()
