"""Direct upload: the browser PUTs each file straight to the bucket through a presigned URL.

The app never carries the bytes. The protocol (driven by `ui/direct_upload.py`):

1. The browser offers each picked file: name, size, type (`Offer`).
2. `plan()` refuses what the limits or the allowed types rule out *before any PUT* and signs a PUT
   URL for the rest (`Ticket`): Content-Type, the exact Content-Length and `If-None-Match: *` are
   signed (R2 has no presigned POST, so the exact length is the only size cap), short-lived.
3. The browser PUTs with exactly those headers and reports each result (`BrowserReport`).
   `explain_failure()` tells a CORS block (network error, no status) from a refused signature or
   permission (403 with an S3 error body).
4. `verify()` checks the stored object on the server: HEAD for size and type, one streamed read into
   a temporary file for the same content checks as the upload pipeline, run on that file
   (`images.clean_file`: memory holds the decoded pixels, never the file), the thumbnail, then the
   cleaned file streamed back from disk with `If-Match` on the ETag, or, when nothing had to be
   removed, no upload at all (a server-side copy onto itself records the metadata). A file that is
   not what it claimed is deleted and the user told why.

Before offering any of this, `cors_check()` sends the browser's preflight from the server and says
exactly which part of the bucket's CORS policy is missing, so the page can fall back to the app path.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from r2 import images
from r2.audit import AuditEvent, record
from r2.client import S3Client
from r2.errors import AlreadyExists, Conflict, InvalidInput, R2Error, redact, translate
from r2.images import FORMAT_TYPES, CleanFile, ImagePolicy
from r2.preflight import PreflightResult, preflight
from r2.presign import sign_put
from r2.settings import Settings
from r2.thumbnails import THUMB_SIZE, thumbnail_of
from r2.uploads import choose_folder, plan_upload, store

# The headers the browser sends with the PUT besides the ones it sets itself (Content-Length).
# The bucket's CORS policy must allow both (AllowedHeaders), and PUT (AllowedMethods).
PUT_HEADERS = ("content-type", "if-none-match")
CORS_PAGE = "/cors"
MAX_FILES = 50  # per batch: each file costs a signature and a verification
MAX_NAME_CHARS = 255
CHUNK = 1024 * 1024
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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
    key: str
    size: int
    format: str
    content_type: str
    expires_at: float
    url: str = field(repr=False)
    signing: int = 0  # 0 when planned, +1 for each renewal: the browser takes the newest

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
    now: Callable[[], float] = time.time,
) -> tuple[list[Ticket], list[Refusal]]:
    """Sign a PUT for each acceptable offer; refuse the others with a reason. No request is made.

    The limits, the allowed types and the key are the upload pipeline's (`r2.uploads.plan_upload`).
    """
    target = choose_folder(settings, folder)
    if len(offers) > MAX_FILES:
        raise InvalidInput(f"At most {MAX_FILES} files at once.", "Upload them in several batches.")
    tickets: list[Ticket] = []
    refusals: list[Refusal] = []
    for offer in offers:
        try:
            planned = plan_upload(settings, offer.name, offer.size, offer.type, target)
        except InvalidInput as exc:
            refusals.append(Refusal(offer.id, offer.name, f"{exc} Nothing was uploaded."))
            continue
        unsigned = Ticket(
            offer.id, planned.original_name, planned.key, planned.size, planned.format, planned.content_type, 0.0, ""
        )
        tickets.append(renew(client, settings, unsigned, now=now))
    return tickets, refusals


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
        ticket.key,
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
    if allow_origin.strip() not in ("*", origin):
        # No rule matched the origin: the method and header complaints only follow from that.
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
) -> Outcome:
    """Check what the browser stored under `ticket.key`; keep it (cleaned, with a thumbnail) or delete it.

    HEAD (size and type as signed), one GET streamed into a temporary file, the pipeline's checks on
    that file, then `r2.uploads.store(..., if_match=ETag)`: the thumbnail, and, only if the object is
    still the one checked, the cleaned file streamed over it, or (nothing removed) just the pipeline's
    metadata by a server-side self-copy: the bytes are not sent again. The temporary folder (download
    and cleaned copy) is removed whatever happens.
    """
    base = Outcome(ticket.id, ticket.name, ticket.key, "failed", size=ticket.size, format=ticket.format)
    key = ticket.key

    def done(outcome: Outcome) -> Outcome:
        return _audited(client, settings, actor, outcome)

    def removed(why: str) -> Outcome:
        return done(replace(base, status="removed", message=why + _delete(client, settings, key)))

    try:
        head = client.head_object(Bucket=settings.bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        return done(replace(base, message=str(translate(exc, action="check the upload", target=key))))
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
                download_to(client, settings, key, etag, tmp)
            try:
                clean = check(downloaded, settings)
            except InvalidInput as exc:
                return removed(f"{exc} It was removed from the bucket.")
            if clean.info.format != ticket.format:
                ext = FORMAT_TYPES[clean.info.format][0]
                return removed(
                    f"Its content is {clean.info.format}, but it was sent as {ticket.format} (a renamed file?). "
                    f"It was removed: rename it to .{ext} and upload again."
                )
            thumb_key, problems = store(
                client, settings.bucket, key, clean, original_name=ticket.name, uploaded_by=actor, if_match=etag
            )
    except (ClientError, BotoCoreError) as exc:
        return done(replace(base, message=str(translate(exc, action="verify the upload", target=key))))
    except AlreadyExists as exc:  # If-Match refused: someone changed the object after it was checked
        conflict = Conflict("The object changed after it was checked, so it was not rewritten.", "Upload it again.")
        return done(replace(base, message=f"{conflict} ({exc.code or 'PreconditionFailed'})"))
    except R2Error as exc:
        return done(replace(base, message=str(exc)))
    return done(
        replace(
            base,
            status="stored",
            size=clean.size,
            width=clean.info.width,
            height=clean.info.height,
            removed=clean.removed,
            thumbnail_key=thumb_key or "",
            message=" ".join(problems),
        )
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
