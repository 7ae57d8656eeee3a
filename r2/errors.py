"""One exception hierarchy for everything that can go wrong talking to R2.

Pages and the command line catch `R2Error` and show `str(err)` (the message plus the fix). The
botocore exception is kept as `__cause__` for logs and debugging, never shown to users, because
botocore messages can carry request details.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Literal
from urllib.parse import quote

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)


class R2Error(Exception):
    """Base class. `message` says what went wrong, `fix` what the user can do about it."""

    def __init__(self, message: str, fix: str = "", *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.code = code

    def __str__(self) -> str:
        return f"{self.message} {self.fix}".strip()


class InvalidInput(R2Error):
    """The request was refused before any network call: bad key, expiry, CORS JSON, file..."""


class SettingsError(InvalidInput):
    """The configuration is incomplete or malformed. `problems` lists one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "The R2 settings have problems: " + "; ".join(self.problems),
            "Fix them in the environment, .env or .streamlit/secrets.toml (see docs/configuration.md).",
            code="Settings",
        )


class NotFound(R2Error):
    pass


class AlreadyExists(R2Error):
    pass


class AccessDenied(R2Error):
    pass


class Conflict(R2Error):
    """Someone else changed the thing since it was read (a failed compare-and-swap)."""


class Unavailable(R2Error):
    """The endpoint could not be reached, timed out, or is throttling/erroring."""


_AUTH_FIX = "Check R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY (the secret is the SHA-256 of the API token value)."

# code -> (class, message, fix). `{action}` and `{target}` are filled in by translate().
_CLIENT_ERRORS: dict[str, tuple[type[R2Error], str, str]] = {
    "SignatureDoesNotMatch": (
        AccessDenied,
        "Could not {action}: the secret key does not match the access key id (SignatureDoesNotMatch).",
        _AUTH_FIX + " A large clock skew causes this too: check the machine's clock.",
    ),
    "InvalidAccessKeyId": (
        AccessDenied,
        "Could not {action}: the access key id is unknown to the server (InvalidAccessKeyId).",
        _AUTH_FIX + " Make sure the token was not deleted.",
    ),
    "RequestTimeTooSkewed": (
        AccessDenied,
        "Could not {action}: this machine's clock is too far from the server's (RequestTimeTooSkewed).",
        "Synchronise the clock (NTP); signed requests fail beyond 15 minutes of skew.",
    ),
    "NoSuchBucket": (
        NotFound,
        "Could not {action}: the bucket does not exist (NoSuchBucket).",
        "Check R2_BUCKET and that the endpoint is the right account and jurisdiction.",
    ),
    "NoSuchKey": (NotFound, "Could not {action}: {target} does not exist.", ""),
    "NotFound": (NotFound, "Could not {action}: {target} does not exist.", ""),
    "404": (NotFound, "Could not {action}: {target} does not exist.", ""),
    "NoSuchCORSConfiguration": (
        NotFound,
        "The bucket has no CORS policy.",
        "Browsers cannot upload directly until one is set (see the CORS page).",
    ),
    "PreconditionFailed": (
        AlreadyExists,
        "Could not {action}: {target} already exists or changed meanwhile (PreconditionFailed).",
        "Nothing was overwritten. Try again; keys are generated anew each time.",
    ),
    "AccessDenied": (
        AccessDenied,
        "Could not {action}: access denied.",
        "The API token lacks the permission for this. Object Read & Write tokens cannot read or change "
        "CORS or list buckets: use an Admin Read & Write token for those.",
    ),
    "403": (
        AccessDenied,
        "Could not {action}: access denied (403).",
        _AUTH_FIX + " Also check the token's permissions.",
    ),
    "Unauthorized": (
        AccessDenied,
        "Could not {action}: the request was not authorised.",
        _AUTH_FIX + " R2 also answers Unauthorized to checksum headers it does not support; the app disables them.",
    ),
    "SlowDown": (
        Unavailable,
        "Could not {action}: the server asked to slow down (SlowDown).",
        "Wait a moment and try again. R2 allows one write per second per key.",
    ),
    "TooManyRequests": (
        Unavailable,
        "Could not {action}: too many requests (429).",
        "Wait a moment and try again. R2 allows one write per second per key.",
    ),
    "ServiceUnavailable": (
        Unavailable,
        "Could not {action}: the service is unavailable.",
        "Try again in a minute; check Cloudflare's status page if it persists.",
    ),
    "InternalError": (
        Unavailable,
        "Could not {action}: the server had an internal error.",
        "Try again in a minute; check Cloudflare's status page if it persists.",
    ),
    "EntityTooLarge": (
        InvalidInput,
        "Could not {action}: the object is too large.",
        "Single uploads are limited to 5 GiB minus 5 MiB.",
    ),
    "InvalidBucketName": (
        InvalidInput,
        "Could not {action}: the bucket name is invalid.",
        "Bucket names are 3-63 characters: lowercase letters, digits and hyphens.",
    ),
    "MalformedXML": (
        InvalidInput,
        "Could not {action}: the server refused the request as malformed.",
        "Check the values sent (for CORS: validate the policy first).",
    ),
    "InvalidArgument": (InvalidInput, "Could not {action}: the server refused an argument.", ""),
    "NotImplemented": (
        InvalidInput,
        "Could not {action}: the server does not implement this request.",
        "R2 does not support every S3 feature (for example presigned POST or some checksum headers).",
    ),
}

