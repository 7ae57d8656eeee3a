"""Identify an upload by its content and decode it completely, within the pixel and frame limits."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

import r2.images.heic as heic
from r2.images.model import (
    FORMAT_TYPES,
    MAX_FRAME_PIXELS_FACTOR,
    MAX_FRAMES,
    ImageInfo,
    ImagePolicy,
    ImageRejected,
    format_label,
    short_reason,
)
from r2.images.source import check_size, size_of

_NOT_IMAGES: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*(<!DOCTYPE svg|<svg)", re.I | re.S), "an SVG drawing"),
    (re.compile(rb"^\s*(<!DOCTYPE html|<html|<head|<body|<script|<!--|<meta)", re.I), "an HTML page or script"),
    (re.compile(rb"^%PDF-"), "a PDF document"),
    (re.compile(rb"^#!"), "a script"),
    (re.compile(rb"^PK\x03\x04"), "a ZIP archive"),
    (re.compile(rb"^\s*<\?xml", re.I), "an XML document"),
    (re.compile(rb"^(II\*\x00|MM\x00\*)"), "a TIFF image (not accepted)"),
    (re.compile(rb"^BM"), "a BMP image (not accepted)"),
    (re.compile(rb"^\x00\x00\x00.ftyp(heic|heix|mif1|msf1|hevc)"), "a HEIC image (not accepted: export as JPEG)"),
)


def non_image_kind(head: bytes) -> str:
    for pattern, name in _NOT_IMAGES:
        if pattern.search(head):
            return name
    return ""


def inspect(data: bytes | Path, policy: ImagePolicy, *, thumb_size: int | None = None) -> tuple[ImageInfo, Image.Image]:
    """Identify `data` (bytes, or a file on disk) by content and decode it completely; returns its info
    and the decoded image.

    A file is opened lazily by Pillow (headers first, then the pixel data in blocks), so the memory
    used is that of the decoded pixels, bounded by the pixel cap, not by the file's size.

    JPEGs are decoded in draft mode scaled to about `thumb_size` (the decoder still reads every byte,
    so truncation and corruption are caught, but a 12 MP photo costs a few milliseconds); the image
    returned can then be used for the thumbnail. Raises `ImageRejected` with a readable reason.
    """
    check_size(size_of(data), policy.max_bytes)
    allowed = [f for f in policy.formats if f in FORMAT_TYPES]
    if heic.FORMAT in allowed:
        heic.register()
        allowed = [heic.PILLOW_FORMAT if f == heic.FORMAT else f for f in allowed]
    # catch_warnings changes process-wide filters; only DecompressionBombWarning is affected, and the
    # explicit pixel check below enforces the cap on its own, so concurrent sessions stay safe.
    with warnings.catch_warnings():
        # Pillow only warns between ~89 and ~179 MP: treat the warning as the bomb it announces.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(_open(data), formats=allowed)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(policy, exc=exc) from exc
        except UnidentifiedImageError as exc:
            raise _unidentified(data, policy) from exc
        except Exception as exc:  # untrusted bytes: any parser failure is a rejection
            raise ImageRejected("The file is a damaged image (its header cannot be read).") from exc
        try:
            fmt = _identified_format(image)
            width, height = image.size
            if width <= 0 or height <= 0:
                raise ImageRejected("The image has no pixels.")
            if width * height > policy.max_pixels:
                raise _too_many_pixels(policy, width, height)
            frames = int(getattr(image, "n_frames", 1)) if image.format != "MPO" else 1
            if frames > MAX_FRAMES or frames * width * height > policy.max_pixels * MAX_FRAME_PIXELS_FACTOR:
                raise ImageRejected(
                    f"The animation has {frames} frames of {width}×{height}: too many pixels to check safely.",
                    "Upload a shorter or smaller animation.",
                )
            if fmt == "JPEG" and thumb_size:
                image.draft("RGB", (thumb_size, thumb_size))
            _decode_all(image, frames, policy)
        except ImageRejected:
            image.close()
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            image.close()
            raise _too_many_pixels(policy, exc=exc) from exc
        except Exception as exc:  # any decoder failure on untrusted bytes is a rejection (fail closed)
            image.close()
            raise ImageRejected(
                f"The file starts like a {format_label(fmt)} image but does not decode: it is truncated or corrupt "
                f"({short_reason(exc)}).",
                "Export it again from the original.",
            ) from exc
    return ImageInfo(fmt, width, height, frames), image


def _identified_format(image: Image.Image) -> str:
    """Pillow's format name, except that a multi-picture JPEG (MPO: what many phones and cameras write,
    Pillow's name even when asked for JPEG only) is a JPEG: its first picture is the photo, and the
    secondary pictures (previews, depth or gain maps) are dropped when its metadata is cleaned."""
    return {"MPO": "JPEG", heic.PILLOW_FORMAT: heic.FORMAT}.get(str(image.format), str(image.format))


def _decode_all(image: Image.Image, frames: int, policy: ImagePolicy) -> None:
    """Decode every frame, each checked against the pixel cap by its own size before it is decoded.

    Seeking reads a frame's header only; a GIF frame larger than the logical screen enlarges the
    canvas there (so `image.size` is what the decode will allocate), and only `load()` decodes.
    """
    budget, spent = policy.max_pixels * MAX_FRAME_PIXELS_FACTOR, 0
    for index in range(frames):
        if index:
            image.seek(index)
        width, height = image.size
        if width * height > policy.max_pixels:
            raise _too_many_pixels(policy, width, height, frame=index + 1)
        spent += width * height
        if spent > budget:
            raise ImageRejected(
                f"The animation's first {index + 1} frames hold {_megapixels(spent)} megapixels: too many pixels "
                "to check safely.",
                "Upload a shorter or smaller animation.",
            )
        image.load()
    if frames > 1:
        image.seek(0)
        image.load()


def _too_many_pixels(
    policy: ImagePolicy, width: int = 0, height: int = 0, exc: BaseException | None = None, frame: int = 0
) -> ImageRejected:
    pixels = width * height
    if not pixels and exc is not None and (found := re.search(r"\((\d+) pixels\)", str(exc))):
        pixels = int(found.group(1))  # Pillow's bomb check names the size before we could read it
    size = f" ({width}×{height})" if width else ""
    amount = f"{_megapixels(pixels)} megapixels{size}" if pixels else "too many pixels"
    limit = min(policy.max_pixels, Image.MAX_IMAGE_PIXELS or policy.max_pixels)  # Pillow's own bomb guard
    what = f"The animation's frame {frame}" if frame > 1 else "The image"
    return ImageRejected(
        f"{what} has {amount}; the limit is {_megapixels(limit)} megapixels "
        "(a decompression bomb or a very large image would exhaust the server's memory).",
        "Resize it first.",
    )


def _megapixels(pixels: int) -> str:
    mp = pixels / 1e6
    return f"{mp:,.0f}" if mp >= 10 else f"{mp:.2g}"


def _open(data: bytes | Path) -> BinaryIO | Path:
    """What Pillow opens: the bytes wrapped, or the path (Pillow then reads the file lazily and closes it)."""
    return io.BytesIO(data) if isinstance(data, bytes) else data


def _head(data: bytes | Path, size: int = 512) -> bytes:
    if isinstance(data, bytes):
        return data[:size]
    with data.open("rb") as file:
        return file.read(size)


def _unidentified(data: bytes | Path, policy: ImagePolicy) -> ImageRejected:
    what = non_image_kind(_head(data))
    accepted = ", ".join(format_label(f) for f in policy.formats)
    if what.startswith("a HEIC") and heic.FORMAT in policy.formats:
        return ImageRejected(
            "The file starts like a HEIC image but cannot be read: it is truncated or corrupt.",
            "Export it again from the original.",
        )
    if what:
        return ImageRejected(f"The file is {what}, not an accepted image.", f"Accepted: {accepted}.")
    try:  # known to Pillow but not allowed here? Only to name it: headers are read, pixels never.
        with Image.open(_open(data)) as other:
            if other.format in FORMAT_TYPES:
                name = format_label(str(other.format))
                return ImageRejected(f"{name} images are not accepted here.", f"Accepted: {accepted}.")
            if other.format:
                return ImageRejected(
                    f"The file is an image in the {other.format} format, which is not accepted here.",
                    f"Accepted: {accepted}.",
                )
    except Exception:  # noqa: S110  untrusted bytes: any decoder's failure (NotImplementedError of an
        pass  # unimplemented DDS variant, the bomb warning of a huge FLI, ...) only means "not accepted"
    return ImageRejected(
        "The file is not an image of an accepted format (its content was checked, not its name).",
        f"Accepted: {accepted}.",
    )
