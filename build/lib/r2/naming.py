"""Where things live in the bucket: reserved prefixes, thumbnail keys, metadata names, key checks."""

from __future__ import annotations

import unicodedata

from r2.errors import InvalidInput
from r2.settings import RESERVED_PREFIX, THUMB_PREFIX

MAX_KEY_BYTES = 1024  # R2's limit on a key's UTF-8 length

# Custom metadata written at upload (x-amz-meta-*); values are ASCII (original-name percent-encoded).
META_ORIGINAL_NAME = "original-name"
META_WIDTH = "width"
META_HEIGHT = "height"
META_FORMAT = "format"
META_UPLOADED_BY = "uploaded-by"
META_THUMBNAIL = "thumbnail"  # "yes" when a thumbnail was stored
META_SHA256 = "sha256"  # hex SHA-256 of the stored bytes (the catalog finds duplicates by it)

HIDDEN_PREFIXES = (RESERVED_PREFIX, THUMB_PREFIX)


def thumbnail_key(key: str) -> str:
    """The thumbnail of `key` (a WebP): a pure function of the key, so no lookup is needed."""
    return f"{THUMB_PREFIX}{key}.webp"


def is_hidden(key: str) -> bool:
    """Reserved for the app (thumbnails, audit, history, snapshots): never shown when browsing."""
    return key.startswith(HIDDEN_PREFIXES)


def reserved_root(key: str) -> str | None:
    """The reserved prefix `key` lies under (`.dashboard/` or `.thumbs/`), or None."""
    return next((p for p in HIDDEN_PREFIXES if key.startswith(p)), None)


def check_visible(key: str) -> str:
    """THE check of whether a key may be reached from a member-facing path (Browse, search, details,
    Download and share links, `python -m r2 sign` and `ls`), whatever the role: the checked key, or
    InvalidInput for a key under a reserved prefix. The app's own code reads its data through its own
    functions (audit, CORS history, thumbnails of visible keys), never through these paths."""
    key = check_key(key)
    if reserved_root(key) is not None:
        raise InvalidInput(
            "This key is reserved for the app (.dashboard/ and .thumbs/ hold its own data): it cannot be "
            "opened, listed, signed or shared here.",
            "Audit events are on the Audit page (admins).",
        )
    return key


def check_key(key: str) -> str:
    """Normalise to NFC (R2 does; other servers don't) and refuse keys R2 or browsers mishandle."""
    key = unicodedata.normalize("NFC", key)
    if not key:
        raise InvalidInput("The object key is empty.")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidInput(f"The object key is longer than {MAX_KEY_BYTES} bytes (UTF-8).", "Use a shorter name.")
    if any(unicodedata.category(ch) == "Cc" for ch in key):
        raise InvalidInput("The object key contains control characters.", "Remove them from the name.")
    if key.startswith("/") or any(part in (".", "..") for part in key.split("/")):
        raise InvalidInput("The object key has a '.' or '..' segment or starts with '/'.", "Use a plain path.")
    return key
