"""Image checks and metadata removal: identify by content, enforce limits, strip GPS (or all) metadata.

Nothing here talks to the bucket, so every upload path (the Upload page, the command line, direct
browser uploads checked afterwards) uses the same rules. `clean` works on bytes in memory (the app's
upload path, which holds them anyway); `clean_file` gives the same verdicts and the same cleaned bytes
file to file, for a direct upload downloaded to a temporary file: Pillow reads the file lazily and the
metadata walkers below read it through a small window, so memory holds the decoded pixels (bounded by
the pixel cap, about 4 bytes a pixel) and small buffers, never the file. Pillow itself keeps the
metadata it parses (JPEG APP/COM segments, PNG text and private chunks), normally a few KiB.

How each format is cleaned (pixels are never touched unless said so):
- JPEG (and multi-picture JPEGs, which Pillow calls MPO): the marker segments are walked and kept
  only when of a known-safe kind (`r2.jpeg_meta`): JFIF, EXIF, ICC, Adobe, Photoshop resources. The
  EXIF block is edited in place: GPS IFDs linked from any IFD, XMP/IPTC inside EXIF and unknown entries
  are unlinked and zeroed while nothing else moves, so IFD1 (the thumbnail) and maker notes stay valid.
  Photoshop blocks keep layout resources and IPTC without place names (XMP resource 0x0424 goes). XMP
  segments, vendor blocks (a FLIR APP1 holds GPS), multi-picture (MPF) indexes, stray bytes between
  segments (skipped as libjpeg does) and anything after the end-of-image marker (an MPO's secondary
  pictures, which carry their own EXIF; trailing data is where polyglots hide) are dropped. The
  compressed image data is copied byte for byte.
- PNG: chunks are walked; the eXIf chunk is rebuilt without GPS, XMP (`iTXt XML:com.adobe.xmp`) and
  ImageMagick's raw EXIF/XMP profiles in text chunks are dropped, data after IEND is dropped.
- WebP: RIFF chunks are walked; the EXIF chunk is rebuilt without GPS, the XMP chunk dropped and the
  VP8X flags and RIFF size fixed.
- GIF: blocks are walked; XMP application extensions are dropped (GIF has no EXIF); data after the
  trailer is dropped.
- HEIC/HEIF: converted to JPEG (`r2.heic`: browsers other than Safari cannot show HEIC), and the
  JPEG is then cleaned as above; the stored object is that JPEG.
- AVIF: its metadata lives inside ISOBMFF item boxes whose offsets would all have to be rewritten, so
  an AVIF that carries EXIF GPS or XMP is re-encoded by Pillow without them (lossy, slower); an AVIF
  without such metadata is stored byte for byte.
With strip mode "all", comments and text chunks go too, and EXIF is reduced to the orientation tag
alone (dropping it would show photos sideways). ICC colour profiles are kept: they are not personal.
Every cleaned file is opened again and checked (no GPS, no XMP; for JPEG, Pillow's own parsers read
every segment, IFD, Photoshop resource and IPTC field): if anything remains, it is refused.
"""

from __future__ import annotations

import io
import re
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Literal, overload

from PIL import ExifTags, Image, IptcImagePlugin, UnidentifiedImageError

from r2 import heic, jpeg_meta
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
    heic.FORMAT: ("heic", "image/heic"),  # what the browser sends; what is stored is a JPEG (`stored_format`)
}
MAX_FRAME_PIXELS_FACTOR = 4  # animations: all frames together may hold 4x the pixel limit
MAX_FRAMES = 1000
_ORIENTATION = ExifTags.Base.Orientation
_GPS = ExifTags.IFD.GPSInfo


def stored_format(fmt: str) -> str:
    """The format an upload of `fmt` is stored as (a HEIC becomes a JPEG; the others stay)."""
    return heic.STORED_AS if fmt == heic.FORMAT else fmt


class ImageRejected(InvalidInput):
    """The file is not an acceptable image; `message` says why in words a person understands."""


