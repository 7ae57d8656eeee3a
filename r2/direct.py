"""Direct upload: the browser PUTs each file straight to the bucket through a presigned URL.

The app never carries the bytes. The protocol (driven by `ui/direct_upload.py`):

1. The browser offers each picked file: name, size, type (`Offer`).
2. `plan()` refuses what the limits or the allowed types rule out *before any PUT* and signs a PUT
   URL for the rest (`Ticket`): Content-Type, the exact Content-Length and `If-None-Match: *` are
   signed (R2 has no presigned POST, so the exact length is the only size cap), short-lived. The PUT
   goes to a **staging key** under the app's reserved prefix (`.dashboard/direct/<batch>/<final key>`):
   invisible to Browse and never signed for GET. A small batch record (`<batch>.json`: who signed
   for which names) is written next to it, so the server can finish the job without the browser.
3. The browser PUTs with exactly those headers and reports each result (`BrowserReport`).
   `explain_failure()` tells a CORS block (network error, no status) from a refused signature or
   permission (403 with an S3 error body).
4. `verify()` checks the staged object on the server: HEAD for size and type, one streamed read into
   a temporary file for the same content checks as the upload pipeline, run on that file
   (`images.clean_file`: memory holds the decoded pixels, never the file), the thumbnail, then the
   **promotion** to the final generated key, never overwriting: the cleaned file streamed from disk,
   or, when nothing had to be removed, a server-side copy of the staged object (no bytes sent). The
   staged object is then deleted. A file that is not what it claimed is deleted and the user told why.
5. `sweep()` does step 4 for what nobody reported (a browser that PUT and never said so, or said it
   failed): one LIST of the staging prefix; a batch whose links have expired and whose reporting
   window has passed is verified and promoted (or deleted), each with an audit event, and its record
   removed. It runs when links are signed, once per Upload page session, and as `python -m r2
   direct-sweep`. Verification therefore never depends on the browser's word.

Before offering any of this, `cors_check()` sends the browser's preflight from the server and says
exactly which part of the bucket's CORS policy is missing, so the page can fall back to the app path.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from r2 import images
from r2.audit import AuditEvent, record
from r2.catalog import Catalog, Row
from r2.catalog import note as catalog_note
from r2.client import S3Client
from r2.cors import UPLOAD_HEADERS as PUT_HEADERS  # what the browser's PUT sends; CORS must allow them
from r2.errors import AlreadyExists, Conflict, InvalidInput, NotFound, R2Error, redact, translate
from r2.images import FORMAT_TYPES, CleanFile, ImagePolicy
from r2.naming import check_key, is_hidden, thumbnail_key
from r2.objects import details_from_head
from r2.preflight import PreflightResult, preflight
from r2.presign import sign_put
from r2.settings import RESERVED_PREFIX, Settings
from r2.thumbnails import THUMB_SIZE, thumbnail_of
from r2.uploads import choose_folder, plan_upload, store, stored_row

_log = logging.getLogger(__name__)

CORS_PAGE = "/cors"
MAX_FILES = 50  # per batch: each file costs a signature and a verification
MAX_NAME_CHARS = 255
CHUNK = 1024 * 1024
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STAGING_PREFIX = f"{RESERVED_PREFIX}direct/"  # the browser's PUTs land here, hidden, until checked
# After a batch's last signing, its links live `upload_url_ttl_seconds`; the page reports once every
# PUT of the batch has ended. The sweep leaves a batch alone for this long after its links expire,
# so that a slow but honest browser's report is the one that checks it (and clocks may differ).
SWEEP_GRACE_SECONDS = 600
_BATCH = re.compile(r"^[0-9a-f]{32}$")


def staged_key(batch: str, key: str, fmt: str = "") -> str:
    """Where the browser's PUT of `key` goes. The name ends in the extension of the bytes sent (`fmt`):
    a HEIC upload is staged as `….heic` and stored, converted, as `….jpg` (the final key), so the sweep
    knows from the name alone what was signed."""
    if fmt and images.stored_format(fmt) != fmt:
        key = f"{key.rpartition('.')[0]}.{FORMAT_TYPES[fmt][0]}"
    return f"{STAGING_PREFIX}{batch}/{key}"


def record_key(batch: str) -> str:
    return f"{STAGING_PREFIX}{batch}.json"


# ---------------------------------------------------------------- 1-2: offers and tickets


@dataclass(frozen=True)
class Offer:
    """What the browser says about a picked file (nothing of it is trusted: the content is checked later)."""

    id: str
    name: str
    size: int
    type: str = ""

    @classmethod
    def from_browser(cls, raw: Mapping[str, Any]) -> Offer:
        try:
            file_id, name, size, ctype = raw["id"], raw["name"], raw["size"], raw.get("type") or ""
        except (KeyError, TypeError) as exc:
            raise InvalidInput("The browser sent an incomplete file description.") from exc
        if not isinstance(file_id, str) or not _ID.match(file_id):
            raise InvalidInput("The browser sent a malformed file id.")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInput("The browser sent a malformed file size.")
        return cls(id=file_id, name=str(name)[:MAX_NAME_CHARS], size=size, type=str(ctype)[:100].lower())


@dataclass(frozen=True)
class Ticket:
    """A signed PUT for one file. The URL is a credential for 60 s: never log or render it."""

    id: str
    name: str
    key: str  # the final key, written only by the server after the check
    size: int
    format: str
    content_type: str
    expires_at: float
    url: str = field(repr=False)
    signing: int = 0  # 0 when planned, +1 for each renewal: the browser takes the newest
    batch: str = ""  # the server's batch id (never the browser's)

    @property
    def staged(self) -> str:
        """Where the browser's PUT goes: hidden under `.dashboard/`, never signed for GET."""
        return staged_key(self.batch, self.key, self.format)

    @property
    def headers(self) -> dict[str, str]:
        """Exactly what the browser must send (it adds Content-Length itself, from the file)."""
        return {"Content-Type": self.content_type, "If-None-Match": "*"}

    def for_browser(self, now: float) -> dict[str, Any]:
        """What the component needs; `ttl` is the link's remaining life in seconds (the browser's clock
        may be off, so it counts from when it receives the ticket)."""
        return {
            "id": self.id,
            "key": self.key,
            "url": self.url,
            "headers": self.headers,
            "size": self.size,
            "signing": self.signing,
            "ttl": max(0.0, round(self.expires_at - now, 1)),
        }


