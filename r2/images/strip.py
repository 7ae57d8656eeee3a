"""Strip metadata: the walker for each format, as a plan (file to file) or as bytes (in memory)."""

from __future__ import annotations

from collections.abc import Callable

from r2.images.avif import reencode_avif
from r2.images.gif import walk_gif
from r2.images.jpeg import walk_jpeg
from r2.images.model import ImageRejected, StripMode, format_label, short_reason
from r2.images.png import walk_png
from r2.images.source import ByteView, CleanPlan
from r2.images.verify import verify_clean
from r2.images.webp import walk_webp

_STRIPPERS: dict[str, Callable[[ByteView, StripMode], tuple[CleanPlan, list[str]]]] = {
    "JPEG": walk_jpeg,
    "PNG": walk_png,
    "WEBP": walk_webp,
    "GIF": walk_gif,
    "AVIF": reencode_avif,
}


def _bytes_stripper(fmt: str) -> Callable[[bytes, StripMode], tuple[bytes, list[str]]]:
    def strip_bytes(data: bytes, strip: StripMode) -> tuple[bytes, list[str]]:
        view = ByteView.of(data)
        out, removed = _STRIPPERS[fmt](view, strip)
        return out.to_bytes(view, data), removed

    strip_bytes.__name__ = f"strip_{fmt.lower()}"
    strip_bytes.__doc__ = (
        f"Remove GPS/XMP (or all metadata) from a {format_label(fmt)} in memory; see r2.images' notes."
    )
    return strip_bytes


strip_jpeg = _bytes_stripper("JPEG")
strip_png = _bytes_stripper("PNG")
strip_webp = _bytes_stripper("WEBP")
strip_gif = _bytes_stripper("GIF")
strip_avif = _bytes_stripper("AVIF")


def plan_strip(data: ByteView, fmt: str, strip: StripMode) -> tuple[CleanPlan, tuple[str, ...]]:
    try:
        out, removed = _STRIPPERS[fmt](data, strip)
    except ImageRejected:
        raise
    except Exception as exc:  # malformed structure or metadata Pillow cannot rewrite: refuse, never store as is
        raise ImageRejected(
            f"The image's metadata could not be removed safely ({short_reason(exc)}); it was not stored.",
            "Export the image again (for example without location) and retry.",
        ) from exc
    return out, tuple(removed)


def strip_metadata(data: bytes, fmt: str, strip: StripMode) -> tuple[bytes, tuple[str, ...]]:
    """Remove GPS/XMP (or all metadata) from `data` of the detected format, then check the result."""
    cleaned, removed, _ = strip_checked(data, fmt, strip)
    return cleaned, removed


def strip_checked(data: bytes, fmt: str, strip: StripMode) -> tuple[bytes, tuple[str, ...], int]:
    """`strip_metadata`, and the orientation the cleaned image will be shown with."""
    view = ByteView.of(data)
    out, removed = plan_strip(view, fmt, strip)
    cleaned = out.to_bytes(view, data)
    return cleaned, removed, verify_clean(ByteView.of(cleaned), fmt, strip)