@dataclass(frozen=True)
class ImagePolicy:
    """What an upload must be. The pixel cap is also bounded by Pillow's bomb guard (~89 MP)."""

    formats: tuple[str, ...] = IMAGE_FORMATS
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 50_000_000
    strip: StripMode = "gps"
    jpeg_quality: int = heic.DEFAULT_QUALITY  # HEIC photos are stored as JPEG at this quality

    @classmethod
    def from_settings(cls, settings: Settings) -> ImagePolicy:
        return cls(
            settings.image_formats,
            settings.max_upload_bytes,
            settings.max_pixels,
            settings.strip_metadata,
            settings.heic_jpeg_quality,
        )

    def describe(self) -> str:
        shown = {"WEBP": "WebP", heic.FORMAT: f"HEIC (stored as {heic.STORED_AS})"}
        names = ", ".join(shown.get(f, f) for f in self.formats)
        return f"{names}; up to {self.max_bytes / 1024 / 1024:g} MiB and {self.max_pixels / 1e6:g} megapixels"


@dataclass(frozen=True)
class ImageInfo:
    format: str  # one of FORMAT_TYPES
    width: int
    height: int
    frames: int = 1
    converted_from: str = ""  # "HEIC" when the upload was converted to `format`

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


@dataclass(frozen=True)
class CleanFile:
    """A checked image on disk (`clean_file`): `path` is the cleaned copy, or the original file itself
    when nothing had to be removed (`changed` False: the bytes checked are the bytes to keep)."""

    path: Path
    changed: bool
    size: int
    info: ImageInfo
    removed: tuple[str, ...]
    thumbnail: bytes | None = field(default=None, repr=False)
    thumbnail_error: str = ""


# ---------------------------------------------------------------- reading and identifying


