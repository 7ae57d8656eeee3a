"""Image checks and metadata removal: identify by content, enforce limits, strip GPS (or all) metadata.

Everything here works on bytes and never talks to the bucket, so every upload path (the Upload page,
the command line, direct browser uploads checked afterwards) uses the same rules.

How each format is cleaned (pixels are never touched unless said so):
- JPEG: the marker segments are walked and the EXIF APP1 segment is rebuilt without the GPS IFD and
  spliced in place (~1 ms; the compressed image data is copied byte for byte). XMP (which can hold a
  location too) is dropped, as are multi-picture (MPF) segments and anything after the end-of-image
  marker (secondary images carry their own EXIF; trailing data is where polyglots hide).
- PNG: chunks are walked; the eXIf chunk is rebuilt without GPS, XMP (`iTXt XML:com.adobe.xmp`) and
  ImageMagick's raw EXIF/XMP profiles in text chunks are dropped, data after IEND is dropped.
- WebP: RIFF chunks are walked; the EXIF chunk is rebuilt without GPS, the XMP chunk dropped and the
  VP8X flags and RIFF size fixed.
- GIF: blocks are walked; XMP application extensions are dropped (GIF has no EXIF); data after the
  trailer is dropped.
- AVIF: its metadata lives inside ISOBMFF item boxes whose offsets would all have to be rewritten, so
  an AVIF that carries EXIF GPS or XMP is re-encoded by Pillow without them (lossy, slower); an AVIF
  without such metadata is stored byte for byte.
With strip mode "all", comments and text chunks go too, and EXIF is reduced to the orientation tag
alone (dropping it would show photos sideways). ICC colour profiles are kept: they are not personal.
Every cleaned file is opened again and checked (no GPS, no XMP): if anything remains, it is refused.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from PIL import ExifTags, Image, UnidentifiedImageError

from r2.errors import InvalidInput
from r2.settings import IMAGE_FORMATS, Settings

StripMode = Literal["gps", "all"]

# Detected format -> (file extension, Content-Type)
FORMAT_TYPES: dict[str, tuple[str, str]] = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
    "AVIF": ("avif", "image/avif"),
}
MAX_FRAME_PIXELS_FACTOR = 4  # animations: all frames together may hold 4x the pixel limit
MAX_FRAMES = 1000
_ORIENTATION = ExifTags.Base.Orientation
_GPS = ExifTags.IFD.GPSInfo


class ImageRejected(InvalidInput):
    """The file is not an acceptable image; `message` says why in words a person understands."""


@dataclass(frozen=True)
class ImagePolicy:
    """What an upload must be. The pixel cap is also bounded by Pillow's bomb guard (~89 MP)."""

    formats: tuple[str, ...] = IMAGE_FORMATS
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 50_000_000
    strip: StripMode = "gps"

    @classmethod
    def from_settings(cls, settings: Settings) -> ImagePolicy:
        return cls(settings.image_formats, settings.max_upload_bytes, settings.max_pixels, settings.strip_metadata)

    def describe(self) -> str:
        names = ", ".join("WebP" if f == "WEBP" else f for f in self.formats)
        return f"{names}; up to {self.max_bytes / 1024 / 1024:g} MiB and {self.max_pixels / 1e6:g} megapixels"


@dataclass(frozen=True)
class ImageInfo:
    format: str  # one of FORMAT_TYPES
    width: int
    height: int
    frames: int = 1

    @property
    def ext(self) -> str:
        return FORMAT_TYPES[self.format][0]

    @property
    def content_type(self) -> str:
        return FORMAT_TYPES[self.format][1]


@dataclass(frozen=True)
class CleanImage:
    """A checked image ready to store: the (cleaned) bytes and what was learned and removed."""

    body: bytes = field(repr=False)
    info: ImageInfo
    removed: tuple[str, ...]  # human words: "GPS location", "XMP", ...
    thumbnail: bytes | None = field(default=None, repr=False)
    thumbnail_error: str = ""

    @property
    def size(self) -> int:
        return len(self.body)


