"""HEIC photos made in memory with pillow-heif (the encoder iPhones' format needs), for tests and bench."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pillow_heif
from PIL import ExifTags, Image, ImageCms

from tests.support.corpus import GPS, XMP, picture
from tests.support.env import ROOT, require_tool

pillow_heif.register_heif_opener()

DATE = "2026:05:17 10:11:12"
MAKE, MODEL = "Apple", "iPhone 15"


def srgb_profile() -> bytes:
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def phone_exif(orientation: int = 6) -> Image.Exif:
    """What a phone writes: orientation, camera, date taken, and where it was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = MAKE
    exif[ExifTags.Base.Model] = MODEL
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = DATE
    exif[ExifTags.IFD.GPSInfo] = GPS
    return exif


def heic_photo(
    size: tuple[int, int] = (64, 48),
    *,
    orientation: int = 6,
    frames: int = 1,
    image: Image.Image | None = None,
    quality: int = 90,
) -> bytes:
    """A HEIC like an iPhone's: EXIF with orientation (stored by pillow-heif as a HEIF rotation), GPS,
    an XMP packet with a location, an sRGB ICC profile; `frames` > 1 adds more top-level images."""
    first = image if image is not None else picture(size)
    out = io.BytesIO()
    more = [picture(first.size) for _ in range(frames - 1)]
    first.save(
        out,
        format="HEIF",
        quality=quality,
        exif=phone_exif(orientation).tobytes(),
        xmp=XMP,
        icc_profile=srgb_profile(),
        save_all=frames > 1,
        append_images=more,
    )
    return out.getvalue()


HEIF_CORPUS = ROOT / ".corpus" / f"pillow-heif-{pillow_heif.__version__}" / "images"


def heif_corpus() -> list[Path]:
    """Every HEIC/HEIF of pillow-heif's own test images (`make corpus`): real phone files and edge cases."""
    folder = Path(os.environ.get("R2_HEIF_CORPUS", HEIF_CORPUS))
    if not (folder / "heif_other" / "pug.heic").is_file():
        require_tool(f"pillow-heif's test images are missing at {folder} (run `make corpus`)")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".heic", ".heif", ".hif"))
