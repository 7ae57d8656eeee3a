"""Step 4 of a direct upload: the server checks what the browser stored under the staging key, then
promotes it to the final key (never overwriting) or deletes it, and records the outcome in the audit log."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Literal

from r2 import images
from r2.audit import AuditEvent, record
from r2.catalog import Row
from r2.client import S3Client
from r2.direct.tickets import Ticket
from r2.errors import AlreadyExists, Conflict, InvalidInput, NotFound, R2Error, s3_errors
from r2.images import FORMAT_TYPES, CleanFile, ImagePolicy
from r2.naming import thumbnail_key
from r2.objects import details_from_head
from r2.settings import Settings
from r2.thumbnails import THUMB_SIZE, thumbnail_of
from r2.uploads import store, stored_row

CHUNK = 1024 * 1024


# Runs the pipeline's checks on a file on disk; raises InvalidInput (ImageRejected) with the reason.
ContentCheck = Callable[[Path, Settings], CleanFile]


def pipeline_check(path: Path, settings: Settings) -> CleanFile:
    """The upload pipeline on the downloaded file, file to file: identify by content, limits, metadata,
    thumbnail. A cleaned copy, if any, is written next to it (`<name>.clean`, same temporary folder)."""
    policy = ImagePolicy.from_settings(settings)
    out = path.with_name(path.name + ".clean")
    return images.clean_file(path, policy, out, thumb_size=THUMB_SIZE, thumbnail=thumbnail_of)


Status = Literal["stored", "removed", "failed"]


@dataclass(frozen=True)
class Outcome:
    """A file's final state, shown to the user."""

    id: str
    name: str
    key: str
    status: Status
    message: str = ""
    size: int = 0
    format: str = ""
    width: int = 0
    height: int = 0
    thumbnail_key: str = ""
    removed: tuple[str, ...] = ()
    row: Row | None = field(default=None, repr=False, compare=False)  # the catalog's row, when stored


def delete_staged(client: S3Client, settings: Settings, key: str) -> str:
    """Delete a staged object (or a batch record): '' when done, else a sentence to add to the message."""
    try:
        with s3_errors("delete it", target=key):
            client.delete_object(Bucket=settings.bucket, Key=key)
    except R2Error as err:
        return f" It could not be deleted: {err}"
    return ""


def download_to(client: S3Client, settings: Settings, key: str, etag: str, target: IO[bytes]) -> int:
    """Stream the object (exactly the version with `etag`) into an open binary file; returns its size."""
    response = client.get_object(Bucket=settings.bucket, Key=key, IfMatch=etag)
    total = 0
    for chunk in response["Body"].iter_chunks(CHUNK):
        target.write(chunk)
        total += len(chunk)
    target.flush()
    return total


