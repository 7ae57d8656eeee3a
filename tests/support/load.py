"""The load driver: N concurrent browser sessions (Playwright contexts in one headless Chromium) against
ONE app instance, shared by the load test (tests/test_reliability_load.py: zero errors, nothing lost) and
the load benchmark (bench/load.py, docs/bench/load.md).

Sessions arrive one after another (a staggered ramp-up). Each opens the app (Browse at the bucket's
root), opens the folder, goes to the Upload page and uploads one image, comes back to Browse and the
folder, then pages Next / Previous, with a short think time before each click, until the time is up.
`report` gives render times (navigation or click until the page settled: nothing stale, the expected
page shown) per step and overall (p50/p95/max), errors, whether every upload is stored exactly once,
and the app server's CPU time per page view.

Why this shape: real users do not all click in the same millisecond, look at a page before the next
click, and move inside the app (Streamlit re-renders in place) instead of reloading it. Opening the app
(`page.goto`) boots Streamlit's whole front end in a fresh browser profile: 1-2 s of Chromium CPU,
which on a 2-core machine running 20 browsers, the app and the S3 server is the load generator's cost,
not the app's (a user's browser runs on the user's machine). See docs/reliability.md, Load.
"""

from __future__ import annotations

import asyncio
import io
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

SEEDED = 130  # objects in uploads/ before the run: three pages of 60
PAGE = 60  # the Browse page size: pages 1 and 2 are full whatever the uploads
UPLOAD_PREFIX = "load-session-"

# Per-step limits for 20 sessions on a 2-core machine shared by Chromium, the app and moto, from measured
# worst cases (docs/reliability.md, Load): opening the app (the front end boots in a fresh profile) took
# at most 55 s with the machine to itself and 96 s while other test runs shared it; a step inside the
# app at most 53 s, an upload 31 s.
OPEN_TIMEOUT_S = 150.0
STEP_TIMEOUT_S = 90.0
UPLOAD_TIMEOUT_S = 90.0
THINK_S = (2.0, 5.0)  # a user looks at a page before the next click (seeded per session)


@dataclass
class LoadResult:
    sessions: int
    seconds: float
    ramp: float = 0.0
    steps: list[tuple[str, float]] = field(default_factory=list)  # (step, seconds) per page render
    errors: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)  # file names the sessions saw "uploaded"
    pages_seen: Counter[str] = field(default_factory=Counter)  # step -> count
    wall: float = 0.0
    server_cpu: float = float("nan")  # CPU seconds of the `streamlit run` process during the sessions

    @property
    def renders(self) -> list[float]:
        return [s for _, s in self.steps]

    def of(self, *labels: str) -> list[float]:
        return [s for label, s in self.steps if label in labels]

    def percentile(self, p: float, values: list[float] | None = None) -> float:
        return percentile(self.renders if values is None else values, p)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def png(seed: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (48, 32), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256)).save(out, "PNG")
    return out.getvalue()


# Settled: a title, nothing stale, Streamlit not running, and (when asked) a text and a number of tiles.
# Polled every 100 ms: the default (every animation frame) in 20 pages costs the renderers real CPU.
_SETTLED = """(want) => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main || !main.querySelector('h1')) return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  if (document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')) return false;
  if (want.text && !main.textContent.includes(want.text)) return false;
  if (want.tiles && main.querySelectorAll('[data-key]').length < want.tiles) return false;
  return true;
}"""


