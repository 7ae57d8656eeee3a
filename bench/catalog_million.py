"""A bucket of a million objects, end to end: find an image by part of its name, by uploader and by a date
range in the real app (headless Chromium) and with `python -m r2 find`, and the app's memory.

The catalog is where the app reads it: a Delta table under `.dashboard/catalog/` in the bucket of a local
S3 server (moto). A few real images are uploaded through the upload pipeline, which records their rows
in a local copy of the table; 1,000,000 synthetic rows (`bench.catalog.synthetic`) are appended to it, and
the table's files are copied to the bucket with boto3. Creating a million objects is not needed to search
a million rows (the search never lists the bucket), and the images found are real objects that open.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from deltalake import write_deltalake

from bench.catalog import T0, synthetic
from bench.common import ROOT, Stats, local_bucket, table
from r2.catalog import CATALOG_PREFIX, Catalog
from r2.client import S3Client
from r2.settings import Settings
from r2.uploads import Uploaded, upload_files
from tests.support import corpus
from tests.support.env import env_from
from tests.support.fault_proxy import FaultProxy

ROWS = 1_000_000
QUICK_ROWS = 20_000
TIMEOUT_MS = 180_000  # the first visit reads the whole table from the bucket
IMAGE = "Clinic Front Door.jpg"  # the image the searches look for
UPLOADER = "user7@example.com"  # one of the synthetic uploaders: a search by it matches 1 row in 50


@dataclass(frozen=True)
class Query:
    """One search, as a user types it into the Search page and as `find`'s options."""

    label: str
    fields: dict[str, str]  # the Search form's field label -> what is typed
    cli: list[str]


def _queries(since: date, today: date) -> list[Query]:
    tomorrow = today + timedelta(days=1)  # `find --until` is exclusive; the page's "on or before" is not
    return [
        Query("part of the name: `front door`", {"Name contains": "front door"}, ["--name", "front door"]),
        Query("uploader: `user7@`", {"Uploaded by": "user7@"}, ["--uploader", "user7@"]),
        Query(
            f"date range: {since.isoformat()} to today",
            {"Uploaded on or after": since.isoformat(), "Uploaded on or before": today.isoformat()},
            ["--since", since.isoformat(), "--until", tomorrow.isoformat()],
        ),
    ]


def _fill_bucket(client: S3Client, settings: Settings, rows: int) -> tuple[str, float, int]:
    """The images and the catalog table in the bucket; returns the key of IMAGE, the build's seconds and
    the table's bytes."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="catalog-million-") as folder:
        local = Catalog(settings, client, local_path=folder)
        files = [
            (UPLOADER, IMAGE, corpus.jpeg_gps()),
            ("bob@example.com", "garden.png", corpus.plain("PNG")),
            ("ann@example.com", "Back yard.webp", corpus.plain("WEBP")),
        ]
        found, size = "", 0
        for actor, name, data in files:
            (result,) = upload_files(client, settings, [(name, data)], actor=actor, catalog=local)
            if not isinstance(result, Uploaded):
                raise RuntimeError(f"uploading {name} failed: {result}")
            found = found or result.key
        write_deltalake(folder, synthetic(rows), mode="append")
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                key = CATALOG_PREFIX + path.relative_to(folder).as_posix()
                client.upload_file(str(path), settings.bucket, key)
                size += path.stat().st_size
    return found, time.perf_counter() - started, size


def _cli(env: dict[str, str], args: list[str]) -> tuple[float, dict[str, Any]]:
    """One `python -m r2 find ... --json` in a new process: wall time (start, read the table, search)."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(("R2_", "CLOUDFLARE_"))} | env
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "r2", "find", *args, "--json"],
        cwd=ROOT,
        env=child,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"find {args} failed ({done.returncode}): {done.stderr[-500:]}")
    return took, dict(json.loads(done.stdout))