def verify(
    client: S3Client,
    settings: Settings,
    ticket: Ticket,
    check: ContentCheck = pipeline_check,
    *,
    actor: str,
    tmp_dir: str | None = None,
    note: str = "",
) -> Outcome:
    """Check what the browser stored under `ticket.staged`; promote it to `ticket.key` or delete it.

    HEAD (size and type as signed), one GET (exactly that version) streamed into a temporary file,
    the pipeline's checks on that file, then `r2.uploads.store(..., copy_from=(staged, ETag))`: the
    thumbnail, then the final key, never overwriting: the cleaned file streamed from disk, or, when
    nothing was removed, a server-side copy of the checked version (no bytes sent again). Then the
    staged object is deleted. The temporary folder is removed whatever happens. `note` (the sweep's)
    starts the outcome's message and its audit event.
    """
    base = Outcome(ticket.id, ticket.name, ticket.key, "failed", size=ticket.size, format=ticket.format)
    staged = ticket.staged

    def done(outcome: Outcome) -> Outcome:
        if note:
            outcome = replace(outcome, message=f"{note} {outcome.message}".strip())
        return audited(client, settings, actor, outcome)

    def removed(why: str) -> Outcome:
        return done(replace(base, status="removed", message=why + delete_staged(client, settings, staged)))

    try:
        with s3_errors("check the upload", target=ticket.name):
            head = client.head_object(Bucket=settings.bucket, Key=staged)
    except NotFound:
        return _already_checked(client, settings, base)
    except R2Error as err:
        return done(replace(base, message=str(err)))
    etag = str(head.get("ETag", ""))
    size, ctype = int(head.get("ContentLength", -1)), str(head.get("ContentType", ""))
    if size != ticket.size or ctype != ticket.content_type:
        return removed(
            f"The stored object is {size} bytes of {ctype or 'no type'}, not the {ticket.size} bytes of "
            f"{ticket.content_type} that were signed; it was removed."
        )
    try:
        # The GET sends If-Match (exactly the version that was HEADed): a 412 there is a Conflict.
        checking = s3_errors("verify the upload", target=ticket.name, precondition="if-match")
        with checking, tempfile.TemporaryDirectory(prefix="direct-", dir=tmp_dir) as work:
            downloaded = Path(work) / "object"
            with downloaded.open("wb") as tmp:
                download_to(client, settings, staged, etag, tmp)
            try:
                clean = check(downloaded, settings)
            except InvalidInput as exc:
                return removed(f"{exc} It was removed from the bucket.")
            sent = clean.info.converted_from or clean.info.format  # what the bytes were, before any conversion
            if sent != ticket.format:
                ext = FORMAT_TYPES[sent][0]
                return removed(
                    f"Its content is {sent}, but it was sent as {ticket.format} (a renamed file?). "
                    f"It was removed: rename it to .{ext} and upload again."
                )
            thumb_key, problems = store(
                client,
                settings.bucket,
                ticket.key,
                clean,
                original_name=ticket.name,
                uploaded_by=actor,
                copy_from=(staged, etag),
            )
            row = stored_row(
                ticket.key,
                clean,
                original_name=ticket.name,
                uploaded_by=actor,
                has_thumbnail=thumb_key is not None,
                copy_from=(staged, etag),
            )
    except AlreadyExists as exc:  # the checked version is no longer there, or the final key is taken
        conflict = Conflict("The upload changed after it was checked, so it was not kept.", "Upload it again.")
        return done(replace(base, message=f"{conflict} ({exc.code or 'PreconditionFailed'})"))
    except R2Error as exc:
        return done(replace(base, message=str(exc)))
    left = delete_staged(client, settings, staged)
    if left:
        problems += (f"The staged copy stays hidden until the next sweep.{left}",)
    return done(
        replace(
            base,
            status="stored",
            size=clean.size,
            format=clean.info.format,
            width=clean.info.width,
            height=clean.info.height,
            removed=clean.removed,
            thumbnail_key=thumb_key or "",
            message=" ".join(problems),
            row=row,
        )
    )


def _already_checked(client: S3Client, settings: Settings, base: Outcome) -> Outcome:
    """No staged object: the server's sweep may have checked it first (a report that came late).
    One HEAD of the final key tells; nothing is audited again (the sweep did that)."""
    try:
        with s3_errors("check the upload", target=base.key):
            final = details_from_head(base.key, client.head_object(Bucket=settings.bucket, Key=base.key))
    except R2Error:
        return replace(
            base,
            message="The upload is not in the bucket: it never arrived, or the server's check removed it "
            "(see the Audit page).",
        )
    width, height = final.dimensions or (0, 0)
    return replace(
        base,
        status="stored",
        size=final.size,
        width=width,
        height=height,
        format=final.image_format or base.format,
        thumbnail_key=thumbnail_key(base.key) if final.has_thumbnail else "",
        message="It was checked by the server before your browser reported it.",
    )


def audited(client: S3Client, settings: Settings, actor: str, outcome: Outcome) -> Outcome:
    """Record the outcome in the audit log; an audit failure is added to the message, never raised."""
    outcome_word = {"stored": "ok", "removed": "refused", "failed": "failed"}[outcome.status]
    event = AuditEvent(actor or "unknown", "upload.direct", outcome.key, outcome_word, outcome.message[:500])
    try:
        record(client, settings.bucket, event)
    except R2Error as exc:
        return replace(
            outcome, message=f"{outcome.message} (The audit log could not be written: {exc.message})".strip()
        )
    return outcome
