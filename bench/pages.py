"""End-to-end page times in headless Chromium, against the local S3 server with and without latency.

"Rendered and interactive" means, measured in the browser (`performance.now()`, from the start of the
navigation): Streamlit's script has finished (`stApp[data-test-script-state=notRunning]`, so the
"running" indicator is gone and widgets answer), the page's title (`h1`) is shown, its main widget is
in the page, no spinner or skeleton is left, and for Browse at least 60 tiles are in the grid and every
tile image in the viewport has loaded (the browser fetches them from the bucket through signed URLs).

Each figure is measured twice: with the app pointed (R2_ENDPOINT) at the loopback proxy of
tests/support/fault_proxy.py adding nothing, and adding 100 ms to every S3 request, the app's and the
browser's (R2 is tens of milliseconds away; moto answers in about one). The proxy also counts the S3 operations
of each visit by R2 billing class. "First visit" is the first time a page is opened after the app
process started (the process has served one request to an unknown page first, so imports and the S3
client are ready, but the page's cached listings are empty); "repeat visit" is a new browser session
opening the page again (Streamlit's shared caches are warm). The floor is a Streamlit page with a title
and nothing else (bench/apps/empty.py), served the same way.

The Upload page is also driven: photo-like JPEGs picked, Upload pressed, timed until the page reports
them all uploaded, with the S3 operations (and their cost) per image.
"""

from __future__ import annotations

import itertools
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import OpsCount, Stats, bar_plot, cost_line, image_md, latency_proxy, plot_path, ratio, table

BENCH = Path(__file__).resolve().parent
BUCKET = "bench-images"
FOLDER = "photos/"
GRID_IMAGES = 60
PHOTO_SIZE = (2000, 1500)
DELAYS = (0.0, 0.1)
TIMEOUT_S = 60
SETTLE_MS = 300
UPLOAD_WAIT_S = 30


@dataclass(frozen=True)
class PageSpec:
    """What "ready" means for one page."""

    label: str
    path: str  # URL path (and query) under the app
    title: str  # the h1 text
    main: tuple[str, ...]  # CSS selectors that must all match an element
    min_tiles: int = 0  # Browse: how many grid tiles must be in the page
    tiles: str = ""  # selector of one grid tile
    what: str = ""  # main widget, in words
    errors_expected: bool = False  # Health shows failed checks as errors (moto lacks what R2 enforces)


PAGES: tuple[PageSpec, ...] = (
    PageSpec("Upload", "upload", "Upload", ('[data-testid="stFileUploader"]',), what="the file picker"),
    PageSpec(
        "Browse (60-image grid)",
        f"?folder={FOLDER}",  # the default page lives at the root: /browse would say "Page not found"
        "Browse",
        (),
        min_tiles=GRID_IMAGES,
        tiles='[data-testid="stMain"] figure[data-key]',
        what="60 tiles, every thumbnail in view loaded",
    ),
    PageSpec(
        "CORS",
        "cors",
        "CORS",
        ('[data-testid="stTabs"]', '[data-testid="stMain"] table'),
        what="the tabs and the live policy's table of rules",
    ),
    PageSpec(
        "Usage (snapshot)",
        "usage",
        "Usage",
        ('[data-testid="stMetric"]', '[data-testid="stMain"] table'),
        what="the latest snapshot's figures and its folders table",
    ),
    PageSpec(
        "Health",
        "health",
        "Health",
        ('[data-testid="stMain"] [data-testid="stAlert"]', '[data-testid="stMain"] table'),
        what="the overall status after every check ran, and the known-problems table",
        errors_expected=True,
    ),
    PageSpec(
        "Audit",
        "audit",
        "Audit",
        ('[data-testid="stMultiSelect"]', '[data-testid="stMain"] :is([data-testid="stDataFrame"], table)'),
        what="the filters and the newest events (60 uploads)",
    ),
    PageSpec("Search", "search", "Search", ('[data-testid="stForm"]',), what="the search form and the results"),
    PageSpec(
        "Lifecycle",
        "lifecycle",
        "Lifecycle",
        ('[data-testid="stTabs"]', '[data-testid="stMain"] :is([data-testid="stDataFrame"], table)'),
        what="the rules (one, with its history)",
    ),
)
FLOOR = PageSpec("Empty page (floor)", "", "Empty", (), what="the title")

