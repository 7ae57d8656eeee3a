"""The audit log: one append-only JSON object per event under the app's reserved prefix.

Keys are time-ordered (`.dashboard/audit/YYYY/MM/DD/<UTC timestamp>-<random>.json`) and written with
If-None-Match: *, so several app replicas can write at once and nothing is ever rewritten.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from r2.client import S3Client
from r2.errors import translate
from r2.settings import RESERVED_PREFIX

AUDIT_PREFIX = f"{RESERVED_PREFIX}audit/"


@dataclass(frozen=True)
class AuditEvent:
    actor: str
    action: str  # upload, delete, cors.apply, cors.rollback, cors.delete, thumbnails, usage.scan, ...
    target: str
    outcome: str = "ok"  # ok | failed | refused
    detail: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> str:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditEvent:
        data = json.loads(text)
        data["at"] = datetime.fromisoformat(data["at"])
        return cls(**data)


def event_key(event: AuditEvent) -> str:
    at = event.at.astimezone(UTC)
    return f"{AUDIT_PREFIX}{at:%Y/%m/%d}/{at:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}.json"


def record(client: S3Client, bucket: str, event: AuditEvent) -> str:
    """Store `event`; returns its key. Raises R2Error if it could not be written (tell the user)."""
    key = event_key(event)
    try:
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=event.to_json().encode("utf-8"),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="write the audit event", target="the audit log") from exc
    return key


def recent(
    client: S3Client, bucket: str, *, limit: int = 200, keep: Callable[[AuditEvent], bool] | None = None
) -> list[AuditEvent]:
    """The newest `limit` events (newest first). Lists the audit prefix, then reads each event."""
    keys: list[str] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=AUDIT_PREFIX):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        events = []
        for key in sorted(keys, reverse=True):
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            event = AuditEvent.from_json(body)
            if keep is None or keep(event):
                events.append(event)
            if len(events) >= limit:
                break
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="read the audit log", target="the audit log") from exc
    return events
