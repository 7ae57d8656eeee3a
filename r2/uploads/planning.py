"""Where an upload goes and what it must be, decided from its name, size and type before any byte is read."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote, unquote

from r2 import images
from r2.errors import InvalidInput
from r2.images import FORMAT_TYPES, ImagePolicy, ImageRejected
from r2.naming import (
    check_key,
)
from r2.settings import Settings

MAX_NAME_META = 512  # characters of the percent-encoded original name kept as metadata
NAME_SAFE = "!$&'()*+,;=@[]^_`{}~-."  # printable ASCII kept; the rest (spaces too: headers trim them) encoded


_TYPE_FORMATS = {
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/pjpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
    "image/avif": "AVIF",
    "image/heic": "HEIC",
    "image/heif": "HEIC",
    "image/heic-sequence": "HEIC",
    "image/heif-sequence": "HEIC",
}
_EXT_FORMATS = {ext: fmt for fmt, (ext, _) in FORMAT_TYPES.items()} | {
    "jpeg": "JPEG",
    "jpe": "JPEG",
    "heif": "HEIC",
    "hif": "HEIC",
}


def accepted_extensions(formats: Iterable[str]) -> list[str]:
    """File name extensions of the formats accepted (for a file picker's filter; content is checked later)."""
    wanted = set(formats)
    return sorted(ext for ext, fmt in _EXT_FORMATS.items() if fmt in wanted)


def display_name(name: str) -> str:
    """The file's own name without any directories a browser or a user put in front of it."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/"))
    base = PurePosixPath(name).name or "unnamed"
    return "".join(ch for ch in base if unicodedata.category(ch) != "Cc") or "unnamed"


def encode_name(name: str) -> str:
    """The original name as an ASCII metadata value (percent-encoded UTF-8), at most MAX_NAME_META chars."""
    encoded = quote(display_name(name), safe=NAME_SAFE)
    if len(encoded) > MAX_NAME_META:
        cut = encoded[:MAX_NAME_META]
        tail = cut.rfind("%", len(cut) - 2)
        if tail != -1:  # never cut a %XX escape in half
            cut = cut[:tail]
        while cut and not _decodes(cut):  # nor a multi-byte character
            cut = cut[: cut.rindex("%")]
        encoded = cut
    return encoded


def _decodes(text: str) -> bool:
    try:
        unquote(text, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def decode_name(value: str) -> str:
    """The original name from its metadata value (what Browse shows)."""
    return unquote(value, errors="replace")


def choose_folder(settings: Settings, folder: str | None) -> str:
    """The folder uploads go to: one of R2_FOLDERS (the first by default)."""
    if folder is None or folder == "":
        return settings.folders[0]
    folder = unicodedata.normalize("NFC", folder).strip("/")
    if folder not in settings.folders:
        raise InvalidInput(
            f"Uploads may not go to the folder {folder!r}.",
            f"Choose one of: {', '.join(settings.folders)} (setting R2_FOLDERS).",
        )
    return folder


def new_key(folder: str, fmt: str) -> str:
    """`{folder}/{uuid}.{ext}`: generated here, never from the user's file name; the extension is that of
    the format stored (an upload of HEIC bytes gets `.jpg`: it is converted)."""
    return check_key(f"{folder}/{uuid.uuid4()}.{FORMAT_TYPES[images.stored_format(fmt)][0]}")


@dataclass(frozen=True)
class UploadPlan:
    """Where a file will go and the limits it must meet, decided before any byte is read."""

    key: str  # with the extension of the format stored (`images.stored_format`)
    folder: str
    format: str  # of the bytes the browser sends (HEIC for a HEIC photo, stored as JPEG)
    content_type: str
    size: int
    original_name: str  # display name; stored percent-encoded
    policy: ImagePolicy


def plan_upload(
    settings: Settings, name: str, size: int, declared_type: str = "", folder: str | None = None
) -> UploadPlan:
    """Plan an upload from what a browser says about a file (checked again on the bytes later)."""
    policy = ImagePolicy.from_settings(settings)
    images.check_size(size, policy.max_bytes)
    target = choose_folder(settings, folder)
    mime = declared_type.split(";", 1)[0].strip().lower()
    fmt = _TYPE_FORMATS.get(mime) or _EXT_FORMATS.get(PurePosixPath(display_name(name)).suffix.lower().lstrip("."))
    if fmt is None or fmt not in policy.formats:
        raise ImageRejected(
            f"{display_name(name)!r} ({mime or 'unknown type'}) is not an accepted image type.",
            f"Accepted: {policy.describe()}.",
        )
    return UploadPlan(new_key(target, fmt), target, fmt, FORMAT_TYPES[fmt][1], size, display_name(name), policy)
