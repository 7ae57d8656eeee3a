"""Thumbnails: small WebP images stored at `naming.thumbnail_key(key)`, so Browse needs no lookup.

JPEGs are opened in draft mode (the decoder scales by 1/2..1/8 while decoding), so a 12 MP photo is
never fully decoded. EXIF orientation is applied, so thumbnails are upright. "Make missing thumbnails"
(`regenerate`) holds the upload rules: the allowed formats only, the size and pixel limits, and an
audit event per run.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from PIL import Image, ImageOps

from r2.audit import AuditEvent, record
from r2.browse import orphan_thumbnails
from r2.client import S3Client
from r2.errors import R2Error, s3_errors
from r2.images import ImagePolicy, check_size, inspect, read_source
from r2.naming import thumbnail_key
from r2.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

log = logging.getLogger(__name__)

THUMB_SIZE = 320  # longest side, pixels
THUMB_QUALITY = 80
THUMB_CACHE_CONTROL = "public, max-age=31536000, immutable"


def make_thumbnail(data: bytes | BinaryIO, size: int = THUMB_SIZE) -> bytes:
    """WebP bytes of an upright thumbnail whose longest side is at most `size`.

    For bytes this app made itself (benchmarks, tests): it opens whatever Pillow can open, with no
    limits. Anything stored by someone goes through `thumbnail_checked`."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with Image.open(source) as image:
        if image.format == "JPEG":
            image.draft("RGB", (size, size))
        return thumbnail_of(image, size)


def thumbnail_of(image: Image.Image, size: int = THUMB_SIZE) -> bytes:
    """The thumbnail of an image already opened (and, for JPEG, already in draft mode).

    The upload pipeline decodes each image once to check it and makes the thumbnail from that decode.
    The image is reduced in place and then turned upright, so no full-size copy is ever made (a 35 MP
    decode would double): the caller must not use `image` afterwards, only close it.
    """
    image.seek(0)  # first frame of animations
    image.thumbnail((size, size))  # replaces the full-size pixels by the small ones
    thumb = ImageOps.exif_transpose(image)  # a copy, upright: small now
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA" if "A" in thumb.getbands() or "transparency" in thumb.info else "RGB")
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=THUMB_QUALITY, method=4)
    return out.getvalue()


def store_thumbnail(client: S3Client, bucket: str, key: str, thumbnail: bytes, *, if_new: bool = False) -> str:
    """Put the thumbnail of `key` (overwriting an older thumbnail is fine: it is derived data).

    `if_new=True` (the upload pipeline, for a brand-new key) refuses to replace an existing thumbnail
    with `AlreadyExists`, so an upload can never touch another object's thumbnail.
    """
    thumb_key = thumbnail_key(key)
    extra: dict[str, Any] = {"IfNoneMatch": "*"} if if_new else {}
    with s3_errors("store the thumbnail", target=thumb_key, precondition="if-none-match" if if_new else ""):
        client.put_object(
            Bucket=bucket,
            Key=thumb_key,
            Body=thumbnail,
            ContentType="image/webp",
            CacheControl=THUMB_CACHE_CONTROL,
            **extra,
        )
    return thumb_key


@dataclass(frozen=True)
class RegenerateResult:
    made: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]  # (key, reason)
    audit_error: str = ""  # why the audit event was not written ("" when it was)


def thumbnail_checked(body: BinaryIO, size: int | None, policy: ImagePolicy) -> bytes:
    """The thumbnail of a stored original, under the upload rules: at most `policy.max_bytes` read
    (`size`: the length the server announced, checked before reading), identified by content among the
    allowed formats only (no other decoder, never an outside program such as Ghostscript), every frame
    within the pixel cap. Raises `ImageRejected` with the reason."""
    if size is not None:
        check_size(size, policy.max_bytes)
    _, image = inspect(read_source(body, policy.max_bytes), policy, thumb_size=THUMB_SIZE)
    with image:
        return thumbnail_of(image)


def regenerate(
    client: S3Client,
    settings: Settings,
    keys: Sequence[str],
    *,
    actor: str,
    target: str = "",
    on_progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RegenerateResult:
    """Download each original, make and store its thumbnail under the same format allow-list and
    limits as uploads (`thumbnail_checked`). Failures are collected, not raised. One `thumbnails` audit
    event records who ran it on what (`target`, e.g. the folder) and how it ended."""
    policy = ImagePolicy.from_settings(settings)
    bucket = settings.bucket
    made: list[str] = []
    failed: list[tuple[str, str]] = []
    for index, key in enumerate(keys):
        if should_stop is not None and should_stop():
            break
        try:
            with s3_errors("read the original", target=key):  # reading the body can fail too (a timeout)
                answer = client.get_object(Bucket=bucket, Key=key)
                with contextlib.closing(answer["Body"]) as body:
                    thumb = thumbnail_checked(body, answer.get("ContentLength"), policy)
            store_thumbnail(client, bucket, key, thumb)
            made.append(key)
        except R2Error as exc:  # the server's answer or ImageRejected: the reason in words
            failed.append((key, str(exc)))
        except Exception:  # a bug or a decoder's surprise: this object fails, the others go on
            log.exception("thumbnail of %s failed unexpectedly", key)
            failed.append((key, "The thumbnail could not be made (an unexpected error, logged for the operator)."))
        if on_progress is not None:
            on_progress(index + 1, len(keys), key)
    return RegenerateResult(tuple(made), tuple(failed), _audit(client, bucket, actor, target, len(keys), made, failed))


def _audit(
    client: S3Client, bucket: str, actor: str, target: str, asked: int, made: list[str], failed: list[tuple[str, str]]
) -> str:
    detail = f"made {len(made)} of {asked}"
    if failed:
        detail += "; failed: " + "; ".join(f"{key}: {why}" for key, why in failed[:10])
        detail += f"; and {len(failed) - 10} more" if len(failed) > 10 else ""
    outcome = "failed" if failed else "ok"
    try:
        record(client, bucket, AuditEvent(actor, "thumbnails", target or f"{asked} object(s)", outcome, detail[:4000]))
    except R2Error as exc:
        return exc.message
    return ""


ORPHAN_GRACE_SECONDS = 3600  # an upload writes its thumbnail a moment before its original: never race it


def remove_orphans(
    client: S3Client, bucket: str, folder: str, *, actor: str, older_than_seconds: float = ORPHAN_GRACE_SECONDS
) -> tuple[str, ...]:
    """Delete the thumbnails of one folder level whose original is gone (an upload cut between its two
    writes by a crash or a restart), older than the grace period; one audit event when any was removed.
    Deletes are free on R2."""
    orphans = orphan_thumbnails(client, bucket, folder, older_than_seconds=older_than_seconds)
    for start in range(0, len(orphans), 1000):
        batch: list[ObjectIdentifierTypeDef] = [{"Key": key} for key in orphans[start : start + 1000]]
        with s3_errors("remove thumbnails whose image is gone", target=folder or "/"):
            client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    if orphans:
        detail = f"removed {len(orphans)} thumbnail(s) whose image is gone: " + ", ".join(orphans[:20])
        with contextlib.suppress(R2Error):
            record(client, bucket, AuditEvent(actor, "thumbnails.orphans", folder or "/", "ok", detail[:4000]))
    return orphans
