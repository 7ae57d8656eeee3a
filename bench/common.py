"""Helpers shared by benchmarks: timing statistics, Markdown tables, plots, S3 operation costs, the machine.

Benchmarks run on loopback only, in bounded loops. Timings are medians over several runs with min/max;
comparisons are ratios of figures measured in the same run, because these machines are noisy.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from r2.settings import Settings
from r2.usage.analytics import CLASS_A, CLASS_B

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ROOT / "docs" / "bench"  # docs/bench/<topic>.md and its plots (<topic>*.png)


@dataclass(frozen=True)
class Stats:
    runs: int
    median: float  # seconds
    low: float
    high: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        if not samples:
            raise ValueError("no samples")
        return cls(len(samples), statistics.median(samples), min(samples), max(samples))

    def ms(self) -> str:
        return f"{self.median * 1000:.1f} ms (min {self.low * 1000:.1f}, max {self.high * 1000:.1f}, n={self.runs})"

    def s(self) -> str:
        return f"{self.median:.2f} s (min {self.low:.2f}, max {self.high:.2f}, n={self.runs})"


def measure(fn: Callable[[], object], runs: int = 7, warmup: int = 1) -> Stats:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Stats.of(times)


def ratio(numerator: Stats | float, denominator: Stats | float) -> str:
    """`a / b` of two medians measured in the same run, as `3.2×`."""
    a = numerator.median if isinstance(numerator, Stats) else numerator
    b = denominator.median if isinstance(denominator, Stats) else denominator
    return f"{a / b:.1f}×" if b else "n/a"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; cells are rendered with str()."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


def _versions(names: Sequence[str]) -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in names:
        with suppress(PackageNotFoundError):
            out.append(f"{name} {version(name)}")
    return ", ".join(out)


def machine() -> str:
    """One line: CPU, cores, memory, OS, Python and the versions that shape the figures."""
    return (
        f"{_cpu_model()} ({platform.machine()}), {os.cpu_count()} cores, {_memory_gib()}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        + _versions(("streamlit", "boto3", "moto", "pillow"))
    )


# --- plots -----------------------------------------------------------------------------------------


def plot_path(name: str) -> Path:
    """Where a plot named `name` (no extension) is written: beside the sections, docs/bench/<name>.png."""
    SECTIONS.mkdir(parents=True, exist_ok=True)
    return SECTIONS / f"{name}.png"


def image_md(path: Path, alt: str) -> str:
    """A Markdown image for a plot, relative to the section file (the harness adjusts it for benchmarks.md)."""
    return f"![{alt}]({path.name})"


def bar_plot(
    path: Path,
    title: str,
    groups: Sequence[str],
    series: Mapping[str, Sequence[Stats | None]],
    unit: str = "s",
    note: str = "",
) -> Path:
    """Grouped horizontal bars: one group per label, one bar per series; whiskers show min..max.

    `series` maps a series name to one Stats per group (None = not measured). Values in seconds are
    drawn in `unit` ("s" or "ms").
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale = 1000.0 if unit == "ms" else 1.0
    names = list(series)
    height = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.42 * len(groups) * max(1, len(names)) ** 0.7))
    for i, name in enumerate(names):
        ys, widths, lo, hi = [], [], [], []
        for g, stats in enumerate(series[name]):
            if stats is None:
                continue
            ys.append(g + (i - (len(names) - 1) / 2) * height)
            widths.append(stats.median * scale)
            lo.append((stats.median - stats.low) * scale)
            hi.append((stats.high - stats.median) * scale)
        ax.barh(ys, widths, height=height * 0.95, xerr=[lo, hi], capsize=2, label=name)
        for y, w, up in zip(ys, widths, hi, strict=True):  # the median, right of the max whisker
            ax.text(w + up, y, f" {w:.2f}" if unit == "s" else f" {w:.0f}", va="center", fontsize=7)
    ax.set_yticks(range(len(groups)), list(groups))
    ax.invert_yaxis()
    ax.set_xlabel(f"median time ({unit}); whiskers: min..max" + (f" — {note}" if note else ""))
    ax.set_title(title)
    if len(names) > 1:
        ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- S3 operations and their cost on R2 --------------------------------------------------------------

# What R2 bills comes from the library (Cloudflare's lists of Class A and Class B operations, which the
# Usage page uses too); every other operation is free. The wire names two operations otherwise.
BILLED_AS = {"ListObjectsV2": "ListObjects", "CreateBucket": "PutBucket"}
# The library's defaults (R2's list prices), so a benchmark's dollars never disagree with the app's.
PRICE_A_PER_MILLION = Settings.class_a_price_per_million
PRICE_B_PER_MILLION = Settings.class_b_price_per_million


def operation_class(operation: str) -> str:
    """The billing class ("A", "B" or "free") of an S3 operation name as R2 bills it ("?" when unknown)."""
    billed = BILLED_AS.get(operation, operation)
    if billed in CLASS_A:
        return "A"
    if billed in CLASS_B:
        return "B"
    return "?" if operation == "?" else "free"