@dataclass(frozen=True)
class Refusal:
    id: str
    name: str
    reason: str


def plan(
    client: S3Client,
    settings: Settings,
    offers: Sequence[Offer],
    folder: str | None,
    *,
    actor: str,
    now: Callable[[], float] = time.time,
) -> tuple[list[Ticket], list[Refusal]]:
    """Sign a PUT for each acceptable offer; refuse the others with a reason.

    The limits, the allowed types and the key are the upload pipeline's (`r2.uploads.plan_upload`).
    When anything is signed, one request: the batch record (`record_batch`); if it cannot be
    written this raises and no link leaves the server.
    """
    target = choose_folder(settings, folder)
    if len(offers) > MAX_FILES:
        raise InvalidInput(f"At most {MAX_FILES} files at once.", "Upload them in several batches.")
    tickets: list[Ticket] = []
    refusals: list[Refusal] = []
    batch = uuid.uuid4().hex
    for offer in offers:
        try:
            planned = plan_upload(settings, offer.name, offer.size, offer.type, target)
        except InvalidInput as exc:
            refusals.append(Refusal(offer.id, offer.name, f"{exc} Nothing was uploaded."))
            continue
        unsigned = Ticket(
            offer.id,
            planned.original_name,
            planned.key,
            planned.size,
            planned.format,
            planned.content_type,
            0.0,
            "",
            batch=batch,
        )
        tickets.append(renew(client, settings, unsigned, now=now))
    if tickets:
        record_batch(client, settings, tickets, actor)
    return tickets, refusals


def record_batch(client: S3Client, settings: Settings, tickets: Sequence[Ticket], actor: str) -> None:
    """Write (again) the batch record: who got links for which names. Its LastModified is the batch's
    last signing, which tells the sweep when the links have expired; so renewals write it again."""
    batch = tickets[0].batch
    body = {"actor": actor, "files": {t.key: t.name for t in tickets}}
    try:
        client.put_object(
            Bucket=settings.bucket,
            Key=record_key(batch),
            Body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            ContentType="application/json",
        )
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="prepare the upload links", target="the upload record") from exc


def renew_margin(settings: Settings) -> float:
    """Seconds of life below which the browser asks for a fresh link before starting a PUT."""
    return min(10.0, settings.upload_url_ttl_seconds / 3)