def _mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def _timed(action: Callable[[], None], done: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    done()
    return time.perf_counter() - started


def _type_into(page: Any, label: str, text: str) -> None:
    """Type into the Search form's field `label` as a user does (a date: into its year, month and day)."""
    field = page.get_by_label(label, exact=True)
    field.wait_for(timeout=TIMEOUT_MS)  # a date field's code loads after the page's
    year = page.locator(f'[role=spinbutton][aria-label="year, {label}"]')
    if year.count() == 0:
        field.fill(text)
        return
    year.click()  # typing a segment's digits moves on to the next
    page.keyboard.type(text.replace("-", ""))
    page.keyboard.press("Tab")


@dataclass(frozen=True)
class Browsed:
    first_visit: float  # open /search in a fresh app: the catalog is read from the bucket
    by_query: dict[str, list[float]]  # submit -> the expected total and the image shown
    rss: dict[str, float]  # MiB of the app process: started, without and with the catalog, peak, at the end
    catalog_requests: int  # S3 requests for `.dashboard/catalog/` during the searches (checks for a new version)
    other_requests: int  # the rest: the browser loading the grids' previews


_LOADED = "key => [...document.images].some(i => i.alt === key && i.complete && i.naturalWidth > 0)"


def _browse(
    env: dict[str, str],
    key: str,
    queries: list[Query],
    totals: dict[str, int],
    everything: int,
    runs: int,
    requests: list[str],
) -> Browsed:
    """The searches in the app; `requests` fills with the path of every S3 request the app and browser make."""
    from playwright.sync_api import sync_playwright

    from bench.pages import visit_quietly
    from tests.support.browser import launch, streamlit_process

    by_query: dict[str, list[float]] = {q.label: [] for q in queries}
    with streamlit_process({**env, "R2_DEFAULT_ROLE": "member"}) as (base, proc), sync_playwright() as pw:
        rss = {"started": _mib(proc.pid, "VmRSS:")}
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        visit_quietly(browser, f"{base}/bench-no-such-page")  # the app's imports, without the catalog
        rss["after a page without the catalog"] = _mib(proc.pid, "VmRSS:")
        all_shown = page.get_by_text(re.compile(rf"^{everything:,} match\(es\) "))
        first = _timed(lambda: page.goto(f"{base}/search"), lambda: all_shown.wait_for(timeout=TIMEOUT_MS))
        rss["after /search (its imports, the catalog read)"] = _mib(proc.pid, "VmRSS:")
        rss["peak until then"] = _mib(proc.pid, "VmHWM:")
        before = len(requests)
        for _ in range(runs):
            for query in queries:
                page.goto(f"{base}/search")
                all_shown.wait_for(timeout=TIMEOUT_MS)
                for label, text in query.fields.items():
                    _type_into(page, label, text)
                # This run's elements only (a rerun leaves the previous ones on screen, marked stale).
                fresh = page.locator('[data-testid="stElementContainer"][data-stale="false"]')
                result = fresh.get_by_text(re.compile(rf"^{totals[query.label]:,} match\(es\) "))
                image = fresh.get_by_text(IMAGE, exact=True)

                def shown(result: Any = result, image: Any = image) -> None:
                    result.wait_for(timeout=TIMEOUT_MS)
                    image.wait_for(timeout=TIMEOUT_MS)

                button = page.get_by_role("button", name="Search")
                by_query[query.label].append(_timed(button.click, shown))
        during = [unquote(path) for path in requests[before:]]
        # The image found opens: its preview (a URL signed for the object in the bucket) has loaded.
        page.wait_for_function(_LOADED, arg=key, timeout=TIMEOUT_MS)
        rss[f"peak after {runs * len(queries)} more searches"] = _mib(proc.pid, "VmHWM:")
        rss["at the end"] = _mib(proc.pid, "VmRSS:")
        browser.close()
    catalog = sum(CATALOG_PREFIX in path for path in during)
    return Browsed(first, by_query, rss, catalog, len(during) - catalog)


def run(quick: bool) -> str:
    rows = QUICK_ROWS if quick else ROWS
    runs = 3 if quick else 5
    today = datetime.now(UTC).date()
    newest = (T0 + timedelta(minutes=rows - 1)).date()
    queries = _queries(newest - timedelta(days=7), today)
    with local_bucket("bench-catalog-million") as (env, settings, client):
        key, built, size = _fill_bucket(client, settings, rows)
        clis: dict[str, list[float]] = {q.label: [] for q in queries}
        totals: dict[str, int] = {}
        for _ in range(runs):
            for query in queries:
                took, answer = _cli(env, query.cli)
                if key not in {r["key"] for r in answer["results"]}:
                    raise RuntimeError(f"find {query.cli} did not find {key}")
                clis[query.label].append(took)
                totals[query.label] = int(answer["total"])
        everything = int(_cli(env, [])[1]["total"])
        requests: list[str] = []
        with FaultProxy(settings.endpoint, on_request=lambda _method, path: requests.append(path)) as proxy:
            watched = replace(settings, endpoint=proxy.endpoint)  # the app's and the browser's requests pass here
            browsed = _browse(env_from(watched), key, queries, totals, everything, runs, requests)
    return _section(rows, everything, key, queries, totals, clis, browsed, built, size)


def _section(
    rows: int,
    everything: int,
    key: str,
    queries: list[Query],
    totals: dict[str, int],
    clis: dict[str, list[float]],
    browsed: Browsed,
    built: float,
    size: int,
) -> str:
    searches = table(
        ["Search", "Matches", "Browser: submit → results shown", "CLI: `python -m r2 find … --json`"],
        [
            [q.label, f"{totals[q.label]:,}", Stats.of(browsed.by_query[q.label]).s(), Stats.of(clis[q.label]).s()]
            for q in queries
        ],
    )
    base = browsed.rss["after a page without the catalog"]
    memory = table(
        ["App process (Streamlit server)", "RSS", "Added since the page without the catalog"],
        [[k, f"{v:.0f} MiB", f"{v - base:+.0f} MiB" if v > base else ""] for k, v in browsed.rss.items()],
    )
    cli_all = statistics.median(t for times in clis.values() for t in times)
    return (
        "## Catalog: finding an image among a million objects, in the browser and from the CLI\n\n"
        f"The catalog table of a bucket of {everything:,} objects under `.dashboard/catalog/` in a local S3 "
        f"server (moto, in the benchmark's process): {rows:,} synthetic rows (`bench.catalog.synthetic`: 40 "
        "folders, 50 uploaders, one upload a minute from 2024-01-01) plus three real images uploaded through "
        "the upload pipeline, so the image found opens. Each search looks for "
        f"`{IMAGE}` (key `{key}`, uploaded today by `{UPLOADER}`), and each run checks that it is among the "
        "results, and its preview (a signed URL of the object) loads in the browser. *Browser*: the real app "
        "(`streamlit run app.py`) in headless Chromium; each run opens `/search`, types into the form, clicks "
        "**Search** and waits until the page shows the count of matches that `find` reported and the image's "
        "tile (the rerun, the search, signing 60 preview URLs, drawing the grid). *CLI*: a new process per "
        "run, so each time includes starting Python, reading the table from the bucket and the search (median "
        f"of all CLI runs: {cli_all:.2f} s). The page's date range is inclusive of its last day; `find --until` "
        f"is exclusive, so it gets the next day.\n\n{searches}\n\n"
        f"First visit of `/search` in an app process that has served one page without the catalog (the Search "
        f"page's imports, reading all {everything:,} rows, {size / 1e6:.0f} MB of Parquet and log, from the "
        f"bucket, the first page of results): {browsed.first_visit:.1f} s. Later searches do not read the "
        "table again: it is held in memory, and its log is checked for a new version at most every 30 s; in the "
        f"{sum(map(len, browsed.by_query.values()))} timed searches the app made {browsed.catalog_requests} "
        "request(s) for `.dashboard/catalog/` (those checks), and the browser "
        f"{browsed.other_requests} for the previews of the grids (counted at a proxy in front of the server).\n\n"
        f"{memory}\n\nPutting the table into the bucket (uploads, the synthetic rows, copying the files): "
        f"{built:.1f} s."
    )
