"""GIF: walk the blocks; drop XMP application extensions (and, stripping all, comments and other metadata)."""

from __future__ import annotations

from r2.images.model import ImageRejected, StripMode, unique_in_order
from r2.images.source import ByteView, CleanPlan


def walk_gif(data: ByteView, strip: StripMode) -> tuple[CleanPlan, list[str]]:
    n = len(data)
    if data[:6] not in (b"GIF87a", b"GIF89a") or n < 13:
        raise ImageRejected("The GIF header is missing.")
    packed = data[10]
    pos = 13 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
    out = CleanPlan()
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
    return out, unique_in_order(removed)