def read_source(source: bytes | Path | BinaryIO, max_bytes: int) -> bytes:
    """The bytes of `source`, refusing empty and oversized input before reading more than the limit."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, Path):
        check_size(_size_of(source), max_bytes)
        try:
            data = source.read_bytes()
        except OSError as exc:  # a folder, no permission, gone meanwhile: a refusal, never a traceback
            raise ImageRejected(f"The file cannot be read ({type(exc).__name__}).") from exc
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


CHUNK = 1024 * 1024  # bytes read at a time when copying or searching a file


class _View:
    """Read-only access to an image's bytes, in memory or in a file on disk, with bounded buffers.

    It answers what the strippers ask of `bytes` (`len`, `view[i]`, `view[a:b]`, a pattern search)
    without ever holding more of a file than a small window or the slice asked for, so the same
    segment walkers clean a 10 KiB upload in memory and a 100 MiB file on disk.
    """

    WINDOW = 64 * 1024

    def __init__(self, data: bytes | None = None, file: BinaryIO | None = None, size: int = 0) -> None:
        self._data, self._file = data, file
        self._size = len(data) if data is not None else size
        self._start, self._buf = 0, b""

    @classmethod
    def of(cls, data: bytes) -> _View:
        return cls(data=data)

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> bytes: ...
    def __getitem__(self, index: int | slice) -> int | bytes:
        if self._data is not None:
            return self._data[index]
        if isinstance(index, slice):
            start, stop, _ = index.indices(self._size)
            if stop <= start:
                return b""
            if not (self._start <= start and stop <= self._start + len(self._buf)):
                if stop - start > self.WINDOW:
                    return self._read(start, stop - start)
                self._fill(start)
            return self._buf[start - self._start : stop - self._start]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError("index out of range")
        if not self._start <= index < self._start + len(self._buf):
            self._fill(index)
        return self._buf[index - self._start]

    def _read(self, pos: int, size: int) -> bytes:
        assert self._file is not None
        self._file.seek(pos)
        return self._file.read(size)

    def _fill(self, pos: int) -> None:
        self._buf, self._start = self._read(pos, self.WINDOW), pos

    def search(self, pattern: re.Pattern[bytes], pos: int, width: int) -> int:
        """Where `pattern` (which always matches exactly `width` bytes) first occurs from `pos`, or -1."""
        if self._data is not None:
            found = pattern.search(self._data, pos)
            return found.start() if found else -1
        while pos < self._size:
            chunk = self._read(pos, CHUNK)
            found = pattern.search(chunk)
            if found:
                return pos + found.start()
            if pos + len(chunk) >= self._size or not chunk:
                return -1
            pos += len(chunk) - (width - 1)  # a match across the chunk boundary is found in the next one
        return -1

    def stream(self) -> BinaryIO:
        """A file object for Pillow (the caller's file, rewound; or the bytes wrapped)."""
        if self._data is not None:
            return io.BytesIO(self._data)
        assert self._file is not None
        self._file.seek(0)
        return self._file

    def bytes_of(self, start: int, end: int) -> bytes | memoryview:
        if self._data is not None:
            return memoryview(self._data)[start:end]  # no copy until the final join
        return self._read(start, end - start)

    def copy_to(self, start: int, end: int, target: BinaryIO) -> None:
        while start < end:
            block = self.bytes_of(start, min(end, start + CHUNK))
            if not block:
                raise ImageRejected("The file changed while it was being cleaned.")
            target.write(block)
            start += len(block)


class _Out:
    """The cleaned file as a plan: spans copied from the source and new bytes, in order."""

    def __init__(self) -> None:
        self.pieces: list[bytes | tuple[int, int]] = []

    def copy(self, start: int, end: int) -> None:
        if end <= start:
            return
        last = self.pieces[-1] if self.pieces else None
        if isinstance(last, tuple) and last[1] == start:
            self.pieces[-1] = (last[0], end)
        else:
            self.pieces.append((start, end))

    def add(self, data: bytes) -> None:
        if data:
            self.pieces.append(data)

    def unchanged(self, size: int) -> bool:
        """The plan is the source itself: nothing removed, nothing rewritten, not even a fill byte."""
        return self.pieces == [(0, size)]

    @property
    def size(self) -> int:
        return sum(p[1] - p[0] if isinstance(p, tuple) else len(p) for p in self.pieces)

    def to_bytes(self, source: _View, original: bytes) -> bytes:
        if self.unchanged(len(original)):
            return original  # the very same object: no copy
        return b"".join(source.bytes_of(*p) if isinstance(p, tuple) else p for p in self.pieces)

    def write(self, source: _View, target: BinaryIO) -> None:
        for piece in self.pieces:
            if isinstance(piece, tuple):
                source.copy_to(*piece, target)
            else:
                target.write(piece)


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


def inspect(data: bytes | Path, policy: ImagePolicy, *, thumb_size: int | None = None) -> tuple[ImageInfo, Image.Image]:
    """Identify `data` (bytes, or a file on disk) by content and decode it completely; returns its info
    and the decoded image.

    A file is opened lazily by Pillow (headers first, then the pixel data in blocks), so the memory
    used is that of the decoded pixels, bounded by the pixel cap, not by the file's size.

    JPEGs are decoded in draft mode scaled to about `thumb_size` (the decoder still reads every byte,
    so truncation and corruption are caught, but a 12 MP photo costs a few milliseconds); the image
    returned can then be used for the thumbnail. Raises `ImageRejected` with a readable reason.
    """
    check_size(_size_of(data), policy.max_bytes)
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
                f"The file starts like a {_nice(fmt)} image but does not decode: it is truncated or corrupt "
                f"({_short(exc)}).",
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


def _nice(fmt: str) -> str:
    return {"WEBP": "WebP"}.get(fmt, fmt)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


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


def _size_of(data: bytes | Path) -> int:
    if isinstance(data, bytes):
        return len(data)
    try:
        return data.stat().st_size
    except OSError as exc:
        raise ImageRejected(f"The file cannot be read ({type(exc).__name__}).") from exc


def _open(data: bytes | Path) -> BinaryIO | Path:
    """What Pillow opens: the bytes wrapped, or the path (Pillow then reads the file lazily and closes it)."""
    return io.BytesIO(data) if isinstance(data, bytes) else data


def _head(data: bytes | Path, size: int = 512) -> bytes:
    if isinstance(data, bytes):
        return data[:size]
    with data.open("rb") as file:
        return file.read(size)


def _unidentified(data: bytes | Path, policy: ImagePolicy) -> ImageRejected:
    what = _what_is_it(_head(data))
    accepted = ", ".join(_nice(f) for f in policy.formats)
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
                name = _nice(str(other.format))
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


# ---------------------------------------------------------------- EXIF helpers


def _clean_exif(payload: bytes, strip: StripMode) -> tuple[bytes | None, list[str]]:
    """EXIF bytes (same framing as given) without GPS (and the other entries off the allow-list of
    `r2.jpeg_meta`), or with only orientation for "all" and for EXIF that cannot be walked safely.

    Returns (new payload or None to drop the block, what was removed). Unchanged blocks come back
    as the very same bytes. In "gps" mode the block is edited in place (same length, nothing moves),
    so IFD1 (the thumbnail and its orientation) and maker notes with absolute offsets stay valid.
    """
    prefix = b"Exif\x00\x00" if payload.startswith(b"Exif\x00\x00") else b""
    if strip == "gps":
        try:
            tiff, dropped = jpeg_meta.clean_tiff(payload[len(prefix) :])
        except jpeg_meta.Damaged:
            pass  # a structure we cannot walk safely: keep the orientation alone (below)
        else:
            return (payload, []) if not dropped else (prefix + tiff, _unique(dropped))
    exif = Image.Exif()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exif.load(payload)
            if _GPS in exif:
                exif.get_ifd(_GPS)  # parse it too: a GPS block we cannot read is damaged EXIF
        except Exception as exc:  # untrusted bytes
            raise ImageRejected("The image's EXIF metadata is damaged and cannot be cleaned safely.") from exc
    # In "gps" mode only EXIF the walker could not walk safely gets here; in "all" mode Pillow may have
    # read only part of it. Either way what was missed might be a location: keep the orientation only.
    damaged = strip == "gps" or any(issubclass(w.category, UserWarning) for w in caught)
    orientation = exif.get(_ORIENTATION)
    what = "damaged EXIF" if damaged else "EXIF"
    if not isinstance(orientation, int) or not 2 <= orientation <= 8:
        return None, [what]
    minimal = Image.Exif()
    minimal[_ORIENTATION] = orientation
    return _reframe(minimal.tobytes(), prefix), [f"{what} (orientation kept)"]


def _reframe(exif_bytes: bytes, prefix: bytes) -> bytes:
    """`Exif.tobytes()` always starts with `Exif\\0\\0`; PNG and WebP want the bare TIFF data."""
    body = exif_bytes[6:] if exif_bytes.startswith(b"Exif\x00\x00") else exif_bytes
    return prefix + body


# ---------------------------------------------------------------- JPEG
#
# Each stripper walks the file's structure in a `_View` and writes an `_Out` plan: spans of the source
# kept as they are (the compressed image data above all, never read into memory for a file) and the few
# rewritten pieces. `strip_metadata` turns the plan into bytes; `clean_file` writes it file to file.

_JPEG_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")  # a marker inside/after entropy-coded data
_ANY_MARKER = re.compile(rb"\xff[\x01-\xfe]")


def _jpeg(data: _View, strip: StripMode) -> tuple[_Out, list[str]]:
    if data[:2] != b"\xff\xd8":
        raise ImageRejected("The JPEG does not start with a start-of-image marker.")
    out = _Out()
    out.copy(0, 2)
    removed: list[str] = []
    pos, n = 2, len(data)
    while True:
        if pos < n and data[pos] != 0xFF:
            # Stray bytes between segments (some cameras and editors write a few): skip to the next
            # marker as libjpeg does (and drop them: nothing reads them, so nothing may hide there).
            found = data.search(_ANY_MARKER, pos, 2)
            if found < 0:
                raise ImageRejected("The JPEG's structure is damaged (cannot find its next marker).")
            removed.append("stray bytes between segments")
            pos = found
        if pos + 1 >= n:
            raise ImageRejected("The JPEG's structure is damaged (cannot find its next marker).")
        while data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
            if pos + 1 >= n:
                raise ImageRejected("The JPEG's structure is damaged.")
        marker = data[pos + 1]
        if marker == 0x00:  # 0xFF00 is no marker (libjpeg and Pillow skip it): more stray bytes
            removed.append("stray bytes between segments")
            pos += 2
            continue
        if marker == 0xD9:  # end of image
            out.copy(pos, pos + 2)
            if pos + 2 < n:  # a multi-picture JPEG's other pictures follow the first one's end
                removed.append("secondary images" if "multi-picture index" in removed else "data after the image end")
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.copy(pos, pos + 2)
            pos += 2
            continue
        if pos + 4 > n:
            raise ImageRejected("The JPEG is truncated.")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > n:
            raise ImageRejected("The JPEG is truncated.")
        payload = data[pos + 4 : end]  # at most 64 KiB: a segment's length is two bytes
        keep, what = _jpeg_segment(marker, payload, strip)
        removed += what
        if keep is payload:
            out.copy(pos, end)
        elif keep is not None:
            out.add(keep)
        pos = end
        if marker == 0xDA:  # start of scan: copy the entropy-coded data up to the next marker
            found = data.search(_JPEG_MARKER, pos, 2)
            if found < 0:
                raise ImageRejected("The JPEG is truncated (no end-of-image marker).")
            out.copy(pos, found)
            pos = found
    return out, _unique(removed)


def _unique(removed: list[str]) -> list[str]:
    return sorted(set(removed), key=removed.index)


def _jpeg_segment(marker: int, payload: bytes, strip: StripMode) -> tuple[bytes | None, list[str]]:
    """The segment to write (the payload object itself = unchanged; bytes = a whole new segment).

    APPn segments stay only when of a known-safe kind (`r2.jpeg_meta.app_segment`: JFIF, EXIF cleaned,
    ICC, Adobe, Photoshop resources cleaned); with strip "all", Photoshop/IPTC and comments go too.
    """
    if 0xE0 <= marker <= 0xEF:
        if strip == "all" and marker == 0xED:
            return None, ["IPTC"]
        new, what = jpeg_meta.app_segment(marker, payload, lambda exif: _clean_exif(exif, strip))
        return _jpeg_app(marker, payload, new), what
    if 0xF0 <= marker <= 0xFD:  # JPGn extensions: decoders skip them, so nothing may hide there
        return None, ["other data"]
    if marker == 0xFE and strip == "all":
        return None, ["comments"]
    return payload, []


def _jpeg_app(marker: int, payload: bytes, new: bytes | None) -> bytes | None:
    """`_jpeg_segment`'s answer for a cleaned APPn payload: dropped, unchanged, or a whole new segment."""
    if new is None or new is payload:
        return new
    if len(new) + 2 > 0xFFFF:
        raise ImageRejected("The cleaned metadata block does not fit in a JPEG segment.")
    return bytes((0xFF, marker)) + (len(new) + 2).to_bytes(2, "big") + new


# ---------------------------------------------------------------- PNG

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT = (b"tEXt", b"zTXt", b"iTXt")
_PNG_KEYWORD = 80  # a text chunk's keyword is 1-79 bytes and a NUL: enough to decide, whatever its size


def _png(data: _View, strip: StripMode) -> tuple[_Out, list[str]]:
    if data[:8] != _PNG_SIGNATURE:
        raise ImageRejected("The PNG signature is missing.")
    out = _Out()
    out.copy(0, 8)
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
        if ctype == b"eXIf":
            body = data[pos + 8 : pos + 8 + length]
            new, what = _clean_exif(body, strip)
            removed += what
            if new is body:
                out.copy(pos, end)
            elif new is not None:
                out.add(_png_chunk(b"eXIf", new))
        elif ctype in _PNG_TEXT:
            keyword = data[pos + 8 : pos + 8 + min(length, _PNG_KEYWORD)].split(b"\x00", 1)[0]
            if keyword == b"XML:com.adobe.xmp" or keyword.lower().startswith(b"raw profile type"):
                removed.append("XMP" if keyword.startswith(b"XML") else "EXIF/XMP text profile")
            elif strip == "all":
                removed.append("text chunks")
            else:
                out.copy(pos, end)
        elif ctype == b"tIME" and strip == "all":
            removed.append("text chunks")
        else:
            out.copy(pos, end)
        pos = end
        if ctype == b"IEND":
            if pos < n:
                removed.append("data after the image end")
            break
    return out, _unique(removed)


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + ctype + body + zlib.crc32(ctype + body).to_bytes(4, "big")


# ---------------------------------------------------------------- WebP


def _webp(data: _View, strip: StripMode) -> tuple[_Out, list[str]]:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ImageRejected("The WebP's RIFF header is missing.")
    n = len(data)
    riff_end = min(8 + int.from_bytes(data[4:8], "little"), n)
    removed: list[str] = ["data after the image end"] if riff_end < n else []
    chunks: list[tuple[bytes, bytes | tuple[int, int]]] = []  # (fourcc, new body or the source's span)
    pos = 12
    while pos + 8 <= riff_end:
        fourcc = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        start = pos + 8
        if start + size > n:
            raise ImageRejected("The WebP is truncated.")
        pos += 8 + size + (size & 1)
        if fourcc == b"EXIF":
            new, what = _clean_exif(data[start : start + size], strip)
            removed += what
            if new is not None:
                chunks.append((fourcc, new))
        elif fourcc == b"XMP ":
            removed.append("XMP")
        elif fourcc == b"VP8X":
            chunks.append((fourcc, data[start : start + size]))
        else:
            chunks.append((fourcc, (start, start + size)))
    out = _Out()
    if not removed:
        out.copy(0, n)
        return out, []
    names = {c[0] for c in chunks}
    parts: list[tuple[bytes, bytes | tuple[int, int], int]] = []  # (fourcc, body, body size)
    for fourcc, body in chunks:
        if fourcc == b"VP8X" and isinstance(body, bytes) and body:
            flags = body[0] & ~0x0C  # clear EXIF (0x08) and XMP (0x04) ...
            flags |= 0x08 if b"EXIF" in names else 0  # ... and set EXIF again if one is kept
            body = bytes([flags]) + body[1:]
        parts.append((fourcc, body, len(body) if isinstance(body, bytes) else body[1] - body[0]))
    payload_size = 4 + sum(8 + size + (size & 1) for _, _, size in parts)
    out.add(b"RIFF" + payload_size.to_bytes(4, "little") + b"WEBP")
    for fourcc, body, size in parts:
        out.add(fourcc + size.to_bytes(4, "little"))
        if isinstance(body, bytes):
            out.add(body)
        else:
            out.copy(*body)
        out.add(b"\x00" if size & 1 else b"")
    return out, _unique(removed)


# ---------------------------------------------------------------- GIF


def _gif(data: _View, strip: StripMode) -> tuple[_Out, list[str]]:
    n = len(data)
    if data[:6] not in (b"GIF87a", b"GIF89a") or n < 13:
        raise ImageRejected("The GIF header is missing.")
    packed = data[10]
    pos = 13 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
    out = _Out()
    out.copy(0, min(pos, n))
    removed: list[str] = []

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
            out.copy(pos, pos + 1)
            if pos + 1 < n:
                removed.append("data after the image end")
            break
        if kind == 0x2C:
            flags = data[pos + 9] if pos + 9 < n else 0
            start = pos + 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0) + 1  # + LZW code size
            end = sub_blocks(start)
            out.copy(pos, min(end, n))
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
                out.copy(pos, min(end, n))
        else:
            raise ImageRejected("The GIF's structure is damaged.")
        pos = end
    return out, _unique(removed)


