"""Reading the audit log: the newest 100 events, as the Audit page does.

Compares the first implementation (list the whole audit prefix, then GET each event one after the
other) with `r2.audit.query` (day folders newest first, concurrent GETs, cache of events already
read), on the embedded local S3 server, with and without a simulated network round trip.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import measure
from r2 import audit
from r2.client import CallCounter, make_client
from r2.local import LocalServer
from r2.settings import parse_settings

BUCKET = "bench-audit"


def _old_recent(client: Any, limit: int) -> list[audit.AuditEvent]:
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=audit.AUDIT_PREFIX):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    out = []
    for key in sorted(keys, reverse=True)[:limit]:
        out.append(audit.AuditEvent.from_json(client.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
    return out


def run(quick: bool) -> str:
    events, limit, runs, rtt = (1500, 100, 3, 0.02) if quick else (5000, 100, 7, 0.02)
    server = LocalServer().start()
    try:
        settings = parse_settings(
            {
                "R2_ENDPOINT": server.endpoint,
                "R2_ACCESS_KEY_ID": "bench",
                "R2_SECRET_ACCESS_KEY": "bench-secret-0123456789",
                "R2_BUCKET": BUCKET,
            }
        )
        client = make_client(settings)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
        start = datetime(2026, 1, 1, tzinfo=UTC)
        step = timedelta(days=90) / events  # spread over three months: ~90 day folders
        for i in range(events):
            audit.record(client, BUCKET, audit.AuditEvent("a@example.com", "upload", f"k{i}", at=start + step * i))

        def delay(**_: Any) -> None:
            time.sleep(rtt)

        def cost(fn: Any) -> str:
            counter = CallCounter(client)
            fn()
            counter.close()
            return f"{counter.calls['ListObjectsV2']} LIST + {counter.calls['GetObject']} GET"

        warm_cache: dict[str, audit.AuditEvent] = {}
        audit.query(client, BUCKET, limit=limit, cache=warm_cache)
        costs = (
            f"Requests per call: old {cost(lambda: _old_recent(client, limit))}; "
            f"day folders {cost(lambda: audit.query(client, BUCKET, limit=limit))}; "
            f"cached {cost(lambda: audit.query(client, BUCKET, limit=limit, cache=warm_cache))}. "
            "The old LIST count grows with the whole log (one per 1000 events ever written); the day "
            "folders' with the days shown."
        )
        rows = []
        for label, latency in (("local server", False), (f"+{rtt * 1000:.0f} ms per request (simulated)", True)):
            if latency:
                client.meta.events.register("before-send.s3", delay)
            cache: dict[str, audit.AuditEvent] = {}
            old = measure(lambda: _old_recent(client, limit), runs=runs)
            seq = measure(lambda: audit.query(client, BUCKET, limit=limit, workers=1), runs=runs)
            par = measure(lambda: audit.query(client, BUCKET, limit=limit, workers=16), runs=runs)
            audit.query(client, BUCKET, limit=limit, cache=cache)
            warm = measure(lambda c=cache: audit.query(client, BUCKET, limit=limit, cache=c), runs=runs)
            if latency:
                client.meta.events.unregister("before-send.s3", delay)
            rows.append(
                f"| {label} | {old.ms()} | {seq.ms()} | {par.ms()} | {warm.ms()} | "
                f"{old.median / par.median:.1f}× | {old.median / warm.median:.0f}× |"
            )
    finally:
        server.stop()
    return "\n".join(
        [
            "## Audit log: the newest 100 events",
            "",
            f"{events} events over ~90 day folders in the embedded local S3 server. *Old*: list the whole prefix, "
            "then GET each event in turn. *Day folders*: `r2.audit.query` walking day folders newest first "
            "with 1 or 16 concurrent GETs. *Cached*: the same call when the events were read "
            "before (events are never rewritten, so the page keeps them): LISTs only.",
            "",
            "| network | old | day folders, 1 worker | day folders, 16 workers | cached "
            "| old / 16 workers | old / cached |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            costs,
        ]
    )
