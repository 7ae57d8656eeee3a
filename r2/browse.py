"""Browsing the bucket one folder level at a time, one LIST per page, no HEAD per row.

R2 bills every LIST (Class A) and every HEAD (Class B), and a HEAD per row is what makes other
browsers crawl on big buckets. So a page is exactly one `ListObjectsV2` with `Delimiter="/"`:
sub-folders come back as CommonPrefixes, objects as Contents (key, size, ETag, LastModified: no
content type, which is guessed from the extension here). Reserved prefixes (`.thumbs/`,
`.dashboard/`) are hidden after the LIST; a page may therefore show fewer items than its size, and
no extra LIST is made to refill it.

Server-side search is what S3 can do: a key prefix (folder + typed text). Filtering by substring,
extension and date happens on the loaded page only (`filter_objects`).

Thumbnails: whether `.thumbs/<key>.webp` exists cannot be known without a request (a HEAD per row
or a second LIST of `.thumbs/<folder>/`, both against the one-LIST rule). So a tile signs the
thumbnail URL of a large image and the grid draws a placeholder *behind* it: if the thumbnail is
missing, the browser's failed image is transparent and the placeholder shows. Small originals are
signed directly (cheaper than a thumbnail round trip and always right).
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from r2.client import S3Client
from r2.errors import InvalidInput, s3_errors
from r2.naming import HIDDEN_PREFIXES, check_visible, is_hidden, reserved_root, thumbnail_key
from r2.presign import UrlSigner, sign_get

DEFAULT_PAGE_SIZE = 60
PAGE_SIZES = (30, 60, 120, 240)
MAX_PAGE_SIZE = 1000  # ListObjectsV2 returns at most 1,000 entries per call
SMALL_ORIGINAL_BYTES = 256 * 1024  # originals up to this size are shown as they are (no thumbnail)
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif", "avif")

PreviewSource = Literal["original", "thumbnail", "none"]


def content_type_for(key: str) -> str:
    """The type guessed from the extension (a LIST has no content type; HEAD is in `objects.head`)."""
    guessed, _ = mimetypes.guess_type(key, strict=False)
    if guessed is None and key.lower().endswith(".avif"):
        return "image/avif"
    return guessed or "application/octet-stream"


def extension_of(key: str) -> str:
    ext = posixpath.splitext(key)[1]
    return ext[1:].lower() if ext else ""


@dataclass(frozen=True)
class Entry:
    """One row of a listing: a sub-folder (`key` ends with '/') or an object."""

    key: str
    name: str  # relative to the listed folder; a folder's name ends with '/'
    is_folder: bool = False
    size: int = 0
    last_modified: datetime | None = None
    etag: str = ""

    @property
    def extension(self) -> str:
        return "" if self.is_folder else extension_of(self.key)

    @property
    def content_type(self) -> str:
        return "" if self.is_folder else content_type_for(self.key)

    @property
    def is_image(self) -> bool:
        return self.extension in IMAGE_EXTENSIONS


@dataclass(frozen=True)
class ListingPage:
    """One LIST's worth of a folder. `next_token` is None on the last page."""

    folder: str
    search: str
    folders: tuple[Entry, ...]
    objects: tuple[Entry, ...]
    next_token: str | None
    hidden: int = 0  # reserved entries removed from this page
    last_seen: str = ""  # the last key or prefix the LIST returned, shown or not

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self.folders + self.objects

    @property
    def is_empty(self) -> bool:
        return not self.folders and not self.objects

    @property
    def last_key(self) -> str:
        """What a deep link stores to reopen the next page with `start_after` (one LIST, no token)."""
        last = self.last_seen
        if not last:
            return ""
        # A folder's key is a prefix of every key in it: start after all of them, not inside it.
        return last + "\U0010ffff" if last.endswith("/") else last


def check_folder(folder: str) -> str:
    """'' (the bucket's root) or a prefix ending with '/'; a bare name gets its slash."""
    folder = folder.strip().lstrip("/")
    if folder and not folder.endswith("/"):
        folder += "/"
    if any(part in (".", "..") for part in folder.split("/")[:-1]):
        raise InvalidInput("A folder path may not contain '.' or '..' segments.")
    if len(folder.encode("utf-8")) > 1024:
        raise InvalidInput("The folder path is longer than 1,024 bytes.")
    if folder:
        check_visible(folder)  # `.dashboard/…` and `.thumbs/…` are never listed here
    return folder


# What a page past a reserved prefix at the root starts after: the end of that whole prefix.
_SKIPS = frozenset(p + "\U0010ffff" for p in HIDDEN_PREFIXES)