# What a 412 means depends on the condition the request sent, so callers say which one they sent.
Precondition = Literal["", "if-none-match", "if-match"]
_PRECONDITION_FAILED: dict[Precondition, tuple[type[R2Error], str, str]] = {
    "": _CLIENT_ERRORS["PreconditionFailed"],
    "if-none-match": (
        AlreadyExists,
        "Could not {action}: {target} already exists (PreconditionFailed).",
        "Nothing was overwritten. Try again; keys are generated anew each time.",
    ),
    "if-match": (
        Conflict,
        "Could not {action}: {target} changed since it was read (PreconditionFailed).",
        "Nothing was overwritten. Reload and try again.",
    ),
}

# A per-call override: code -> (class, message, fix), formatted like the table above.
Messages = Mapping[str, tuple[type[R2Error], str, str]]

# Credentials, signatures and hosts must never reach a user: strip anything that looks like them.
_SCRUB = [
    re.compile(r"(X-Amz-(Signature|Credential|Security-Token)=)[^&\s'\"]+", re.IGNORECASE),
    re.compile(r"(Signature=|Credential=)[^,&\s'\"]+"),
    re.compile(r"(Bearer\s+)[^\s,;'\"]+", re.IGNORECASE),
]
_MIN_SECRET = 8  # shorter values are not replaced (they would blank ordinary words)


def redact(text: str, secrets: Iterable[str] = (), *, signatures: bool = True) -> str:
    """The one redaction for every outward text (errors shown, health results, CLI output, logs).

    Replaces each of `secrets` (`Settings.secret_values()`: the secret key, the Cloudflare API token),
    also percent-encoded, with `…`; with `signatures` (the default) also URL signatures, credentials and
    bearer tokens. The command line's `sign` prints its URL with `signatures=False`: that URL is its
    output. Redact before cutting a text short, or a cut can leave a piece of a secret behind.
    """
    for secret in sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True):
        for form in {secret, quote(secret, safe="")}:
            text = text.replace(form, "…")
    if signatures:
        for pattern in _SCRUB:
            text = pattern.sub(r"\1…", text)
    return text


S3_ERRORS = (ClientError, BotoCoreError)


@contextmanager
def s3_errors(
    action: str,
    *,
    target: str = "the object",
    precondition: Precondition = "",
    messages: Messages | None = None,
) -> Iterator[None]:
    """The one place S3 errors become R2Errors: wrap the S3 call(s) of one action.

    ``with s3_errors("store the image", target=key, precondition="if-none-match"):`` turns any botocore
    error raised inside into the R2Error that says what went wrong and what to do, keeping the botocore
    exception as ``__cause__``. `precondition` names the condition the request sent, so a 412 reads as
    "already exists" (If-None-Match) or "changed since it was read" (If-Match, a Conflict); `messages`
    overrides the wording (and class) for codes this action explains better than the general table.
    Callers that can live with an outcome catch the R2Error subclass (``except NotFound:``).
    """
    try:
        yield
    except S3_ERRORS as exc:
        raise translate(exc, action=action, target=target, precondition=precondition, messages=messages) from exc


def translate(
    exc: BaseException,
    *,
    action: str,
    target: str = "the object",
    precondition: Precondition = "",
    messages: Messages | None = None,
) -> R2Error:
    """Turn a botocore/connection exception into an R2Error whose message says what to do.

    Prefer `s3_errors`; this is for code that collects errors instead of raising them (one per key of a
    batch): ``errors[key] = str(translate(exc, action="delete the object", target=key))``.
    """
    if isinstance(exc, R2Error):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        table = {**_CLIENT_ERRORS, "PreconditionFailed": _PRECONDITION_FAILED[precondition]}
        table["412"] = table["PreconditionFailed"]
        table.update(messages or {})
        known = table.get(code)
        if known is None and status is not None:
            known = table.get(str(status))
            if known is None and int(status) == 429:
                known = table["TooManyRequests"]
            if known is None and int(status) >= 500:
                known = table["InternalError"]
        if known is not None:
            cls, message, fix = known
            return cls(message.format(action=action, target=target), fix, code=code)
        return R2Error(
            f"Could not {action}: the server answered {code or status}.",
            "See the Health page for a diagnosis.",
            code=code,
        )
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return Unavailable(
            f"Could not {action}: the endpoint did not answer in time.",
            "Check R2_ENDPOINT and the network; the Health page tests reachability.",
            code="Timeout",
        )
    if isinstance(exc, EndpointConnectionError):
        return Unavailable(
            f"Could not {action}: the endpoint cannot be reached.",
            "Check R2_ENDPOINT (or R2_ACCOUNT_ID) and the network; the Health page tests reachability.",
            code="Unreachable",
        )
    if isinstance(exc, NoCredentialsError):
        return AccessDenied(
            f"Could not {action}: no credentials are configured.",
            "Set R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY.",
            code="NoCredentials",
        )
    if isinstance(exc, BotoCoreError):
        return Unavailable(
            f"Could not {action}: {type(exc).__name__}.",
            "Check the endpoint and network; the Health page gives a diagnosis.",
            code=type(exc).__name__,
        )
    if isinstance(exc, OSError):
        return Unavailable(
            f"Could not {action}: {type(exc).__name__}.",
            "Check the endpoint and network.",
            code=type(exc).__name__,
        )
    return R2Error(f"Could not {action}: unexpected {type(exc).__name__}.", code=type(exc).__name__)
