"""Reading the audit log: the newest 100 events, as the Audit page does.

Compares the first implementation (list the whole audit prefix, then GET each event one after the
other) with `r2.audit.query` (day folders newest first, concurrent GETs, cache of events already
read), on the embedded local S3 server, directly and behind the benchmarks' loopback latency proxy
(tests/support/fault_proxy.py, in its own process).
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import OpsCount, cost_line, latency_process, local_bucket, measure
from r2 import audit
from r2.client import CallCounter, make_client

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
    with local_bucket(BUCKET) as (_, settings, client):
        start = datetime(2026, 1, 1, tzinfo=UTC)
        step = timedelta(days=90) / events  # spread over three months: ~90 day folders
        for i in range(events):
            audit.record(client, BUCKET, audit.AuditEvent("a@example.com", "upload", f"k{i}", at=start + step * i))

        page_ops: list[OpsCount] = []

        def cost(fn: Any) -> str:
            counter = CallCounter(client)
            fn()
            counter.close()
            page_ops.append(OpsCount.of(counter.calls))
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
        for label, latency in (("local server", None), (f"+{rtt * 1000:.0f} ms per request (loopback proxy)", rtt)):
            proxy = latency_process(settings.endpoint, latency) if latency else nullcontext(settings.endpoint)
            with proxy as endpoint:
                far = make_client(settings.with_endpoint(endpoint, settings.access_key_id, settings.secret_access_key))
                cache: dict[str, audit.AuditEvent] = {}
                old = measure(lambda c=far: _old_recent(c, limit), runs=runs)
                seq = measure(lambda c=far: audit.query(c, BUCKET, limit=limit, workers=1), runs=runs)
                par = measure(lambda c=far: audit.query(c, BUCKET, limit=limit, workers=16), runs=runs)
                audit.query(far, BUCKET, limit=limit, cache=cache)
                warm = measure(lambda c=far, k=cache: audit.query(c, BUCKET, limit=limit, cache=k), runs=runs)
            rows.append(
                f"| {label} | {old.ms()} | {seq.ms()} | {par.ms()} | {warm.ms()} | "
                f"{old.median / par.median:.1f}× | {old.median / warm.median:.0f}× |"
            )
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
            "",
            cost_line(page_ops[1], "read of the newest 100 events (day folders, nothing cached)"),
        ]
    )
