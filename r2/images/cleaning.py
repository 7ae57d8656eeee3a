"""The whole check of one upload: read, identify, decode, convert a HEIC, strip, verify, make the thumbnail."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from PIL import Image

import r2.images.heic as heic
from r2.images.identify import inspect
from r2.images.model import ORIENTATION, CleanFile, CleanImage, ImageInfo, ImagePolicy, ImageRejected, short_reason
from r2.images.source import ByteView, check_size, read_source, size_of
from r2.images.strip import plan_strip, strip_checked, strip_metadata
from r2.images.verify import verify_clean


def _decode(
    source: bytes | Path,
    policy: ImagePolicy,
    thumb_size: int | None,
    thumbnail: Callable[[Image.Image], bytes] | None,
) -> tuple[ImageInfo, Image.Image, str, _Converted | None]:
    """Identify and fully decode; when a thumbnail is wanted, reduce the decode to its size at once
    (in place: the full-size pixels are freed before the metadata is stripped). A HEIC is converted to
    JPEG from the full decode first, and the image returned is then the stored JPEG (draft mode: a few
    milliseconds), so its thumbnail shows exactly what is stored even when the primary image is not the
    first. Returns the info, the image (the caller closes it), why the thumbnail cannot be made ("" when
    it can) and the conversion (None but for HEIC)."""
    info, image = inspect(source, policy, thumb_size=thumb_size)
    converted: _Converted | None = None
    if info.format == heic.FORMAT:
        try:
            converted = _convert_heic(image, info, policy)
        finally:
            image.close()
        image = Image.open(io.BytesIO(converted.body), formats=[heic.STORED_AS])
        if thumb_size:
            image.draft("RGB", (thumb_size, thumb_size))
    error = ""
    if thumbnail is not None and thumb_size:
        try:
            image.seek(0)  # the first frame of an animation is its thumbnail
            if image.format == "GIF" and image.size != (info.width, info.height):
                # A later frame enlarged Pillow's canvas (it stays enlarged); the stored file's first frame,
                # as any reader opens it, has the logical screen's size: show that.
                first = image.crop((0, 0, info.width, info.height))
                image.close()
                image = first
            image.thumbnail((thumb_size, thumb_size))
        except Exception as exc:  # a thumbnail failure must not lose the original
            error = f"The thumbnail could not be made ({short_reason(exc)})."
    return info, image, error, converted


@dataclass(frozen=True)
class _Converted:
    """A HEIC turned into a cleaned, checked JPEG (in memory: a few MB for a 12 MP photo)."""

    info: ImageInfo
    body: bytes = field(repr=False)
    removed: tuple[str, ...]


def _convert_heic(image: Image.Image, info: ImageInfo, policy: ImagePolicy) -> _Converted:
    try:
        jpeg, left_out = heic.to_jpeg(image, policy.jpeg_quality)
    except Exception as exc:  # untrusted content: any failure is a rejection, never a partial store
        raise ImageRejected(f"The HEIC photo could not be converted to JPEG ({short_reason(exc)}).") from exc
    body, removed = strip_metadata(jpeg, heic.STORED_AS, policy.strip)
    width, height = image.size
    stored = replace(info, format=heic.STORED_AS, width=width, height=height, frames=1, converted_from=info.format)
    return _Converted(stored, body, (*left_out, *removed))


def _thumbnail_as_stored(
    image: Image.Image, thumbnail: Callable[[Image.Image], bytes] | None, orientation: int, error: str
) -> tuple[bytes | None, str]:
    """The thumbnail, turned by the orientation the *stored* image has (`verify_clean`), whatever the
    original said in metadata that was removed (a PNG text profile, XMP): both look the same way up."""
    if thumbnail is None or error:
        return None, error
    try:
        exif = image.getexif()  # the very object `ImageOps.exif_transpose` reads (Pillow caches it)
        if orientation == 1:
            exif.pop(ORIENTATION, None)
        else:
            exif[ORIENTATION] = orientation
        return thumbnail(image), ""
    except Exception as exc:  # a thumbnail failure must not lose the original
        return None, f"The thumbnail could not be made ({short_reason(exc)})."


def clean(
    source: bytes | Path | BinaryIO,
    policy: ImagePolicy,
    *,
    thumb_size: int | None = None,
    thumbnail: Callable[[Image.Image], bytes] | None = None,
) -> CleanImage:
    """Read, identify, fully decode and strip metadata; optionally make the thumbnail from the decode.

    Works on bytes, an open binary file or a path, in memory (the app's upload path, whose bytes are
    in memory anyway). A large file already on disk goes through `clean_file` instead. Raises
    `ImageRejected`. A thumbnail failure does not reject the image.
    """
    data = read_source(source, policy.max_bytes)
    info, image, thumb_error, converted = _decode(data, policy, thumb_size, thumbnail)
    with image:  # the decoded image is freed on return
        if converted is not None:  # a HEIC: the checked JPEG is what is kept, upright (orientation 1)
            thumb, thumb_error = _thumbnail_as_stored(image, thumbnail, 1, thumb_error)
            return CleanImage(converted.body, converted.info, converted.removed, thumb, thumb_error)
        body, removed, orientation = strip_checked(data, info.format, policy.strip)
        thumb, thumb_error = _thumbnail_as_stored(image, thumbnail, orientation, thumb_error)
    return CleanImage(body, info, removed, thumb, thumb_error)


def clean_file(
    path: Path,
    policy: ImagePolicy,
    out: Path,
    *,
    thumb_size: int | None = None,
    thumbnail: Callable[[Image.Image], bytes] | None = None,
) -> CleanFile:
    """`clean` for a file on disk, file to file: the same checks, verdicts and cleaned bytes.

    Pillow reads `path` lazily; the metadata is stripped by walking the file with bounded buffers and
    written to `out` only if something changes (otherwise `out` is not created and the result points
    at `path`). Memory holds the decoded pixels (bounded by the pixel cap) and small buffers, never
    the file. The caller owns both files and removes them.
    """
    size = size_of(path)
    check_size(size, policy.max_bytes)
    info, image, thumb_error, converted = _decode(path, policy, thumb_size, thumbnail)
    with image:  # the decoded image is freed on return
        if converted is not None:  # a HEIC: the checked JPEG is what is kept, upright (orientation 1)
            out.write_bytes(converted.body)
            thumb, thumb_error = _thumbnail_as_stored(image, thumbnail, 1, thumb_error)
            return CleanFile(out, True, len(converted.body), converted.info, converted.removed, thumb, thumb_error)
        with path.open("rb") as source:
            view = ByteView(file=source, size=size)
            plan, removed = plan_strip(view, info.format, policy.strip)
            changed = not plan.unchanged(size)
            if changed:
                with out.open("wb") as target:
                    plan.write(view, target)
        result = out if changed else path
        with result.open("rb") as written:
            orientation = verify_clean(ByteView(file=written, size=plan.size), info.format, policy.strip)
        thumb, thumb_error = _thumbnail_as_stored(image, thumbnail, orientation, thumb_error)
    return CleanFile(result, changed, plan.size, info, removed, thumb, thumb_error)
