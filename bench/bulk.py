"""Bulk work: move N images between folders, ZIP 200 MiB, delete a folder of 10,000 objects.

Moves and deletes run behind the loopback proxy adding 100 ms per request (as R2 is far away); the
proxy counts every request on the wire, whoever sends it. The move (`r2.bulk`: images and their
thumbnails, every copy verified) is compared, in the same run, with a sequential boto3 copy + delete loop
and with `rclone move` (server-side copies, its default 4 transfers), both on images alone. Each move
goes one way and the next run moves the folder back, so every run moves the same objects. The ZIP's
memory is the growth of the resident set of a separate process (the command line streaming to
/dev/null, and the app's path streaming into the bucket), sampled every 5 ms while it zips, over its
size just before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

from bench.common import OpRecorder, Stats, latency_proxy, local_bucket, ratio, table
from r2 import bulk, bulk_delete
from r2.client import S3Client, make_client
from tests.support.seeding import seed
from tests.support.zip_memory import zip_growth

BUCKET = "bench-bulk"
DELAY = 0.1


def _ops(recorder: OpRecorder) -> str:
    """The requests seen on the wire (a CopyObject is a PUT carrying x-amz-copy-source: no object is uploaded)."""
    ops = recorder.take()
    names = {"PutObject": "CopyObject (PUT)"}
    return ", ".join(f"{n:g} {names.get(op, op)}" for op, n in ops.by_operation) or "none"


def _r2_move(client: S3Client, source: str, dest: str) -> None:
    plan = bulk.plan_transfer(client, BUCKET, bulk.select_folder(client, BUCKET, source), dest)
    assert bulk.run_transfer(client, BUCKET, plan).ok


def _boto3_move(client: S3Client, source: str, dest: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=source):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(source) :]
            client.copy_object(Bucket=BUCKET, Key=dest + name, CopySource={"Bucket": BUCKET, "Key": obj["Key"]})
            client.delete_object(Bucket=BUCKET, Key=obj["Key"])


def _rclone_move(endpoint: str, env: dict[str, str]) -> Callable[[S3Client, str, str], None]:
    config = {
        "RCLONE_CONFIG_B_TYPE": "s3",
        "RCLONE_CONFIG_B_PROVIDER": "Cloudflare",
        "RCLONE_CONFIG_B_ENDPOINT": endpoint,
        "RCLONE_CONFIG_B_ACCESS_KEY_ID": env["R2_ACCESS_KEY_ID"],
        "RCLONE_CONFIG_B_SECRET_ACCESS_KEY": env["R2_SECRET_ACCESS_KEY"],
        "RCLONE_CONFIG_B_REGION": "auto",
        "RCLONE_CONFIG_B_FORCE_PATH_STYLE": "true",
    }
    child = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_", "R2_"))} | config

    def move(_: S3Client, source: str, dest: str) -> None:
        subprocess.run(
            ["rclone", "move", "--config", "/dev/null", f"B:{BUCKET}/{source}", f"B:{BUCKET}/{dest}"],
            env=child, capture_output=True, text=True, timeout=1800, check=True,
        )  # fmt: skip

    return move


def _moves(
    client: S3Client, recorder: OpRecorder, images: int, runs: int, tools: list[tuple[str, str, Any, int]]
) -> tuple[list[list[Any]], dict[str, Stats]]:
    """Each tool moves its folder `runs` times (there and back); returns the table rows and the times."""
    rows: list[list[Any]] = []
    times: dict[str, Stats] = {}
    for label, folder, move, tool_runs in tools:
        samples = []
        ops = ""
        for run in range(min(runs, tool_runs)):
            source, dest = (f"{folder}/a/", f"{folder}/b/") if run % 2 == 0 else (f"{folder}/b/", f"{folder}/a/")
            recorder.take()
            started = time.perf_counter()
            move(client, source, dest)
            samples.append(time.perf_counter() - started)
            ops = ops or _ops(recorder)
            assert len(bulk.list_under(client, BUCKET, dest)[0]) == images, f"{label}: not every image moved"
        times[label] = Stats.of(samples)
        rows.append([label, times[label].s(), ops])
    return rows, times


def run(quick: bool) -> str:
    images, deleted, zip_mib, runs = (100, 2_000, 20, 1) if quick else (1_000, 10_000, 200, 3)
    have_rclone = shutil.which("rclone") is not None
    with local_bucket(BUCKET) as (env, settings, _):
        for folder in ("r2", "boto3", "rclone"):
            seed(BUCKET, [(f"{folder}/a/{i:05d}.jpg", 20_000) for i in range(images)])
        seed(BUCKET, [(f".thumbs/r2/a/{i:05d}.jpg.webp", 2_000) for i in range(images)])
        seed(BUCKET, [(f"z/{i:02d}.jpg", zip_mib * 1024 * 1024 // 10) for i in range(10)])
        with latency_proxy(settings.endpoint, DELAY) as (endpoint, recorder):
            far = make_client(settings.with_endpoint(endpoint, settings.access_key_id, settings.secret_access_key))
            tools: list[tuple[str, str, Any, int]] = [
                (f"`r2.bulk` move: {images} images + their thumbnails, verified", "r2", _r2_move, runs)
            ]
            if have_rclone:
                tools.append((f"`rclone move`: {images} images", "rclone", _rclone_move(endpoint, env), runs))
            # ~2 requests x 100 ms per image one after the other: minutes at full size, so one run
            tools.append((f"sequential boto3 copy + delete loop: {images} images", "boto3", _boto3_move, 1))
            rows, times = _moves(far, recorder, images, runs, tools)
            base = times[tools[0][0]]
            for row, (label, *_) in zip(rows, tools, strict=True):
                row.append("1.0×" if times[label] is base else f"{ratio(times[label], base)} slower")

            deletes = []
            for _ in range(runs):
                seed(BUCKET, [(f"d/{i:05d}.jpg", 1) for i in range(deleted)])
                recorder.take()
                started = time.perf_counter()
                plan = bulk_delete.plan_delete(far, BUCKET, bulk.select_folder(far, BUCKET, "d/"))
                assert bulk_delete.run_delete(far, BUCKET, plan).ok
                deletes.append(time.perf_counter() - started)
                delete_ops = _ops(recorder)
        zips = []
        for label, path in (("command line `zip z/ -o -`", "cli"), ("the app: streamed into the bucket", "app")):
            samples = [zip_growth(env, path, "z/") for _ in range(runs)]
            peak = max(g for g, _ in samples) / 1024**2
            speed = Stats.of([zip_mib / s for _, s in samples])
            zips.append([label, f"{peak:.1f} MiB", Stats.of([s for _, s in samples]).s(), f"{speed.median:.0f} MiB/s"])
    goal = -(-deleted // 1000)
    return "\n".join(
        [
            "## Bulk work: move, folder delete, ZIP",
            "",
            f"Behind the loopback proxy adding {DELAY * 1000:.0f} ms per request (requests counted on the wire). "
            "Times are medians of runs moving the same folder there and back; ratios are of medians of this one "
            "invocation. The machine is shared with other engineers' test runs (see the load average below), so "
            "absolute times are noisy. `r2.bulk` does more work than the others (it moves each image's "
            "thumbnail too and verifies every copy before deleting), and the local server, the proxy and "
            "`r2.bulk` share one Python process (rclone runs in its own)."
            + ("" if have_rclone else " rclone is not installed here, so it was not measured.")
            + " rclone is a Debian package (`apt-get install rclone`), installed by hand for this benchmark; no "
            "test needs it.",
            "",
            table(["move", "time", "requests", "vs `r2.bulk`"], rows),
            "",
            f"Folder delete of {deleted:,} objects (listing included): {Stats.of(deletes).s()}; requests: "
            f"{delete_ops} (goal: ⌈N/1000⌉ = {goal} DeleteObjects).",
            "",
            f"ZIP of {zip_mib} MiB (10 objects, local server, no added latency), {runs} run(s) each: the largest "
            "growth of the process's resident set while it zipped, over its size just before (goal < 32 MiB); "
            "time of the zipping alone; throughput (median).",
            "",
            table(["path", "peak memory growth", "time", "throughput"], zips),
        ]
    )
