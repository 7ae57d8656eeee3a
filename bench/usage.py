"""Usage scan: listing speed vs boto3, rclone and the AWS CLI; aggregator memory; parallel speed-up.

The bucket: 20,000 keys in 20 top-level folders, served by `bench.list_server` (a fast read-only LIST
server: moto re-sorts the bucket per page and would measure itself), directly and behind the
benchmarks' latency proxy (`tests/support/fault_proxy.py`) adding ~100 ms per request (about R2 from far
away). Both run in their own processes, so no contender shares a GIL with the server. A correctness check
against moto (seeded through its in-process backend) runs first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from bench.common import Stats, bar_plot, image_md, measure, plot_path

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "bench"
FOLDERS, PER_FOLDER = 20, 1000
KEY_ID, SECRET = "bench-key", "bench-secret-0123456789"
DELAY = 0.1


def objects() -> list[tuple[str, int]]:
    return [(f"f{p:02d}/img-{i:05d}.jpg", 1000 + i) for p in range(FOLDERS) for i in range(PER_FOLDER)]


def settings_for(endpoint: str):  # type: ignore[no-untyped-def]
    from r2.settings import parse_settings

    return parse_settings(
        {"R2_ENDPOINT": endpoint, "R2_ACCESS_KEY_ID": KEY_ID, "R2_SECRET_ACCESS_KEY": SECRET, "R2_BUCKET": BUCKET}
    )


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_", "R2_"))}
    env.update(AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1")
    return env


def rclone(endpoint: str, *extra: str) -> Callable[[], object]:
    env = child_env()
    env.update(
        RCLONE_CONFIG_B_TYPE="s3",
        RCLONE_CONFIG_B_PROVIDER="Cloudflare",
        RCLONE_CONFIG_B_ENDPOINT=endpoint,
        RCLONE_CONFIG_B_ACCESS_KEY_ID=KEY_ID,
        RCLONE_CONFIG_B_SECRET_ACCESS_KEY=SECRET,
        RCLONE_CONFIG_B_REGION="auto",
        RCLONE_CONFIG_B_FORCE_PATH_STYLE="true",
    )

    def run() -> None:
        out = subprocess.run(
            ["rclone", "size", "--json", "--config", "/dev/null", f"B:{BUCKET}", *extra],
            env=env, capture_output=True, text=True, timeout=300, check=True,
        )  # fmt: skip
        assert json.loads(out.stdout)["count"] == FOLDERS * PER_FOLDER, out.stdout

    return run


def aws_cli(endpoint: str) -> Callable[[], object]:
    def run() -> None:
        out = subprocess.run(
            ["aws", "s3", "ls", f"s3://{BUCKET}", "--recursive", "--summarize", "--endpoint-url", endpoint],
            env=child_env(), capture_output=True, text=True, timeout=300, check=True,
        )  # fmt: skip
        assert f"Total Objects: {FOLDERS * PER_FOLDER}" in out.stdout

    return run


def contenders(endpoint: str) -> list[tuple[str, Callable[[], object], bool]]:
    """(name, run once, slow) for one endpoint."""
    from r2.client import make_client
    from r2.usage import UsageScan
    from r2.usage.listing import Boto3Lister, ObstoreLister

    settings = settings_for(endpoint)
    client = make_client(settings)
    total = FOLDERS * PER_FOLDER

    def usage_scan(engine: str, workers: int) -> Callable[[], object]:
        def run() -> None:
            lister = ObstoreLister.from_settings(settings) if engine == "obstore" else Boto3Lister(client, BUCKET)
            report = UsageScan(lister, BUCKET, workers=workers, client=client).run()
            assert report.objects == total

        return run

    def boto3_loop() -> None:
        count = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            count += len(page.get("Contents", []))
        assert count == total

    found: list[tuple[str, Callable[[], object], bool]] = [
        ("usage scan, obstore, 32 folders in parallel (the app)", usage_scan("obstore", 32), False),
        ("usage scan, obstore, sequential", usage_scan("obstore", 1), False),
        ("usage scan, boto3, 32 folders in parallel", usage_scan("boto3", 32), True),
        ("usage scan, boto3, sequential", usage_scan("boto3", 1), True),
        ("plain boto3 paginator loop", boto3_loop, True),
    ]
    if shutil.which("rclone"):
        found.append(("`rclone size` (default: ListR)", rclone(endpoint), True))
        per_folder = rclone(endpoint, "--disable", "ListR")
        found.append(("`rclone size --disable ListR` (parallel per folder)", per_folder, True))
    if shutil.which("aws"):
        found.append(("`aws s3 ls --recursive --summarize`", aws_cli(endpoint), True))
    return found


MEMORY_CHILD = textwrap.dedent(
    """
    import gc, json, random, resource, sys, tracemalloc
    from datetime import UTC, datetime
    from r2.usage import Aggregator
    from r2.usage.listing import Entry

    n, traced = int(sys.argv[1]), sys.argv[2] == "traced"
    exts = ["jpg", "png", "webp", "gif", "avif", "heic", "tiff", "bmp", "svg", "json", "txt", "mov"]
    months = [datetime(2023 + m // 12, m % 12 + 1, 5, tzinfo=UTC) for m in range(36)]

    def stream():
        rng = random.Random(1)
        for i in range(n):
            yield Entry(f"f{i % 200}/s{i % 7}/{i:09d}.{exts[i % 12]}", rng.randrange(1, 5_000_000),
                        months[i % 36], "STANDARD")

    agg = Aggregator(depth=2, top_n=100)
    gc.collect()
    if traced:
        tracemalloc.start()
    def rss_kib():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    base, base_peak = rss_kib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for entry in stream():
        agg.add(entry)
    out = {"objects": agg.total.objects, "rss_kib": rss_kib() - base, "groups": len(agg.by_prefix),
           "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_peak}
    if traced:
        out["traced_peak"] = tracemalloc.get_traced_memory()[1]
    print(json.dumps(out))
    """
)


def memory(n: int, traced: bool) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(n), "traced" if traced else "rss"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    return dict(json.loads(out.stdout))


def moto_check() -> str:
    """Exact totals against moto (the test server), seeded through its in-process backend."""
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    from r2.client import make_client
    from r2.local import LocalServer
    from r2.usage import UsageScan
    from r2.usage.listing import ObstoreLister
    from tests.support.seeding import seed

    server = LocalServer().start()
    try:
        settings = settings_for(server.endpoint)
        client = make_client(settings)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
        items = objects()
        seed(BUCKET, items)
        report = UsageScan(ObstoreLister.from_settings(settings), BUCKET, client=client).run()
        ok = (report.objects, report.bytes) == (len(items), sum(s for _, s in items))
        return f"moto check: {report.objects:,} objects, {report.bytes:,} bytes, exact: {'yes' if ok else 'NO'}"
    finally:
        server.stop()


def spawn(module: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    """Run a helper server in its own process (its own GIL); returns it and the port it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=10)


def table(rows: list[tuple[str, Stats]], base: Stats) -> list[str]:
    total = FOLDERS * PER_FOLDER
    lines = ["| lister | time | objects/s | vs the app's scan |", "|---|---|---|---|"]
    for name, stats in rows:
        if stats is base:
            lines.append(f"| **{name}** | {stats.ms()} | {total / stats.median:,.0f} | 1.0 |")
        else:
            lines.append(
                f"| {name} | {stats.ms()} | {total / stats.median:,.0f} | {ratio(stats.median, base.median)} |"
            )
    return lines


def ratio(other: float, ours: float) -> str:
    """How `other` compares with the app's scan, in words that never read "0.5x slower"."""
    return f"{other / ours:.1f}x slower" if other >= ours else f"{ours / other:.1f}x faster"


def run(quick: bool) -> str:
    fast_runs, slow_runs = (3, 2) if quick else (7, 5)
    lines = [
        "## Usage scan",
        "",
        f"{FOLDERS * PER_FOLDER:,} keys in {FOLDERS} folders on a fast local LIST server (`bench/list_server.py`, "
        "its own process), then behind `tests/support/fault_proxy.py` (own process) adding "
        f"{DELAY * 1000:.0f} ms per request. "
        "Every contender's count is checked. Medians with min/max; ratios from the same run.",
        "",
        moto_check(),
        "",
    ]
    server, server_port = spawn("bench.list_server", BUCKET, str(FOLDERS), str(PER_FOLDER))
    speedups: dict[str, float] = {}
    measured: dict[str, list[tuple[str, Stats]]] = {}
    try:
        for label, proxy in (("no added latency", None), (f"{DELAY * 1000:.0f} ms per request", DELAY)):
            proxied, port = (
                spawn("tests.support.fault_proxy", str(server_port), str(proxy)) if proxy else (None, server_port)
            )
            endpoint = f"http://127.0.0.1:{port}"
            try:
                rows = []
                for name, fn, slow in contenders(endpoint):
                    runs, warmup = (slow_runs, 0 if quick else 1) if slow else (fast_runs, 1)
                    rows.append((name, measure(fn, runs=runs, warmup=warmup)))
            finally:
                if proxied:
                    stop(proxied)
            lines += [f"### {label}", "", *table(rows, rows[0][1]), ""]
            measured[label] = rows
            by_name = {n: s for n, s in rows}
            speedups[label + ", obstore"] = (
                by_name["usage scan, obstore, sequential"].median
                / by_name["usage scan, obstore, 32 folders in parallel (the app)"].median
            )
            speedups[label + ", boto3"] = (
                by_name["usage scan, boto3, sequential"].median
                / by_name["usage scan, boto3, 32 folders in parallel"].median
            )
    finally:
        stop(server)
    names = [name for name, _ in next(iter(measured.values()))]
    plot = bar_plot(
        plot_path("usage-scan"),
        f"Listing {FOLDERS * PER_FOLDER:,} keys (lower is better)",
        names,
        {label: [dict(rows).get(name) for name in names] for label, rows in measured.items()},
    )
    lines += [image_md(plot, "Scan time per lister, with and without added latency"), ""]
    missing = [t for t in ("rclone", "aws") if not shutil.which(t)]
    if missing:
        lines += [f"Not measured (not installed): {', '.join(missing)}.", ""]
    lines += ["### Parallel over sequential (same lister)", ""]
    for k, v in speedups.items():
        words = f"{v:.1f}x faster" if v >= 1 else f"{1 / v:.1f}x slower"
        lines.append(f"- {k}: parallel is {words} than sequential")
    n = 1_000_000
    rss = memory(n, traced=False)
    traced = memory(n, traced=True)
    lines += [
        "",
        "### Aggregator memory, 1,000,000 synthetic listing entries",
        "",
        f"Fed one at a time (200 folders x 7 sub-folders at depth 2, 12 types, 36 months, top 100 largest); "
        f"{rss['groups']:,} folder groups.",
        "",
        f"- RSS growth while feeding them: {rss['rss_kib'] / 1024:.1f} MiB; peak RSS growth above the start-up peak: "
        f"{rss['peak_kib'] / 1024:.1f} MiB (target: under 50 MiB)",
        f"- tracemalloc peak: {traced['traced_peak'] / 2**20:.2f} MiB",
    ]
    return "\n".join(lines)
