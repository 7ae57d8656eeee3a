"""Accessibility in a real browser: axe-core (WCAG 2.0/2.1 A and AA rules) on every page for every role,
and a keyboard-only upload that ends on the image's details.

One `streamlit run` serves every role (trusted-header mode: each role is a browser context sending its
own email in the proxy header), so the whole module starts one app. axe-core comes from the npm registry,
pinned in tests/axe/package-lock.json; `make test` installs it (`make axe`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image

from r2 import catalog_sync
from r2.catalog import Catalog
from r2.client import S3Client, make_client
from r2.local import LocalServer, demo_cors_rules, seed_samples
from r2.settings import Settings
from tests.support.browser import Page, PlaywrightTimeout, expect, streamlit_app
from tests.support.env import ROOT, TEST_BUCKET, env_for, require_tool, settings_for

pytestmark = pytest.mark.browser

AXE = ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
HEADER = "Cf-Access-Authenticated-User-Email"
EMAILS = {"member": "mia@example.com", "developer": "dev@example.com", "admin": "ann@example.com"}
ROLES_TOML = f"""
[roles]
default = "none"
[roles.admin]
emails = ["{EMAILS["admin"]}"]
[roles.developer]
emails = ["{EMAILS["developer"]}"]
[roles.member]
emails = ["{EMAILS["member"]}"]
"""
MEMBER_PAGES = ["", "search", "upload"]  # Browse, the default page, is checked at the root
DEVELOPER_PAGES = [*MEMBER_PAGES, "cors", "health"]
ADMIN_PAGES = [*DEVELOPER_PAGES, "usage", "audit", "lifecycle"]
IDLE = (
    "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') === 'notRunning'"
)


class App:
    def __init__(self, url: str, settings: Settings, client: S3Client, keys: list[str]) -> None:
        self.url, self.settings, self.client, self.keys = url, settings, client, keys

    def context(self, browser: Any, role: str | None) -> Any:
        headers = {HEADER: EMAILS[role]} if role else {}
        return browser.new_context(extra_http_headers=headers, viewport={"width": 1280, "height": 900})


@pytest.fixture(scope="module")
def app(s3_server: LocalServer) -> Iterator[App]:
    """The app in trusted-header mode over a bucket with sample images (thumbnails made), a file that is
    no image, and the app's CORS policy (so the direct upload shows, and Health is green)."""
    if not AXE.exists():
        require_tool(f"axe-core is not installed ({AXE.relative_to(ROOT)}): run `make axe`")
    requests.post(f"{s3_server.endpoint}/moto-api/reset", timeout=30).raise_for_status()
    settings = settings_for(s3_server.endpoint)
    client = make_client(settings)
    client.create_bucket(Bucket=TEST_BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
    keys = [k for k in seed_samples(client, settings, 4) if k.startswith("uploads/")]
    client.put_object(Bucket=TEST_BUCKET, Key="uploads/notes.txt", Body=b"not an image", ContentType="text/plain")
    # The catalog exists from the start (Usage shows its figures), whichever test runs first or fails.
    catalog_sync.sync(Catalog(settings, client), client, TEST_BUCKET)
    env = env_for(s3_server.endpoint, R2_TRUSTED_EMAIL_HEADER=HEADER)
    with streamlit_app(env, secrets=lambda base: ROLES_TOML) as url:
        rules = demo_cors_rules(url)
        # Playwright sends a context's extra header with every request, the direct PUT to the bucket
        # included (a real proxy adds it only to the app's requests): the bucket must allow it too.
        rules[0]["AllowedHeaders"].append(HEADER.lower())
        client.put_bucket_cors(Bucket=TEST_BUCKET, CORSConfiguration={"CORSRules": rules})
        yield App(url, settings, client, keys)


QUIET = """() => new Promise((resolve) => {
  // Streamlit marks the script finished before its last elements are drawn: wait until the DOM has not
  // changed for 300 ms (bounded: 15 s), so axe sees the page as a user does once it has settled.
  let timer = setTimeout(done, 300);
  const observer = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(done, 300); });
  const limit = setTimeout(done, 15000);
  function done() { observer.disconnect(); clearTimeout(limit); resolve(); }
  observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
})"""


def wait_idle(page: Page) -> None:
    """Until the page's script has finished and its elements are drawn."""
    expect(page.locator("h1").first).to_be_attached(timeout=60_000)
    page.wait_for_function(IDLE, timeout=60_000)
    page.evaluate(QUIET)
    page.wait_for_function(IDLE, timeout=60_000)


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2 A/AA violations of the page as it is now, one line per rule and element."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (tags) => {
          const options = { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] };
          const result = await axe.run(document, options);
          return result.violations.flatMap((v) => v.nodes.map((n) =>
            `${v.id}: ${n.target.join(" ")} — ${(n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 240)}`));
        }""",
        TAGS,
    )
    return [str(line) for line in found]


def check(page: Page, url: str, found: dict[str, list[str]]) -> None:
    page.goto(url)
    wait_idle(page)
    violations = axe_violations(page)
    if violations:
        found[url] = violations


def report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{url}:\n  " + "\n  ".join(lines) for url, lines in found.items())


@pytest.mark.parametrize(
    ("role", "pages"),
    [(None, []), ("member", MEMBER_PAGES), ("developer", DEVELOPER_PAGES), ("admin", ADMIN_PAGES)],
    ids=["signed-out", "member", "developer", "admin"],
)
def test_axe_finds_no_wcag2_violation_on_any_page_of_the_role(
    browser, app: App, role: str | None, pages: list[str]
) -> None:  # type: ignore[no-untyped-def]
    context = app.context(browser, role)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    try:
        for name in pages or [""]:  # signed out: the proxy's explanation
            check(page, f"{app.url}/{name}", found)
            expect(page.get_by_text("Page not found")).to_have_count(0)
        if role is not None:
            expect(page.locator('[data-testid="stSidebarNavLink"]')).to_have_count(len(pages))
        if role == "admin":  # Browse's other states (the admin's, a superset): a folder's grid and list, details
            folder = f"{app.url}/?folder=uploads%2F"
            check(page, folder, found)
            check(page, f"{folder}&view=list", found)
            check(page, f"{folder}&object={app.keys[0]}", found)
    finally:
        context.close()
    assert not found, "axe-core found WCAG 2 A/AA violations:\n" + report(found)


def png(size: tuple[int, int] = (80, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "PNG")
    return out.getvalue()


def focused(page: Page) -> dict[str, Any]:
    """What has the keyboard focus: its tag, role, text, the data-key of its tile, whether it shows a ring."""
    return dict(
        page.evaluate(
            """() => {
              let el = document.activeElement;
              while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
              if (!el) return {};
              const style = getComputedStyle(el);
              const outline = style.outlineStyle !== "none" && style.outlineWidth !== "0px";
              return { tag: el.tagName.toLowerCase(), role: el.getAttribute("role") || "",
                       text: (el.innerText || el.value || "").trim(),
                       key: el.querySelector("[data-key]")?.dataset.key || "",
                       href: el.getAttribute("href") || "",
                       ring: outline || style.boxShadow !== "none" };
            }"""
        )
    )


def label(f: dict[str, Any]) -> str:
    """A control's visible label without its Material icon's ligature name (the last line of its text)."""
    return f.get("text", "").split("\n")[-1].strip()


def tab_to(page: Page, want: Any, what: str, limit: int = 150) -> dict[str, Any]:
    """Press Tab until `want(focused)` holds; the control reached must show a visible focus ring."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if want(now):
            assert now["ring"], f"{what}: no visible focus ring (outline or Streamlit's box-shadow): {now}"
            return now
        seen.append(f"{now.get('tag')}:{now.get('text', '')[:30]}")
    raise AssertionError(f"{what} was not reached with Tab; focus went through: {seen}")


