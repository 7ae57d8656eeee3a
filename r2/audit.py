"""The audit log: one append-only JSON object per event under the app's reserved prefix.

Keys are time-ordered (`.dashboard/audit/YYYY/MM/DD/<UTC timestamp>-<random>.json`) and written with
If-None-Match: *, so several app replicas can write at once and nothing is ever rewritten.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

from r2 import spreadsheet
from r2.client import S3Client
from r2.errors import NotFound, s3_errors
from r2.settings import RESERVED_PREFIX

AUDIT_PREFIX = f"{RESERVED_PREFIX}audit/"
# The actions the pages record (others may appear: the audit page accepts any).
KNOWN_ACTIONS = (
    "upload",
    "upload.direct",
    "delete",
    "move",
    "copy",
    "rename",
    "zip",
    "cors.apply",
    "cors.rollback",
    "cors.delete",
    "lifecycle.apply",
    "lifecycle.rollback",
    "multipart.abort",
    "thumbnails",
    "thumbnails.orphans",
    "usage.scan",
)
OUTCOMES = ("ok", "failed", "refused")


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
    with s3_errors("write the audit event", target="the audit log", precondition="if-none-match"):
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=event.to_json().encode("utf-8"),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    return key


def _prefixes(client: S3Client, bucket: str, prefix: str) -> list[str]:
    """The "folders" directly under `prefix`, newest (largest) first: one LIST per 1000."""
    found: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        found.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    return sorted(found, reverse=True)


def _part(prefix: str) -> int | None:
    text = prefix.rstrip("/").rpartition("/")[2]
    return int(text) if text.isdigit() else None


def day_prefixes(client: S3Client, bucket: str, since: date | None = None, until: date | None = None) -> Iterator[str]:
    """The audit log's day folders between `since` and `until` (UTC dates, inclusive), newest first.

    Lazy: walks years, then months, then days with delimiter listings, so reading the newest events
    never lists older folders.
    """
    low = since or date.min
    high = until or date.max
    for year_prefix in _prefixes(client, bucket, AUDIT_PREFIX):
        year = _part(year_prefix)
        if year is None or not low.year <= year <= high.year:
            continue
        for month_prefix in _prefixes(client, bucket, year_prefix):
            month = _part(month_prefix)
            if month is None or not (low.year, low.month) <= (year, month) <= (high.year, high.month):
                continue
            for day_prefix in _prefixes(client, bucket, month_prefix):
                day = _part(day_prefix)
                try:
                    if day is not None and low <= date(year, month, day) <= high:
                        yield day_prefix
                except ValueError:  # not a calendar day: not ours
                    continue


@dataclass(frozen=True)
class AuditPage:
    """What `query` found: `events` newest first; `scanned` events read; `complete` is False when
    `max_reads` stopped the scan before the log's (filtered) end; `unreadable` objects skipped."""

    events: tuple[AuditEvent, ...]
    scanned: int
    complete: bool
    unreadable: int = 0


def query(
    client: S3Client,
    bucket: str,
    *,
    limit: int = 200,
    since: date | None = None,
    until: date | None = None,
    keep: Callable[[AuditEvent], bool] | None = None,
    cache: MutableMapping[str, AuditEvent] | None = None,
    max_reads: int = 5000,
    workers: int = 16,
) -> AuditPage:
    """The newest `limit` events between `since` and `until` (UTC dates) that `keep` accepts.

    Day folders are walked newest first and each day's keys read newest first, several at a time
    (boto3 clients are thread-safe). Events are never rewritten, so `cache` (key -> event) can hold
    them across calls: a cached event costs no request at all.
    """
    events: list[AuditEvent] = []
    scanned = unreadable = 0

    def read(key: str) -> AuditEvent | None:
        if cache is not None and key in cache:
            return cache[key]
        try:
            with s3_errors("read the audit log", target="the audit log"):
                body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except NotFound as exc:
            if exc.code == "NoSuchBucket":
                raise
            return None  # deleted since it was listed
        try:
            return AuditEvent.from_json(body)
        except (ValueError, TypeError, KeyError):
            return None

    with s3_errors("read the audit log", target="the audit log"), ThreadPoolExecutor(max_workers=workers) as pool:
        for day in day_prefixes(client, bucket, since, until):
            keys: list[str] = []
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=day):
                keys.extend(obj["Key"] for obj in page.get("Contents", []) if obj["Key"].endswith(".json"))
            keys.sort(reverse=True)
            while keys:
                if len(events) >= limit:
                    return AuditPage(tuple(events), scanned, True, unreadable)
                if scanned >= max_reads:
                    return AuditPage(tuple(events), scanned, False, unreadable)
                size = min(limit - len(events), 64) if keep is None else 64
                size = min(size, max_reads - scanned)
                batch, keys = keys[:size], keys[size:]
                for key, event in zip(batch, pool.map(read, batch), strict=True):
                    scanned += 1
                    if event is None:
                        unreadable += 1
                        continue
                    if cache is not None:
                        cache[key] = event
                    if (keep is None or keep(event)) and len(events) < limit:
                        events.append(event)
    return AuditPage(tuple(events), scanned, True, unreadable)


def matching(actor: str = "", actions: Iterable[str] = (), outcome: str = "") -> Callable[[AuditEvent], bool]:
    """The Audit page's and the command line's filter: `actor` a case-insensitive part of the user,
    `actions` any of these actions, `outcome` exactly this outcome; an empty filter keeps everything."""
    needle = actor.lower()
    wanted = frozenset(actions)

    def keep(event: AuditEvent) -> bool:
        return (
            (not needle or needle in event.actor.lower())
            and (not wanted or event.action in wanted)
            and (not outcome or event.outcome == outcome)
        )

    return keep


def recent(
    client: S3Client, bucket: str, *, limit: int = 200, keep: Callable[[AuditEvent], bool] | None = None
) -> list[AuditEvent]:
    """The newest `limit` events (newest first) that `keep` accepts. See `query` for more."""
    return list(query(client, bucket, limit=limit, keep=keep).events)


CSV_COLUMNS = ("at", "actor", "action", "target", "outcome", "detail")


def to_csv(events: Iterable[AuditEvent]) -> str:
    """CSV of `events` (UTC ISO times), safe to open in a spreadsheet (r2.spreadsheet)."""
    rows = ((e.at.astimezone(UTC).isoformat(), e.actor, e.action, e.target, e.outcome, e.detail) for e in events)
    return spreadsheet.to_csv(CSV_COLUMNS, rows)
