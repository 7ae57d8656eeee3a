"""Load: N concurrent browser sessions (Playwright contexts in one headless Chromium) against ONE app
instance: each uploads one image through the Upload page, then browses and pages the folder for a
bounded time. Reports page render times (navigation or click until the page settled: no stale
element, the grid shown) with p50/p95/max, errors, and whether every upload is stored exactly once.

`drive(url, ...)` is shared with tests/test_reliability_load.py, which asserts zero errors and
nothing lost; `run()` is the benchmark section (docs/bench/load.md).
"""

from __future__ import annotations

import asyncio
import io
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

SEEDED = 130  # objects in uploads/ before the run: three pages of 60
UPLOAD_PREFIX = "load-session-"


@dataclass
class LoadResult:
    sessions: int
    seconds: float
    renders: list[float] = field(default_factory=list)  # seconds per page render
    errors: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)  # file names the sessions saw "uploaded"
    pages_seen: Counter[str] = field(default_factory=Counter)  # "browse 1", "browse 2", "upload"

    def percentile(self, p: float) -> float:
        ordered = sorted(self.renders)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def png(seed: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (48, 32), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256)).save(out, "PNG")
    return out.getvalue()


async def _settled(page: Any, timeout_ms: float) -> None:
    """Streamlit finished the run: something rendered and nothing is marked stale any more."""
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stMain\"] h1') && "
        "!document.querySelector('[data-stale=\"true\"]') && "
        '!document.querySelector(\'[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]\')',
        timeout=timeout_ms,
    )


async def _session(index: int, browser: Any, url: str, until: float, upload: bool, result: LoadResult) -> None:
    timeout_ms = 60_000
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    page.set_default_navigation_timeout(timeout_ms)
    page.on("pageerror", lambda exc: result.errors.append(f"session {index}: script error {exc}"))

    async def timed(label: str, action: Any, ready: Any) -> None:
        started = time.perf_counter()
        await action()
        await ready()
        await _settled(page, timeout_ms)
        result.renders.append(time.perf_counter() - started)
        result.pages_seen[label] += 1
        if await page.locator('[data-testid="stException"]').count():
            result.errors.append(f"session {index}: a traceback on {label}")
        if await page.get_by_text("Page not found").count():
            result.errors.append(f"session {index}: page not found on {label}")

    try:
        if upload:
            await timed(
                "upload",
                lambda: page.goto(url + "/upload", wait_until="domcontentloaded"),
                lambda: page.get_by_text("Accepted:").first.wait_for(timeout=timeout_ms),
            )
            name = f"{UPLOAD_PREFIX}{index}.png"
            await page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                [{"name": name, "mimeType": "image/png", "buffer": png(1000 + index)}]
            )
            await page.get_by_role("button", name="Upload 1 file").click()
            await page.get_by_text("1 of 1 uploaded").wait_for(timeout=timeout_ms)
            result.uploaded.append(name)
        while True:  # at least one round each, then until the time is up
            await timed(
                "browse 1",
                lambda: page.goto(url + "/?folder=uploads/", wait_until="domcontentloaded"),
                lambda: page.locator("[data-key]").first.wait_for(timeout=timeout_ms),
            )
            await timed(
                "browse 2",
                lambda: page.get_by_role("button", name="Next →").click(),
                lambda: page.wait_for_url("**page=2**", timeout=timeout_ms),
            )
            if time.monotonic() >= until:
                break
    except Exception as exc:  # a timeout or a missing element is an error of the run, reported
        result.errors.append(f"session {index}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await context.close()


async def _drive(url: str, sessions: int, seconds: float, upload: bool, result: LoadResult) -> None:
    from playwright.async_api import async_playwright

    from tests.browser import CHROMIUM_ARGS, require_chromium

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS, headless=True)
        warm = await browser.new_page()  # one visit through app.py: its navigation then serves deep links
        await warm.goto(url)
        await warm.get_by_role("link", name="Upload", exact=True).wait_for(timeout=60_000)
        await warm.close()
        until = time.monotonic() + seconds
        await asyncio.gather(*(_session(i, browser, url, until, upload, result) for i in range(sessions)))
        await browser.close()


def drive(url: str, sessions: int, seconds: float, upload: bool = True) -> LoadResult:
    """Run the sessions against the app at `url` (in a thread of its own: the caller may already run
    Playwright's sync API, whose loop must not be shared)."""
    result = LoadResult(sessions, seconds)
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(_drive(url, sessions, seconds, upload, result))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target, name="load")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result


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


def run(quick: bool) -> str:
    from r2.client import make_client
    from r2.local import LocalServer
    from r2.settings import parse_settings
    from tests.browser import streamlit_app

    # 20 sessions saturate a 2-core machine (half waited over 60 s: docs/reliability.md); quick runs 8.
    sessions, seconds = (8, 20.0) if quick else (20, 60.0)
    server = LocalServer().start()
    try:
        bucket = "load-bench"
        env = {
            "R2_ENDPOINT": server.endpoint,
            "R2_ACCESS_KEY_ID": "bench",
            "R2_SECRET_ACCESS_KEY": "bench-secret-key-0123456789",
            "R2_BUCKET": bucket,
            "R2_DEFAULT_ROLE": "member",
        }
        client = make_client(parse_settings(env))
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "auto"})
        seed(client, bucket)
        with streamlit_app(env) as url:
            result = drive(url, sessions, seconds)
        stored = stored_uploads(client, bucket)
    finally:
        server.stop()
    return report(result, stored)


def report(result: LoadResult, stored: Counter[str]) -> str:
    once = sum(1 for name in result.uploaded if stored[name] == 1)
    lines = [
        "## Load: concurrent browser sessions on one app instance",
        "",
        f"{result.sessions} Playwright browser contexts (one headless Chromium) against one `streamlit run`, "
        f"the app and a local S3 server (moto) on the same 2-core machine. Each session uploads one image "
        f"through the Upload page, then for {result.seconds:.0f} s opens the folder (first page of 60 of "
        f"{SEEDED}+ objects) and pages to the next. A render is the time from navigation or click until "
        "Streamlit settled (nothing stale, the grid shown).",
        "",
        "| Measure | Value |",
        "|---|---|",
        f"| Page renders | {len(result.renders)} ({dict(result.pages_seen)}) |",
        f"| Render time p50 | {statistics.median(result.renders) * 1000:.0f} ms |" if result.renders else "",
        f"| Render time p95 | {result.percentile(95) * 1000:.0f} ms |",
        f"| Render time max | {max(result.renders, default=float('nan')) * 1000:.0f} ms |",
        f"| Errors | {len(result.errors)} |",
        f"| Uploads reported / stored exactly once | {len(result.uploaded)} / {once} |",
        "",
    ]
    if result.errors:
        lines += ["Errors:", "", *[f"- {e}" for e in result.errors[:20]], ""]
    lines.append(
        f"Everything shares two cores (Chromium renders {result.sessions} pages of 60 images, Streamlit runs "
        "each session's script, moto serves every LIST and image), so these times are an upper bound for one "
        "user's wait; R2 latency is not modelled."
    )
    return "\n".join(line for line in lines if line is not None)