READY_JS = """
(spec) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return false;
  const titled = [...main.querySelectorAll('h1')].some(h => h.textContent.trim().startsWith(spec.title));
  if (!titled) return false;
  if (document.querySelector('[data-testid="stSpinner"], [data-testid="stSkeleton"]')) return false;
  const placeholder = main.textContent.includes('Coming soon');
  if (!placeholder) {
    for (const sel of spec.main) if (!document.querySelector(sel)) return false;
    if (spec.min_tiles) {
      const tiles = document.querySelectorAll(spec.tiles);
      if (tiles.length < spec.min_tiles) return false;
      const h = window.innerHeight, w = window.innerWidth;
      for (const img of document.querySelectorAll(spec.tiles + ' img')) {
        const r = img.getBoundingClientRect();
        const inView = r.bottom > 0 && r.top < h && r.right > 0 && r.left < w;
        if (inView && !(img.complete && img.naturalWidth > 0)) return false;
      }
    }
  }
  const errors = [...document.querySelectorAll(
    '[data-testid="stException"], [data-testid="stAlertContentError"]')].filter(e => e.checkVisibility()).length
    + [...document.querySelectorAll('[role="dialog"]')].filter(d => d.textContent.includes('Page not found')).length;
  const scripts = performance.getEntriesByType('resource').filter(r => r.name.endsWith('.js'));
  return {ms: performance.now(), placeholder, errors,
          js_kb: scripts.reduce((sum, r) => sum + r.encodedBodySize, 0) / 1024,
          elements: main.querySelectorAll('[data-testid="stElementContainer"]').length};
}
"""


