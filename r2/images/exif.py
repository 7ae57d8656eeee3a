"""EXIF blocks without GPS (and what is off the allow-list), shared by the JPEG, PNG, WebP and AVIF walkers."""

from __future__ import annotations

import warnings

from PIL import Image

import r2.images.jpeg_meta as jpeg_meta
from r2.images.model import GPS_IFD, ORIENTATION, ImageRejected, StripMode, unique_in_order


def clean_exif(payload: bytes, strip: StripMode) -> tuple[bytes | None, list[str]]:
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
            return (payload, []) if not dropped else (prefix + tiff, unique_in_order(dropped))
    exif = Image.Exif()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exif.load(payload)
            if GPS_IFD in exif:
                exif.get_ifd(GPS_IFD)  # parse it too: a GPS block we cannot read is damaged EXIF
        except Exception as exc:  # untrusted bytes
            raise ImageRejected("The image's EXIF metadata is damaged and cannot be cleaned safely.") from exc
    # In "gps" mode only EXIF the walker could not walk safely gets here; in "all" mode Pillow may have
    # read only part of it. Either way what was missed might be a location: keep the orientation only.
    damaged = strip == "gps" or any(issubclass(w.category, UserWarning) for w in caught)
    orientation = exif.get(ORIENTATION)
    what = "damaged EXIF" if damaged else "EXIF"
    if not isinstance(orientation, int) or not 2 <= orientation <= 8:
        return None, [what]
    minimal = Image.Exif()
    minimal[ORIENTATION] = orientation
    return _reframe(minimal.tobytes(), prefix), [f"{what} (orientation kept)"]


def _reframe(exif_bytes: bytes, prefix: bytes) -> bytes:
    """`Exif.tobytes()` always starts with `Exif\\0\\0`; PNG and WebP want the bare TIFF data."""
    body = exif_bytes[6:] if exif_bytes.startswith(b"Exif\x00\x00") else exif_bytes
    return prefix + body