# ---------------------------------------------------------------- AVIF (re-encode only when needed)


def _avif(data: _View, strip: StripMode) -> tuple[_Out, list[str]]:
    out = _Out()
    with Image.open(data.stream(), formats=["AVIF"]) as image:
        exif = image.getexif()
        has_xmp = bool(image.info.get("xmp"))
        needs = has_xmp or (_GPS in exif) or (strip == "all" and len(exif) > 0)
        if not needs:
            out.copy(0, len(data))
            return out, []
        removed = ["XMP"] if has_xmp else []
        new_exif = b""
        if exif:
            cleaned, what = _clean_exif(exif.tobytes(), strip)
            removed += what
            new_exif = cleaned or b""
        encoded = io.BytesIO()  # bounded by the pixel cap: the image is re-encoded from its pixels
        frames = int(getattr(image, "n_frames", 1))
        image.save(encoded, format="AVIF", quality=90, exif=new_exif, save_all=frames > 1)
    out.add(encoded.getvalue())
    return out, [*removed, "re-encoded (AVIF metadata cannot be removed losslessly)"]


_STRIPPERS: dict[str, Callable[[_View, StripMode], tuple[_Out, list[str]]]] = {
    "JPEG": _jpeg,
    "PNG": _png,
    "WEBP": _webp,
    "GIF": _gif,
    "AVIF": _avif,
}