def s3_operation(method: str, path: str) -> str:
    """The S3 operation of a path-style request seen on the wire (`/bucket/key?query`)."""
    parts = urlsplit(path)
    query = parse_qs(parts.query, keep_blank_values=True)
    segments = parts.path.lstrip("/").split("/", 1)
    bucket, key = segments[0], (segments[1] if len(segments) > 1 else "")
    if method == "OPTIONS":
        return "Preflight"
    if not bucket:
        return "ListBuckets" if method == "GET" else "?"
    if not key:  # bucket-level
        if "cors" in query:
            return {"GET": "GetBucketCors", "PUT": "PutBucketCors", "DELETE": "DeleteBucketCors"}.get(method, "?")
        if method == "GET":
            if "location" in query:
                return "GetBucketLocation"
            if "uploads" in query:
                return "ListMultipartUploads"
            if "lifecycle" in query:
                return "GetBucketLifecycleConfiguration"
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        return {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method, "?")
    if method == "GET":
        return "ListParts" if "uploadId" in query else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "PUT":
        return "UploadPart" if "partNumber" in query else "PutObject"
    if method == "POST":
        return "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    return "?"


@dataclass(frozen=True)
class OpsCount:
    """S3 operations by R2 billing class."""

    a: float = 0  # counts; fractions when averaged per item
    b: float = 0
    free: float = 0
    unknown: float = 0
    by_operation: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, operations: Mapping[str, float]) -> OpsCount:
        totals: Counter[str] = Counter()
        for op, n in operations.items():
            totals[operation_class(op)] += n
        return cls(totals["A"], totals["B"], totals["free"], totals["?"], tuple(sorted(operations.items())))

    def dollars(self, per: int = 1) -> float:
        return per * (self.a * PRICE_A_PER_MILLION + self.b * PRICE_B_PER_MILLION) / 1_000_000

    def short(self) -> str:
        """`1 A + 60 B` (with the free ones when any)."""
        text = f"{self.a:g} A + {self.b:g} B"
        if self.free:
            text += f" + {self.free:g} free"
        if self.unknown:
            text += f" + {self.unknown:g} other"
        return text

    def per(self, items: int) -> OpsCount:
        """The same operations divided by `items` (per image of a batch, per page of a scan)."""
        return OpsCount.of({op: n / items for op, n in self.by_operation})

    def detail(self) -> str:
        return ", ".join(f"{op} {n:g}" for op, n in self.by_operation) or "none"


def cost_line(ops: OpsCount, what: str, per: int = 1_000_000) -> str:
    """One sentence: what `per` repetitions of `what` cost at R2's list prices."""
    return (
        f"S3 operations per {what}: {ops.short()} ({ops.detail()}); at R2's list prices "
        f"(Class A ${PRICE_A_PER_MILLION:.2f}/M, Class B ${PRICE_B_PER_MILLION:.2f}/M) "
        f"{per:,} of them cost ${ops.dollars(per):,.2f} (before the free tier)."
    )


@dataclass
class OpRecorder:
    """Counts S3 operations seen on the wire by the latency proxy (every client: app, browser, CLI)."""

    counts: Counter[str] = field(default_factory=Counter)

    def __call__(self, method: str, path: str) -> None:
        self.counts[s3_operation(method, path)] += 1

    def take(self) -> OpsCount:
        """The operations since the last take, then start counting afresh."""
        ops = OpsCount.of(dict(self.counts))
        self.counts.clear()
        return ops


@contextmanager
def local_bucket(bucket: str, **extra: str) -> Iterator[tuple[dict[str, str], Any, Any]]:
    """A local S3 server (moto, in this process) with an empty `bucket`. Yields the R2_* settings as
    environment values (for `streamlit run`), the parsed `Settings` and a client; `extra` adds settings."""
    from r2.client import make_client
    from r2.local import LocalServer
    from r2.settings import parse_settings

    server = LocalServer().start()
    try:
        env = {
            "R2_ENDPOINT": server.endpoint,
            "R2_ACCESS_KEY_ID": "bench",
            "R2_SECRET_ACCESS_KEY": "bench-secret-key-0123456789",
            "R2_BUCKET": bucket,
            **extra,
        }
        settings = parse_settings(env)
        client = make_client(settings)
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "auto"})
        yield env, settings, client
    finally:
        server.stop()


@contextmanager
def latency_proxy(upstream: str, delay: float) -> Iterator[tuple[str, OpRecorder]]:
    """The loopback proxy of tests/support/fault_proxy.py in front of `upstream`, adding `delay` s per request.

    Yields (endpoint, recorder). One implementation serves the reliability tests and the benchmarks.
    """
    from tests.support.fault_proxy import FaultProxy

    recorder = OpRecorder()
    proxy = FaultProxy(upstream, delay=delay, on_request=recorder).start()
    try:
        yield proxy.endpoint, recorder
    finally:
        proxy.stop()


@contextmanager
def latency_process(upstream: str, delay: float) -> Iterator[str]:
    """The same proxy in its own process (its own GIL: it takes no CPU from the code being timed).

    Yields the endpoint. No operation counting (count with `r2.client.CallCounter` in the measured process).
    """
    import subprocess
    import sys

    port = urlsplit(upstream).port
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fault_proxy", str(port), str(delay)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


_RELATIVE_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|/|#)([^)\s]+)\)", re.IGNORECASE)


def relink(markdown: str, prefix: str) -> str:
    """Prefix relative Markdown link/image targets with `prefix` (a section moved into another folder)."""
    return _RELATIVE_LINK.sub(lambda m: f"]({prefix}{m.group(1)})", markdown)
