"""JPEG (and multi-picture JPEG): walk the marker segments and keep only the known-safe ones.

Each walker of this package reads the file's structure through a `ByteView` and writes a `CleanPlan`:
spans of the source kept as they are (the compressed image data above all, never read into memory for
a file) and the few rewritten pieces. `strip_metadata` turns the plan into bytes; `clean_file` writes it
file to file.
"""

from __future__ import annotations

import re

import r2.images.jpeg_meta as jpeg_meta
from r2.images.exif import clean_exif
from r2.images.model import ImageRejected, StripMode, unique_in_order
from r2.images.source import ByteView, CleanPlan

_JPEG_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")  # a marker inside/after entropy-coded data
_ANY_MARKER = re.compile(rb"\xff[\x01-\xfe]")


def walk_jpeg(data: ByteView, strip: StripMode) -> tuple[CleanPlan, list[str]]:
    if data[:2] != b"\xff\xd8":
        raise ImageRejected("The JPEG does not start with a start-of-image marker.")
    out = CleanPlan()
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
    return out, unique_in_order(removed)


def _jpeg_segment(marker: int, payload: bytes, strip: StripMode) -> tuple[bytes | None, list[str]]:
    """The segment to write (the payload object itself = unchanged; bytes = a whole new segment).

    APPn segments stay only when of a known-safe kind (`r2.jpeg_meta.app_segment`: JFIF, EXIF cleaned,
    ICC, Adobe, Photoshop resources cleaned); with strip "all", Photoshop/IPTC and comments go too.
    """
    if 0xE0 <= marker <= 0xEF:
        if strip == "all" and marker == 0xED:
            return None, ["IPTC"]
        new, what = jpeg_meta.app_segment(marker, payload, lambda exif: clean_exif(exif, strip))
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