@dataclass
class Samples:
    """Visits of one page in one setting."""

    times: list[float] = field(default_factory=list)
    ops: list[OpsCount] = field(default_factory=list)
    placeholder: bool = False
    errors: int = 0
    failures: int = 0
    js_kb: list[float] = field(default_factory=list)  # script the browser fetched (no cache: a new session)
    elements: list[int] = field(default_factory=list)  # Streamlit elements in the page, hidden ones too

    def stats(self) -> Stats | None:
        return Stats.of(self.times) if self.times else None

    def typical_ops(self) -> OpsCount | None:
        """The visit whose A+B count is the median one (counts barely vary; this keeps a real breakdown)."""
        if not self.ops:
            return None
        ordered = sorted(self.ops, key=lambda o: (o.a, o.b))
        return ordered[len(ordered) // 2]


def _chromium() -> str | None:
    from tests.support.browser import CHROMIUM

    return CHROMIUM if Path(CHROMIUM).exists() else None


@contextmanager
def _browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def visit(browser: Any, url: str, spec: PageSpec) -> tuple[float, bool, int, dict[str, Any]]:
    """Open `url` in a new browser session; (seconds until ready, placeholder page?, errors shown, and what
    the browser holds then: `js_kb`, `elements`)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(url, wait_until="commit", timeout=TIMEOUT_S * 1000)
        handle = page.wait_for_function(
            READY_JS,
            arg={"title": spec.title, "main": list(spec.main), "min_tiles": spec.min_tiles, "tiles": spec.tiles},
            polling="raf",
            timeout=TIMEOUT_S * 1000,
        )
        result = handle.json_value()
        if os.environ.get("BENCH_SCREENSHOTS"):  # a look at what was measured: BENCH_SCREENSHOTS=<folder>
            shots = Path(os.environ["BENCH_SCREENSHOTS"])
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / f"{spec.title.lower()}-{time.monotonic_ns()}.png"), full_page=True)
        if spec.min_tiles:
            page.wait_for_timeout(SETTLE_MS)  # let the last image requests reach the proxy, to be counted
        return result["ms"] / 1000, bool(result["placeholder"]), int(result["errors"]), result
    finally:
        context.close()


# --- data ------------------------------------------------------------------------------------------


def _direct_settings(endpoint: str) -> Any:
    from r2.settings import parse_settings

    return parse_settings(
        {
            "R2_ENDPOINT": endpoint,
            "R2_ACCESS_KEY_ID": "bench-access-key",
            "R2_SECRET_ACCESS_KEY": "bench-secret-key-0123456789",
            "R2_BUCKET": BUCKET,
        }
    )


def photo(seed: int, size: tuple[int, int] = PHOTO_SIZE) -> bytes:
    """A 3 MP JPEG that compresses like a photo (shapes plus sensor-like noise: ~1.2 MB, not ~60 KB)."""
    import io

    from PIL import Image, ImageChops

    from r2.local import sample_image

    base = Image.open(io.BytesIO(sample_image(seed, size))).convert("RGB")
    noise = Image.effect_noise(size, 48).convert("RGB")
    out = io.BytesIO()
    ImageChops.blend(base, noise, 0.25).save(out, "JPEG", quality=90)
    return out.getvalue()


def seed(endpoint: str) -> list[str]:
    """The bucket the pages see: 60 camera-style JPEGs with thumbnails and their upload events, a CORS policy,
    a usage snapshot.

    Returns notes on what could not be prepared (a page not built yet).
    """
    from r2 import lifecycle
    from r2.audit import AuditEvent, record
    from r2.client import make_client
    from r2.thumbnails import make_thumbnail, store_thumbnail

    settings = _direct_settings(endpoint)
    client = make_client(settings)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
    allow_origin(endpoint, "http://localhost:8501")
    uploaders = ("ann@example.com", "bo@example.com", "cy@example.com")
    for i in range(GRID_IMAGES):
        key = f"{FOLDER}2026-11-{i % 28 + 1:02d}-photo-{i:03d}.jpg"
        body = photo(i)
        client.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="image/jpeg")
        store_thumbnail(client, BUCKET, key, make_thumbnail(body))
        # what the Audit page lists: one upload event per image, as the app records them
        record(client, BUCKET, AuditEvent(uploaders[i % 3], "upload", key, detail=f"photo-{i:03d}.jpg"))
    # an admin's bucket: one lifecycle rule, applied through the app's store (so it has a history)
    lifecycle.apply(client, BUCKET, [lifecycle.abort_uploads_rule(7)], actor=uploaders[0], reason="bench")
    return _usage_snapshot(client, settings)


def allow_origin(endpoint: str, origin: str) -> None:
    """The demo CORS policy for the app's origin (its port changes with every start), set on the server."""
    from r2.client import make_client
    from r2.local import demo_cors_rules

    client = make_client(_direct_settings(endpoint))
    client.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": demo_cors_rules(origin)})


def _usage_snapshot(client: Any, settings: Any) -> list[str]:
    """Scan the bucket and save a usage snapshot with the Usage page's own code, when it exists."""
    try:
        from r2.usage import scan  # type: ignore[attr-defined]
        from r2.usage.listing import Boto3Lister  # type: ignore[import-not-found]
        from r2.usage.snapshots import save  # type: ignore[import-not-found]
    except ImportError:
        return ["the Usage page's library (r2/usage.py) was not there yet, so no snapshot was stored"]
    save(client, BUCKET, scan(Boto3Lister(client, BUCKET), BUCKET, client=client))
    return []


def app_env(endpoint: str) -> dict[str, str]:
    return {
        "R2_ENDPOINT": endpoint,
        "R2_ACCESS_KEY_ID": "bench-access-key",
        "R2_SECRET_ACCESS_KEY": "bench-secret-key-0123456789",
        "R2_BUCKET": BUCKET,
        "R2_DEFAULT_ROLE": "admin",
    }


# --- runs ------------------------------------------------------------------------------------------


def measure_app(
    browser: Any,
    env: dict[str, str] | None,
    specs: Sequence[PageSpec],
    starts: int,
    repeats: int,
    recorder: Any = None,
    script: Path | None = None,
    on_start: Callable[[str], None] | None = None,
) -> tuple[dict[str, Samples], dict[str, Samples]]:
    """`starts` app processes; in each, a first visit of every page, then `repeats` repeat visits."""
    from tests.support.browser import streamlit_app

    first = {s.label: Samples() for s in specs}
    repeat = {s.label: Samples() for s in specs}
    kwargs = {"script": script} if script else {}
    for _ in range(starts):
        with streamlit_app(env, **kwargs) as base:
            if on_start is not None:
                on_start(base)
            if script is None:  # app.py: import everything and create the client, on no page's cache
                visit_quietly(browser, f"{base}/bench-warm-up-no-such-page")
            for round_no in range(1 + repeats):
                for spec in specs:
                    into = first if round_no == 0 else repeat
                    if recorder is not None:
                        recorder.take()
                    samples = into[spec.label]
                    try:
                        seconds, placeholder, errors, shown = visit(browser, f"{base}/{spec.path}", spec)
                    except Exception as exc:
                        print(f"  {spec.label}: not ready within {TIMEOUT_S} s ({type(exc).__name__})", flush=True)
                        samples.failures += 1
                        continue
                    samples.times.append(seconds)
                    samples.placeholder |= placeholder
                    samples.errors += errors
                    samples.js_kb.append(shown["js_kb"])
                    samples.elements.append(shown["elements"])
                    if recorder is not None:
                        samples.ops.append(recorder.take())
    return first, repeat


def visit_quietly(browser: Any, url: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url, wait_until="commit", timeout=TIMEOUT_S * 1000)
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"
            " === 'notRunning'",
            timeout=TIMEOUT_S * 1000,
        )
    finally:
        context.close()