def _bytes_stripper(fmt: str) -> Callable[[bytes, StripMode], tuple[bytes, list[str]]]:
    def strip_bytes(data: bytes, strip: StripMode) -> tuple[bytes, list[str]]:
        view = _View.of(data)
        out, removed = _STRIPPERS[fmt](view, strip)
        return out.to_bytes(view, data), removed

    strip_bytes.__name__ = f"strip_{fmt.lower()}"
    strip_bytes.__doc__ = f"Remove GPS/XMP (or all metadata) from a {_nice(fmt)} in memory; see the module's notes."
    return strip_bytes


strip_jpeg = _bytes_stripper("JPEG")
strip_png = _bytes_stripper("PNG")
strip_webp = _bytes_stripper("WEBP")
strip_gif = _bytes_stripper("GIF")
strip_avif = _bytes_stripper("AVIF")


def _plan_strip(data: _View, fmt: str, strip: StripMode) -> tuple[_Out, tuple[str, ...]]:
    try:
        out, removed = _STRIPPERS[fmt](data, strip)
    except ImageRejected:
        raise
    except Exception as exc:  # malformed structure or metadata Pillow cannot rewrite: refuse, never store as is
        raise ImageRejected(
            f"The image's metadata could not be removed safely ({_short(exc)}); it was not stored.",
            "Export the image again (for example without location) and retry.",
        ) from exc
    return out, tuple(removed)


