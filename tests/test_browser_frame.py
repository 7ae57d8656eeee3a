"""`streamlit run app.py` seen by a real headless Chromium: the frame, and every page at its own URL."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.browser import expect, streamlit_app
from tests.support.env import ROOT, TEST_BUCKET, env_for
from ui.frame import PAGES

pytestmark = pytest.mark.browser

NAV = '[data-testid="stSidebarNavLink"]'
TITLES = {name: title for name, title, _ in PAGES}


def test_frame_shows_local_demo_bucket(browser, demo_app: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(demo_app)
    # The sidebar banner, not the "Starting the local demo bucket…" spinner shown before app.py's
    # navigation exists (seeding runs the upload pipeline: thumbnails take a few seconds under load).
    expect(page.get_by_text("data lives in memory").first).to_be_visible(timeout=60_000)
    links = page.locator('[data-testid="stSidebarNavLink"]')
    expect(links).to_have_count(8)
    expect(links).to_contain_text(["Browse", "Search", "Upload", "CORS", "Health", "Usage", "Audit", "Lifecycle"])
    expect(page.get_by_text("role admin")).to_be_visible()
    page.close()


def open_fresh(browser: Any, url: str, title: str) -> Any:
    """`url` in a new browser context (no cookies, no session); waits for the page's own title."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    expect(page.locator('[data-testid="stMain"] h1').first).to_have_text(title, timeout=60_000)
    return page


def no_page_not_found(page: Any) -> None:
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.get_by_text("Running the app's main page")).to_have_count(0)


def test_deep_link_on_a_fresh_server_shows_the_frame_of_the_role(browser, s3) -> None:  # type: ignore[no-untyped-def]
    """Nobody has loaded `/` on this server: a deep link must still get app.py's frame, not Streamlit's
    list of every file in pages/ (which named `app` and the admin pages to a member)."""
    with streamlit_app(env_for(s3.meta.endpoint_url, R2_DEFAULT_ROLE="member")) as url:
        page = open_fresh(browser, url + "/upload", "Upload")
        links = page.locator(NAV)
        expect(links).to_have_count(3)
        expect(links).to_contain_text(["Browse", "Search", "Upload"])
        expect(page.get_by_text("role member")).to_be_visible()  # the sidebar that app.py draws
        expect(page.get_by_text(f"Bucket {TEST_BUCKET}")).to_be_visible()
        no_page_not_found(page)
        assert urlsplit(page.url).path == "/upload"
        page.context.close()


def test_deep_link_to_an_admin_page_on_a_fresh_server_keeps_the_frame_and_refuses(browser, s3) -> None:  # type: ignore[no-untyped-def]
    with streamlit_app(env_for(s3.meta.endpoint_url, R2_DEFAULT_ROLE="member")) as url:
        context = browser.new_context()
        page = context.new_page()
        page.goto(url + "/usage")
        expect(page.get_by_text("role member")).to_be_visible(timeout=60_000)
        expect(page.locator(NAV)).to_have_count(3)
        expect(page.get_by_role("link", name="Usage")).to_have_count(0)
        expect(page.locator('[data-testid="stMain"] h1').filter(has_text="Usage")).to_have_count(0)
        context.close()


def seed_folder(s3: Any, n: int = 35) -> list[str]:
    keys = [f"samples/img-{i:02d}.png" for i in range(n)]
    for key in keys:
        s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=b"not really a png", ContentType="image/png")
    return keys


def test_browse_answers_at_its_own_path_and_at_the_root(browser, s3) -> None:  # type: ignore[no-untyped-def]
    keys = seed_folder(s3)
    with streamlit_app(env_for(s3.meta.endpoint_url, R2_DEFAULT_ROLE="member")) as url:
        link = f"{url}/browse?folder=samples/&size=30&page=2&after={keys[29]}"
        page = open_fresh(browser, link, "Browse")
        expect(page.get_by_text("Page 2 · 0 folder(s), 5 object(s)")).to_be_visible()
        expect(page.locator(f'[data-key="{keys[30]}"]')).to_have_count(1)
        expect(page.locator(f'[data-key="{keys[0]}"]')).to_have_count(0)
        no_page_not_found(page)
        parts = urlsplit(page.url)
        assert parts.path == "/browse" and "folder=samples" in parts.query and "page=2" in parts.query
        page.context.close()

        # `/` has run app.py's navigation now, whatever the server did before.
        page = open_fresh(browser, url + "/", "Browse")
        expect(page.get_by_role("button", name="samples")).to_be_visible()
        no_page_not_found(page)
        # A link typed after `/`, then the browser's back button: no redirect to walk back through.
        page.goto(url + "/browse?folder=samples/")
        expect(page.get_by_text("Page 1 · 0 folder(s), 35 object(s)")).to_be_visible(timeout=60_000)
        no_page_not_found(page)
        page.go_back()
        expect(page.get_by_role("button", name="samples")).to_be_visible(timeout=60_000)
        assert urlsplit(page.url).path == "/"
        page.context.close()

        page = open_fresh(browser, url + "/browse", "Browse")
        expect(page.get_by_role("button", name="samples")).to_be_visible()
        no_page_not_found(page)
        assert urlsplit(page.url).path == "/browse"
        page.context.close()


def readme_deep_links() -> list[str]:
    """Every `/page…` example in the README whose first segment is a page of the app."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"`(/[a-z-]+(?:\?[^`\s]*)?)`", text)
    return sorted({link for link in found if link[1:].split("?")[0] in TITLES})


def test_every_deep_link_in_the_readme_opens_its_page(browser, s3) -> None:  # type: ignore[no-untyped-def]
    links = readme_deep_links()
    assert {link[1:].split("?")[0] for link in links} >= {"browse", "upload", "audit"}, links
    seed_folder(s3, 3)
    with streamlit_app(env_for(s3.meta.endpoint_url, R2_DEFAULT_ROLE="admin")) as url:
        open_fresh(browser, url, "Browse").context.close()  # app.py's navigation is in place from here on
        for link in links:
            page = open_fresh(browser, url + link, TITLES[link[1:].split("?")[0]])
            no_page_not_found(page)
            assert urlsplit(page.url).path == link.split("?")[0], link
            page.context.close()
