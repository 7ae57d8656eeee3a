"""Bulk work: move N images between folders, ZIP 200 MiB, delete a folder of 10,000 objects.

Moves and deletes run behind the loopback proxy adding 100 ms per request (as R2 is far away), with
the requests counted; the move is compared with a sequential boto3 copy + delete loop (no thumbnails,
no checks). The ZIP's memory is the peak RSS of a separate process (the command line streaming to
/dev/null, and the app's path streaming into the bucket) minus the same process zipping 4 bytes.
One run each: these take minutes, and the ratios are what matter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from bench.common import ROOT, latency_proxy, local_bucket, table
from r2 import bulk, bulk_delete
from r2.client import CallCounter, make_client
from tests.support.seeding import seed

BUCKET = "bench-bulk"
DELAY = 0.1
CLI = (
    "import resource, sys\nfrom r2.cli import main\ncode = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(code)"
)
APP = (
    "import resource, sys\nfrom r2.client import make_client\nfrom r2.settings import load_settings\n"
    "from r2 import bulk, zipdown\ns = load_settings(); c = make_client(s)\n"
    "zipdown.zip_to_bucket(c, s.bucket, bulk.select_folder(c, s.bucket, sys.argv[1]))\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"
)


def _peak(env: dict[str, str], code: str, *args: str) -> tuple[int, float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return int(result.stderr.strip().splitlines()[-1]), time.monotonic() - started


def _calls(counter: CallCounter) -> str:
    return ", ".join(f"{n} {op}" for op, n in sorted(counter.calls.items()))


def run(quick: bool) -> str:
    images, deleted, zip_mib = (200, 10_000, 200) if quick else (1000, 10_000, 200)
    rows: list[list[Any]] = []
    with local_bucket(BUCKET) as (env, settings, _):
        seed(BUCKET, [(f"a/{i:05d}.jpg", 100_000) for i in range(images)])
        seed(BUCKET, [(f".thumbs/a/{i:05d}.jpg.webp", 5_000) for i in range(images)])
        seed(BUCKET, [(f"s/{i:05d}.jpg", 100_000) for i in range(images)])
        seed(BUCKET, [(f"d/{i:05d}.jpg", 1) for i in range(deleted)])
        seed(BUCKET, [(f"z/{i:02d}.jpg", zip_mib * 1024 * 1024 // 10) for i in range(10)] + [("tiny/a.jpg", 4)])
        with latency_proxy(settings.endpoint, DELAY) as (endpoint, _):
            far = make_client(settings.with_endpoint(endpoint, settings.access_key_id, settings.secret_access_key))
            counter = CallCounter(far)
            started = time.monotonic()
            plan = bulk.plan_transfer(far, BUCKET, bulk.select_folder(far, BUCKET, "a/"), "b/")
            result = bulk.run_transfer(far, BUCKET, plan)
            assert result.ok
            rows.append(
                [
                    f"move {images} images + thumbnails (`r2.bulk`)",
                    f"{time.monotonic() - started:.1f} s",
                    _calls(counter),
                ]
            )
            counter.reset()
            started = time.monotonic()
            for i in range(images):
                far.copy_object(
                    Bucket=BUCKET, Key=f"t/{i:05d}.jpg", CopySource={"Bucket": BUCKET, "Key": f"s/{i:05d}.jpg"}
                )
                far.delete_object(Bucket=BUCKET, Key=f"s/{i:05d}.jpg")
            rows.append(
                [
                    f"sequential boto3 copy + delete, {images} images, no thumbnails",
                    f"{time.monotonic() - started:.1f} s",
                    _calls(counter),
                ]
            )
            counter.reset()
            started = time.monotonic()
            dplan = bulk_delete.plan_delete(far, BUCKET, bulk.select_folder(far, BUCKET, "d/"))
            report = bulk_delete.run_delete(far, BUCKET, dplan)
            assert report.ok
            rows.append(
                [
                    f"delete a folder of {deleted:,} objects (listing included)",
                    f"{time.monotonic() - started:.1f} s",
                    _calls(counter),
                ]
            )
            counter.close()
        zips = []
        for label, code, big, small in (
            ("command line `zip z/ -o -`", CLI, ("zip", "z/", "-o", "-"), ("zip", "tiny/", "-o", "-")),
            ("the app: streamed into the bucket", APP, ("z/",), ("tiny/",)),
        ):
            base, _ = _peak(env, code, *small)
            peak, seconds = _peak(env, code, *big)
            zips.append(
                [label, f"{(peak - base) / 1024:.1f} MiB", f"{seconds:.1f} s", f"{zip_mib / seconds:.0f} MiB/s"]
            )
    return "\n".join(
        [
            "## Bulk work: move, folder delete, ZIP",
            "",
            f"Behind the loopback proxy adding {DELAY * 1000:.0f} ms per request; one run each.",
            "",
            table(["what", "time", "requests"], rows),
            "",
            f"ZIP of {zip_mib} MiB (10 objects, local server, no added latency): peak memory growth of the process "
            "over zipping 4 bytes (goal < 32 MiB; 0 means the streaming never rose above the peak the process "
            "reached while starting, so the data in flight is below that margin), time including process "
            "start-up, throughput.",
            "",
            table(["path", "peak growth", "time", "throughput"], zips),
        ]
    )
