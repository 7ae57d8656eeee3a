"""WebP: walk the RIFF chunks; rebuild EXIF without GPS, drop XMP, fix the VP8X flags and the RIFF size."""

from __future__ import annotations

from r2.images.exif import clean_exif
from r2.images.model import ImageRejected, StripMode, unique_in_order
from r2.images.source import ByteView, CleanPlan


def walk_webp(data: ByteView, strip: StripMode) -> tuple[CleanPlan, list[str]]:
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
            new, what = clean_exif(data[start : start + size], strip)
            removed += what
            if new is not None:
                chunks.append((fourcc, new))
        elif fourcc == b"XMP ":
            removed.append("XMP")
        elif fourcc == b"VP8X":
            chunks.append((fourcc, data[start : start + size]))
        else:
            chunks.append((fourcc, (start, start + size)))
    out = CleanPlan()
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
    return out, unique_in_order(removed)