def strip_metadata(data: bytes, fmt: str, strip: StripMode) -> tuple[bytes, tuple[str, ...]]:
    """Remove GPS/XMP (or all metadata) from `data` of the detected format, then check the result."""
    cleaned, removed, _ = _strip_checked(data, fmt, strip)
    return cleaned, removed


def _strip_checked(data: bytes, fmt: str, strip: StripMode) -> tuple[bytes, tuple[str, ...], int]:
    """`strip_metadata`, and the orientation the cleaned image will be shown with."""
    view = _View.of(data)
    out, removed = _plan_strip(view, fmt, strip)
    cleaned = out.to_bytes(view, data)
    return cleaned, removed, _check_clean(_View.of(cleaned), fmt, strip)


_GIF_XMP = re.compile(re.escape(b"\x21\xff\x0bXMP DataXMP"))


# IPTC IIM records that name a place: content location code/name, city, sub-location, province or
# state, country code, country name (IPTC IIM 4.2, record 2).
_IPTC_LOCATION = frozenset({(2, 26), (2, 27), (2, 90), (2, 92), (2, 95), (2, 100), (2, 101)})


def _iptc_location(image: Image.Image) -> bool:
    """Does the JPEG's Photoshop (APP13) IPTC block name a place? A block that cannot be read might."""
    if not image.info.get("photoshop"):
        return False
    try:
        records = IptcImagePlugin.getiptcinfo(image) or {}  # type: ignore[arg-type]
    except Exception:  # unreadable IPTC: what it hides might be a place
        return True
    return bool(_IPTC_LOCATION & set(records))


