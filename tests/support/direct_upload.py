"""The direct-upload path as a test drives it: the Upload page in Chromium, the bucket's CORS rule for
it, what got stored, and when a staged upload is due for the server's sweep."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from r2.client import S3Client
from r2.settings import Settings
from tests.support.env import env_from

if TYPE_CHECKING:
    from playwright.sync_api import Page

INPUT = '[data-testid="r2-direct-input"]'
ROWS = '[data-testid="r2-direct-files"] li'


def allow(
    s3: S3Client, settings: Settings, origin: str, headers: tuple[str, ...] = ("content-type", "if-none-match")
) -> None:
    rule = {"AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT", "HEAD"], "AllowedHeaders": list(headers)}
    s3.put_bucket_cors(Bucket=settings.bucket, CORSConfiguration={"CORSRules": [{**rule, "ExposeHeaders": ["ETag"]}]})


@contextmanager
def upload_page(
    chromium: Any, settings: Settings, s3: S3Client, cors: str | None = "app", **extra: str
) -> Iterator[tuple[Page, list[str]]]:
    """The Upload page with the bucket's CORS set first; yields the page and the PUTs it sent."""
    from playwright.sync_api import expect

    from tests.support.browser import streamlit_app

    with streamlit_app(env_from(settings, **extra)) as url:
        if cors == "app":
            allow(s3, settings, url)
        elif cors is not None:
            allow(s3, settings, cors)
        page = chromium.new_page()
        puts: list[str] = []
        page.on("request", lambda r: puts.append(r.url.split("?")[0]) if r.method == "PUT" else None)  # observe only
        page.goto(f"{url}/upload")
        expect(page.get_by_role("heading", name="Upload", exact=True)).to_be_visible(timeout=30_000)
        try:
            yield page, puts
        finally:
            page.close()


def uploads(s3: S3Client, settings: Settings) -> list[str]:
    listing = s3.list_objects_v2(Bucket=settings.bucket, Prefix="uploads/")
    return [o["Key"] for o in listing.get("Contents", [])]


def all_keys(s3: S3Client, settings: Settings) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket).get("Contents", [])]


def pick(page: Page, name: str, mime: str, data: bytes) -> None:
    page.locator(INPUT).wait_for(state="attached", timeout=30_000)
    page.set_input_files(INPUT, files=[{"name": name, "mimeType": mime, "buffer": data}])


def sweep_due(settings: Settings) -> float:
    """A moment when every upload planned now is past its URL's lifetime and the sweep's grace."""
    from r2.direct import SWEEP_GRACE_SECONDS

    return time.time() + settings.upload_url_ttl_seconds + SWEEP_GRACE_SECONDS + 5
