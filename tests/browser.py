"""Real-browser helpers: Debian's Chromium driven by Playwright, and `streamlit run` on a free port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, free_port

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
    """The browser's path; skip when missing, but fail when R2_REQUIRE_BROWSER=1 (CI)."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = "Debian's chromium is not installed (apt-get install chromium)"
    if os.environ.get("R2_REQUIRE_BROWSER") == "1":
        pytest.fail(message + "; R2_REQUIRE_BROWSER=1 forbids skipping browser tests")
    pytest.skip(message)


@contextmanager
def streamlit_app(env: dict[str, str] | None = None, script: Path = ROOT / "app.py") -> Iterator[str]:
    """Run `streamlit run` on a free loopback port; yields the base URL. Output goes to a log file."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="app-"))
    shutil.copytree(ROOT / ".streamlit", workdir / ".streamlit", ignore=shutil.ignore_patterns("secrets.toml"))
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("R2_", "CLOUDFLARE_"))}
    child_env.update(env or {})
    child_env.setdefault("R2_APP_ORIGIN", f"http://localhost:{port}")
    log = (workdir / "streamlit.log").open("wb")
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
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/_stcore/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("streamlit did not start:\n" + (workdir / "streamlit.log").read_text())
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


_shared: dict[str, object] = {}


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the whole session. Each test module imports this fixture, which makes pytest
    treat every import as its own session fixture; Playwright's sync API cannot run twice in one
    thread, so all of them share one instance (closed by the first teardown, at session end)."""
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    # The default 5 s is too short on a loaded 2-core machine: Streamlit pages then render late.
    expect.set_options(timeout=30_000)

    if "browser" not in _shared:
        pw = sync_playwright().start()
        _shared["pw"] = pw
        _shared["browser"] = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
    yield _shared["browser"]
    chromium, pw = _shared.pop("browser", None), _shared.pop("pw", None)
    if chromium is not None:
        chromium.close()  # type: ignore[attr-defined]
        pw.stop()  # type: ignore[attr-defined]
