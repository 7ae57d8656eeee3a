"""Thumbnails: small WebP images stored at `naming.thumbnail_key(key)`, so Browse needs no lookup.

JPEGs are opened in draft mode (the decoder scales by 1/2..1/8 while decoding), so a 12 MP photo is
never fully decoded. EXIF orientation is applied, so thumbnails are upright.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image, ImageOps

from r2.client import S3Client
from r2.errors import R2Error, translate
from r2.naming import thumbnail_key

THUMB_SIZE = 320  # longest side, pixels
THUMB_QUALITY = 80
THUMB_CACHE_CONTROL = "public, max-age=31536000, immutable"


def make_thumbnail(data: bytes | BinaryIO, size: int = THUMB_SIZE) -> bytes:
    """WebP bytes of an upright thumbnail whose longest side is at most `size`."""
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
    extra = {"IfNoneMatch": "*"} if if_new else {}
    try:
        client.put_object(
            Bucket=bucket,
            Key=thumb_key,
            Body=thumbnail,
            ContentType="image/webp",
            CacheControl=THUMB_CACHE_CONTROL,
            **extra,
        )
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="store the thumbnail", target=thumb_key) from exc
    return thumb_key


@dataclass(frozen=True)
class RegenerateResult:
    made: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]  # (key, reason)


def regenerate(
    client: S3Client,
    bucket: str,
    keys: Sequence[str],
    on_progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RegenerateResult:
    """Download each original, make and store its thumbnail. Failures are collected, not raised."""
    made: list[str] = []
    failed: list[tuple[str, str]] = []
    for index, key in enumerate(keys):
        if should_stop is not None and should_stop():
            break
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            store_thumbnail(client, bucket, key, make_thumbnail(body))
            made.append(key)
        except (ClientError, BotoCoreError) as exc:
            failed.append((key, str(translate(exc, action="read the original", target=key))))
        except R2Error as exc:
            failed.append((key, str(exc)))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            failed.append((key, f"not a readable image ({type(exc).__name__})"))
        if on_progress is not None:
            on_progress(index + 1, len(keys), key)
    return RegenerateResult(tuple(made), tuple(failed))