def renew(client: S3Client, settings: Settings, ticket: Ticket, *, now: Callable[[], float] = time.time) -> Ticket:
    """The same PUT (key, exact size, type, If-None-Match) signed afresh for the configured lifetime.

    A link only has to be *started* before it expires; in a long queue of large files the later ones
    would start too late, so the browser asks for a fresh link just before it starts such a file.
    """
    ttl = settings.upload_url_ttl_seconds
    url = sign_put(
        client,
        settings.bucket,
        ticket.staged,
        ttl,
        content_type=ticket.content_type,
        content_length=ticket.size,
        if_none_match=True,
    )
    signing = ticket.signing + 1 if ticket.url else 0
    return replace(ticket, expires_at=now() + ttl, url=url, signing=signing)


# ---------------------------------------------------------------- CORS precheck


@dataclass(frozen=True)
class CorsCheck:
    """Will a browser on the app's origin be allowed to PUT to the bucket? If not: why and what to add."""

    allowed: bool
    origin: str
    problems: tuple[str, ...] = ()
    fix: str = ""
    result: PreflightResult | None = None


def cors_fix(origin: str) -> str:
    return (
        "Add a CORS rule (first in the policy) with "
        f'AllowedOrigins ["{origin}"], AllowedMethods ["PUT"] (plus GET, HEAD for previews), '
        'AllowedHeaders ["content-type", "if-none-match"] and ExposeHeaders ["ETag"] on the CORS page. '
        "Changes can take about 30 s to reach R2."
    )


def cors_check(settings: Settings, *, probe: Callable[..., PreflightResult] = preflight) -> CorsCheck:
    """A real OPTIONS preflight from the server, for the app's own origin, PUT and the PUT's headers."""
    origin = settings.app_origin
    result = probe(settings, origin, "PUT", list(PUT_HEADERS))
    if result.allowed:
        return CorsCheck(True, origin, result=result)
    if result.error:
        problems: tuple[str, ...] = (f"The bucket endpoint could not be asked: {result.error}.",)
        return CorsCheck(False, origin, problems, "Check the endpoint on the Health page.", result)
    reasons = result.reasons or ("the preflight was refused",)
    allow_origin = {k.lower(): v for k, v in result.response_headers.items()}.get("access-control-allow-origin", "")
    if result.status is not None and 200 <= result.status < 300 and allow_origin.strip() not in ("*", origin):
        # Answered, but not for this origin: no rule matched it, and the method and header complaints only
        # follow from that. A refused (non-2xx) preflight does not say which part failed: keep the judge's
        # own reasons, which name origin, method and headers as the possible causes.
        reasons = tuple(r for r in reasons if origin in r or "origin" in r) or reasons
        reasons = (f"no CORS rule lists the origin {origin}", *(r for r in reasons if "no CORS rule" not in r))
    return CorsCheck(False, origin, reasons, cors_fix(origin), result)


# ---------------------------------------------------------------- 3: what the browser reports


@dataclass(frozen=True)
class BrowserReport:
    """The result of one PUT as the browser saw it. status 0: no answer the page could read."""

    id: str
    ok: bool
    status: int = 0
    code: str = ""  # the S3 error <Code>, when the body could be read
    message: str = ""  # the S3 error <Message>
    seconds: float = 0.0

    @classmethod
    def from_browser(cls, raw: Mapping[str, Any]) -> BrowserReport:
        file_id = raw.get("id")
        if not isinstance(file_id, str) or not _ID.match(file_id):
            raise InvalidInput("The browser sent a malformed upload report.")
        status = raw.get("status")
        seconds = raw.get("seconds")
        return cls(
            id=file_id,
            ok=bool(raw.get("ok")),
            status=status if isinstance(status, int) and not isinstance(status, bool) else 0,
            code=str(raw.get("code") or "")[:64],
            message=redact(str(raw.get("message") or ""))[:300],
            seconds=float(seconds) if isinstance(seconds, int | float) else 0.0,
        )


FailureKind = Literal["cors", "signature", "expired", "permission", "exists", "other"]


def classify(report: BrowserReport) -> FailureKind:
    if report.status == 0:
        return "cors"
    if report.status == 412 or report.code == "PreconditionFailed":
        return "exists"
    if report.status in (401, 403):
        if report.code == "SignatureDoesNotMatch":
            return "signature"
        if "expired" in report.message.lower() or report.code in ("ExpiredToken", "AccessDeniedExpired"):
            return "expired"
        return "permission"
    return "other"