def stored_keys(app: App) -> set[str]:
    listing = app.client.list_objects_v2(Bucket=TEST_BUCKET, Prefix="uploads/")
    return {o["Key"] for o in listing.get("Contents", [])}


def choose_files_by_keyboard(page: Page) -> Any:
    """Tab to "Choose files" and press Enter: the file chooser must open. If it did not because the
    component was drawn again meanwhile (the focus left the button with its old element), tab to the new
    one and press again; Enter on a button that still has the focus and opens nothing fails the test.

    The page listens for file choosers from before the first Tab: Playwright turns the interception of
    choosers on without waiting (`updateSubscription` is fire-and-forget), so with only
    `expect_file_chooser`'s own listener the Enter could reach Chromium first, and the chooser opened
    natively, unseen. That failed this test in about one run of three (and 1 of 12 bare Enter presses)."""
    page.on("filechooser", lambda chooser: None)
    for _ in range(3):
        tab_to(page, lambda f: f["tag"] == "button" and label(f) == "Choose files", "the Choose files button")
        try:
            with page.expect_file_chooser(timeout=10_000) as chooser:
                page.keyboard.press("Enter")
            return chooser.value
        except PlaywrightTimeout:
            now = focused(page)
            assert not (now.get("tag") == "button" and label(now) == "Choose files"), (
                "Enter on the focused Choose files button opened no file chooser"
            )
            wait_idle(page)
    raise AssertionError("the Choose files button kept losing the focus before Enter could open the chooser")


