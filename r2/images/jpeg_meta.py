"""JPEG metadata on allow-lists: which segments, EXIF entries, Photoshop resources and IPTC fields may stay.

The promise is "no location leaves", not "no EXIF GPS": a location can sit in a GPS IFD linked from
IFD0, IFD1 or the Exif IFD, in XMP (its own APP1, inside EXIF's tag 0x02BC, or inside a Photoshop IRB
as resource 0x0424), in IPTC's city/country fields, or in a vendor's own APPn block (a thermal camera's
FLIR APP1 holds a GPS record). So nothing is kept because it is not known to be bad: segments, EXIF
entries, Photoshop resources and IPTC datasets are kept only when they are on a list of known-safe
kinds; the rest is dropped (or blanked) and named in the result.

EXIF is cleaned in place (`clean_tiff`): an entry leaves its IFD by moving the entries after it up
by 12 bytes inside that same IFD, and the bytes it pointed at (the whole GPS IFD, an XMP packet) are
zeroed. Nothing else moves, so IFD1 (the embedded thumbnail and its orientation) and maker notes, whose
internal offsets are absolute in many cameras, stay valid byte for byte. A structure that cannot be
walked safely raises `Damaged`; the caller then keeps the orientation alone.

`verify_segments` is the second opinion on the stored bytes: it reads them with Pillow's own JPEG,
EXIF, Photoshop and IPTC parsers (not this module's walkers) and lists what should not be there.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from PIL import ExifTags, ImageFile, IptcImagePlugin

GPS_POINTER = 0x8825
_EXIF_POINTER, _INTEROP_POINTER = 0x8769, 0xA005
# Entries that carry, or may carry, a location: never kept whatever the IFD.
_DROPPED_TAGS: dict[int, str] = {
    GPS_POINTER: "GPS location",
    0x02BC: "XMP",  # XMLPacket: XMP inside EXIF
    0x83BB: "IPTC",  # IPTC-NAA inside EXIF
    0x8649: "other EXIF data",  # a Photoshop IRB inside EXIF
    0x014A: "other EXIF data",  # SubIFDs: more IFDs this walker does not follow
}
# The TIFF/EXIF tags Pillow knows (baseline TIFF, EXIF 2.3, Interop), less those above.
_INTEROP_TAGS = {0x0001, 0x0002, 0x1000, 0x1001, 0x1002}
ALLOWED_TAGS = frozenset((set(ExifTags.TAGS) | _INTEROP_TAGS) - set(_DROPPED_TAGS))
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MAX_ENTRIES = 1000  # per IFD; real cameras write well under 100
_MAX_IFDS = 16


class Damaged(ValueError):
    """The EXIF structure points outside itself, loops, or is otherwise unsafe to edit in place."""


def clean_tiff(tiff: bytes) -> tuple[bytes, list[str]]:
    """The TIFF structure of an EXIF block with every entry outside the allow-list removed in place.

    Returns (`tiff` itself when nothing is removed, else the edited copy of the same length; what was
    removed). Raises `Damaged` when the structure cannot be walked safely.
    """
    n = len(tiff)
    if n < 8 or tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        raise Damaged("not a TIFF header")
    order = "<" if tiff[:2] == b"II" else ">"

    def u16(pos: int) -> int:
        return int(struct.unpack_from(order + "H", tiff, pos)[0])

    def u32(pos: int) -> int:
        return int(struct.unpack_from(order + "I", tiff, pos)[0])

    seen: set[int] = set()
    zeroed: list[tuple[int, int]] = []
    kept_spans: list[tuple[int, int]] = [(0, 8)]  # the header, the IFD tables walked, kept entries' data
    rewrites: list[tuple[int, int, list[bytes], int]] = []  # (IFD offset, old count, kept entries, next)
    removed: list[str] = []

    def entries_of(offset: int) -> tuple[int, list[tuple[int, int, int, int]]]:
        """(count, [(tag, type, count, entry position)]) of the IFD at `offset`, bounds checked."""
        if offset in seen or len(seen) >= _MAX_IFDS or offset < 8 or offset + 2 > n:
            raise Damaged("IFD offset out of range or repeated")
        seen.add(offset)
        count = u16(offset)
        if count > _MAX_ENTRIES or offset + 2 + 12 * count > n:
            raise Damaged("IFD runs past the EXIF block")
        found = []
        for index in range(count):
            at = offset + 2 + 12 * index
            found.append((u16(at), u16(at + 2), u32(at + 4), at))
        return count, found

    def data_span(kind: int, count: int, at: int) -> tuple[int, int] | None:
        size = _TYPE_SIZES.get(kind, 0) * count
        if size <= 4:
            return None
        start = u32(at + 8)
        if start + size > n:
            raise Damaged("entry data runs past the EXIF block")
        return start, start + size

    def next_of(offset: int, count: int) -> int:
        link = offset + 2 + 12 * count
        return u32(link) if link + 4 <= n else 0

    def blank_ifd(offset: int) -> None:
        """Zero an IFD that goes entirely (a GPS IFD): its entries, their data, its link."""
        count, found = entries_of(offset)
        for _, kind, number, at in found:
            span = data_span(kind, number, at)
            if span:
                zeroed.append(span)
        zeroed.append((offset, min(n, offset + 2 + 12 * count + 4)))

    def walk(offset: int) -> int:
        count, found = entries_of(offset)
        kept_spans.append((offset, min(n, offset + 2 + 12 * count + 4)))
        kept: list[bytes] = []
        for tag, kind, number, at in found:
            span = data_span(kind, number, at)  # bounds-checked for every entry, kept or not
            if tag == GPS_POINTER:
                if kind in (4, 13) and number == 1:
                    blank_ifd(u32(at + 8))
                removed.append(_DROPPED_TAGS[tag])
                continue
            if tag not in ALLOWED_TAGS:
                if span:
                    zeroed.append(span)
                removed.append(_DROPPED_TAGS.get(tag, "other EXIF data"))
                continue
            if tag in (_EXIF_POINTER, _INTEROP_POINTER) and kind in (4, 13) and number == 1:
                walk(u32(at + 8))
            if span:
                kept_spans.append(span)
            kept.append(tiff[at : at + 12])
        following = next_of(offset, count)
        if len(kept) < count:
            rewrites.append((offset, count, kept, following))
        return following

    following = walk(u32(4))  # IFD0, then IFD1 (the thumbnail) and any further IFD of the chain
    while following:
        following = walk(following)
    if not removed:
        return tiff, []
    # Bytes to blank that are also the header, a table or data kept (offsets bent to point there) would
    # damage what stays: such a block is not edited in place.
    if any(start < kept_end and kept_start < end for start, end in zeroed for kept_start, kept_end in kept_spans):
        raise Damaged("data to remove overlaps what is kept")
    out = bytearray(tiff)
    for start, end in zeroed:
        out[start:end] = bytes(end - start)
    for offset, count, kept, link in rewrites:
        end = min(n, offset + 2 + 12 * count + 4)
        body = struct.pack(order + "H", len(kept)) + b"".join(kept) + struct.pack(order + "I", link)
        out[offset:end] = body[: end - offset].ljust(end - offset, b"\x00")
    return bytes(out), removed


# ---------------------------------------------------------------- Photoshop IRB (APP13) and IPTC

_PHOTOSHOP = b"Photoshop 3.0\x00"
# Image resources known to hold layout and print settings only (Photoshop File Formats Specification).
_SAFE_RESOURCES = frozenset({0x03ED, 0x03F3, 0x0406, 0x0408, 0x040A, 0x040D, 0x0414, 0x0419, 0x0421, 0x0428})
_IPTC, _IPTC_DIGEST, _XMP_RESOURCE = 0x0404, 0x0425, 0x0424
# IPTC-IIM record 2 datasets that name a place: content location code/name, city, sub-location,
# province/state, country code, country name.
_IPTC_LOCATION = frozenset({26, 27, 90, 92, 95, 100, 101})


def clean_photoshop(payload: bytes) -> tuple[bytes | None, list[str]]:
    """An APP13 payload keeping only known-safe resources and IPTC without place names.

    Returns (the payload itself if unchanged, a new payload, or None to drop the segment; removed).
    A block that cannot be parsed is dropped whole.
    """
    if not payload.startswith(_PHOTOSHOP):
        return None, ["other Photoshop data"]
    blocks: list[tuple[int, bytes, bytes]] = []  # (resource id, header, data)
    pos, n = len(_PHOTOSHOP), len(payload)
    try:
        while pos < n:
            if payload[pos : pos + 4] != b"8BIM":
                if payload[pos:].strip(b"\x00"):
                    return None, ["other Photoshop data"]
                break  # zero padding at the end
            resource = int.from_bytes(payload[pos + 4 : pos + 6], "big")
            name_end = pos + 6 + 1 + payload[pos + 6]
            name_end += (name_end - pos) & 1  # the Pascal name is padded to an even length
            size = int.from_bytes(payload[name_end : name_end + 4], "big")
            data_start = name_end + 4
            if data_start > n or data_start + size > n:
                return None, ["other Photoshop data"]
            blocks.append((resource, payload[pos:data_start], payload[data_start : data_start + size]))
            pos = data_start + size + (size & 1)
    except IndexError:
        return None, ["other Photoshop data"]
    removed: list[str] = []
    kept: list[bytes] = []
    iptc_changed = False
    for resource, header, data in blocks:
        if resource == _IPTC:
            new, what = _clean_iptc(data)
            removed += what
            if new is None:
                iptc_changed = True
                continue
            iptc_changed = iptc_changed or new is not data
            if new is not data:
                header = header[:-4] + len(new).to_bytes(4, "big")
            data = new
        elif resource == _XMP_RESOURCE:
            removed.append("XMP")
            continue
        elif resource not in _SAFE_RESOURCES and resource != _IPTC_DIGEST:
            removed.append("other Photoshop data")
            continue
        kept.append(header + data + b"\x00" * (len(data) & 1))
    if iptc_changed:  # the digest of the old IPTC would now be wrong
        kept = [k for k in kept if int.from_bytes(k[4:6], "big") != _IPTC_DIGEST]
    if not removed:
        return payload, []
    if not kept:
        return None, removed
    return _PHOTOSHOP + b"".join(kept), removed


def _clean_iptc(data: bytes) -> tuple[bytes | None, list[str]]:
    """IPTC-IIM datasets without place names (the data itself when unchanged; None: drop, unreadable)."""
    kept: list[bytes] = []
    removed: list[str] = []
    pos, n = 0, len(data)
    while pos < n:
        if data[pos] != 0x1C:
            if data[pos:].strip(b"\x00"):
                return None, ["IPTC"]
            break
        if pos + 5 > n:
            return None, ["IPTC"]
        record, dataset = data[pos + 1], data[pos + 2]
        length, start = int.from_bytes(data[pos + 3 : pos + 5], "big"), pos + 5
        if length & 0x8000:  # extended dataset: the next (length & 0x7FFF) bytes hold the length
            width = length & 0x7FFF
            if width > 4:
                return None, ["IPTC"]
            length, start = int.from_bytes(data[start : start + width], "big"), start + width
        end = start + length
        if end > n:
            return None, ["IPTC"]
        if record == 2 and dataset in _IPTC_LOCATION:
            removed.append("IPTC location")
        else:
            kept.append(data[pos:end])
        pos = end
    if not removed:
        return data, []
    return b"".join(kept), removed


# ---------------------------------------------------------------- segments


def app_segment(
    marker: int, payload: bytes, clean_exif: Callable[[bytes], tuple[bytes | None, list[str]]]
) -> tuple[bytes | None, list[str]]:
    """What to keep of an APPn segment: (the payload itself, a new payload, or None to drop; removed).

    `clean_exif` cleans an EXIF payload (the caller's strip mode decides how much stays)."""
    if marker == 0xE0:
        return (payload, []) if payload.startswith(b"JFIF\x00") else (None, ["other metadata (APP0)"])
    if marker == 0xE1:
        if payload.startswith(b"Exif\x00\x00"):
            return clean_exif(payload)
        if payload.startswith((b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")):
            return None, ["XMP"]
        return None, ["camera maker data (APP1)"]
    if marker == 0xE2:
        if payload.startswith(b"ICC_PROFILE\x00"):
            return payload, []
        if payload.startswith(b"MPF\x00"):
            return None, ["multi-picture index"]
        return None, ["camera maker data (APP2)"]
    if marker == 0xED:
        return clean_photoshop(payload)
    if marker == 0xEE and payload.startswith(b"Adobe"):
        return payload, []  # colour transform: needed to decode CMYK/YCCK correctly
    return None, [f"camera maker data (APP{marker - 0xE0})"]


_SAFE_APPS = {"APP0": (b"JFIF\x00",), "APP1": (b"Exif\x00\x00",), "APP2": (b"ICC_PROFILE\x00",), "APP14": (b"Adobe",)}


def verify_segments(image: ImageFile.ImageFile, strip: str) -> list[str]:
    """What location-bearing metadata Pillow's parsers still find in an opened JPEG (empty: clean)."""
    left: list[str] = []
    for name, payload in getattr(image, "applist", []):
        if name == "APP13" and strip == "gps":
            continue  # checked through Pillow's Photoshop and IPTC readers below
        if name == "COM" or payload.startswith(_SAFE_APPS.get(name, (b"\x00unlisted",))):
            continue
        left.append(f"{name} block")
    photoshop = image.info.get("photoshop") or {}
    if set(photoshop) - _SAFE_RESOURCES - {_IPTC, _IPTC_DIGEST}:
        left.append("Photoshop data")
    iptc = (IptcImagePlugin.getiptcinfo(image) or {}) if _IPTC in photoshop else {}
    if any(record == 2 and dataset in _IPTC_LOCATION for record, dataset in iptc):
        left.append("IPTC location")
    exif = image.getexif()
    ifds = [
        dict(exif),
        exif.get_ifd(ExifTags.IFD.Exif),
        exif.get_ifd(ExifTags.IFD.IFD1),
        exif.get_ifd(ExifTags.IFD.Interop),
    ]
    if any(GPS_POINTER in ifd for ifd in ifds):
        left.append("GPS")
    if any(0x02BC in ifd or 0x83BB in ifd for ifd in ifds):
        left.append("XMP or IPTC inside EXIF")
    return left