async def _session(
    index: int, browser: Any, url: str, start: float, until: float, upload: bool, result: LoadResult
) -> None:
    await asyncio.sleep(max(0.0, start - time.monotonic()))  # this user arrives now
    rng = random.Random(index)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_S * 1000)
    page.set_default_navigation_timeout(OPEN_TIMEOUT_S * 1000)
    page.on("pageerror", lambda exc: result.errors.append(f"session {index}: script error {exc}"))

    async def timed(label: str, action: Any, timeout: float, text: str = "", tiles: int = 0) -> None:
        started = time.perf_counter()
        await action()
        await page.wait_for_function(_SETTLED, arg={"text": text, "tiles": tiles}, polling=100, timeout=timeout * 1000)
        result.steps.append((label, time.perf_counter() - started))
        result.pages_seen[label] += 1
        if await page.locator('[data-testid="stException"]').count():
            result.errors.append(f"session {index}: a traceback on {label}")
        if await page.get_by_text("Page not found").count():
            result.errors.append(f"session {index}: page not found on {label}")

    async def think() -> None:
        await asyncio.sleep(rng.uniform(*THINK_S))

    async def open_folder() -> None:
        nonlocal step
        await think()
        step = "open folder"
        folder = page.get_by_role("button", name="uploads/")
        await timed(step, folder.click, STEP_TIMEOUT_S, text="Page 1 ·", tiles=PAGE)

    step = "start"
    try:
        step = "open app"  # the front door: Browse at the bucket's root, the only full page load
        await timed(step, lambda: page.goto(url + "/", wait_until="domcontentloaded"), OPEN_TIMEOUT_S, text="Folders")
        await open_folder()
        if upload:
            await think()
            step = "upload page"
            await timed(
                step, page.get_by_role("link", name="Upload", exact=True).click, STEP_TIMEOUT_S, text="Accepted:"
            )
            await think()
            step = "upload"
            name = f"{UPLOAD_PREFIX}{index}.png"
            await page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                [{"name": name, "mimeType": "image/png", "buffer": png(1000 + index)}]
            )
            await timed(
                step,
                page.get_by_role("button", name="Upload 1 file").click,
                UPLOAD_TIMEOUT_S,
                text="1 of 1 uploaded",
            )
            result.uploaded.append(name)
            await think()
            step = "browse page"
            await timed(step, page.get_by_role("link", name="Browse", exact=True).click, STEP_TIMEOUT_S, text="Folders")
            await open_folder()
        while True:  # at least one round each, then until the time is up
            await think()
            step = "next"
            await timed(
                step, page.get_by_role("button", name="Next →").click, STEP_TIMEOUT_S, text="Page 2 ·", tiles=PAGE
            )
            await think()
            step = "previous"
            previous = page.get_by_role("button", name="← Previous")
            await timed(step, previous.click, STEP_TIMEOUT_S, text="Page 1 ·", tiles=PAGE)
            if time.monotonic() >= until:
                break
    except Exception as exc:  # a timeout or a missing element is an error of the run, reported
        result.errors.append(f"session {index} at {step}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await context.close()


async def _drive(url: str, sessions: int, seconds: float, ramp: float, upload: bool, result: LoadResult) -> None:
    from playwright.async_api import async_playwright

    from tests.support.browser import CHROMIUM_ARGS, require_chromium

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS, headless=True)
        warm = await browser.new_page()  # one visit through app.py: its navigation then serves deep links
        await warm.goto(url)
        await warm.get_by_role("link", name="Upload", exact=True).wait_for(timeout=OPEN_TIMEOUT_S * 1000)
        await warm.close()
        began = time.monotonic()
        until = began + seconds
        gap = ramp / sessions if sessions else 0.0
        await asyncio.gather(
            *(_session(i, browser, url, began + i * gap, until, upload, result) for i in range(sessions))
        )
        result.wall = time.monotonic() - began
        await browser.close()


def drive(
    url: str,
    sessions: int,
    seconds: float,
    upload: bool = True,
    ramp: float = 0.0,
    server_pid: int | None = None,
) -> LoadResult:
    """Run the sessions against the app at `url` (in a thread of its own: the caller may already run
    Playwright's sync API, whose loop must not be shared). Session i starts `i * ramp / sessions`
    seconds in; every session keeps paging until `seconds` after the first started (one round at
    least). With `server_pid`, the CPU time that process used meanwhile is recorded."""
    result = LoadResult(sessions, seconds, ramp)
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(_drive(url, sessions, seconds, ramp, upload, result))
        except BaseException as exc:
            failure.append(exc)

    before = _cpu(server_pid)
    thread = threading.Thread(target=target, name="load")
    thread.start()
    thread.join()
    result.server_cpu = _cpu(server_pid) - before
    if failure:
        raise failure[0]
    return result