def test_keyboard_only_upload_then_open_the_image_details(browser, app: App) -> None:  # type: ignore[no-untyped-def]
    before = stored_keys(app)
    context = app.context(browser, "member")
    page = context.new_page()
    try:
        page.goto(app.url)
        wait_idle(page)
        tab_to(page, lambda f: f["tag"] == "a" and label(f) == "Upload", "the Upload link")
        page.keyboard.press("Enter")
        wait_idle(page)
        # The direct upload: a focusable "Choose files" control opens the file chooser with Enter.
        expect(page.locator('[data-testid="r2-direct-drop"] .limits')).not_to_be_empty()  # its script runs
        wait_idle(page)
        chooser = choose_files_by_keyboard(page)
        chooser.set_files(files=[{"name": "keyboard.png", "mimeType": "image/png", "buffer": png()}])
        row = page.locator('[data-testid="r2-direct-files"] li').first
        expect(row).to_contain_text("Stored and checked.", timeout=60_000)
        wait_idle(page)
        (key,) = stored_keys(app) - before
        assert axe_violations(page) == [], "the upload's result rows"

        # To Browse through the sidebar, into the folder, onto the new image's tile: Tab and Enter only.
        tab_to(page, lambda f: f["tag"] == "a" and label(f) == "Browse", "the Browse link")
        page.keyboard.press("Enter")
        wait_idle(page)
        tab_to(page, lambda f: f["tag"] == "button" and label(f) == "uploads/", "the uploads folder")
        page.keyboard.press("Enter")
        wait_idle(page)
        tab_to(page, lambda f: f["tag"] == "a" and f["key"] == key, f"the tile of {key}")
        page.keyboard.press("Enter")
        wait_idle(page)
        expect(page.get_by_role("heading", name="Details")).to_be_visible()
        expect(page.get_by_text(key, exact=True)).to_be_visible()
        # A screen reader names the images: the details by the original file name, the tile by its key.
        expect(page.get_by_role("img", name="keyboard.png")).to_be_visible()
        expect(page.locator(f'[data-key="{key}"] img')).to_have_attribute("alt", key)
        expect(page.locator(f'a:has([data-key="{key}"])')).to_have_attribute("aria-current", "true")
        expect(page.locator(f'[data-key="{key}"] > div')).to_have_css("outline-style", "solid")  # seen, too
        assert axe_violations(page) == [], "the details view"
    finally:
        context.close()


def walk_tabs(page: Page, names: list[str], found: dict[str, list[str]], where: str) -> None:
    """Tab onto the first tab, then ArrowRight and Enter to each next one; axe checks every panel."""
    tab_to(page, lambda f: f["role"] == "tab" and label(f) == names[0], f"the {names[0]} tab")
    # A page can hold several tab sets (Usage: the catalog's figures and the scan's): this set's only.
    tabs = page.get_by_role("tablist").filter(has=page.get_by_role("tab", name=names[0], exact=True))
    for i, name in enumerate(names):
        if i:
            page.keyboard.press("ArrowRight")
            page.keyboard.press("Enter")
        expect(tabs.get_by_role("tab", name=name, exact=True)).to_have_attribute("aria-selected", "true")
        wait_idle(page)
        if violations := axe_violations(page):
            found[f"{where}, tab {name}"] = violations


def test_tabs_and_the_delete_dialog_work_by_keyboard_and_pass_axe(browser, app: App) -> None:  # type: ignore[no-untyped-def]
    """axe sees only what is shown: the other tabs of CORS and Usage, and a dialog, are opened by keyboard."""
    context = app.context(browser, "admin")
    page = context.new_page()
    found: dict[str, list[str]] = {}
    try:
        page.goto(app.url)  # app.py first: on a fresh server a page's own URL is served without the frame
        wait_idle(page)
        page.goto(f"{app.url}/cors")
        wait_idle(page)
        walk_tabs(page, ["Live policy", "Edit", "Test a preflight", "History"], found, "CORS")

        page.goto(f"{app.url}/usage")
        wait_idle(page)
        tab_to(page, lambda f: f["tag"] == "button" and label(f) == "Scan now", "Scan now")
        page.keyboard.press("Enter")
        expect(page.get_by_role("tab", name="Folders")).to_be_visible(timeout=60_000)
        wait_idle(page)
        walk_tabs(page, ["Folders", "Types", "Growth", "Largest", "More"], found, "Usage")
        walk_tabs(page, ["By folder", "By type", "By month", "By uploader", "Largest"], found, "Usage, catalog")

        page.goto(f"{app.url}/?folder=uploads%2F&object={app.keys[0]}")
        wait_idle(page)
        tab_to(page, lambda f: f["tag"] == "button" and label(f) == "Delete this object…", "Delete this object…")
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        wait_idle(page)
        assert page.evaluate("() => document.querySelector('[role=dialog]').contains(document.activeElement)")
        if violations := axe_violations(page):
            found["Browse, delete dialog"] = violations
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        assert app.keys[0] in stored_keys(app), "closing the dialog deleted nothing"
    finally:
        context.close()
    assert not found, "axe-core found WCAG 2 A/AA violations:\n" + report(found)
