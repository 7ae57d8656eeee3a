"""Usage snapshots: each completed scan saved as JSON under `.dashboard/usage/`, newest last.

Keys are time-ordered and carry the totals, `.dashboard/usage/<UTC timestamp>-o<objects>-b<bytes>-<rand>.json`,
so the growth chart needs one LIST of the prefix and no GET per snapshot; opening the page reads only
the newest snapshot. Written with If-None-Match: *, so replicas never overwrite each other.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from r2 import audit
from r2.client import S3Client
from r2.errors import R2Error, s3_errors
from r2.settings import RESERVED_PREFIX
from r2.usage.report import UsageReport

SNAPSHOT_PREFIX = f"{RESERVED_PREFIX}usage/"
_KEY = re.compile(r"(?P<at>\d{8}T\d{6}\d{6}Z)-o(?P<objects>\d+)-b(?P<bytes>\d+)-[0-9a-f]+\.json$")


@dataclass(frozen=True)
class SnapshotInfo:
    key: str
    at: datetime
    objects: int
    bytes: int


def snapshot_key(report: UsageReport) -> str:
    at = report.scanned_at.astimezone(UTC)
    return f"{SNAPSHOT_PREFIX}{at:%Y%m%dT%H%M%S%fZ}-o{report.objects}-b{report.bytes}-{uuid.uuid4().hex[:8]}.json"


def parse_key(key: str) -> SnapshotInfo | None:
    match = _KEY.search(key)
    if match is None:
        return None
    at = datetime.strptime(match["at"], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    return SnapshotInfo(key, at, int(match["objects"]), int(match["bytes"]))


def save(client: S3Client, bucket: str, report: UsageReport) -> str:
    key = snapshot_key(report)
    with s3_errors("save the usage snapshot", target="the snapshot", precondition="if-none-match"):
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8"),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    return key


def history(client: S3Client, bucket: str) -> list[SnapshotInfo]:
    """Every snapshot's time and totals, oldest first (LIST only: one call per 1,000 snapshots)."""
    found: list[SnapshotInfo] = []
    with s3_errors("list usage snapshots", target="the snapshots"):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=SNAPSHOT_PREFIX):
            for obj in page.get("Contents", []):
                info = parse_key(obj["Key"])
                if info is not None:
                    found.append(info)
    return sorted(found, key=lambda s: s.at)


def load(client: S3Client, bucket: str, key: str) -> UsageReport:
    with s3_errors("read the usage snapshot", target="the snapshot"):
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return UsageReport.from_dict(json.loads(body))


def latest(client: S3Client, bucket: str) -> tuple[UsageReport | None, list[SnapshotInfo]]:
    """The newest snapshot (one GET) and the history (LIST), or (None, []) before the first scan."""
    infos = history(client, bucket)
    if not infos:
        return None, []
    return load(client, bucket, infos[-1].key), infos


@dataclass(frozen=True)
class ScanSaved:
    """What `save_scan` did: the snapshot's key (None when it could not be saved), and each failure."""

    key: str | None
    snapshot_error: R2Error | None = None
    audit_error: R2Error | None = None


def save_scan(client: S3Client, bucket: str, report: UsageReport, *, actor: str) -> ScanSaved:
    """A finished scan, kept: its snapshot, and the audit event `usage.scan` that says who ran it.

    The page and `python -m r2 usage --save` both call this. Each step is tried even when the other
    failed, and failures are returned, not raised: the scan's numbers are already counted and shown.
    """
    key: str | None = None
    snapshot_error = audit_error = None
    try:
        key = save(client, bucket, report)
    except R2Error as err:
        snapshot_error = err
    detail = f"{report.objects} objects, {report.bytes} bytes, {report.list_calls} LIST calls, {report.seconds:.1f} s"
    try:
        audit.record(client, bucket, audit.AuditEvent(actor, "usage.scan", bucket, "ok", detail))
    except R2Error as err:
        audit_error = err
    return ScanSaved(key, snapshot_error, audit_error)
