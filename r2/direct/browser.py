"""What the browser can do and what it did: the CORS precheck before offering direct uploads, and
step 3, the browser's report of each PUT, explained in words a person can act on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from r2.cors import UPLOAD_HEADERS  # what the browser's PUT sends; CORS must allow them
from r2.direct.tickets import ID_PATTERN
from r2.errors import InvalidInput, redact
from r2.preflight import PreflightResult, preflight
from r2.settings import Settings


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
    result = probe(settings, origin, "PUT", list(UPLOAD_HEADERS))
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
        if not isinstance(file_id, str) or not ID_PATTERN.match(file_id):
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
