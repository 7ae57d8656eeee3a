"""Catalog sync: what other tools changed in the bucket, found by one listing and recorded.

One ListObjectsV2 walk of the bucket (⌈N/1,000⌉ Class A), diffed against the catalog by ETag and size;
then one HEAD per new or changed object for its metadata (Class B), a bounded number at a time, and
removals for keys that are gone. Rows are committed in batches, so a stopped or failed sync keeps what
it recorded and running it again resumes: what was recorded now matches and is not asked again.

Whether an image has a thumbnail comes from the same listing (its `.thumbs/` key is listed or not),
not from the upload's metadata, which cannot know about a thumbnail made or removed later; a row
whose object is unchanged but whose thumbnail came or went is corrected without a HEAD. Each batch's
commit leaves out objects the app deleted after the sync read them (the commits since the batch
began name them), so a sync never brings back a deleted image.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from r2.catalog import Catalog, Row, rows_of
from r2.client import S3Client
from r2.errors import NotFound, R2Error, s3_errors
from r2.naming import META_SHA256, is_hidden, thumbnail_key
from r2.objects import details_from_head
from r2.settings import THUMB_PREFIX, Settings

LIST_PAGE = 1000
COMMIT_BATCH = 1000  # rows per commit during a sync: progress survives a stop, commits stay few
WORKERS = 16


@dataclass(frozen=True)
class Listed:
    key: str
    size: int
    etag: str
    last_modified: datetime
    has_thumbnail: bool = False  # its `.thumbs/` key was in the same listing


@dataclass(frozen=True)
class SyncPlan:
    listed: int  # objects in the bucket (reserved prefixes excluded)
    to_read: tuple[Listed, ...]  # new or changed: one HEAD each
    to_remove: tuple[str, ...]  # in the catalog, gone from the bucket
    list_calls: int
    to_flag: tuple[Listed, ...] = ()  # unchanged, but a thumbnail came or went: corrected without a HEAD

    @property
    def head_calls(self) -> int:
        return len(self.to_read)

    def cost_usd(self, settings: Settings) -> float:
        """What the sync costs at list prices: the LISTs it made (Class A) and the HEADs to come (Class B)."""
        return (
            self.list_calls * settings.class_a_price_per_million + self.head_calls * settings.class_b_price_per_million
        ) / 1_000_000

    def summary(self, settings: Settings) -> str:
        flags = f", {len(self.to_flag):,} thumbnail flags to correct (no request)" if self.to_flag else ""
        return (
            f"{self.listed:,} objects listed ({self.list_calls} LIST calls); {self.head_calls:,} new or changed to "
            f"read (one HEAD each), {len(self.to_remove):,} gone{flags}; about ${self.cost_usd(settings):.4f} at "
            "list prices"
        )


@dataclass(frozen=True)
class SyncProgress:
    read: int
    total: int
    recorded: int


@dataclass(frozen=True)
class SyncResult:
    plan: SyncPlan
    recorded: int
    removed: int
    vanished: int  # listed, then gone before its HEAD (deleted meanwhile): not recorded
    stopped: bool


def list_bucket(client: S3Client, bucket: str) -> tuple[list[Listed], int]:
    """Every object outside the reserved prefixes (with whether its thumbnail was listed too), and how
    many LIST calls that took."""
    found: list[Listed] = []
    thumbnails: set[str] = set()
    calls = 0
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": LIST_PAGE}
        if token:
            kwargs["ContinuationToken"] = token
        with s3_errors("list the bucket for the catalog sync", target=bucket):
            page = client.list_objects_v2(**kwargs)
        calls += 1
        for item in page.get("Contents", []):
            if item["Key"].startswith(THUMB_PREFIX):
                thumbnails.add(item["Key"])
            elif not is_hidden(item["Key"]):
                found.append(Listed(item["Key"], int(item["Size"]), item["ETag"].strip('"'), item["LastModified"]))
        token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
        if not token:
            return [replace(i, has_thumbnail=thumbnail_key(i.key) in thumbnails) for i in found], calls


def plan(catalog: Catalog, client: S3Client, bucket: str) -> SyncPlan:
    """List the bucket and diff it against the catalog: nothing is read or written yet.

    The catalog is read *before* the listing: a row an app process records while the listing runs is
    then either listed (read again: harmless) or not yet listed and not in the snapshot (left alone),
    never "in the catalog but not in the bucket", which would wrongly remove it.
    """
    known = catalog.data(refresh=True).select(["key", "etag", "size", "has_thumbnail"]).to_pylist()
    listed, calls = list_bucket(client, bucket)
    have = {r["key"]: (r["etag"], r["size"], bool(r["has_thumbnail"])) for r in known}
    to_read = tuple(item for item in listed if have.get(item.key, ())[:2] != (item.etag, item.size))
    to_flag = tuple(
        item for item in listed if item.key in have and have[item.key] == (item.etag, item.size, not item.has_thumbnail)
    )
    present = {item.key for item in listed}
    to_remove = tuple(sorted(k for k in have if k not in present))
    return SyncPlan(listed=len(listed), to_read=to_read, to_remove=to_remove, list_calls=calls, to_flag=to_flag)


_SHA256 = re.compile(r"[0-9a-f]{64}")


def row_from_head(key: str, response: Mapping[str, Any], *, has_thumbnail: bool | None = None) -> Row:
    """The row of one object from its HEAD; `has_thumbnail` from a listing overrides the metadata's."""
    details = details_from_head(key, response)
    sha256 = details.meta(META_SHA256).lower()
    dims = details.dimensions
    from_app = bool(details.meta("uploaded-by"))
    return Row(
        key=key,
        size=details.size,
        etag=details.etag.strip('"'),
        last_modified=details.last_modified or datetime.now().astimezone(),
        content_type=details.content_type or None,
        original_name=details.original_name or None,
        uploader=details.uploaded_by or None,
        uploaded_at=details.last_modified if from_app else None,
        width=dims[0] if dims else None,
        height=dims[1] if dims else None,
        format=details.image_format or None,
        has_thumbnail=details.has_thumbnail if has_thumbnail is None else has_thumbnail,
        sha256=sha256 if _SHA256.fullmatch(sha256) else None,  # another tool's value is no hash of ours
    )


