"""PNG: walk the chunks; rebuild eXIf without GPS, drop XMP and raw EXIF/XMP text profiles."""

from __future__ import annotations

import zlib

from r2.images.exif import clean_exif
from r2.images.model import ImageRejected, StripMode, unique_in_order
from r2.images.source import ByteView, CleanPlan

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT = (b"tEXt", b"zTXt", b"iTXt")
_PNG_KEYWORD = 80  # a text chunk's keyword is 1-79 bytes and a NUL: enough to decide, whatever its size


def walk_png(data: ByteView, strip: StripMode) -> tuple[CleanPlan, list[str]]:
    if data[:8] != _PNG_SIGNATURE:
        raise ImageRejected("The PNG signature is missing.")
    out = CleanPlan()
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
            new, what = clean_exif(body, strip)
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
    return out, unique_in_order(removed)


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + ctype + body + zlib.crc32(ctype + body).to_bytes(4, "big")
