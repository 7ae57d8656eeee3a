"""Verification: open a cleaned image again and refuse it if location metadata survived."""

from __future__ import annotations

import re

from PIL import Image, IptcImagePlugin

import r2.images.jpeg_meta as jpeg_meta
from r2.images.model import GPS_IFD, ORIENTATION, ImageRejected, StripMode
from r2.images.source import ByteView

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


def verify_clean(data: ByteView, fmt: str, strip: StripMode) -> int:
    """Open the cleaned image again (headers only) and refuse if location metadata survived.

    Returns the EXIF orientation (1-8) the stored image is shown with: the thumbnail must be turned by
    this one, not by what the original carried in metadata that was removed.
    """
    try:
        with Image.open(data.stream(), formats=[fmt]) as image:
            exif = image.getexif()
            orientation = exif.get(ORIENTATION)
            leftovers = []
            if GPS_IFD in exif:
                leftovers.append("GPS")
            if image.info.get("xmp") or (fmt == "GIF" and data.search(_GIF_XMP, 0, 14) >= 0):
                leftovers.append("XMP")
            if strip == "all" and set(exif) - {ORIENTATION}:
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
