"""Upload files one by one (check, clean, skip duplicates, store, audit): one result per file, never a raise."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Literal

from r2 import images
from r2.audit import AuditEvent, record
from r2.catalog import Catalog, Row, note
from r2.catalog_reports import find_same
from r2.client import S3Client
from r2.errors import InvalidInput, R2Error
from r2.images import ImagePolicy
from r2.settings import Settings
from r2.thumbnails import THUMB_SIZE, thumbnail_of
from r2.uploads.planning import choose_folder, display_name, new_key
from r2.uploads.storing import content_sha256, store, stored_row

log = logging.getLogger(__name__)

UNEXPECTED_ERROR = "The file could not be checked (an unexpected error, logged for the operator); it was not stored."


Source = bytes | Path | BinaryIO


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
