"""Catalog sync throughput with +100 ms per request: `r2.catalog_sync` (16 HEADs at a time, a commit per
1,000 rows) against a sequential boto3 HEAD loop, on a bucket of objects no catalog knows yet."""

from __future__ import annotations

import dataclasses
import time

from bench.common import latency_process, local_bucket, table
from r2 import catalog_sync
from r2.catalog import Catalog
from r2.client import CallCounter, make_client
from tests.support.seeding import seed

DELAY = 0.1


def run(quick: bool) -> str:
    objects = 3_000 if quick else 100_000
    sample = 100 if quick else 300
    with local_bucket("bench-catalog-sync") as (_env, settings, _client):
        seed(settings.bucket, ((f"team{i % 20}/{i:07d}.jpg", 10) for i in range(objects)))
        with latency_process(settings.endpoint, DELAY) as slow:
            far = dataclasses.replace(settings, endpoint=slow)
            client = make_client(far)
            keys = [f"team{i % 20}/{i:07d}.jpg" for i in range(sample)]
            started = time.perf_counter()
            for key in keys:
                client.head_object(Bucket=settings.bucket, Key=key)
            loop_rate = sample / (time.perf_counter() - started)
            counter = CallCounter(client)
            catalog = Catalog(far, client)
            started = time.perf_counter()
            result = catalog_sync.sync(catalog, client, settings.bucket)
            took = time.perf_counter() - started
            calls = dict(counter.calls)
    rate = result.recorded / took
    return (
        "## Catalog sync: objects per second with +100 ms per request\n\n"
        f"{objects:,} objects the catalog does not know yet, on the embedded moto server behind a proxy process "
        "adding 100 ms to every request (as R2 is far away). *Sync*: `python -m r2 catalog sync --yes`'s "
        "code: one listing, then one HEAD per object, 16 at a time, a commit every 1,000 rows (the commits "
        f"go through the same proxy). *Sequential HEAD loop*: boto3 `head_object` one after the other, timed on "
        f"{sample} of the objects. rclone was not measured (not installed here).\n\n"
        + table(
            ["What", "Objects/s", "Whole bucket"],
            [
                ["Sync (16 at a time, batched commits)", f"{rate:,.0f}", f"{took:,.1f} s"],
                ["Sequential boto3 HEAD loop", f"{loop_rate:,.1f}", f"≈ {objects / loop_rate:,.0f} s (extrapolated)"],
                ["Sync / loop", f"{rate / loop_rate:.1f}×", ""],
            ],
        )
        + f"\n\nS3 calls of the sync through boto3: {calls} (plus delta-rs's own requests for the "
        f"{(result.recorded + 999) // 1000} commits). The moto server runs in the benchmark's process, so "
        "its CPU competes with the sync's threads; on R2 the 16 workers are bound by latency alone."
    )
