"""AVIF: re-encoded without GPS/XMP only when it carries them (its item boxes cannot be rewritten in place)."""

from __future__ import annotations

import io

from PIL import Image

from r2.images.exif import clean_exif
from r2.images.model import GPS_IFD, StripMode
from r2.images.source import ByteView, CleanPlan


def reencode_avif(data: ByteView, strip: StripMode) -> tuple[CleanPlan, list[str]]:
    out = CleanPlan()
    with Image.open(data.stream(), formats=["AVIF"]) as image:
        exif = image.getexif()
        has_xmp = bool(image.info.get("xmp"))
        needs = has_xmp or (GPS_IFD in exif) or (strip == "all" and len(exif) > 0)
        if not needs:
            out.copy(0, len(data))
            return out, []
        removed = ["XMP"] if has_xmp else []
        new_exif = b""
        if exif:
            cleaned, what = clean_exif(exif.tobytes(), strip)
            removed += what
            new_exif = cleaned or b""
        encoded = io.BytesIO()  # bounded by the pixel cap: the image is re-encoded from its pixels
        frames = int(getattr(image, "n_frames", 1))
        image.save(encoded, format="AVIF", quality=90, exif=new_exif, save_all=frames > 1)
    out.add(encoded.getvalue())
    return out, [*removed, "re-encoded (AVIF metadata cannot be removed losslessly)"]