def check_start_after(start_after: str, prefix: str) -> str:
    """Validate a `start_after` that came back from a link: inside the listed folder and search, and
    never inside a reserved prefix (only the marker that skips a whole reserved prefix)."""
    if not start_after.startswith(prefix):
        raise InvalidInput("The link's page position is not in this folder.", "Open the folder's first page.")
    if start_after not in _SKIPS:
        check_visible(start_after.removesuffix("\U0010ffff") or start_after)
    return start_after


def list_page(
    client: S3Client,
    bucket: str,
    folder: str = "",
    *,
    search: str = "",
    page_size: int = DEFAULT_PAGE_SIZE,
    token: str | None = None,
    start_after: str | None = None,
) -> ListingPage:
    """Exactly one ListObjectsV2 call: the sub-folders and objects of `folder` whose names start
    with `search`, from `token` (a continuation token) or `start_after` (a key, for deep links)."""
    folder = check_folder(folder)
    if "/" in search:
        raise InvalidInput(
            "Search matches the start of a name inside the folder.", "Open sub-folders instead of typing '/'."
        )
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"The page size must be between 1 and {MAX_PAGE_SIZE}.")
    params: dict[str, Any] = {
        "Bucket": bucket,
        "Prefix": folder + search,
        "Delimiter": "/",
        "MaxKeys": page_size,
    }
    if token:
        params["ContinuationToken"] = token
    elif start_after:
        params["StartAfter"] = check_start_after(start_after, folder + search)
    target = f"the folder {folder}" if folder else "the bucket"
    with s3_errors(f"list {target}", target=target):
        response = client.list_objects_v2(**params)
    return page_from_response(folder, search, response)


def page_from_response(folder: str, search: str, response: Mapping[str, Any]) -> ListingPage:
    hidden = 0
    folders: list[Entry] = []
    for item in response.get("CommonPrefixes", []):
        prefix = item["Prefix"]
        if is_hidden(prefix):
            hidden += 1
            continue
        folders.append(Entry(key=prefix, name=prefix[len(folder) :], is_folder=True))
    objects: list[Entry] = []
    for item in response.get("Contents", []):
        key = item["Key"]
        if is_hidden(key):
            hidden += 1
            continue
        if key == folder:  # a zero-byte "folder marker" made by some consoles
            continue
        objects.append(
            Entry(
                key=key,
                name=key[len(folder) :],
                size=int(item.get("Size", 0)),
                last_modified=item.get("LastModified"),
                etag=str(item.get("ETag", "")).strip('"'),
            )
        )
    token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
    # The position of the next page is built from visible entries only: a reserved entry stands for
    # its whole prefix (`.dashboard/`), so no key inside it can reach a link.
    seen = [i["Prefix"] for i in response.get("CommonPrefixes", [])] + [i["Key"] for i in response.get("Contents", [])]
    seen = [reserved_root(k) or k for k in seen]
    return ListingPage(folder, search, tuple(folders), tuple(objects), token, hidden, max(seen, default=""))


def breadcrumb(folder: str) -> list[tuple[str, str]]:
    """(label, folder) from the root to `folder`: `a/b/` -> [("bucket root", ""), ("a", "a/"), ("b", "a/b/")]."""
    crumbs = [("bucket root", "")]
    path = ""
    for part in folder.split("/")[:-1] if folder else []:
        path += part + "/"
        crumbs.append((part, path))
    return crumbs


def parent(folder: str) -> str:
    crumbs = breadcrumb(folder)
    return crumbs[-2][1] if len(crumbs) > 1 else ""


NO_EXTENSION = "(none)"  # the extension filter's choice for names without an extension


def extension_choices(objects: Iterable[Entry]) -> list[str]:
    """The extension filter's choices for a loaded page: each extension once, sorted, and
    `NO_EXTENSION` when some name has none."""
    return sorted({entry.extension or NO_EXTENSION for entry in objects})


def filter_objects(
    objects: Iterable[Entry],
    *,
    contains: str = "",
    extensions: Sequence[str] = (),
    since: date | None = None,
    until: date | None = None,
) -> tuple[Entry, ...]:
    """Client-side filters over the loaded page (never another request): case-insensitive substring
    of the name, extensions (without dot; `NO_EXTENSION` for names without one), last-modified date
    range (inclusive)."""
    needle = contains.casefold()
    wanted = {e.lower().lstrip(".") for e in extensions}
    out = []
    for entry in objects:
        if needle and needle not in entry.name.casefold():
            continue
        if wanted and (entry.extension or NO_EXTENSION) not in wanted:
            continue
        day = entry.last_modified.date() if entry.last_modified else None
        if since and (day is None or day < since):
            continue
        if until and (day is None or day > until):
            continue
        out.append(entry)
    return tuple(out)


