"""Real-browser helpers: Debian's Chromium driven by Playwright, and `streamlit run` on a free port.

Browser test modules import Playwright's names from here (`from tests.support.browser import Page,
expect`), so that without Playwright they are skipped instead of failing to import; in CI (CI=true or
R2_REQUIRE_BROWSER=1) a missing Playwright is an error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.env import ROOT, require_tool, required_here
from tests.support.servers import free_port, stop_process, wait_until_up

if not required_here():
    pytest.importorskip("playwright", reason="Playwright is not installed (pip install -r requirements-dev.txt)")
from playwright import sync_api
from playwright.sync_api import Locator as Locator
from playwright.sync_api import Page as Page
from playwright.sync_api import expect as expect

PlaywrightTimeout = sync_api.TimeoutError  # Playwright's own, named apart from the built-in TimeoutError

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def require_chromium() -> str:
    """The browser's path; skip when missing, but fail in CI (CI=true or R2_REQUIRE_BROWSER=1)."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = "Debian's chromium is not installed (apt-get install chromium)"
    require_tool(message)
    raise AssertionError("unreachable")  # require_tool skips or fails


PORT_ATTEMPTS = 3  # free_port() releases the port before Streamlit binds it: another process may take it


@contextmanager
def streamlit_app(
    env: dict[str, str] | None = None,
    script: Path = ROOT / "app.py",
    secrets: Callable[[str], str] | None = None,
) -> Iterator[str]:
    """`streamlit_process`, yielding only the base URL."""
    with streamlit_process(env, script, secrets) as (base, _proc):
        yield base


@contextmanager
def streamlit_process(
    env: dict[str, str] | None = None,
    script: Path = ROOT / "app.py",
    secrets: Callable[[str], str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `streamlit run` on a free loopback port; yields the base URL and the server process (for tests
    that stop a replica on purpose). Output goes to a log file.

    `secrets`, when given, gets the base URL and returns the text of `.streamlit/secrets.toml` for the
    app's working directory (for example an `[auth]` table whose redirect_uri needs the port).

    The port is free when `free_port()` returns it, but other processes on this shared machine (other
    test runs too) may bind it before Streamlit does. Then Streamlit exits ("Port … is not available")
    and the app starts again on another port (bounded); and the app counts as up only once *this*
    process listens on the port (another run's app there may answer the health check first).
    """
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix="app-"))
        shutil.copytree(ROOT / ".streamlit", workdir / ".streamlit", ignore=shutil.ignore_patterns("secrets.toml"))
        if secrets is not None:
            secrets_toml = secrets(f"http://localhost:{port}")
            (workdir / ".streamlit" / "secrets.toml").write_text(secrets_toml, encoding="utf-8")
        child_env = {k: v for k, v in os.environ.items() if not k.startswith(("R2_", "CLOUDFLARE_"))}
        child_env.update(env or {})
        child_env.setdefault("R2_APP_ORIGIN", f"http://localhost:{port}")
        log_path = workdir / "streamlit.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(script),
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=workdir,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://localhost:{port}"
        try:
            try:
                wait_until_up(f"{base}/_stcore/health", proc, log_path, what="streamlit", port=port)
            except RuntimeError:
                if attempt < PORT_ATTEMPTS and proc.poll() is not None and _port_taken(log_path):
                    continue  # the port was taken meanwhile: start again on another one
                raise
            yield base, proc
            return
        finally:
            stop_process(proc)
            log.close()


def _port_taken(log: Path) -> bool:
    return "is not available" in log.read_text(errors="replace")


# Every image that is not deferred (loading="lazy") has loaded or failed: its load/error handlers ran.
_IMAGES_SETTLED = "() => Array.from(document.images).every(i => i.loading === 'lazy' || i.complete)"


def images_settled(page: Any) -> None:
    """Wait until the page's images have loaded or failed, then one more task: an `onerror` that a
    hostile name smuggled in has run by then (a fixed wait could end before it on a busy machine)."""
    page.wait_for_function(_IMAGES_SETTLED, polling=100)
    page.evaluate("() => new Promise(r => setTimeout(r, 0))")


def launch(playwright: Any) -> Any:
    """Debian's Chromium with the flags this machine needs (no sandbox as root, no background traffic)."""
    return playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS, headless=True)


@contextmanager
def page_origin(html: bytes) -> Iterator[str]:
    """A loopback server that answers every GET with `html`: a page on an origin of its own (a site other
    than the bucket's and the app's), for cross-origin fetches in Chromium. Yields the origin."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# Everything on screen is drawn: no element still shows the placeholder of its lazily loaded code (the
# grey bars an `st.code`, `st.radio` or `st.dataframe` has at first), every image in view has loaded
# (or failed), fonts are in, and each chart and data grid not hidden in a closed tab has painted.
DRAWN = """() => {
  const shown = (e) => e.checkVisibility();
  const inView = (i) => i.getBoundingClientRect().top < innerHeight;
  return !document.querySelector('[data-testid="stSkeleton"]')
    && [...document.images].every((i) => i.complete || (i.loading === 'lazy' && !inView(i)))
    && document.fonts.status === 'loaded'
    && [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
      .every((c) => !shown(c) || c.querySelector('canvas, svg'))
    && [...document.querySelectorAll('[data-testid="stDataFrame"]')]
      .every((d) => !shown(d) || d.querySelector('canvas'));
}"""


def wait_drawn(page: Any, timeout: float = 60_000) -> None:
    """Wait (bounded) until what the page shows is its real content, for a screenshot."""
    page.wait_for_function(DRAWN, timeout=timeout)