def explain_failure(report: BrowserReport) -> str:
    """A message a person can act on; it never contains the URL. S3's words are quoted, not trusted."""
    kind = classify(report)
    said = f" The bucket said: {report.code}" + (f" ({report.message})" if report.message else "") + "."
    if kind == "cors":
        return (
            "The browser blocked the upload: the request got no answer the page may read (no HTTP status). "
            "That is a CORS block (the bucket's policy does not allow PUT from this origin with the "
            "content-type and if-none-match headers) or the endpoint is unreachable from your browser. "
            "Fix the policy on the CORS page, or use the upload through the app below."
        )
    if kind == "signature":
        return (
            "The bucket refused the signature (403 SignatureDoesNotMatch): the request did not match what "
            "was signed (size, type or headers changed), or the signing key is wrong. This is not CORS." + said
        )
    if kind == "expired":
        return "The upload link expired before the upload started (403). Pick the file again." + said
    if kind == "permission":
        return (
            f"The bucket refused the upload ({report.status}): the API token may not write to this bucket, "
            "or a proxy changed the request. This is not CORS." + said
        )
    if kind == "exists":
        return "An object with this key already exists; nothing was overwritten (412). Try again." + said
    return f"The upload failed with HTTP {report.status}." + (said if report.code else "")


# ---------------------------------------------------------------- 4: verification


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