@dataclass(frozen=True)
class Tile:
    """What the grid shows for one object. `url` is a signed GET URL (never log it)."""

    key: str
    name: str
    size: int
    source: PreviewSource
    url: str = ""
    reason: str = ""  # why there is no preview
    by: str = ""  # who uploaded it and when (from the catalog), when known


def preview_source(entry: Entry, small_limit: int = SMALL_ORIGINAL_BYTES) -> PreviewSource:
    if not entry.is_image:
        return "none"
    return "original" if entry.size <= small_limit else "thumbnail"


def tiles(
    client: S3Client,
    bucket: str,
    objects: Iterable[Entry],
    expires: int,
    *,
    small_limit: int = SMALL_ORIGINAL_BYTES,
    signer: UrlSigner | None = None,
) -> tuple[Tile, ...]:
    """Sign one preview URL per image, locally (no request): the original when small, else the
    thumbnail (which may not exist: the grid shows a placeholder behind it). With `signer`, the
    cheaper equivalent of boto3's signing is used."""
    out = []
    for entry in objects:
        source = preview_source(entry, small_limit)
        if source == "none":
            out.append(Tile(entry.key, entry.name, entry.size, "none", reason="not an image"))
            continue
        target = entry.key if source == "original" else thumbnail_key(entry.key)
        try:
            own = source == "thumbnail"  # the app's thumbnail of a visible key
            if signer:
                url = signer.sign_get(target, expires, reserved_ok=own)
            else:
                url = sign_get(client, bucket, target, expires, reserved_ok=own)
        except InvalidInput:
            out.append(Tile(entry.key, entry.name, entry.size, "none", reason="key cannot be signed"))
            continue
        out.append(Tile(entry.key, entry.name, entry.size, source, url))
    return tuple(out)


def list_level(client: S3Client, bucket: str, folder: str = "", *, search: str = "") -> ListingPage:
    """A whole folder level (every page), for the command line and 'make thumbnails'. One LIST per
    1,000 entries: never used to show a browse page."""
    folders: list[Entry] = []
    objects: list[Entry] = []
    hidden = 0
    token: str | None = None
    while True:
        page = list_page(client, bucket, folder, search=search, page_size=MAX_PAGE_SIZE, token=token)
        folders.extend(page.folders)
        objects.extend(page.objects)
        hidden += page.hidden
        token = page.next_token
        if token is None:
            return ListingPage(page.folder, search, tuple(folders), tuple(objects), None, hidden)


def _thumbnail_state(client: S3Client, bucket: str, folder: str) -> tuple[list[Entry], dict[str, datetime]]:
    """One folder level's objects and its `.thumbs/` mirror (thumbnail key -> last modified): one level
    LIST of each (an explicit maintenance action, not a page view)."""
    folder = check_folder(folder)
    objects = list(list_level(client, bucket, folder).objects)
    thumbs: dict[str, datetime] = {}
    mirror = thumbnail_key(folder)[: -len(".webp")]  # `.thumbs/<folder>`
    with s3_errors("list the thumbnails", target="the thumbnails"):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=mirror, Delimiter="/"):
            thumbs.update((item["Key"], item["LastModified"]) for item in page.get("Contents", []))
    return objects, thumbs


def missing_thumbnails(client: S3Client, bucket: str, folder: str = "") -> tuple[str, ...]:
    """Images of one folder level whose thumbnail is absent."""
    objects, thumbs = _thumbnail_state(client, bucket, folder)
    return tuple(e.key for e in objects if e.is_image and thumbnail_key(e.key) not in thumbs)


def orphan_thumbnails(client: S3Client, bucket: str, folder: str = "", *, older_than_seconds: float) -> tuple[str, ...]:
    """Thumbnails of one folder level whose original is gone (an upload interrupted between its two
    writes, a delete by another tool), older than the grace period so an upload in flight is never hit."""
    objects, thumbs = _thumbnail_state(client, bucket, folder)
    originals = {thumbnail_key(e.key) for e in objects}
    cutoff = datetime.now(UTC).timestamp() - older_than_seconds
    return tuple(sorted(k for k, at in thumbs.items() if k not in originals and at.timestamp() <= cutoff))