def _check_clean(data: _View, fmt: str, strip: StripMode) -> int:
    """Open the cleaned image again (headers only) and refuse if location metadata survived.

    Returns the EXIF orientation (1-8) the stored image is shown with: the thumbnail must be turned by
    this one, not by what the original carried in metadata that was removed.
    """
    try:
        with Image.open(data.stream(), formats=[fmt]) as image:
            exif = image.getexif()
            orientation = exif.get(_ORIENTATION)
            leftovers = []
            if _GPS in exif:
                leftovers.append("GPS")
            if image.info.get("xmp") or (fmt == "GIF" and data.search(_GIF_XMP, 0, 14) >= 0):
                leftovers.append("XMP")
            if strip == "all" and set(exif) - {_ORIENTATION}:
                leftovers.append("EXIF")
            if fmt == "JPEG":  # every segment, IFD, Photoshop resource and IPTC field, by Pillow's parsers
                leftovers += [w for w in jpeg_meta.verify_segments(image, strip) if w not in leftovers]
            if fmt == "JPEG" and _iptc_location(image):
                leftovers.append("the IPTC location (city, country)")
    except Exception as exc:  # untrusted bytes: any parser failure is a rejection
        raise ImageRejected("Removing the metadata damaged the image; it was not stored.") from exc
    if leftovers:
        raise ImageRejected(f"Could not remove {', '.join(leftovers)} from the image; it was not stored.")
    return orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1


