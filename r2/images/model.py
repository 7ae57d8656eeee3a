"""What an upload must be and what a check learns: formats, the policy, the results, and the words for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import ExifTags

import r2.images.heic as heic
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
ORIENTATION = ExifTags.Base.Orientation
GPS_IFD = ExifTags.IFD.GPSInfo


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


def format_label(fmt: str) -> str:
    return {"WEBP": "WebP"}.get(fmt, fmt)


def short_reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def unique_in_order(removed: list[str]) -> list[str]:
    return sorted(set(removed), key=removed.index)
