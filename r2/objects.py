"""One object: details through a single HEAD, and deletes (original + thumbnail), with an audit event.

R2 has no versioning: a delete is permanent. Deletes are free on R2 (no Class A/B charge).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

from r2.audit import AuditEvent, record
from r2.client import S3Client
from r2.errors import InvalidInput, R2Error, s3_errors
from r2.images import FORMAT_TYPES
from r2.naming import (
    META_FORMAT,
    META_HEIGHT,
    META_ORIGINAL_NAME,
    META_THUMBNAIL,
    META_UPLOADED_BY,
    META_WIDTH,
    is_hidden,
    thumbnail_key,
)

DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys per call
# boto3 >= 1.36 always sends a CRC32 checksum on DeleteObjects (the operation requires one) and no
# longer Content-MD5; servers that reject either answer with one of these. Then delete key by key.
_CHECKSUM_REFUSALS = {"NotImplemented", "InvalidRequest", "MissingContentMD5", "BadDigest"}


@dataclass(frozen=True)
class ObjectDetails:
    key: str
    size: int
    content_type: str
    etag: str
    last_modified: datetime | None
    metadata: tuple[tuple[str, str], ...] = ()
    cache_control: str = ""

    def meta(self, name: str) -> str:
        return dict(self.metadata).get(name, "")

    @property
    def original_name(self) -> str:
        """Stored percent-encoded (metadata values are ASCII); decoded for display."""
        return unquote(self.meta(META_ORIGINAL_NAME))

    @property
    def dimensions(self) -> tuple[int, int] | None:
        try:
            return int(self.meta(META_WIDTH)), int(self.meta(META_HEIGHT))
        except ValueError:
            return None

    @property
    def image_format(self) -> str:
        return self.meta(META_FORMAT)

    @property
    def download_name(self) -> str:
        """The name a browser saves the object under (Browse's Download).

        The original name's stem with the extension of the format the upload pipeline detected from
        the content (`format` metadata): a PNG uploaded as `report.html` downloads as `report.png`, so
        opening it never runs it as a web page. An object without a detected format (not uploaded by
        the app) keeps its key's own name: its original-name metadata, if any, was not written by us.
        """
        ext = FORMAT_TYPES.get(self.image_format, ("", ""))[0]
        if not ext:
            return PurePosixPath(self.key).name
        stem = PurePosixPath(self.original_name).stem if self.original_name else ""
        return f"{stem or PurePosixPath(self.key).stem}.{ext}"

    @property
    def uploaded_by(self) -> str:
        return unquote(self.meta(META_UPLOADED_BY))

    @property
    def has_thumbnail(self) -> bool | None:
        """True/False when the uploader recorded it; None when unknown (not uploaded by the app)."""
        value = self.meta(META_THUMBNAIL)
        return None if not value else value == "yes"


def head(client: S3Client, bucket: str, key: str) -> ObjectDetails:
    """Exactly one HeadObject."""
    with s3_errors("read the object's details", target=key):
        response = client.head_object(Bucket=bucket, Key=key)
    return details_from_head(key, response)


def details_from_head(key: str, response: Mapping[str, Any]) -> ObjectDetails:
    metadata = {str(k).lower(): str(v) for k, v in (response.get("Metadata") or {}).items()}
    return ObjectDetails(
        key=key,
        size=int(response.get("ContentLength", 0)),
        content_type=str(response.get("ContentType", "")),
        etag=str(response.get("ETag", "")).strip('"'),
        last_modified=response.get("LastModified"),
        metadata=tuple(sorted(metadata.items())),
        cache_control=str(response.get("CacheControl", "")),
    )


@dataclass(frozen=True)
class DeleteResult:
    deleted: tuple[str, ...]  # originals deleted (their thumbnails were deleted with them)
    failed: tuple[tuple[str, str], ...] = field(default=())  # (key, reason)

    @property
    def ok(self) -> bool:
        return not self.failed


def delete(client: S3Client, bucket: str, keys: Sequence[str]) -> DeleteResult:
    """Delete objects and their thumbnails with DeleteObjects (1,000 keys per call).

    Refuses reserved keys (thumbnails and the app's data are not browsed, so not deleted here).
    Deleting a key that does not exist succeeds (S3 semantics): a thumbnail may never have existed.
    """
    keys = list(dict.fromkeys(keys))
    if not keys:
        raise InvalidInput("Nothing was selected to delete.")
    reserved = [k for k in keys if is_hidden(k)]
    if reserved:
        raise InvalidInput(f"{reserved[0]} is reserved for the app and cannot be deleted here.")
    targets = [t for k in keys for t in (k, thumbnail_key(k))]
    errors: dict[str, str] = {}
    for start in range(0, len(targets), DELETE_BATCH):
        errors.update(delete_batch(client, bucket, targets[start : start + DELETE_BATCH]))
    failed = [(k, errors[k]) for k in keys if k in errors]
    failed += [
        (k, "thumbnail: " + errors[thumbnail_key(k)]) for k in keys if k not in errors and thumbnail_key(k) in errors
    ]
    bad = {k for k, _ in failed}
    return DeleteResult(tuple(k for k in keys if k not in bad), tuple(failed))


def delete_batch(client: S3Client, bucket: str, batch: Sequence[str]) -> dict[str, str]:
    """One DeleteObjects call (<= 1,000 keys); returns {key: reason} for the keys not deleted."""
    errors: dict[str, str] = {}
    try:
        with s3_errors("delete the objects", target=f"{len(batch)} keys"):
            response = client.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
    except R2Error as err:
        if err.code in _CHECKSUM_REFUSALS:
            return _delete_one_by_one(client, bucket, batch)
        return {k: str(err) for k in batch}
    for item in response.get("Errors", []):
        errors[item.get("Key", "")] = f"{item.get('Code', 'Error')}: {item.get('Message', '')}".strip(": ")
    return errors


def _delete_one_by_one(client: S3Client, bucket: str, keys: Sequence[str]) -> dict[str, str]:
    errors = {}
    for key in keys:
        try:
            with s3_errors("delete the object", target=key):
                client.delete_object(Bucket=bucket, Key=key)
        except R2Error as err:
            errors[key] = str(err)
    return errors


def audit_delete(client: S3Client, bucket: str, actor: str, result: DeleteResult) -> str:
    """Record one audit event for a delete action. Raises R2Error when the event cannot be written."""
    keys = result.deleted + tuple(k for k, _ in result.failed)
    target = keys[0] if len(keys) == 1 else f"{len(keys)} objects"
    detail = json.dumps(
        {"deleted": list(result.deleted), "failed": [list(f) for f in result.failed]}, ensure_ascii=False
    )
    outcome = "ok" if result.ok else ("failed" if not result.deleted else "partial")
    event = AuditEvent(actor=actor, action="delete", target=target, outcome=outcome, detail=detail)
    return record(client, bucket, event)


@dataclass(frozen=True)
class DeleteOutcome:
    """What a delete action did: the delete's result, and why its audit event was not written ("" when it was)."""

    result: DeleteResult
    audit_error: str = ""


def delete_with_audit(client: S3Client, bucket: str, keys: Sequence[str], *, actor: str) -> DeleteOutcome:
    """Delete objects and their thumbnails (`delete`) and record one audit event for it (`audit_delete`).

    Raises InvalidInput, before any request, for an empty selection or a reserved key. Once objects are
    deleted, a failure to write the event is not raised: the outcome says why, so the caller can tell
    the user that the delete was done but not recorded.
    """
    result = delete(client, bucket, keys)
    try:
        audit_delete(client, bucket, actor, result)
    except R2Error as err:
        return DeleteOutcome(result, str(err))
    return DeleteOutcome(result)
