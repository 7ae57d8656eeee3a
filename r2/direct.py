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
   a temporary file for the same content checks as the upload pipeline, a replace guarded by
   `If-Match` on the ETag (metadata removed, metadata recorded), the thumbnail. A file that is not
   what it claimed is deleted and the user told why.

Before offering any of this, `cors_check()` sends the browser's preflight from the server and says
exactly which part of the bucket's CORS policy is missing, so the page can fall back to the app path.
"""

from __future__ import annotations

import re
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from r2.audit import AuditEvent, record
from r2.client import S3Client
from r2.errors import Conflict, InvalidInput, R2Error, translate
from r2.naming import (
    META_FORMAT,
    META_HEIGHT,
    META_ORIGINAL_NAME,
    META_THUMBNAIL,
    META_UPLOADED_BY,
    META_WIDTH,
    check_key,
)
from r2.preflight import PreflightResult, preflight
from r2.presign import sign_put
from r2.settings import Settings
from r2.thumbnails import store_thumbnail

# The headers the browser sends with the PUT besides the ones it sets itself (Content-Length).
# The bucket's CORS policy must allow both (AllowedHeaders), and PUT (AllowedMethods).
PUT_HEADERS = ("content-type", "if-none-match")
CORS_PAGE = "/cors"
MAX_FILES = 50  # per batch: each file costs a signature and a verification
MAX_NAME_CHARS = 255
CACHE_CONTROL = "public, max-age=31536000, immutable"  # uuid keys never change
CHUNK = 1024 * 1024

# Detected/declared format -> (extension, Content-Type). Same names as the pipeline's FORMAT_TYPES.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
    "AVIF": ("avif", "image/avif"),
}
_MIME_FORMATS = {
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/pjpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
    "image/avif": "AVIF",
}
_EXT_FORMATS = {
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "jfif": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "gif": "GIF",
    "avif": "AVIF",
}
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

    @property
    def headers(self) -> dict[str, str]:
        """Exactly what the browser must send (it adds Content-Length itself, from the file)."""
        return {"Content-Type": self.content_type, "If-None-Match": "*"}

    def for_browser(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "url": self.url, "headers": self.headers, "size": self.size}


@dataclass(frozen=True)
class Refusal:
    id: str
    name: str
    reason: str


def declared_format(offer: Offer) -> str | None:
    """The format the browser claims (its type, else the name's extension). Checked by content later."""
    if offer.type in _MIME_FORMATS:
        return _MIME_FORMATS[offer.type]
    ext = PurePosixPath(offer.name).suffix.lower().lstrip(".")
    return _EXT_FORMATS.get(ext)


def new_key(folder: str, fmt: str) -> str:
    """`{folder}/{uuid}.{ext}`: the pipeline's key rule (extension from the format, never the name)."""
    return check_key(f"{folder}/{uuid.uuid4()}.{FORMATS[fmt][0]}")


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def refuse_reason(offer: Offer, settings: Settings) -> str:
    """Why `offer` may not be uploaded at all (empty when it may), judged before any byte moves."""
    if offer.size == 0:
        return "The file is empty (0 bytes)."
    if offer.size > settings.max_upload_bytes:
        return f"The file is {_mib(offer.size)}; the limit is {settings.max_upload_mb:g} MiB. Nothing was uploaded."
    fmt = declared_format(offer)
    allowed = ", ".join(settings.image_formats)
    if fmt is None:
        shown = offer.type or "an unknown type"
        return f"The file is {shown}, not an image the bucket accepts ({allowed})."
    if fmt not in settings.image_formats:
        return f"{fmt} images are not accepted here (allowed: {allowed})."
    return ""


def plan(
    client: S3Client,
    settings: Settings,
    offers: Sequence[Offer],
    folder: str,
    *,
    now: Callable[[], float] = time.time,
    make_key: Callable[[str, str], str] = new_key,
) -> tuple[list[Ticket], list[Refusal]]:
    """Sign a PUT for each acceptable offer; refuse the others with a reason. No request is made."""
    if folder not in settings.folders:
        raise InvalidInput(f"Uploads may go only to {', '.join(settings.folders)}.", "Pick one of those folders.")
    if len(offers) > MAX_FILES:
        raise InvalidInput(f"At most {MAX_FILES} files at once.", "Upload them in several batches.")
    tickets: list[Ticket] = []
    refusals: list[Refusal] = []
    ttl = settings.upload_url_ttl_seconds
    for offer in offers:
        reason = refuse_reason(offer, settings)
        if reason:
            refusals.append(Refusal(offer.id, offer.name, reason))
            continue
        fmt = declared_format(offer)
        assert fmt is not None  # refuse_reason() checked it
        key = make_key(folder, fmt)
        content_type = FORMATS[fmt][1]
        url = sign_put(
            client, settings.bucket, key, ttl, content_type=content_type, content_length=offer.size, if_none_match=True
        )
        tickets.append(Ticket(offer.id, offer.name, key, offer.size, fmt, content_type, now() + ttl, url))
    return tickets, refusals


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
            message=str(raw.get("message") or "")[:300],
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


@dataclass(frozen=True)
class Checked:
    """What the content check (the upload pipeline) learned about the downloaded file."""

    format: str
    width: int
    height: int
    body: bytes | None = field(default=None, repr=False)  # replacement bytes when metadata was removed
    removed: tuple[str, ...] = ()
    thumbnail: bytes | None = field(default=None, repr=False)
    thumbnail_error: str = ""


# Runs the pipeline's checks on a file on disk; raises InvalidInput (with the reason) to reject it.
ContentCheck = Callable[[Path, Settings], Checked]

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


def original_name_meta(name: str) -> str:
    """S3 metadata is ASCII: the original name percent-encoded and length-limited."""
    return quote(name, safe=" ._-()")[:512]


def _delete(client: S3Client, settings: Settings, key: str) -> str:
    try:
        client.delete_object(Bucket=settings.bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        return f" It could not be deleted: {translate(exc, action='delete it', target=key)}"
    return ""


def download_to(client: S3Client, settings: Settings, key: str, etag: str, target: Any) -> int:
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
    check: ContentCheck,
    *,
    actor: str,
    tmp_dir: str | None = None,
) -> Outcome:
    """Check what the browser stored under `ticket.key`; keep it (cleaned, with a thumbnail) or delete it."""
    base = Outcome(ticket.id, ticket.name, ticket.key, "failed", size=ticket.size, format=ticket.format)
    key = ticket.key
    try:
        head = client.head_object(Bucket=settings.bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        err = translate(exc, action="check the upload", target=key)
        return _audited(client, settings, actor, _with(base, message=str(err)))
    etag = str(head.get("ETag", ""))
    size, ctype = int(head.get("ContentLength", -1)), str(head.get("ContentType", ""))
    if size != ticket.size or ctype != ticket.content_type:
        why = (
            f"The stored object is {size} bytes of {ctype or 'no type'}, not the {ticket.size} bytes of "
            f"{ticket.content_type} that were signed; it was removed."
        )
        return _audited(
            client, settings, actor, _with(base, status="removed", message=why + _delete(client, settings, key))
        )
    try:
        with tempfile.NamedTemporaryFile(prefix="direct-", dir=tmp_dir) as tmp:
            download_to(client, settings, key, etag, tmp)
            try:
                checked = check(Path(tmp.name), settings)
            except InvalidInput as exc:
                why = f"{exc} It was removed from the bucket."
                return _audited(
                    client, settings, actor, _with(base, status="removed", message=why + _delete(client, settings, key))
                )
            if checked.format != ticket.format:
                why = (
                    f"Its content is {checked.format}, but it was sent as {ticket.format} (a renamed file?). "
                    f"It was removed: rename it to .{FORMATS[checked.format][0]} and upload again."
                )
                return _audited(
                    client, settings, actor, _with(base, status="removed", message=why + _delete(client, settings, key))
                )
            _replace(client, settings, ticket, etag, checked, actor, Path(tmp.name))
    except (ClientError, BotoCoreError) as exc:
        err = translate(exc, action="verify the upload", target=key)
        return _audited(client, settings, actor, _with(base, message=str(err)))
    except R2Error as exc:
        return _audited(client, settings, actor, _with(base, message=str(exc)))
    outcome = _with(
        base,
        status="stored",
        size=len(checked.body) if checked.body is not None else ticket.size,
        width=checked.width,
        height=checked.height,
        removed=checked.removed,
    )
    if checked.thumbnail is None:
        note = checked.thumbnail_error or "No thumbnail was made."
        return _audited(client, settings, actor, _with(outcome, message=note + " It can be regenerated later."))
    try:
        thumb = store_thumbnail(client, settings.bucket, key, checked.thumbnail)
    except R2Error as exc:
        return _audited(client, settings, actor, _with(outcome, message=f"Stored; the thumbnail failed: {exc}"))
    return _audited(client, settings, actor, _with(outcome, thumbnail_key=thumb))


def _metadata(ticket: Ticket, checked: Checked, actor: str, has_thumb: bool) -> dict[str, str]:
    meta = {
        META_ORIGINAL_NAME: original_name_meta(ticket.name),
        META_WIDTH: str(checked.width),
        META_HEIGHT: str(checked.height),
        META_FORMAT: checked.format,
        META_UPLOADED_BY: original_name_meta(actor)[:200],
    }
    if has_thumb:
        meta[META_THUMBNAIL] = "yes"
    return meta


def _replace(
    client: S3Client, settings: Settings, ticket: Ticket, etag: str, checked: Checked, actor: str, path: Path
) -> None:
    """Rewrite the object in place (cleaned bytes, metadata), only if it is still the one checked.

    With metadata removed: PUT the cleaned bytes with If-Match on the ETag. Otherwise: copy the object
    onto itself with new metadata, guarded by CopySourceIfMatch (the bytes never come back to the app).
    """
    meta = _metadata(ticket, checked, actor, checked.thumbnail is not None)
    try:
        if checked.body is not None:
            client.put_object(
                Bucket=settings.bucket,
                Key=ticket.key,
                Body=checked.body,
                ContentType=ticket.content_type,
                CacheControl=CACHE_CONTROL,
                Metadata=meta,
                IfMatch=etag,
            )
        else:
            client.copy_object(
                Bucket=settings.bucket,
                Key=ticket.key,
                CopySource={"Bucket": settings.bucket, "Key": ticket.key},
                CopySourceIfMatch=etag,
                MetadataDirective="REPLACE",
                ContentType=ticket.content_type,
                CacheControl=CACHE_CONTROL,
                Metadata=meta,
            )
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 412:
            raise Conflict(
                "The object changed after it was checked, so it was not rewritten.",
                "Upload it again.",
                code="PreconditionFailed",
            ) from exc
        raise


def _with(outcome: Outcome, **changes: Any) -> Outcome:
    return replace(outcome, **changes)


def _audited(client: S3Client, settings: Settings, actor: str, outcome: Outcome) -> Outcome:
    """Record the outcome in the audit log; an audit failure is added to the message, never raised."""
    outcome_word = {"stored": "ok", "removed": "refused", "failed": "failed"}[outcome.status]
    event = AuditEvent(actor or "unknown", "upload.direct", outcome.key, outcome_word, outcome.message[:500])
    try:
        record(client, settings.bucket, event)
    except R2Error as exc:
        return _with(outcome, message=f"{outcome.message} (The audit log could not be written: {exc.message})".strip())
    return outcome