# ---------------------------------------------------------------- reading and identifying


def read_source(source: bytes | Path | BinaryIO, max_bytes: int) -> bytes:
    """The bytes of `source`, refusing empty and oversized input before reading more than the limit."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, Path):
        try:
            size = source.stat().st_size
        except OSError as exc:
            raise ImageRejected(f"The file cannot be read ({type(exc).__name__}).") from exc
        check_size(size, max_bytes)
        data = source.read_bytes()
    else:
        data = source.read(max_bytes + 1)
    check_size(len(data), max_bytes)
    return data


def check_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise ImageRejected("The file is empty (0 bytes).")
    if size > max_bytes:
        raise ImageRejected(
            f"The file is {size / 1024 / 1024:.1f} MiB; the limit is {max_bytes / 1024 / 1024:g} MiB.",
            "Resize or compress it first.",
        )


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


def _what_is_it(head: bytes) -> str:
    for pattern, name in _NOT_IMAGES:
        if pattern.search(head):
            return name
    return ""


def inspect(data: bytes, policy: ImagePolicy, *, thumb_size: int | None = None) -> tuple[ImageInfo, Image.Image]:
    """Identify `data` by content and decode it completely; returns its info and the decoded image.

    JPEGs are decoded in draft mode scaled to about `thumb_size` (the decoder still reads every byte,
    so truncation and corruption are caught, but a 12 MP photo costs a few milliseconds); the image
    returned can then be used for the thumbnail. Raises `ImageRejected` with a readable reason.
    """
    check_size(len(data), policy.max_bytes)
    allowed = [f for f in policy.formats if f in FORMAT_TYPES]
    # catch_warnings changes process-wide filters; only DecompressionBombWarning is affected, and the
    # explicit pixel check below enforces the cap on its own, so concurrent sessions stay safe.
    with warnings.catch_warnings():
        # Pillow only warns between ~89 and ~179 MP: treat the warning as the bomb it announces.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=allowed)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(policy, exc=exc) from exc
        except UnidentifiedImageError as exc:
            raise _unidentified(data, policy) from exc
        except Exception as exc:  # untrusted bytes: any parser failure is a rejection
            raise ImageRejected("The file is a damaged image (its header cannot be read).") from exc
        try:
            fmt = str(image.format)
            width, height = image.size
            if width <= 0 or height <= 0:
                raise ImageRejected("The image has no pixels.")
            if width * height > policy.max_pixels:
                raise _too_many_pixels(policy, width, height)
            frames = int(getattr(image, "n_frames", 1))
            if frames > MAX_FRAMES or frames * width * height > policy.max_pixels * MAX_FRAME_PIXELS_FACTOR:
                raise ImageRejected(
                    f"The animation has {frames} frames of {width}×{height}: too many pixels to check safely.",
                    "Upload a shorter or smaller animation.",
                )
            if fmt == "JPEG" and thumb_size:
                image.draft("RGB", (thumb_size, thumb_size))
            _decode_all(image, frames)
        except ImageRejected:
            image.close()
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            image.close()
            raise _too_many_pixels(policy, exc=exc) from exc
        except Exception as exc:  # any decoder failure on untrusted bytes is a rejection (fail closed)
            image.close()
            raise ImageRejected(
                f"The file starts like a {_nice(fmt)} image but does not decode: it is truncated or corrupt "
                f"({_short(exc)}).",
                "Export it again from the original.",
            ) from exc
    return ImageInfo(fmt, width, height, frames), image


def _decode_all(image: Image.Image, frames: int) -> None:
    for index in range(frames):
        if index:
            image.seek(index)
        image.load()
    if frames > 1:
        image.seek(0)
        image.load()


def _nice(fmt: str) -> str:
    return {"WEBP": "WebP"}.get(fmt, fmt)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _too_many_pixels(
    policy: ImagePolicy, width: int = 0, height: int = 0, exc: BaseException | None = None
) -> ImageRejected:
    pixels = width * height
    if not pixels and exc is not None and (found := re.search(r"\((\d+) pixels\)", str(exc))):
        pixels = int(found.group(1))  # Pillow's bomb check names the size before we could read it
    size = f" ({width}×{height})" if width else ""
    amount = f"{_megapixels(pixels)} megapixels{size}" if pixels else "too many pixels"
    limit = min(policy.max_pixels, Image.MAX_IMAGE_PIXELS or policy.max_pixels)  # Pillow's own bomb guard
    return ImageRejected(
        f"The image has {amount}; the limit is {_megapixels(limit)} megapixels "
        "(a decompression bomb or a very large image would exhaust the server's memory).",
        "Resize it first.",
    )


def _megapixels(pixels: int) -> str:
    mp = pixels / 1e6
    return f"{mp:,.0f}" if mp >= 10 else f"{mp:.2g}"


def _unidentified(data: bytes, policy: ImagePolicy) -> ImageRejected:
    what = _what_is_it(data[:512])
    accepted = ", ".join(_nice(f) for f in policy.formats)
    if what:
        return ImageRejected(f"The file is {what}, not an accepted image.", f"Accepted: {accepted}.")
    try:  # known to Pillow but not allowed here?
        with Image.open(io.BytesIO(data)) as other:
            if other.format in FORMAT_TYPES:
                name = _nice(str(other.format))
                return ImageRejected(f"{name} images are not accepted here.", f"Accepted: {accepted}.")
    except (OSError, ValueError, SyntaxError, struct.error, Image.DecompressionBombError):
        pass
    return ImageRejected(
        "The file is not an image of an accepted format (its content was checked, not its name).",
        f"Accepted: {accepted}.",
    )


# ---------------------------------------------------------------- EXIF helpers


def _clean_exif(payload: bytes, strip: StripMode) -> tuple[bytes | None, list[str]]:
    """EXIF bytes (same framing as given) without GPS, or with only orientation for "all".

    Returns (new payload or None to drop the block, what was removed). Unchanged blocks come back
    as the very same bytes.
    """
    prefix = b"Exif\x00\x00" if payload.startswith(b"Exif\x00\x00") else b""
    exif = Image.Exif()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exif.load(payload)
            if _GPS in exif:
                exif.get_ifd(_GPS)  # parse it too: a GPS block we cannot read is damaged EXIF
        except Exception as exc:  # untrusted bytes
            raise ImageRejected("The image's EXIF metadata is damaged and cannot be cleaned safely.") from exc
    damaged = any(issubclass(w.category, UserWarning) for w in caught)
    if damaged:
        # Pillow read only part of it: what it missed might be a location. Keep the orientation only.
        strip = "all"
    if strip == "all":
        orientation = exif.get(_ORIENTATION)
        what = "damaged EXIF" if damaged else "EXIF"
        if not isinstance(orientation, int) or not 2 <= orientation <= 8:
            return None, [what]
        minimal = Image.Exif()
        minimal[_ORIENTATION] = orientation
        return _reframe(minimal.tobytes(), prefix), [f"{what} (orientation kept)"]
    if _GPS not in exif:
        return payload, []
    exif.pop(_GPS)
    exif._ifds.pop(_GPS, None)  # tobytes() writes cached sub-IFDs back unless removed here too
    return _reframe(exif.tobytes(), prefix), ["GPS location"]


def _reframe(exif_bytes: bytes, prefix: bytes) -> bytes:
    """`Exif.tobytes()` always starts with `Exif\\0\\0`; PNG and WebP want the bare TIFF data."""
    body = exif_bytes[6:] if exif_bytes.startswith(b"Exif\x00\x00") else exif_bytes
    return prefix + body


# ---------------------------------------------------------------- JPEG

_XMP_JPEG = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
_JPEG_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")  # a marker inside/after entropy-coded data


def strip_jpeg(data: bytes, strip: StripMode) -> tuple[bytes, list[str]]:
    if data[:2] != b"\xff\xd8":
        raise ImageRejected("The JPEG does not start with a start-of-image marker.")
    out = [data[:2]]
    removed: list[str] = []
    pos, n = 2, len(data)
    while True:
        if pos + 1 >= n or data[pos] != 0xFF:
            raise ImageRejected("The JPEG's structure is damaged (cannot find its next marker).")
        while data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
            if pos + 1 >= n:
                raise ImageRejected("The JPEG's structure is damaged.")
        marker = data[pos + 1]
        if marker == 0xD9:  # end of image
            out.append(b"\xff\xd9")
            if pos + 2 < n:
                removed.append("data after the image end")
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        if pos + 4 > n:
            raise ImageRejected("The JPEG is truncated.")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > n:
            raise ImageRejected("The JPEG is truncated.")
        payload = data[pos + 4 : end]
        keep, what = _jpeg_segment(marker, payload, strip)
        removed += what
        if keep is not None:
            out.append(keep if keep is not payload else data[pos:end])
        pos = end
        if marker == 0xDA:  # start of scan: copy the entropy-coded data up to the next marker
            found = _JPEG_MARKER.search(data, pos)
            if found is None:
                raise ImageRejected("The JPEG is truncated (no end-of-image marker).")
            out.append(data[pos : found.start()])
            pos = found.start()
    return b"".join(out), sorted(set(removed), key=removed.index)


def _jpeg_segment(marker: int, payload: bytes, strip: StripMode) -> tuple[bytes | None, list[str]]:
    """The segment to write (the payload object itself = unchanged; bytes = a whole new segment)."""
    if marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
        new, what = _clean_exif(payload, strip)
        if new is None:
            return None, what
        if new is payload:
            return payload, what
        if len(new) + 2 > 0xFFFF:
            raise ImageRejected("The cleaned EXIF block does not fit in a JPEG segment.")
        return b"\xff\xe1" + (len(new) + 2).to_bytes(2, "big") + new, what
    if marker == 0xE1 and payload.startswith(_XMP_JPEG):
        return None, ["XMP"]
    if marker == 0xE2 and payload.startswith(b"MPF\x00"):
        return None, ["multi-picture index"]
    if strip == "all":
        if marker == 0xFE:
            return None, ["comments"]
        if marker == 0xED:
            return None, ["IPTC"]
        if 0xE1 <= marker <= 0xEF and marker not in (0xE2, 0xEE):  # keep ICC (APP2) and Adobe (APP14)
            return None, ["other metadata"]
        if marker == 0xE2 and not payload.startswith(b"ICC_PROFILE\x00"):
            return None, ["other metadata"]
    return payload, []


# ---------------------------------------------------------------- PNG

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT = (b"tEXt", b"zTXt", b"iTXt")


def strip_png(data: bytes, strip: StripMode) -> tuple[bytes, list[str]]:
    if not data.startswith(_PNG_SIGNATURE):
        raise ImageRejected("The PNG signature is missing.")
    out = [_PNG_SIGNATURE]
    removed: list[str] = []
    pos, n = 8, len(data)
    while True:
        if pos + 12 > n:
            raise ImageRejected("The PNG is truncated.")
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n:
            raise ImageRejected("The PNG is truncated.")
        body = data[pos + 8 : pos + 8 + length]
        if ctype == b"eXIf":
            new, what = _clean_exif(body, strip)
            removed += what
            if new is body:
                out.append(data[pos:end])
            elif new is not None:
                out.append(_png_chunk(b"eXIf", new))
        elif ctype in _PNG_TEXT:
            keyword = body.split(b"\x00", 1)[0]
            if keyword == b"XML:com.adobe.xmp" or keyword.lower().startswith(b"raw profile type"):
                removed.append("XMP" if keyword.startswith(b"XML") else "EXIF/XMP text profile")
            elif strip == "all":
                removed.append("text chunks")
            else:
                out.append(data[pos:end])
        elif ctype == b"tIME" and strip == "all":
            removed.append("text chunks")
        else:
            out.append(data[pos:end])
        pos = end
        if ctype == b"IEND":
            if pos < n:
                removed.append("data after the image end")
            break
    return b"".join(out), sorted(set(removed), key=removed.index)


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + ctype + body + zlib.crc32(ctype + body).to_bytes(4, "big")


# ---------------------------------------------------------------- WebP


def strip_webp(data: bytes, strip: StripMode) -> tuple[bytes, list[str]]:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ImageRejected("The WebP's RIFF header is missing.")
    riff_end = min(8 + int.from_bytes(data[4:8], "little"), len(data))
    removed: list[str] = ["data after the image end"] if riff_end < len(data) else []
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos + 8 <= riff_end:
        fourcc = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = data[pos + 8 : pos + 8 + size]
        if len(body) < size:
            raise ImageRejected("The WebP is truncated.")
        pos += 8 + size + (size & 1)
        if fourcc == b"EXIF":
            new, what = _clean_exif(body, strip)
            removed += what
            if new is not None:
                chunks.append((fourcc, new))
        elif fourcc == b"XMP ":
            removed.append("XMP")
        else:
            chunks.append((fourcc, body))
    if not removed:
        return data, []
    names = {c[0] for c in chunks}
    out = []
    for fourcc, body in chunks:
        if fourcc == b"VP8X" and body:
            flags = body[0] & ~0x0C  # clear EXIF (0x08) and XMP (0x04) ...
            flags |= 0x08 if b"EXIF" in names else 0  # ... and set EXIF again if one is kept
            body = bytes([flags]) + body[1:]
        out.append(fourcc + len(body).to_bytes(4, "little") + body + (b"\x00" if len(body) & 1 else b""))
    payload = b"WEBP" + b"".join(out)
    return b"RIFF" + len(payload).to_bytes(4, "little") + payload, sorted(set(removed), key=removed.index)


# ---------------------------------------------------------------- GIF


def strip_gif(data: bytes, strip: StripMode) -> tuple[bytes, list[str]]:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise ImageRejected("The GIF header is missing.")
    packed = data[10]
    pos = 13 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
    out = [data[:pos]]
    removed: list[str] = []
    n = len(data)

    def sub_blocks(start: int) -> int:
        while True:
            if start >= n:
                raise ImageRejected("The GIF is truncated.")
            size = data[start]
            start += 1 + size
            if size == 0:
                return start

    while True:
        if pos >= n:
            raise ImageRejected("The GIF is truncated (no trailer).")
        kind = data[pos]
        if kind == 0x3B:
            out.append(b"\x3b")
            if pos + 1 < n:
                removed.append("data after the image end")
            break
        if kind == 0x2C:
            flags = data[pos + 9] if pos + 9 < n else 0
            start = pos + 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0) + 1  # + LZW code size
            end = sub_blocks(start)
            out.append(data[pos:end])
        elif kind == 0x21:
            label = data[pos + 1] if pos + 1 < n else 0
            end = sub_blocks(pos + 2)
            ident = data[pos + 3 : pos + 14] if label == 0xFF else b""
            if ident == b"XMP DataXMP":
                removed.append("XMP")
            elif label == 0xFE and strip == "all":
                removed.append("comments")
            elif label == 0xFF and strip == "all" and ident not in (b"NETSCAPE2.0", b"ANIMEXTS1.0"):
                removed.append("other metadata")
            else:
                out.append(data[pos:end])
        else:
            raise ImageRejected("The GIF's structure is damaged.")
        pos = end
    return b"".join(out), sorted(set(removed), key=removed.index)


# ---------------------------------------------------------------- AVIF (re-encode only when needed)


def strip_avif(data: bytes, strip: StripMode) -> tuple[bytes, list[str]]:
    with Image.open(io.BytesIO(data), formats=["AVIF"]) as image:
        exif = image.getexif()
        has_xmp = bool(image.info.get("xmp"))
        needs = has_xmp or (_GPS in exif) or (strip == "all" and len(exif) > 0)
        if not needs:
            return data, []
        removed = ["XMP"] if has_xmp else []
        new_exif = b""
        if exif:
            cleaned, what = _clean_exif(exif.tobytes(), strip)
            removed += what
            new_exif = cleaned or b""
        out = io.BytesIO()
        frames = int(getattr(image, "n_frames", 1))
        image.save(out, format="AVIF", quality=90, exif=new_exif, save_all=frames > 1)
    return out.getvalue(), [*removed, "re-encoded (AVIF metadata cannot be removed losslessly)"]


_STRIPPERS: dict[str, Callable[[bytes, StripMode], tuple[bytes, list[str]]]] = {
    "JPEG": strip_jpeg,
    "PNG": strip_png,
    "WEBP": strip_webp,
    "GIF": strip_gif,
    "AVIF": strip_avif,
}


def strip_metadata(data: bytes, fmt: str, strip: StripMode) -> tuple[bytes, tuple[str, ...]]:
    """Remove GPS/XMP (or all metadata) from `data` of the detected format, then check the result."""
    try:
        cleaned, removed = _STRIPPERS[fmt](data, strip)
    except ImageRejected:
        raise
    except Exception as exc:  # malformed structure or metadata Pillow cannot rewrite: refuse, never store as is
        raise ImageRejected(
            f"The image's metadata could not be removed safely ({_short(exc)}); it was not stored.",
            "Export the image again (for example without location) and retry.",
        ) from exc
    _check_clean(cleaned, fmt, strip)
    return cleaned, tuple(removed)


def _check_clean(data: bytes, fmt: str, strip: StripMode) -> None:
    """Open the cleaned bytes again (headers only) and refuse if location metadata survived."""
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            exif = image.getexif()
            leftovers = []
            if _GPS in exif:
                leftovers.append("GPS")
            if image.info.get("xmp") or (fmt == "GIF" and b"\x21\xff\x0bXMP DataXMP" in data):
                leftovers.append("XMP")
            if strip == "all" and set(exif) - {_ORIENTATION}:
                leftovers.append("EXIF")
    except Exception as exc:  # untrusted bytes: any parser failure is a rejection
        raise ImageRejected("Removing the metadata damaged the image; it was not stored.") from exc
    if leftovers:
        raise ImageRejected(f"Could not remove {', '.join(leftovers)} from the image; it was not stored.")


# ---------------------------------------------------------------- the whole check


def clean(
    source: bytes | Path | BinaryIO,
    policy: ImagePolicy,
    *,
    thumb_size: int | None = None,
    thumbnail: Callable[[Image.Image], bytes] | None = None,
) -> CleanImage:
    """Read, identify, fully decode and strip metadata; optionally make the thumbnail from the decode.

    Works on bytes, an open binary file or a path (a temporary file of a direct upload), so every
    upload path shares it. Raises `ImageRejected`. A thumbnail failure does not reject the image.
    """
    data = read_source(source, policy.max_bytes)
    info, image = inspect(data, policy, thumb_size=thumb_size)
    thumb: bytes | None = None
    thumb_error = ""
    try:
        if thumbnail is not None:
            try:
                thumb = thumbnail(image)
            except Exception as exc:  # a thumbnail failure must not lose the original
                thumb_error = f"The thumbnail could not be made ({_short(exc)})."
    finally:
        image.close()
    body, removed = strip_metadata(data, info.format, policy.strip)
    return CleanImage(body, info, removed, thumb, thumb_error)