# --- uploading through the page ----------------------------------------------------------------------

UPLOAD_JS = """
(n) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const main = document.querySelector('[data-testid="stMain"]');
  const done = [...main.querySelectorAll('[data-testid="stAlertContentSuccess"]')]
    .some(e => e.textContent.includes(`${n} of ${n} uploaded`));
  const failed = main.querySelectorAll('[data-testid="stAlertContentError"], [data-testid="stException"]').length;
  return done || failed ? {ms: performance.now(), done, failed} : false;
}
"""


_BATCHES = itertools.count()  # a new set of pictures for every upload run of this process


def upload_photos(count: int, first_seed: int = 100) -> list[dict[str, Any]]:
    """Photo-like JPEGs as Playwright file payloads, new pictures for each `first_seed` (the page skips an
    image whose content is already stored, so every measured upload needs pictures never uploaded before)."""
    return [
        {"name": f"photo-{i:02d}.jpg", "mimeType": "image/jpeg", "buffer": photo(first_seed + i)} for i in range(count)
    ]


DIRECT_INPUT = '[data-testid="r2-direct-input"]'  # the direct-upload component's file input (ui/direct_upload.py)
DIRECT_JS = """
(n) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const text = document.querySelector('[data-testid="stMain"]').textContent;
  return text.includes(`${n} of ${n} file(s) stored.`) ? performance.now() : false;
}
"""


def direct_once(browser: Any, base: str, files: list[dict[str, Any]], recorder: Any) -> tuple[float, OpsCount]:
    """Pick `files` in the direct-upload component (the upload starts at once); seconds until the page says
    "N of N file(s) stored." (browser PUTs to the bucket, the app verifies and makes thumbnails), and the ops."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{base}/upload", timeout=TIMEOUT_S * 1000)
        page.locator(DIRECT_INPUT).wait_for(state="attached", timeout=UPLOAD_WAIT_S * 1000)
        _wait_script_idle(page)
        recorder.take()
        started = page.evaluate("() => performance.now()")
        page.set_input_files(DIRECT_INPUT, files=files)
        done = page.wait_for_function(DIRECT_JS, arg=len(files), polling="raf", timeout=TIMEOUT_S * 1000)
        ms = done.json_value()
        page.wait_for_timeout(SETTLE_MS)
        return (ms - started) / 1000, recorder.take()
    finally:
        context.close()


def _wait_script_idle(page: Any) -> None:
    """Until Streamlit has finished running the page's script (so a measurement starts from rest)."""
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'",
        timeout=TIMEOUT_S * 1000,
    )


