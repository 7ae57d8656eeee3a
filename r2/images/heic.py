"""HEIC/HEIF photos (what iPhones store): decoded by pillow-heif (libheif), stored as JPEG.

Browsers other than Safari cannot show HEIC, so a HEIC upload is converted: the primary image, already
turned upright by libheif (HEIF keeps the rotation as a transform property, which it applies; pillow-heif
then reports EXIF orientation 1), is written as a JPEG at the configured quality with the ICC profile
and the EXIF block (date, camera, ...). The JPEG then goes through the ordinary JPEG cleaning of
`r2.images` (GPS and everything off the allow-list removed, the result verified), so a converted photo
is held to exactly the rules of an uploaded JPEG. XMP is never written. The original HEIC is not kept:
its metadata sits in ISOBMFF item boxes we would have to rewrite, and no non-Safari browser could show
it anyway (measurements and the reasoning: README "HEIC photos", docs/benchmarks.md).

Secondary pictures (other top-level images of a burst or sequence, depth maps, auxiliary images,
embedded thumbnails) are never converted or stored. Depth maps, auxiliary images and thumbnails are not
even read (options below); top-level images count against the frame and pixel limits like animation
frames, and are decoded to check them.
"""

from __future__ import annotations

import io

import pillow_heif
from PIL import Image

FORMAT = "HEIC"  # our name (R2_IMAGE_FORMATS); Pillow's format id for it, registered by pillow-heif, is:
PILLOW_FORMAT = "HEIF"
STORED_AS = "JPEG"
DEFAULT_QUALITY = 90
MAX_JPEG_EXIF = 0xFFFF - 2  # an APP1 segment's payload ("Exif\0\0" and the TIFF data)

_registered = False


def register() -> None:
    """Teach Pillow to open HEIC/HEIF (idempotent; no network, nothing global beyond Pillow's registry)."""
    global _registered
    if not _registered:
        # Depth maps, auxiliary images and thumbnails are never stored: don't read them at all.
        pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
        _registered = True


def primary_index(image: Image.Image) -> int:
    """Which top-level image the phone shows (usually the first)."""
    for index in range(int(getattr(image, "n_frames", 1))):
        image.seek(index)
        if image.info.get("primary"):
            return index
    return 0


def to_jpeg(image: Image.Image, quality: int = DEFAULT_QUALITY) -> tuple[bytes, list[str]]:
    """The primary image of an opened (and fully decoded) HEIF as JPEG bytes, with what was left out.

    The EXIF block goes along untouched (GPS included): the caller cleans the JPEG like any upload.
    """
    image.seek(primary_index(image))
    left_out = [f"converted from HEIC to JPEG (quality {quality})"]
    if image.info.get("xmp"):
        left_out.append("XMP")
    if int(getattr(image, "n_frames", 1)) > 1:
        left_out.append("secondary images")
    exif = image.info.get("exif") or b""
    if len(exif) > MAX_JPEG_EXIF:  # a JPEG segment holds 64 KiB: such EXIF (a vendor's) cannot go along
        exif = b""
        left_out.append("EXIF (too large for a JPEG)")
    pixels = image if image.mode in ("RGB", "L") else image.convert("RGB")  # 10-bit and alpha: to 8-bit RGB
    out = io.BytesIO()
    pixels.save(
        out,
        format="JPEG",
        quality=quality,
        exif=exif,
        icc_profile=image.info.get("icc_profile") or None,
        optimize=True,
    )
    return out.getvalue(), left_out
