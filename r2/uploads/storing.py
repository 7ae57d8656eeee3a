"""Store a checked image: thumbnail, then the original, never overwriting (If-None-Match), and its catalog row."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import quote

from r2 import images
from r2.catalog import Row
from r2.client import S3Client
from r2.errors import AlreadyExists, NotFound, R2Error, s3_errors
from r2.images import CleanFile, CleanImage
from r2.naming import (
    META_FORMAT,
    META_HEIGHT,
    META_ORIGINAL_NAME,
    META_SHA256,
    META_THUMBNAIL,
    META_UPLOADED_BY,
    META_WIDTH,
    check_key,
    thumbnail_key,
)
from r2.thumbnails import store_thumbnail
from r2.uploads.planning import NAME_SAFE, display_name, encode_name

CACHE_CONTROL = "private, max-age=31536000, immutable"  # uuid keys never change content


Checked = CleanImage | CleanFile


def _digest(clean: Checked, algorithm: str) -> str:
    """A digest of the bytes that are stored (the cleaned ones): from memory, or read from the local file."""
    if isinstance(clean, CleanImage):
        return _hex_digest(clean.body, algorithm)
    with clean.path.open("rb") as body:
        return _hex_digest(body, algorithm)


def _hex_digest(body: bytes | BinaryIO, algorithm: str) -> str:
    """The digest of bytes in memory or of a whole open file (read from its start, in blocks)."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    if isinstance(body, bytes):
        digest.update(body)
    else:
        body.seek(0)
        for block in iter(lambda: body.read(images.CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def content_sha256(clean: Checked) -> str:
    """Hex SHA-256 of the stored bytes: written as metadata, so a catalog sync finds duplicates too."""
    return _digest(clean, "sha256")


def metadata_for(clean: Checked, original_name: str, uploaded_by: str, has_thumbnail: bool) -> dict[str, str]:
    return {
        META_SHA256: content_sha256(clean),
        META_ORIGINAL_NAME: encode_name(original_name),
        META_WIDTH: str(clean.info.width),
        META_HEIGHT: str(clean.info.height),
        META_FORMAT: clean.info.format,
        META_UPLOADED_BY: quote(uploaded_by[:200], safe=NAME_SAFE),
        META_THUMBNAIL: "yes" if has_thumbnail else "no",
    }


def put_new(
    client: S3Client,
    bucket: str,
    key: str,
    body: bytes | BinaryIO,
    *,
    content_type: str,
    metadata: dict[str, str],
    content_length: int | None = None,
) -> None:
    """PUT with If-None-Match: * — an existing key is refused (AlreadyExists), never overwritten.

    `body` may be an open file (streamed from disk; give `content_length`, its exact size).
    """
    extra: dict[str, Any] = {"ContentLength": content_length} if content_length is not None else {}
    try:
        with s3_errors("store the image", target=key, precondition="if-none-match"):
            client.put_object(
                Bucket=bucket,
                Key=check_key(key),
                Body=body,
                ContentType=content_type,
                CacheControl=CACHE_CONTROL,
                Metadata=metadata,
                IfNoneMatch="*",
                **extra,
            )
    except AlreadyExists:
        if not is_own_write(client, bucket, key, _hex_digest(body, "md5")):
            raise


def is_own_write(client: S3Client, bucket: str, key: str, md5: str) -> bool:
    """After a refused If-None-Match write: is the object there the one we just sent?

    The client resends a request whose answer was lost (a dropped connection after the server stored
    it); the resend is then refused as "exists" although the first attempt stored exactly these bytes.
    Keys are fresh uuids, so an object with our content's MD5 (the ETag of a single PUT, kept by a
    copy) is our own.
    """
    try:
        with s3_errors("check the stored object", target=key):
            etag = str(client.head_object(Bucket=bucket, Key=key).get("ETag", "")).strip('"')
    except R2Error:
        return False
    return etag == md5


# R2 takes a CopyObject's destination condition as cf-copy-destination-if-none-match, not the
# If-None-Match that S3 uses there (https://developers.cloudflare.com/r2/api/s3/conditional-operations/).
_R2_HOST = ".r2.cloudflarestorage.com"
COPY_HOOK = "r2-dashboard-copy-destination-condition"


def r2_copy_condition(request: Any, **_: Any) -> None:
    if _R2_HOST in str(request.url) and "If-None-Match" in request.headers:
        value = request.headers["If-None-Match"]
        del request.headers["If-None-Match"]
        request.headers["cf-copy-destination-if-none-match"] = value


def copy_new(
    client: S3Client,
    bucket: str,
    key: str,
    *,
    source: str,
    source_etag: str,
    content_type: str,
    metadata: dict[str, str],
) -> None:
    """Server-side copy of `source` to a new key with the pipeline's metadata: no bytes sent.

    Only the version that was checked is copied (`CopySourceIfMatch`; a changed or missing source is
    refused with 412) and an existing destination is never overwritten (If-None-Match: *, sent to R2
    under its own header name). A copy keeps the content, hence the ETag: a resend after a lost
    answer, or a second checker of the same upload, finds the same content there and succeeds. moto
    ignores both conditions; LocalStack and R2 honour the source one.
    """
    client.meta.events.register("before-sign.s3.CopyObject", r2_copy_condition, unique_id=COPY_HOOK)
    try:
        # Both conditions are sent (the source's If-Match, the destination's If-None-Match): a 412 may mean
        # either, so the general "already exists or changed meanwhile" wording is the true one.
        with s3_errors("store the image", target=key, precondition=""):
            client.copy_object(
                Bucket=bucket,
                Key=check_key(key),
                CopySource={"Bucket": bucket, "Key": source},
                CopySourceIfMatch=source_etag,
                IfNoneMatch="*",
                MetadataDirective="REPLACE",
                ContentType=content_type,
                CacheControl=CACHE_CONTROL,
                Metadata=metadata,
            )
    except (AlreadyExists, NotFound):
        # Refused (the key is taken) or the source is gone (another checker of the same upload copied it
        # first and removed it): fine if the final key holds exactly the checked content.
        if not is_own_write(client, bucket, key, source_etag.strip('"')):
            raise


def store(
    client: S3Client,
    bucket: str,
    key: str,
    clean: Checked,
    *,
    original_name: str,
    uploaded_by: str,
    copy_from: tuple[str, str] | None = None,
) -> tuple[str | None, tuple[str, ...]]:
    """Store the thumbnail, then the original. Returns (thumbnail key or None, problems).

    Raises R2Error (AlreadyExists for a taken key) when the original was not stored; then nothing
    of this file remains in the bucket (the new thumbnail is deleted again). A `CleanFile` is streamed
    from disk; with `copy_from=(staged key, ETag)` (the checked object is already in the bucket) and
    nothing changed, it is not sent at all: the staged object is copied server-side (`copy_new`).
    """
    key = check_key(key)
    thumb_key: str | None = None
    problems: list[str] = []
    if clean.thumbnail is not None:
        try:
            thumb_key = store_thumbnail(client, bucket, key, clean.thumbnail, if_new=True)
        except AlreadyExists as exc:
            if is_own_write(client, bucket, thumbnail_key(key), _hex_digest(clean.thumbnail, "md5")):
                thumb_key = thumbnail_key(key)  # our own first attempt, whose answer was lost
            else:
                raise AlreadyExists(
                    f"Could not store the image: {key} already has a thumbnail, so the key is taken.",
                    "Nothing was overwritten. Try again; keys are generated anew each time.",
                ) from exc
        except R2Error as exc:
            problems.append(f"The thumbnail was not stored ({exc.message}); regenerate it from Browse.")
    elif clean.thumbnail_error:
        problems.append(f"{clean.thumbnail_error} Regenerate it from Browse.")
    metadata = metadata_for(clean, original_name, uploaded_by, thumb_key is not None)
    content_type = clean.info.content_type
    try:
        if isinstance(clean, CleanImage):
            put_new(client, bucket, key, clean.body, content_type=content_type, metadata=metadata)
        elif copy_from is not None and not clean.changed:
            source, etag = copy_from
            copy_new(client, bucket, key, source=source, source_etag=etag, content_type=content_type, metadata=metadata)
        else:
            with clean.path.open("rb") as body:
                put_new(
                    client, bucket, key, body, content_type=content_type, metadata=metadata, content_length=clean.size
                )
    except Exception:  # R2Error, or anything unexpected: the original is not stored, so neither is its thumbnail
        if thumb_key is not None:
            _delete_quietly(client, bucket, thumb_key)
        raise
    return thumb_key, tuple(problems)


def stored_row(
    key: str,
    clean: Checked,
    *,
    original_name: str,
    uploaded_by: str,
    has_thumbnail: bool,
    copy_from: tuple[str, str] | None = None,
) -> Row:
    """The catalog row of an object `store` just wrote, from what the pipeline holds (no HEAD).

    The ETag is the MD5 of a single PUT's bytes, or the copied source's (a copy keeps it): the same a
    listing shows, so a later sync finds the row current and does not read the object again.
    """
    etag = copy_from[1] if copy_from is not None and not getattr(clean, "changed", True) else _digest(clean, "md5")
    now = datetime.now(UTC)
    return Row(
        key=key,
        size=clean.size,
        etag=etag.strip('"'),
        last_modified=now,
        content_type=clean.info.content_type,
        original_name=display_name(original_name),
        uploader=uploaded_by[:200],
        uploaded_at=now,
        width=clean.info.width,
        height=clean.info.height,
        format=clean.info.format,
        has_thumbnail=has_thumbnail,
        sha256=content_sha256(clean),
    )


def _delete_quietly(client: S3Client, bucket: str, key: str) -> None:
    # An orphan thumbnail would be harmless (hidden, keyed by a uuid no object has), but try to leave nothing.
    with contextlib.suppress(R2Error), s3_errors("delete the new thumbnail", target=key):
        client.delete_object(Bucket=bucket, Key=key)
