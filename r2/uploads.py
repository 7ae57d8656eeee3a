"""The upload pipeline every upload path uses: plan -> check and clean -> store (never overwriting).

- `plan_upload(settings, name, size, declared_type, folder)` decides the key and the limits before
  any byte exists (a direct browser upload signs its PUT from this plan).
- `images.clean(source, policy, ...)` checks and cleans bytes, an open file or a file on disk,
  whatever way they arrived.
- `store(...)` writes the thumbnail and then the original with `If-None-Match: *`; if the original
  cannot be written, the new thumbnail is deleted again, so a failed file leaves nothing behind.
  A thumbnail failure does not lose the original: the result says so and Browse can regenerate it.
- A direct browser upload composes the same parts: `plan_upload` -> signed PUT of the raw bytes to a
  staging key under `.dashboard/` -> `images.clean_file(downloaded_file, plan.policy, ...)` (file to
  file) -> `store(..., copy_from=(staged key, etag))`, which writes the final key with If-None-Match:
  the cleaned file streamed from disk, or, when nothing was removed, a server-side copy of the staged
  object (no bytes sent). See `r2.direct`.
- `upload_file` / `upload_files` do it all per file and record an `upload` audit event per stored
  file. Each file gets a frozen `Uploaded` or `Rejected` result; one file failing never stops the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal
from urllib.parse import quote, unquote

from botocore.exceptions import BotoCoreError, ClientError

from r2 import images
from r2.audit import AuditEvent, record
from r2.catalog import Catalog, Row, note
from r2.catalog_reports import find_same
from r2.client import S3Client
from r2.errors import AlreadyExists, InvalidInput, NotFound, R2Error, translate
from r2.images import FORMAT_TYPES, CleanFile, CleanImage, ImagePolicy, ImageRejected
from r2.naming import (
    META_FORMAT,
    META_HEIGHT,
    META_ORIGINAL_NAME,
    META_SHA256,
    META_THUMBNAIL,
    META_UPLOADED_BY,
    META_WIDTH,
    check_key,
    thumbnail_key,
)
from r2.settings import Settings
from r2.thumbnails import THUMB_SIZE, store_thumbnail, thumbnail_of

log = logging.getLogger(__name__)

UNEXPECTED_ERROR = "The file could not be checked (an unexpected error, logged for the operator); it was not stored."
CACHE_CONTROL = "private, max-age=31536000, immutable"  # uuid keys never change content
MAX_NAME_META = 512  # characters of the percent-encoded original name kept as metadata
_NAME_SAFE = "!$&'()*+,;=@[]^_`{}~-."  # printable ASCII kept; the rest (spaces too: headers trim them) encoded

Source = bytes | Path | BinaryIO

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


# ---------------------------------------------------------------- names and keys


def display_name(name: str) -> str:
    """The file's own name without any directories a browser or a user put in front of it."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/"))
    base = PurePosixPath(name).name or "unnamed"
    return "".join(ch for ch in base if unicodedata.category(ch) != "Cc") or "unnamed"


def encode_name(name: str) -> str:
    """The original name as an ASCII metadata value (percent-encoded UTF-8), at most MAX_NAME_META chars."""
    encoded = quote(display_name(name), safe=_NAME_SAFE)
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


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Uploaded:
    file: str
    key: str
    size: int
    format: str
    width: int
    height: int
    content_type: str
    removed: tuple[str, ...]  # metadata removed, in words
    thumbnail_key: str | None  # None when the thumbnail failed (see problems)
    problems: tuple[str, ...] = ()  # stored, but: thumbnail missing, audit event not written, ...
    status: Literal["uploaded"] = "uploaded"
    row: Row | None = field(default=None, repr=False, compare=False)  # what the catalog records for it

    @property
    def reason(self) -> str:
        return ""


@dataclass(frozen=True)
class Rejected:
    file: str
    reason: str
    status: Literal["rejected"] = "rejected"
    key: str = ""
    duplicate_of: str = ""  # skipped: an image with the same content is stored under this key


Result = Uploaded | Rejected


# ---------------------------------------------------------------- storing


Checked = CleanImage | CleanFile


