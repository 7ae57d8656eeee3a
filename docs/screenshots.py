"""Refresh the README's page screenshots from the local demo: `make screenshots`.

Starts the app with no R2 credentials (the embedded demo bucket, role admin), opens each page in
Debian's headless Chromium, waits until Streamlit has settled (and, where a page's picture needs it,
runs its checks or a scan), and saves `docs/<page>.png`. The Upload and sign-in pictures come from
their browser tests (`SAVE_SCREENSHOTS=1`), which set up the batch and the sign-in they show.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import launch, streamlit_app  # noqa: E402

SETTLED = (
    "() => document.querySelector('[data-testid=\"stMain\"] h1') && "
    "!document.querySelector('[data-stale=\"true\"]') && "
    '!document.querySelector(\'[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]\')'
)


def _nothing(page: Any) -> None:
    pass


def _browse(page: Any) -> None:
    page.locator("[data-key]").first.wait_for(timeout=60_000)


def _health(page: Any) -> None:
    page.get_by_role("button", name="Run again").wait_for(timeout=90_000)


def _usage(page: Any) -> None:
    page.get_by_role("button", name="Scan now").click(timeout=90_000)
    page.get_by_text("Latest scan").first.wait_for(timeout=90_000)
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=60_000)


# name -> (path, what to wait for or do before the picture)
SHOTS: dict[str, tuple[str, Callable[[Any], None]]] = {
    "frame": ("/", _nothing),
    "browse": ("/?folder=samples/landscapes/", _browse),
    "cors": ("/cors", _nothing),
    "health": ("/health", _health),
    "usage": ("/usage", _usage),
    "audit": ("/audit", _nothing),
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
        page.goto(url)  # through app.py first: its navigation then serves the deep links
        page.get_by_role("link", name="Upload", exact=True).wait_for(timeout=120_000)
        for name in wanted:
            path, prepare = SHOTS[name]
            page.goto(url + path)
            page.wait_for_function(SETTLED, timeout=90_000)
            prepare(page)
            page.wait_for_function(SETTLED, timeout=90_000)
            page.wait_for_timeout(4000)  # images, code and charts finish drawing
            target = ROOT / "docs" / f"{name}.png"
            page.screenshot(path=str(target), full_page=True)
            print(f"wrote {target.relative_to(ROOT)}")
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
