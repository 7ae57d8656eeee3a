"""A usage scan that survives its process: its state saved in the bucket, so any replica resumes it.

A scan keeps per-folder aggregates and the last key each folder listed (`UsageScan`); that is small
(groups, never objects) and enough to continue exactly where it stopped. The state is written to one
object under the app's reserved prefix every so often and when the scan stops or fails, and removed when
the scan completes. A replica restarted mid-scan (a deploy, a crash) loses at most the pages listed since
the last save, which the resumed scan lists again from the saved position: every object is counted once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from r2.client import S3Client
from r2.errors import NotFound, s3_errors
from r2.settings import RESERVED_PREFIX
from r2.usage.aggregate import Aggregator, Group
from r2.usage.listing import Lister
from r2.usage.scan import UsageScan, _Part

CHECKPOINT_KEY = f"{RESERVED_PREFIX}usage-scan/checkpoint.json"
SAVE_EVERY_SECONDS = 10.0  # a PUT (Class A) at most this often while a scan runs
_GROUPS = ("by_prefix", "by_type", "by_month", "by_class", "reserved")


def _agg_to_dict(agg: Aggregator) -> dict[str, Any]:
    data: dict[str, Any] = {"depth": agg.depth, "top_n": agg.top_n, "max_groups": agg.max_groups}
    data["total"] = agg.total.as_dict()
    for name in _GROUPS:
        data[name] = {k: g.as_dict() for k, g in getattr(agg, name).items()}
    data["largest"] = [list(item) for item in agg.largest]
    return data


def _agg_from_dict(data: dict[str, Any]) -> Aggregator:
    agg = Aggregator(int(data["depth"]), int(data["top_n"]), int(data["max_groups"]))
    agg.total = Group(**data["total"])
    for name in _GROUPS:
        setattr(agg, name, {k: Group(**g) for k, g in data[name].items()})
    agg.largest = [(int(s), str(k), str(m)) for s, k, m in data["largest"]]  # already a valid heap
    return agg


def state_of(scan: UsageScan, *, actor: str) -> dict[str, Any]:
    """Everything needed to continue `scan` elsewhere (taken under the scan's lock: workers may run)."""
    with scan._lock:
        parts = [
            {
                "prefix": p.prefix,
                "agg": _agg_to_dict(p.agg),
                "start_after": p.start_after,
                "pages": p.pages,
                "done": p.done,
                "engine": p.engine,
            }
            for p in scan.parts.values()
        ]
    return {
        "bucket": scan.bucket,
        "depth": scan.depth,
        "top_n": scan.top_n,
        "engine": scan.lister.name,
        "discovery_calls": scan.discovery_calls,
        "seconds": scan.seconds,
        "root": None if scan.root is None else _agg_to_dict(scan.root),
        "parts": parts,
        "saved_at": datetime.now(UTC).isoformat(),
        "actor": actor,
    }


def restore(data: dict[str, Any], lister: Lister, client: S3Client) -> UsageScan:
    """A scan that continues from saved `data` (the lister must be of the saved engine)."""
    scan = UsageScan(lister, str(data["bucket"]), depth=int(data["depth"]), top_n=int(data["top_n"]), client=client)
    scan.discovery_calls = int(data["discovery_calls"])
    scan.seconds = float(data["seconds"])
    scan.root = None if data["root"] is None else _agg_from_dict(data["root"])
    scan.parts = {
        p["prefix"]: _Part(
            p["prefix"], _agg_from_dict(p["agg"]), p["start_after"], int(p["pages"]), bool(p["done"]), str(p["engine"])
        )
        for p in data["parts"]
    }
    return scan


def save(client: S3Client, scan: UsageScan, *, actor: str) -> None:
    body = json.dumps(state_of(scan, actor=actor)).encode("utf-8")
    with s3_errors("save the scan's progress", target="the usage scan"):
        client.put_object(Bucket=scan.bucket, Key=CHECKPOINT_KEY, Body=body, ContentType="application/json")


def load(client: S3Client, bucket: str) -> dict[str, Any] | None:
    """The saved state of an unfinished scan of `bucket`, or None (none, or unreadable: start afresh)."""
    try:
        with s3_errors("read the saved scan", target="the usage scan"):
            answer = client.get_object(Bucket=bucket, Key=CHECKPOINT_KEY)
            raw = answer["Body"].read()
        data = json.loads(raw)
    except NotFound:
        return None
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("bucket") == bucket else None


def clear(client: S3Client, bucket: str) -> None:
    with s3_errors("remove the saved scan", target="the usage scan"):
        client.delete_object(Bucket=bucket, Key=CHECKPOINT_KEY)
