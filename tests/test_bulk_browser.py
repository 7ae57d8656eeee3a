"""Bulk work in a real headless Chromium: a member moves a selection and downloads a folder as a ZIP; an
admin deletes a folder of 2,000 objects with the typed confirmation; a member moves images found on
Search. Bucket, thumbnails, catalog and audit agree."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import requests

from r2.audit import AUDIT_PREFIX
from r2.client import S3Client
from r2.naming import thumbnail_key
from tests.support.browser import Locator, Page, PlaywrightTimeout, expect, streamlit_app
from tests.support.env import TEST_BUCKET, env_for

pytestmark = pytest.mark.browser
B = TEST_BUCKET


def listed(s3: S3Client, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=B, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def audit_events(s3: S3Client) -> list[dict[str, str]]:
    return [json.loads(s3.get_object(Bucket=B, Key=k)["Body"].read()) for k in listed(s3, AUDIT_PREFIX)]


def open_panel(page: Page, url: str, folder: str) -> None:
    page.goto(f"{url}/browse?folder={folder}")
    expect(page.get_by_text("One LIST per page")).to_be_visible()
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()  # the script run is over: no rerun pending
    page.get_by_text("Select many: move, copy, ZIP, delete").click()
    expect(page.get_by_role("radio", name="Chosen items")).to_be_visible()


def pick(page: Page, items: Locator, name: str) -> None:
    """Choose `name` in a multiselect. Its menu can close under a rerun of the page: open it again (bounded)."""
    for attempt in range(5):
        items.click()
        items.fill(name)
        try:
            page.get_by_role("option", name=name).click(timeout=5_000)
            return
        except PlaywrightTimeout:
            if attempt == 4:
                raise
            page.keyboard.press("Escape")


def move_chosen(page: Page, names: tuple[str, ...], dest: str) -> None:
    """In an open Select many panel: choose `names` one by one, then move them to `dest` and see it done."""
    items = page.get_by_test_id("stMultiSelect").filter(has_text="Items").locator("input")
    for count, name in enumerate(names, start=1):
        pick(page, items, name)
        expect(page.get_by_text(f"{count} object(s)")).to_be_visible()  # the rerun is done
    page.keyboard.press("Escape")
    page.get_by_label("Destination folder").fill(dest)
    page.get_by_label("Destination folder").press("Enter")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_text(f"Moved {len(names)} object(s) to {dest}")).to_be_visible(timeout=60_000)


def test_member_moves_a_selection_and_downloads_a_folder_as_zip(browser, s3: S3Client) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        s3.put_object(
            Bucket=B, Key=f"uploads/{n}.png", Body=f"image {n}".encode(), Metadata={"original-name": "cat.png"}
        )
        s3.put_object(Bucket=B, Key=thumbnail_key(f"uploads/{n}.png"), Body=b"thumb")
    env = env_for(s3.meta.endpoint_url, R2_DEFAULT_ROLE="member", R2_FOLDERS="uploads,team")
    with streamlit_app(env) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        open_panel(page, url, "uploads/")
        move_chosen(page, ("0.png", "1.png"), "team/")

        open_panel(page, url, "team/")
        page.get_by_text("Everything in this folder").click()
        page.get_by_role("button", name="Count everything in this folder").click()
        page.get_by_role("radio", name="Download as ZIP").click()
        page.get_by_role("button", name="Prepare ZIP").click()
        link = page.get_by_role("link", name="Download ZIP (2 files")
        expect(link).to_be_visible(timeout=60_000)
        archive = zipfile.ZipFile(io.BytesIO(requests.get(str(link.get_attribute("href")), timeout=30).content))
        page.close()
    assert sorted(archive.namelist()) == ["cat (2).png", "cat.png"]
    assert sorted(archive.read(n) for n in archive.namelist()) == [b"image 0", b"image 1"]
    assert sorted(listed(s3, "uploads/")) == ["uploads/2.png"]
    assert sorted(listed(s3, "team/")) == ["team/0.png", "team/1.png"]
    assert sorted(listed(s3, ".thumbs/")) == [thumbnail_key(k) for k in ("team/0.png", "team/1.png", "uploads/2.png")]
    events = {e["action"]: e for e in audit_events(s3)}
    assert set(events) == {"move", "zip"} and "uploads/0.png" in events["move"]["detail"]


def test_admin_deletes_a_folder_of_2000_objects_with_the_typed_name(browser, s3: S3Client) -> None:  # type: ignore[no-untyped-def]
    from tests.support.seeding import seed

    seed(B, [(f"old/{n:05d}.png", 10) for n in range(2000)] + [(thumbnail_key("old/00001.png"), 5), ("keep/a.png", 1)])
    env = env_for(s3.meta.endpoint_url, R2_DEFAULT_ROLE="admin")
    with streamlit_app(env) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        open_panel(page, url, "old/")
        page.get_by_text("Everything in this folder").click()
        page.get_by_role("button", name="Count everything in this folder").click()
        expect(page.get_by_text("2000 object(s)")).to_be_visible(timeout=60_000)
        page.get_by_role("radio", name="Delete (admins)").click()
        expect(page.get_by_text("3 DeleteObjects request(s)")).to_be_visible()
        expect(page.get_by_text("this is permanent")).to_be_visible()
        page.get_by_role("button", name="Delete permanently").click()
        expect(page.get_by_text("needs the folder's name typed")).to_be_visible(timeout=30_000)
        assert len(listed(s3, "old/")) == 2000
        page.get_by_label("Type the folder's name (old) to confirm").fill("old")
        page.get_by_label("Type the folder's name (old) to confirm").press("Enter")
        page.get_by_role("button", name="Delete permanently").click()
        expect(page.get_by_text("Deleted 2000 object(s)")).to_be_visible(timeout=120_000)
        page.close()
    assert listed(s3, "old/") == [] and listed(s3, ".thumbs/") == [] and listed(s3, "keep/") == ["keep/a.png"]
    [event] = audit_events(s3)
    assert event["action"] == "delete" and event["target"] == "2000 objects"
    assert len(json.loads(event["detail"])["deleted"]) == 2000


def test_member_finds_images_by_name_on_search_and_moves_them(browser, s3: S3Client) -> None:  # type: ignore[no-untyped-def]
    from r2.catalog import Catalog
    from r2.uploads import Uploaded, upload_files
    from tests.support import corpus
    from tests.support.env import settings_for

    settings = settings_for(s3.meta.endpoint_url)
    files = [(f"Harbour {n}.jpg", corpus.jpeg_gps(size=(64 + n, 48))) for n in range(3)]
    files.append(("garden.png", corpus.plain("PNG")))
    found = upload_files(s3, settings, files, folder="uploads/", actor="ann@example.com", catalog=Catalog(settings, s3))
    assert all(isinstance(r, Uploaded) for r in found)
    sources = sorted(r.key for r in found[:2] if isinstance(r, Uploaded))  # the member picks two of three
    env = env_for(s3.meta.endpoint_url, R2_DEFAULT_ROLE="member", R2_FOLDERS="uploads,team")
    with streamlit_app(env) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(url + "/search")
        page.get_by_role("textbox", name="Name contains").fill("harbour")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_text("3 match(es)", exact=False)).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
        page.get_by_text("Select many: move, copy, ZIP, delete").click()
        move_chosen(page, ("Harbour 0.jpg", "Harbour 1.jpg"), "team/harbour/")
        expect(page.get_by_text("3 match(es)", exact=False)).to_be_visible()  # still found, in their new folder
        page.close()
    moved = sorted(listed(s3, "team/harbour/"))
    assert len(moved) == 2 and not set(sources) & set(listed(s3, "uploads/"))
    assert len(listed(s3, "uploads/")) == 2, "the third harbour and the garden stay"
    assert sorted(listed(s3, ".thumbs/team/")) == sorted(thumbnail_key(k) for k in moved)
    assert not {thumbnail_key(k) for k in sources} & set(listed(s3, ".thumbs/"))
    names = {k: r.original_name for k, r in Catalog(settings, s3).lookup([*moved, *sources]).items()}
    assert sorted(names.values()) == ["Harbour 0.jpg", "Harbour 1.jpg"] and set(names) == set(moved)
    [event] = [e for e in audit_events(s3) if e["action"] == "move"]
    assert sorted(s for s, _ in json.loads(event["detail"])["done"]) == sources