def _head(client: S3Client, bucket: str, item: Listed) -> Row | None:
    try:
        with s3_errors("read an object's details for the catalog", target=item.key):
            response = client.head_object(Bucket=bucket, Key=item.key)
    except NotFound:
        return None  # deleted between the listing and now
    return row_from_head(item.key, response, has_thumbnail=item.has_thumbnail)


def run(
    catalog: Catalog,
    client: S3Client,
    bucket: str,
    sync_plan: SyncPlan,
    *,
    progress: Callable[[SyncProgress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    workers: int = WORKERS,
    batch: int = COMMIT_BATCH,
) -> SyncResult:
    """Carry out a plan: HEAD what changed (`workers` at a time), commit every `batch` rows, remove the gone.

    Raises R2Error when the bucket or the catalog fails; what was committed before stays (run again).
    """
    pending: list[Row] = []
    recorded = vanished = read = 0
    lock = threading.Lock()
    total = len(sync_plan.to_read)

    def flush(since: int | None, removals: tuple[str, ...] = ()) -> None:
        nonlocal recorded, vanished
        if pending or removals:
            _, left_out = catalog.record_read(pending, removals, read_since=since)
            vanished += len(left_out)  # read, then deleted by the app before this commit
            recorded += len(pending) - len(left_out)
            pending.clear()

    stopped = False
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for start in range(0, total, batch):
            if should_stop():
                stopped = True
                break
            since = catalog.version(refresh=True)  # before the HEADs: a removal after this one is seen
            chunk = sync_plan.to_read[start : start + batch]
            for row in pool.map(lambda item: _head(client, bucket, item), chunk):
                with lock:
                    read += 1
                    if row is None:
                        vanished += 1
                    else:
                        pending.append(row)
            flush(since)
            if progress is not None:
                progress(SyncProgress(read=read, total=total, recorded=recorded))
    if not stopped:
        since = catalog.version(refresh=True)
        flags = {item.key: item.has_thumbnail for item in sync_plan.to_flag}
        pending.extend(replace(row, has_thumbnail=flags[row.key]) for row in catalog.lookup(flags).values())
        flush(since, sync_plan.to_remove)
    removed = 0 if stopped else len(sync_plan.to_remove)
    return SyncResult(plan=sync_plan, recorded=recorded, removed=removed, vanished=vanished, stopped=stopped)


def sync(catalog: Catalog, client: S3Client, bucket: str, **options: Any) -> SyncResult:
    """Plan and run in one go (the command line with --yes, tests)."""
    return run(catalog, client, bucket, plan(catalog, client, bucket), **options)


def iter_rows(catalog: Catalog) -> Iterator[Row]:
    yield from rows_of(catalog.data())


__all__ = ["Listed", "R2Error", "SyncPlan", "SyncProgress", "SyncResult", "iter_rows", "plan", "run", "sync"]