def _digest(clean: Checked, algorithm: str) -> str:
    """A digest of the bytes that are stored (the cleaned ones): from memory, or read from the local file."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    if isinstance(clean, CleanImage):
        digest.update(clean.body)
    else:
        with clean.path.open("rb") as body:
            for block in iter(lambda: body.read(images.CHUNK), b""):
                digest.update(block)
    return digest.hexdigest()


def content_sha256(clean: Checked) -> str:
    """Hex SHA-256 of the stored bytes: written as metadata, so a catalog sync finds duplicates too."""
    return _digest(clean, "sha256")


def metadata_for(clean: Checked, original_name: str, uploaded_by: str, has_thumbnail: bool) -> dict[str, str]:
    return {
        META_SHA256: content_sha256(clean),
        META_ORIGINAL_NAME: encode_name(original_name),
        META_WIDTH: str(clean.info.width),
        META_HEIGHT: str(clean.info.height),
        META_FORMAT: clean.info.format,
        META_UPLOADED_BY: quote(uploaded_by[:200], safe=_NAME_SAFE),
        META_THUMBNAIL: "yes" if has_thumbnail else "no",
    }


def put_new(
    client: S3Client,
    bucket: str,
    key: str,
    body: bytes | BinaryIO,
    *,
    content_type: str,
    metadata: dict[str, str],
    content_length: int | None = None,
) -> None:
    """PUT with If-None-Match: * — an existing key is refused (AlreadyExists), never overwritten.

    `body` may be an open file (streamed from disk; give `content_length`, its exact size).
    """
    extra: dict[str, Any] = {"ContentLength": content_length} if content_length is not None else {}
    try:
        client.put_object(
            Bucket=bucket,
            Key=check_key(key),
            Body=body,
            ContentType=content_type,
            CacheControl=CACHE_CONTROL,
            Metadata=metadata,
            IfNoneMatch="*",
            **extra,
        )
    except (ClientError, BotoCoreError) as exc:
        err = translate(exc, action="store the image", target=key)
        if isinstance(err, AlreadyExists) and is_own_write(client, bucket, key, _md5(body)):
            return
        raise err from exc


def is_own_write(client: S3Client, bucket: str, key: str, md5: str) -> bool:
    """After a refused If-None-Match write: is the object there the one we just sent?

    The client resends a request whose answer was lost (a dropped connection after the server stored
    it); the resend is then refused as "exists" although the first attempt stored exactly these bytes.
    Keys are fresh uuids, so an object with our content's MD5 (the ETag of a single PUT, kept by a
    copy) is our own.
    """
    try:
        etag = str(client.head_object(Bucket=bucket, Key=key).get("ETag", "")).strip('"')
    except (ClientError, BotoCoreError):
        return False
    return etag == md5


def _md5(body: bytes | BinaryIO) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    if isinstance(body, bytes):
        digest.update(body)
    else:
        body.seek(0)
        for block in iter(lambda: body.read(images.CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


# R2 takes a CopyObject's destination condition as cf-copy-destination-if-none-match, not the
# If-None-Match that S3 uses there (https://developers.cloudflare.com/r2/api/s3/conditional-operations/).
_R2_HOST = ".r2.cloudflarestorage.com"
_COPY_HOOK = "r2-dashboard-copy-destination-condition"


def _r2_copy_condition(request: Any, **_: Any) -> None:
    if _R2_HOST in str(request.url) and "If-None-Match" in request.headers:
        value = request.headers["If-None-Match"]
        del request.headers["If-None-Match"]
        request.headers["cf-copy-destination-if-none-match"] = value


def copy_new(
    client: S3Client,
    bucket: str,
    key: str,
    *,
    source: str,
    source_etag: str,
    content_type: str,
    metadata: dict[str, str],
) -> None:
    """Server-side copy of `source` to a new key with the pipeline's metadata: no bytes sent.

    Only the version that was checked is copied (`CopySourceIfMatch`; a changed or missing source is
    refused with 412) and an existing destination is never overwritten (If-None-Match: *, sent to R2
    under its own header name). A copy keeps the content, hence the ETag: a resend after a lost
    answer, or a second checker of the same upload, finds the same content there and succeeds. moto
    ignores both conditions (strict xfails; LocalStack and R2 honour the source one).
    """
    client.meta.events.register("before-sign.s3.CopyObject", _r2_copy_condition, unique_id=_COPY_HOOK)
    try:
        client.copy_object(
            Bucket=bucket,
            Key=check_key(key),
            CopySource={"Bucket": bucket, "Key": source},
            CopySourceIfMatch=source_etag,
            IfNoneMatch="*",
            MetadataDirective="REPLACE",
            ContentType=content_type,
            CacheControl=CACHE_CONTROL,
            Metadata=metadata,
        )
    except (ClientError, BotoCoreError) as exc:
        err = translate(exc, action="store the image", target=key)
        # Refused (the key is taken) or the source is gone (another checker of the same upload copied it
        # first and removed it): fine if the final key holds exactly the checked content.
        if isinstance(err, AlreadyExists | NotFound) and is_own_write(client, bucket, key, source_etag.strip('"')):
            return
        raise err from exc


def store(
    client: S3Client,
    bucket: str,
    key: str,
    clean: Checked,
    *,
    original_name: str,
    uploaded_by: str,
    copy_from: tuple[str, str] | None = None,
) -> tuple[str | None, tuple[str, ...]]:
    """Store the thumbnail, then the original. Returns (thumbnail key or None, problems).

    Raises R2Error (AlreadyExists for a taken key) when the original was not stored; then nothing
    of this file remains in the bucket (the new thumbnail is deleted again). A `CleanFile` is streamed
    from disk; with `copy_from=(staged key, ETag)` (the checked object is already in the bucket) and
    nothing changed, it is not sent at all: the staged object is copied server-side (`copy_new`).
    """
    key = check_key(key)
    thumb_key: str | None = None
    problems: list[str] = []
    if clean.thumbnail is not None:
        try:
            thumb_key = store_thumbnail(client, bucket, key, clean.thumbnail, if_new=True)
        except AlreadyExists as exc:
            if is_own_write(client, bucket, thumbnail_key(key), _md5(clean.thumbnail)):
                thumb_key = thumbnail_key(key)  # our own first attempt, whose answer was lost
            else:
                raise AlreadyExists(
                    f"Could not store the image: {key} already has a thumbnail, so the key is taken.",
                    "Nothing was overwritten. Try again; keys are generated anew each time.",
                ) from exc
        except R2Error as exc:
            problems.append(f"The thumbnail was not stored ({exc.message}); regenerate it from Browse.")
    elif clean.thumbnail_error:
        problems.append(f"{clean.thumbnail_error} Regenerate it from Browse.")
    metadata = metadata_for(clean, original_name, uploaded_by, thumb_key is not None)
    content_type = clean.info.content_type
    try:
        if isinstance(clean, CleanImage):
            put_new(client, bucket, key, clean.body, content_type=content_type, metadata=metadata)
        elif copy_from is not None and not clean.changed:
            source, etag = copy_from
            copy_new(client, bucket, key, source=source, source_etag=etag, content_type=content_type, metadata=metadata)
        else:
            with clean.path.open("rb") as body:
                put_new(
                    client, bucket, key, body, content_type=content_type, metadata=metadata, content_length=clean.size
                )
    except Exception:  # R2Error, or anything unexpected: the original is not stored, so neither is its thumbnail
        if thumb_key is not None:
            _delete_quietly(client, bucket, thumb_key)
        raise
    return thumb_key, tuple(problems)


def stored_row(
    key: str,
    clean: Checked,
    *,
    original_name: str,
    uploaded_by: str,
    has_thumbnail: bool,
    copy_from: tuple[str, str] | None = None,
) -> Row:
    """The catalog row of an object `store` just wrote, from what the pipeline holds (no HEAD).

    The ETag is the MD5 of a single PUT's bytes, or the copied source's (a copy keeps it): the same a
    listing shows, so a later sync finds the row current and does not read the object again.
    """
    etag = copy_from[1] if copy_from is not None and not getattr(clean, "changed", True) else _digest(clean, "md5")
    now = datetime.now(UTC)
    return Row(
        key=key,
        size=clean.size,
        etag=etag.strip('"'),
        last_modified=now,
        content_type=clean.info.content_type,
        original_name=display_name(original_name),
        uploader=uploaded_by[:200],
        uploaded_at=now,
        width=clean.info.width,
        height=clean.info.height,
        format=clean.info.format,
        has_thumbnail=has_thumbnail,
        sha256=content_sha256(clean),
    )


def _delete_quietly(client: S3Client, bucket: str, key: str) -> None:
    # An orphan thumbnail would be harmless (hidden, keyed by a uuid no object has), but try to leave nothing.
    with contextlib.suppress(ClientError, BotoCoreError):
        client.delete_object(Bucket=bucket, Key=key)


def upload_file(
    client: S3Client,
    settings: Settings,
    name: str,
    source: Source,
    *,
    folder: str | None = None,
    actor: str,
    key: str | None = None,
    catalog: Catalog | None = None,
    record_now: bool = True,
    duplicates: bool = False,
    seen: dict[str, str] | None = None,
) -> Result:
    """Check, clean and store one file. Never raises for a bad file or a failed write: see the result.

    With a `catalog`, the stored object is recorded there in the same action (a failure to do so is a
    problem in the result, repaired by the next sync); `upload_files` records a batch in one commit.
    A file whose cleaned bytes have the SHA-256 of an image in the catalog (or of one in `seen`, earlier
    in the same batch: hash -> key) is skipped before anything is stored, unless `duplicates` is True.
    """
    shown = display_name(name)
    policy = ImagePolicy.from_settings(settings)
    try:
        target = choose_folder(settings, folder)
        clean = images.clean(source, policy, thumb_size=THUMB_SIZE, thumbnail=thumbnail_of)
        same, unchecked = (
            ("", "") if duplicates or catalog is None else _stored_copy(catalog, content_sha256(clean), seen or {})
        )
        if same:
            return Rejected(
                shown,
                f"Skipped: the same image is already stored as {same} (nothing was stored; choose to store "
                "duplicates to keep a second copy).",
                duplicate_of=same,
            )
        key = key or new_key(target, clean.info.format)
        thumb_key, problems = store(client, settings.bucket, key, clean, original_name=name, uploaded_by=actor)
        problems += (unchecked,) if unchecked else ()
    except R2Error as exc:
        reason = str(exc) if isinstance(exc, InvalidInput) else f"Not stored: {exc}"
        return Rejected(shown, reason, key=key or "")
    except Exception:  # a bug or a decoder's surprise: this file is refused, the batch goes on and reports it
        log.exception("upload of %r failed unexpectedly", shown)  # the operator sees the traceback, not the user
        return Rejected(shown, UNEXPECTED_ERROR, key="")
    detail = f"{clean.info.format} {clean.info.width}x{clean.info.height}, {clean.size} bytes"
    if clean.removed:
        detail += f"; removed: {', '.join(clean.removed)}"
    try:
        record(client, settings.bucket, AuditEvent(actor, "upload", key, "ok", detail))
    except Exception as exc:  # stored: whatever goes wrong now is a problem to report, never a lost result
        why = exc.message if isinstance(exc, R2Error) else "an unexpected error, logged for the operator"
        if not isinstance(exc, R2Error):
            log.exception("audit event for %s not written", key)
        problems += (f"Stored, but the audit event was not written ({why}).",)
    row = stored_row(key, clean, original_name=name, uploaded_by=actor, has_thumbnail=thumb_key is not None)
    warning = note(catalog, [row]) if record_now else None
    return Uploaded(
        shown,
        key,
        clean.size,
        clean.info.format,
        clean.info.width,
        clean.info.height,
        clean.info.content_type,
        clean.removed,
        thumb_key,
        problems + ((warning,) if warning else ()),
        row=row,
    )


def _stored_copy(catalog: Catalog, sha256: str, seen: dict[str, str]) -> tuple[str, str]:
    """The key of an image with this content, earlier in the batch or in the catalog ("" if none), and
    why it could not be checked ("" when it was). The catalog is an index, never a gate: when it cannot
    be read, the image is stored and the result says the duplicate check was skipped."""
    if sha256 in seen:
        return seen[sha256], ""
    try:
        same = find_same(catalog, sha256)
    except R2Error as exc:
        return "", f"Not checked for duplicates: {exc.message}"
    return (same[0] if same else ""), ""


def upload_files(
    client: S3Client,
    settings: Settings,
    files: Iterable[tuple[str, Source]],
    *,
    folder: str | None = None,
    actor: str,
    on_progress: Callable[[int, Result], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    catalog: Catalog | None = None,
    duplicates: bool = False,
) -> list[Result]:
    """Upload each file independently; a bad file is rejected and the others still go.

    With a `catalog`, every stored file is recorded there in one commit at the end of the batch, and
    duplicates (same content as a stored image, or as a file earlier in the batch) are skipped unless
    `duplicates` is True.
    """
    results: list[Result] = []
    seen: dict[str, str] = {}
    for index, (name, source) in enumerate(files):
        if should_stop is not None and should_stop():
            break
        result = upload_file(
            client,
            settings,
            name,
            source,
            folder=folder,
            actor=actor,
            catalog=catalog,
            record_now=False,
            duplicates=duplicates,
            seen=seen,
        )
        if isinstance(result, Uploaded) and result.row is not None and result.row.sha256:
            seen[result.row.sha256] = result.key
        results.append(result)
        if on_progress is not None:
            on_progress(index + 1, result)
    warning = note(catalog, [r.row for r in results if isinstance(r, Uploaded) and r.row is not None])
    if warning:
        results = [replace(r, problems=(*r.problems, warning)) if isinstance(r, Uploaded) else r for r in results]
    return results