def _delete(client: S3Client, settings: Settings, key: str) -> str:
    try:
        client.delete_object(Bucket=settings.bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        return f" It could not be deleted: {translate(exc, action='delete it', target=key)}"
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
        return _audited(client, settings, actor, outcome)

    def removed(why: str) -> Outcome:
        return done(replace(base, status="removed", message=why + _delete(client, settings, staged)))

    try:
        head = client.head_object(Bucket=settings.bucket, Key=staged)
    except (ClientError, BotoCoreError) as exc:
        err = translate(exc, action="check the upload", target=ticket.name)
        if isinstance(err, NotFound):
            return _already_checked(client, settings, base)
        return done(replace(base, message=str(err)))
    etag = str(head.get("ETag", ""))
    size, ctype = int(head.get("ContentLength", -1)), str(head.get("ContentType", ""))
    if size != ticket.size or ctype != ticket.content_type:
        return removed(
            f"The stored object is {size} bytes of {ctype or 'no type'}, not the {ticket.size} bytes of "
            f"{ticket.content_type} that were signed; it was removed."
        )
    try:
        with tempfile.TemporaryDirectory(prefix="direct-", dir=tmp_dir) as work:
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
    except (ClientError, BotoCoreError) as exc:
        return done(replace(base, message=str(translate(exc, action="verify the upload", target=ticket.name))))
    except AlreadyExists as exc:  # the checked version is no longer there, or the final key is taken
        conflict = Conflict("The upload changed after it was checked, so it was not kept.", "Upload it again.")
        return done(replace(base, message=f"{conflict} ({exc.code or 'PreconditionFailed'})"))
    except R2Error as exc:
        return done(replace(base, message=str(exc)))
    left = _delete(client, settings, staged)
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
        final = details_from_head(base.key, client.head_object(Bucket=settings.bucket, Key=base.key))
    except (ClientError, BotoCoreError):
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


def _audited(client: S3Client, settings: Settings, actor: str, outcome: Outcome) -> Outcome:
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


# ---------------------------------------------------------------- 5: the sweep (what nobody reported)


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did: each staged upload it checked, how many wait for their time, records removed."""

    outcomes: tuple[Outcome, ...] = ()
    waiting: int = 0  # staged objects whose links may still be in use or reported
    records_removed: int = 0


@dataclass
class _Batch:
    record: datetime | None = None  # the record's LastModified: the batch's last signing
    staged: list[tuple[str, int, datetime]] = field(default_factory=list)  # final key, size, LastModified


SWEEP_NOTE = "Not reported by the browser: checked by the server's sweep."
_EXT_FORMAT = {ext: fmt for fmt, (ext, _) in FORMAT_TYPES.items()}


def _staging_listing(client: S3Client, settings: Settings) -> dict[str, _Batch]:
    """One LIST of the staging prefix (per 1,000 keys), grouped by batch. Anything malformed is ignored."""
    batches: dict[str, _Batch] = {}
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=STAGING_PREFIX)
        for page in pages:
            for obj in page.get("Contents", []):
                rest = str(obj["Key"])[len(STAGING_PREFIX) :]
                batch, slash, final = rest.partition("/")
                if not slash and batch.endswith(".json") and _BATCH.match(batch[:-5]):
                    batches.setdefault(batch[:-5], _Batch()).record = obj["LastModified"]
                elif slash and _BATCH.match(batch) and final:
                    batches.setdefault(batch, _Batch()).staged.append((final, int(obj["Size"]), obj["LastModified"]))
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="list the staged direct uploads", target=STAGING_PREFIX) from exc
    return batches


NO_RECORD = "unknown (no upload record)"


def _read_record(client: S3Client, settings: Settings, batch: str) -> tuple[str, dict[str, str]] | None:
    """(actor, {final key: original name}), or None when the record cannot be read now."""
    try:
        body = client.get_object(Bucket=settings.bucket, Key=record_key(batch))["Body"].read()
        data = json.loads(body)
        return str(data["actor"]), {str(k): str(v) for k, v in dict(data["files"]).items()}
    except (ClientError, BotoCoreError, ValueError, KeyError, TypeError):
        return None


def sweep(
    client: S3Client,
    settings: Settings,
    check: ContentCheck = pipeline_check,
    *,
    now: Callable[[], float] = time.time,
    tmp_dir: str | None = None,
    catalog: Catalog | None = None,
) -> SweepResult:
    """Verify and promote (or delete) staged direct uploads that nobody reported, once they are due.

    A batch is due when its links have expired (its record's LastModified + the link lifetime) and
    `SWEEP_GRACE_SECONDS` more have passed. Cost: one LIST when nothing is due; per due batch with
    staged objects one GET of its record, then what `verify()` costs per object; records are deleted
    (free on R2). Raises R2Error only when the staging prefix cannot be listed. What it stores is
    recorded in `catalog` in one commit (a failure there is logged; the next catalog sync repairs it).
    """
    outcomes: list[Outcome] = []
    waiting = removed_records = 0
    life = settings.upload_url_ttl_seconds + SWEEP_GRACE_SECONDS
    for batch, found in sorted(_staging_listing(client, settings).items()):
        signed = found.record or min((at for _, _, at in found.staged), default=None)
        if signed is None or signed.timestamp() + life > now():
            waiting += len(found.staged)
            continue
        record = _read_record(client, settings, batch) if found.staged and found.record else (NO_RECORD, {})
        if record is None:  # unreadable for now: never decide without it
            waiting += len(found.staged)
            continue
        actor, names = record
        for final, size, _ in found.staged:
            outcomes.append(_sweep_one(client, settings, check, batch, final, size, actor, names, tmp_dir))
        if found.record is not None and not _delete(client, settings, record_key(batch)):
            removed_records += 1
    warning = catalog_note(catalog, [o.row for o in outcomes if o.row is not None])
    if warning:
        _log.warning("direct-upload sweep: %s", warning)
    return SweepResult(tuple(outcomes), waiting, removed_records)


def _sweep_one(
    client: S3Client,
    settings: Settings,
    check: ContentCheck,
    batch: str,
    final: str,
    size: int,
    actor: str,
    names: Mapping[str, str],
    tmp_dir: str | None,
) -> Outcome:
    stem, _, ext = final.rpartition(".")
    fmt = _EXT_FORMAT.get(ext, "")
    if fmt and images.stored_format(fmt) != fmt:  # staged as sent (….heic), stored converted (….jpg)
        final = f"{stem}.{FORMAT_TYPES[images.stored_format(fmt)][0]}"
    name = names.get(final, final.rpartition("/")[2])
    ticket = Ticket("sweep", name, final, size, fmt, FORMAT_TYPES.get(fmt, ("", ""))[1], 0.0, "", batch=batch)
    try:
        check_key(final)
        valid = bool(fmt) and not is_hidden(final) and final in names
    except InvalidInput:
        valid = False
    if not valid:  # no link of ours was signed for it: never promoted anywhere
        base = Outcome(ticket.id, name, ticket.staged, "removed", size=size)
        why = "A staged object that no upload link was signed for was removed."
        return _audited(client, settings, actor, replace(base, message=why + _delete(client, settings, ticket.staged)))
    return verify(client, settings, ticket, check, actor=actor, tmp_dir=tmp_dir, note=SWEEP_NOTE)