# ---------------------------------------------------------------- the whole check


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
            error = f"The thumbnail could not be made ({_short(exc)})."
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
        raise ImageRejected(f"The HEIC photo could not be converted to JPEG ({_short(exc)}).") from exc
    body, removed = strip_metadata(jpeg, heic.STORED_AS, policy.strip)
    width, height = image.size
    stored = replace(info, format=heic.STORED_AS, width=width, height=height, frames=1, converted_from=info.format)
    return _Converted(stored, body, (*left_out, *removed))


def _thumbnail_as_stored(
    image: Image.Image, thumbnail: Callable[[Image.Image], bytes] | None, orientation: int, error: str
) -> tuple[bytes | None, str]:
    """The thumbnail, turned by the orientation the *stored* image has (`_check_clean`), whatever the
    original said in metadata that was removed (a PNG text profile, XMP): both look the same way up."""
    if thumbnail is None or error:
        return None, error
    try:
        exif = image.getexif()  # the very object `ImageOps.exif_transpose` reads (Pillow caches it)
        if orientation == 1:
            exif.pop(_ORIENTATION, None)
        else:
            exif[_ORIENTATION] = orientation
        return thumbnail(image), ""
    except Exception as exc:  # a thumbnail failure must not lose the original
        return None, f"The thumbnail could not be made ({_short(exc)})."


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
        body, removed, orientation = _strip_checked(data, info.format, policy.strip)
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
    size = _size_of(path)
    check_size(size, policy.max_bytes)
    info, image, thumb_error, converted = _decode(path, policy, thumb_size, thumbnail)
    with image:  # the decoded image is freed on return
        if converted is not None:  # a HEIC: the checked JPEG is what is kept, upright (orientation 1)
            out.write_bytes(converted.body)
            thumb, thumb_error = _thumbnail_as_stored(image, thumbnail, 1, thumb_error)
            return CleanFile(out, True, len(converted.body), converted.info, converted.removed, thumb, thumb_error)
        with path.open("rb") as source:
            view = _View(file=source, size=size)
            plan, removed = _plan_strip(view, info.format, policy.strip)
            changed = not plan.unchanged(size)
            if changed:
                with out.open("wb") as target:
                    plan.write(view, target)
        result = out if changed else path
        with result.open("rb") as written:
            orientation = _check_clean(_View(file=written, size=plan.size), info.format, policy.strip)
        thumb, thumb_error = _thumbnail_as_stored(image, thumbnail, orientation, thumb_error)
    return CleanFile(result, changed, plan.size, info, removed, thumb, thumb_error)