def upload_once(browser: Any, base: str, files: list[dict[str, Any]], recorder: Any) -> tuple[float, OpsCount]:
    """Pick `files` on the Upload page, press Upload; seconds from the press to "N of N uploaded", and the ops."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{base}/upload", timeout=TIMEOUT_S * 1000)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(files, timeout=UPLOAD_WAIT_S * 1000)
        button = page.get_by_role("button", name=f"Upload {len(files)} files")
        button.wait_for(timeout=TIMEOUT_S * 1000)
        _wait_script_idle(page)
        recorder.take()
        started = page.evaluate("() => performance.now()")
        button.click()
        result = page.wait_for_function(UPLOAD_JS, arg=len(files), polling="raf", timeout=TIMEOUT_S * 1000)
        value = result.json_value()
        page.wait_for_timeout(SETTLE_MS)
        if not value["done"]:
            raise RuntimeError("the Upload page showed an error")
        return (value["ms"] - started) / 1000, recorder.take()
    finally:
        context.close()


UPLOAD_WAYS = {"direct": direct_once, "app": upload_once}


def measure_uploads(
    browser: Any,
    env: dict[str, str],
    recorder: Any,
    count: int,
    runs: int,
    on_start: Callable[[str], None] | None = None,
) -> dict[str, Samples]:
    """Each way of uploading, `runs` times after one warm-up, in one app process."""
    from tests.support.browser import streamlit_app

    out = {way: Samples() for way in UPLOAD_WAYS}
    with streamlit_app(env) as base:
        if on_start is not None:
            on_start(base)
        for way, once in UPLOAD_WAYS.items():
            samples = out[way]
            for run_no in range(runs + 1):  # the first run warms the process up and is not counted
                files = upload_photos(count, 100 + next(_BATCHES) * count)
                try:
                    seconds, ops = once(browser, base, files, recorder)
                except Exception as exc:  # a page not built (yet) or broken: say so, do not wait again
                    print(f"  upload ({way}): failed ({type(exc).__name__}: {str(exc)[:200]})", flush=True)
                    samples.failures += 1
                    break
                if run_no > 0:
                    samples.times.append(seconds)
                    samples.ops.append(ops)
    return out


def _cell(samples: Samples) -> str:
    stats = samples.stats()
    if stats is None:
        return f"not ready ({samples.failures} timeouts)"
    text = f"{stats.median:.2f} s ({stats.low:.2f}–{stats.high:.2f})"
    return text + (f", {samples.failures} timeouts" if samples.failures else "")


def _over(samples: Samples, floor: Stats | None) -> str:
    stats = samples.stats()
    if stats is None or floor is None:
        return "—"
    return f"{stats.median - floor.median:+.2f} s ({ratio(stats, floor)})"


def _front_end(samples: Samples) -> str:
    if not samples.js_kb:
        return "—"
    return f"{statistics.median(samples.js_kb) / 1024:.1f} MB, {statistics.median(samples.elements):.0f}"


def _ops_cell(samples: Samples) -> str:
    ops = samples.typical_ops()
    return ops.short() if ops else "—"


def run(quick: bool) -> str:
    # Quick mode stays within about ten minutes on a loaded 2-core machine (about 90 browser visits).
    starts, repeats = (2, 2) if quick else (5, 3)
    upload_count, upload_runs = (5, 2) if quick else (10, 5)
    if _chromium() is None:
        return (
            "## Pages in the browser\n\nNot measured: Debian's `chromium` is not installed "
            "(`apt-get install chromium`)."
        )
    from r2.local import LocalServer

    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    server = LocalServer().start()
    try:
        notes = seed(server.endpoint)
        results: dict[float, tuple[dict[str, Samples], dict[str, Samples]]] = {}
        uploads: dict[float, dict[str, Samples]] = {}
        with _browser() as browser:
            floor = measure_app(browser, None, [FLOOR], starts, repeats, script=BENCH / "apps" / "empty.py")
            for delay in DELAYS:
                print(f"  pages with {delay * 1000:.0f} ms added per S3 request", flush=True)
                with latency_proxy(server.endpoint, delay) as (endpoint, recorder):
                    results[delay] = measure_app(
                        browser,
                        app_env(endpoint),
                        PAGES,
                        starts,
                        repeats,
                        recorder,
                        on_start=lambda base: allow_origin(server.endpoint, base),
                    )
                    uploads[delay] = measure_uploads(
                        browser,
                        app_env(endpoint),
                        recorder,
                        upload_count,
                        upload_runs,
                        on_start=lambda base: allow_origin(server.endpoint, base),
                    )
    finally:
        server.stop()
    return render(results, floor, notes, starts, repeats) + "\n\n" + render_uploads(uploads, upload_count)


def render(
    results: dict[float, tuple[dict[str, Samples], dict[str, Samples]]],
    floor: tuple[dict[str, Samples], dict[str, Samples]],
    notes: list[str],
    starts: int,
    repeats: int,
) -> str:
    fast_first, fast_repeat = results[DELAYS[0]]
    slow_first, slow_repeat = results[DELAYS[1]]
    floor_first, floor_repeat = floor[0][FLOOR.label], floor[1][FLOOR.label]
    floor_stats = floor_repeat.stats()
    rows = []
    placeholders = []
    errors = []
    for spec in PAGES:
        label = spec.label
        fr = fast_repeat[label]
        if any(r[label].placeholder for r in (fast_first, fast_repeat, slow_first, slow_repeat)):
            placeholders.append(label)
        if not spec.errors_expected and any(
            r[label].errors for r in (fast_first, fast_repeat, slow_first, slow_repeat)
        ):
            errors.append(label)
        rows.append(
            [
                label,
                _cell(fast_first[label]),
                _cell(fr),
                _over(fr, floor_stats),
                _cell(slow_first[label]),
                _cell(slow_repeat[label]),
                _over(slow_repeat[label], floor_stats),
                _front_end(fr),
                f"{_ops_cell(fast_first[label])} / {_ops_cell(fr)}",
            ]
        )
    rows.append(
        [
            FLOOR.label,
            _cell(floor_first),
            _cell(floor_repeat),
            "—",
            "same",
            "same",
            "—",
            _front_end(floor_repeat),
            "none",
        ]
    )

    plot = plot_path("pages")
    groups = [s.label for s in PAGES] + [FLOOR.label]
    bar_plot(
        plot,
        "Time until the page is rendered and interactive (headless Chromium)",
        groups,
        {
            "repeat visit, local": [fast_repeat[s.label].stats() for s in PAGES] + [floor_stats],
            "repeat visit, +100 ms/S3 request": [slow_repeat[s.label].stats() for s in PAGES] + [floor_stats],
            "first visit, +100 ms/S3 request": [slow_first[s.label].stats() for s in PAGES] + [floor_first.stats()],
        },
    )

    lines = [
        "## Pages in the browser",
        "",
        "Time from the start of navigation until the page is rendered and interactive in headless Chromium "
        "(Streamlit's script finished so the running indicator is gone, the title and the main widget shown, "
        "no spinner; Browse: 60 tiles and every thumbnail in view loaded), with the app's S3 endpoint on a "
        "loopback proxy adding nothing (local) or 100 ms per S3 request, the browser's image requests "
        "included. Medians (min–max) over "
        f"{starts} app starts (first visit) and {starts * repeats} new browser sessions (repeat visit). "
        "*Over the floor*: a repeat visit's median minus the empty page's (and the ratio of the two), locally "
        "and with +100 ms per S3 request (the floor makes no S3 request); the goal is at most +0.5 s locally "
        "and +1 s with +100 ms. *Script fetched, elements*: the JavaScript the browser fetched for a repeat "
        "visit (a new session has nothing cached; Streamlit loads a widget type's code when the page first "
        "shows one) and the Streamlit elements in the page, hidden ones included. "
        "S3 operations are counted at the proxy per visit (Class A + Class B): first / repeat visit.",
        "",
        table(
            [
                "Page",
                "First visit, local",
                "Repeat visit, local",
                "Over the floor",
                "First visit, +100 ms",
                "Repeat visit, +100 ms",
                "Over the floor",
                "Script fetched, elements",
                "S3 ops first / repeat",
            ],
            rows,
        ),
        "",
        'What "main widget" means per page: '
        + "; ".join(f"{s.label}: {s.what}" for s in PAGES)
        + ". The floor is a Streamlit page with a title and a line of text, served by the same `streamlit run`.",
        "",
        image_md(plot, "Page times, local and with 100 ms per S3 request"),
    ]
    browse = PAGES[1].label
    ops = slow_first[browse].typical_ops()
    if ops is not None and not slow_first[browse].placeholder:
        lines += ["", cost_line(ops, "first Browse visit (LIST, thumbnails fetched by the browser)")]
    if placeholders:
        lines += [
            "",
            'Pages still showing their "Coming soon" placeholder when this ran (their time is the frame\'s, '
            f"not the page's): {', '.join(placeholders)}.",
        ]
    if errors:
        lines += ["", f"Pages that showed an error message during a visit: {', '.join(errors)}."]
    lines += [f"\nNote: {n}." for n in notes]
    return "\n".join(lines)


def render_uploads(uploads: dict[float, dict[str, Samples]], count: int) -> str:
    lines = [
        "### Uploading through the Upload page",
        "",
        f"{count} photo-like JPEGs (2000×1500, about 1.2 MB each) picked on the Upload page in Chromium, two "
        "ways. *Direct*: the direct-upload component (the browser PUTs each file to the bucket through a "
        "presigned URL, then the app verifies it and makes the thumbnail), timed from the pick until the page "
        f'says "{count} of {count} file(s) stored.". *Through the app*: `st.file_uploader`, timed from '
        f'pressing "Upload {count} files" until "{count} of {count} uploaded" (checked, cleaned, stored without '
        "overwriting, thumbnails, audit). Median (min–max) over the runs after one warm-up in the same app "
        "process; S3 operations counted at the proxy (the browser's PUTs and preflights included).",
        "",
    ]
    rows = []
    costs = []
    for way, label in (("direct", "Direct (browser → bucket)"), ("app", "Through the app")):
        local, slow = uploads[DELAYS[0]][way], uploads[DELAYS[1]][way]
        if not local.times or not slow.times:
            rows.append([label, "not measured (the page has no such path, or it failed)", "", "", "", ""])
            continue
        local_stats, slow_stats = Stats.of(local.times), Stats.of(slow.times)
        ops = slow.typical_ops() or OpsCount()
        rows.append(
            [
                label,
                _cell(local),
                _cell(slow),
                ratio(slow_stats, local_stats),
                f"{local_stats.median / count:.2f} s / {slow_stats.median / count:.2f} s",
                ops.per(count).short(),
            ]
        )
        costs.append(cost_line(ops.per(count), f"image uploaded {label.lower()}"))
    lines += [
        table(
            [
                f"{count} images",
                "Local",
                "+100 ms per S3 request",
                "Ratio",
                "Per image, local / +100 ms",
                "S3 operations per image",
            ],
            rows,
        ),
        "",
        *[f"- {c}" for c in costs],
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # a quick look without the harness
    start = time.monotonic()
    print(run(quick=True))
    print(f"took {time.monotonic() - start:.0f} s")