def _cpu(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def streamlit_pid() -> int | None:
    """The `streamlit run` child of this process (started by tests.support.browser.streamlit_app)."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            if "streamlit" in " ".join(child.cmdline()):
                return int(child.pid)
        except psutil.Error:
            continue
    return None


def seed(client: Any, bucket: str) -> None:
    body = png(0)
    for n in range(SEEDED):
        client.put_object(Bucket=bucket, Key=f"uploads/seed-{n:03d}.png", Body=body, ContentType="image/png")


def stored_uploads(client: Any, bucket: str) -> Counter[str]:
    """Original names of the objects the sessions uploaded, counted (one HEAD per non-seed object)."""
    names: Counter[str] = Counter()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="uploads/"):
        for obj in page.get("Contents", []):
            if obj["Key"].startswith("uploads/seed-"):
                continue
            meta = client.head_object(Bucket=bucket, Key=obj["Key"])["Metadata"]
            names[unquote(meta.get("original-name", "?"))] += 1
    return names


def _ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:.0f}" if values else "–"


STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Open the app (the front end boots)", ("open app",)),
    ("Switch page or folder inside the app", ("open folder", "upload page", "browse page")),
    ("Upload one image (checked, stored, thumbnail)", ("upload",)),
    ("Page Next / Previous (60 tiles)", ("next", "previous")),
    ("All renders", ("open app", "open folder", "upload page", "browse page", "upload", "next", "previous")),
)


def report(runs: list[tuple[str, LoadResult, int]]) -> str:
    first = runs[0][1]
    lines = [
        "## Load: concurrent browser sessions on one app instance",
        "",
        f"{first.sessions} Playwright browser contexts (one headless Chromium) against one `streamlit run`, the app "
        f"and a local S3 server (moto) on the same 2-core machine. Sessions arrive over {first.ramp:.0f} s (one "
        f"every {first.ramp / max(1, first.sessions):.1f} s); each opens the app (Browse at the bucket's root: the "
        f"only full page load), opens the folder ({SEEDED}+ objects, pages of {PAGE}), goes to the Upload page "
        "and uploads one image, comes back to Browse and the folder, then pages Next / Previous, thinking "
        f"{THINK_S[0]:g}–{THINK_S[1]:g} s before each click, until {first.seconds:.0f} s after the first arrived. "
        "A render is the time from navigation or click until the page settled (nothing stale, the expected "
        "page and its tiles shown).",
        "",
        "Both runs below use the same driver, one after the other; only the server's settings differ: "
        "*before* is Streamlit's defaults (a source-file watcher per session, a full garbage collection after "
        "every script run), *after* is `.streamlit/config.toml` (both off).",
        "",
        "| Step | " + " | ".join(f"{label} p50 / p95 / max (ms)" for label, _, _ in runs) + " |",
        "|---|" + "---|" * len(runs),
    ]
    for title, labels in STEPS:
        cells = []
        for _, result, _ in runs:
            values = result.of(*labels)
            cells.append(f"{_ms(values, 50)} / {_ms(values, 95)} / {_ms(values, 100)} (n={len(values)})")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")

    def row(title: str, cell: Callable[[LoadResult, int], str]) -> str:
        return f"| {title} | " + " | ".join(cell(r, once) for _, r, once in runs) + " |"

    lines += [
        "",
        "| Measure | " + " | ".join(label for label, _, _ in runs) + " |",
        "|---|" + "---|" * len(runs),
        row("Errors", lambda r, o: str(len(r.errors))),
        row("Uploads reported / stored exactly once", lambda r, o: f"{len(r.uploaded)} / {o}"),
        row("Page renders", lambda r, o: str(len(r.steps))),
        row("Wall time of the sessions", lambda r, o: f"{r.wall:.0f} s"),
        row("App server CPU (`streamlit run`)", lambda r, o: f"{r.server_cpu:.1f} s"),
        row("App server CPU per render", lambda r, o: f"{r.server_cpu / max(1, len(r.steps)) * 1000:.0f} ms"),
        "",
    ]
    for label, result, _ in runs:
        if result.errors:
            lines += [f"Errors ({label}):", "", *[f"- {e}" for e in result.errors[:20]], ""]
    lines.append(
        "Everything shares two cores: Chromium renders every session's pages (opening the app costs it 1-2 s "
        "of CPU in a fresh profile; a user's browser would run on the user's machine), Streamlit runs each "
        "session's script, "
        "moto serves every LIST and image. The render times are therefore an upper bound for one user's wait; "
        "the app server's CPU per render is the figure that is this app's own. R2 latency is not modelled."
    )
    return "\n".join(lines)
