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

from botocore.exceptions import BotoCoreError, ClientError

from r2.client import S3Client
from r2.errors import translate
from r2.settings import RESERVED_PREFIX
from r2.usage import UsageReport

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
    try:
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8"),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="save the usage snapshot", target="the snapshot") from exc
    return key


def history(client: S3Client, bucket: str) -> list[SnapshotInfo]:
    """Every snapshot's time and totals, oldest first (LIST only: one call per 1,000 snapshots)."""
    found: list[SnapshotInfo] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=SNAPSHOT_PREFIX):
            for obj in page.get("Contents", []):
                info = parse_key(obj["Key"])
                if info is not None:
                    found.append(info)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="list usage snapshots", target="the snapshots") from exc
    return sorted(found, key=lambda s: s.at)


def load(client: S3Client, bucket: str, key: str) -> UsageReport:
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="read the usage snapshot", target="the snapshot") from exc
    return UsageReport.from_dict(json.loads(body))


def latest(client: S3Client, bucket: str) -> tuple[UsageReport | None, list[SnapshotInfo]]:
    """The newest snapshot (one GET) and the history (LIST), or (None, []) before the first scan."""
    infos = history(client, bucket)
    if not infos:
        return None, []
    return load(client, bucket, infos[-1].key), infos
