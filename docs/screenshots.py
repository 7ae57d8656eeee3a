"""Refresh the README's page screenshots from the local demo: `make screenshots`.

Starts the app with no R2 credentials (the embedded demo bucket, role admin) on a freshly started
server, opens each page by its own URL in Debian's headless Chromium, waits until Streamlit has
settled, does what the picture shows (checks, a scan, a direct upload), waits until the real content
is drawn (the policy text, not the grey placeholders shown while an element's code loads; images,
charts and tables painted; see tests/support/browser.py, DRAWN) and saves `docs/<page>.png`. The Upload
picture comes from its browser test (`SAVE_SCREENSHOTS=1`); the sign-in picture needs a sign-in
provider and is made by hand.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import corpus  # noqa: E402
from tests.support.browser import launch, streamlit_app, wait_drawn  # noqa: E402

SETTLED = (
    "() => document.querySelector('[data-testid=\"stMain\"] h1') && "
    "!document.querySelector('[data-stale=\"true\"]') && "
    '!document.querySelector(\'[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]\')'
)


def _nothing(page: Any) -> None:
    pass


def _browse(page: Any) -> None:
    page.locator("[data-key]").first.wait_for(timeout=60_000)


def _cors(page: Any) -> None:
    page.get_by_text("As JSON").click(timeout=60_000)  # the JSON is drawn on demand
    page.locator('[data-testid="stCode"]').get_by_text("AllowedOrigins").first.wait_for(timeout=60_000)


def _health(page: Any) -> None:
    # Drawn after the last check: the checks themselves show one by one, with a progress bar above.
    page.get_by_text("Known problems and the checks that catch them").wait_for(timeout=120_000)


def _usage(page: Any) -> None:
    page.get_by_role("button", name="Scan now").click(timeout=90_000)
    page.get_by_text("Latest scan").first.wait_for(timeout=90_000)
    page.get_by_text("Chart", exact=True).first.click(timeout=60_000)  # the charts are drawn on demand
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=60_000)


def _search(page: Any) -> None:
    page.locator("[data-key]").first.wait_for(timeout=60_000)


def _lifecycle(page: Any) -> None:
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=60_000)  # no rules yet: the editor is open


def _upload_direct(page: Any) -> None:
    files = [
        ("holiday.jpg", "image/jpeg", corpus.jpeg_gps((1600, 1200), orientation=1)),
        ("chart.png", "image/png", corpus.plain("PNG", (1200, 800))),
        ("notes.png", "image/png", corpus.HTML),  # a renamed HTML file: stored by the browser, then removed
    ]
    page.set_input_files(
        '[data-testid="r2-direct-input"]',
        files=[{"name": name, "mimeType": mime, "buffer": data} for name, mime, data in files],
    )
    page.get_by_text("2 of 3 file(s) stored.").wait_for(timeout=90_000)


# name -> (path, what to wait for or do before the picture)
SHOTS: dict[str, tuple[str, Callable[[Any], None]]] = {
    "frame": ("/", _nothing),
    "browse": ("/?folder=samples/landscapes/", _browse),
    "upload-direct": ("/upload", _upload_direct),
    "cors": ("/cors", _cors),
    "health": ("/health", _health),
    "usage": ("/usage", _usage),
    "audit": ("/audit", _nothing),
    "search": ("/search?type=JPEG", _search),
    "lifecycle": ("/lifecycle", _lifecycle),
}


def main(names: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    wanted = names or list(SHOTS)
    unknown = sorted(set(wanted) - set(SHOTS))
    if unknown:
        print(f"unknown page(s): {', '.join(unknown)}; choose from {', '.join(SHOTS)}", file=sys.stderr)
        return 2
    with streamlit_app({}) as url, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        for name in wanted:  # each by its own URL, the first one on a server that has not run app.py yet
            path, prepare = SHOTS[name]
            page.goto(url + path)
            page.wait_for_function(SETTLED, timeout=120_000)
            prepare(page)
            page.wait_for_function(SETTLED, timeout=90_000)
            wait_drawn(page, timeout=90_000)
            target = ROOT / "docs" / f"{name}.png"
            page.screenshot(path=str(target), full_page=True)
            print(f"wrote {target.relative_to(ROOT)}")
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
