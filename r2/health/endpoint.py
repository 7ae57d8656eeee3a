"""The checks that need no signed call yet: settings, reachability, clock, then one signed LIST."""

from __future__ import annotations

import socket
import threading
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

from r2.errors import AccessDenied, Messages, NotFound, s3_errors
from r2.health.model import SETTINGS_FIX, SKEW_FAIL_S, SKEW_WARN_S, Outcome, Run, Skip
from r2.settings import mask


def _resolve(host: str, port: int, timeout: float) -> list[str]:
    """getaddrinfo has no timeout of its own: run it in a daemon thread and stop waiting."""
    found: list[str] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            found.extend(sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}))
        except OSError as exc:
            failure.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"no DNS answer for {host} within {timeout:g} s")
    if failure:
        raise failure[0]
    return found


def _fmt_s(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ---------------------------------------------------------------------------------------------
# The checks, in order


def check_settings(run: Run) -> Outcome:
    if run.deps.settings is None:
        problems = run.deps.problems or ("the settings could not be loaded",)
        return "fail", "; ".join(problems), SETTINGS_FIX
    s = run.deps.settings
    if s.is_local:
        where = f"the embedded local demo bucket at {s.endpoint}"
    elif s.mode == "r2":
        jur = f", {s.jurisdiction} jurisdiction" if s.jurisdiction else ""
        where = f"Cloudflare R2, account {mask(s.account_id)}{jur}; the endpoint matches the account id"
    else:
        where = f"a custom S3 endpoint {s.endpoint}"
    key = s.access_key_id if s.is_local else mask(s.access_key_id)
    return "ok", f"Every value is well-formed: {where}; bucket {s.bucket}; access key id {key}.", ""


def check_reachability(run: Run) -> Outcome:
    s = run.settings
    parts = urlsplit(s.endpoint)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    timeout = run.deps.connect_timeout
    fix_endpoint = "Check R2_ENDPOINT (or R2_ACCOUNT_ID and R2_JURISDICTION) and this machine's network."
    try:
        addresses = _resolve(host, port, timeout)
    except (OSError, TimeoutError) as exc:
        run.unreachable_why = "the endpoint's name does not resolve"
        return "fail", f"DNS: {host} does not resolve ({type(exc).__name__}).", fix_endpoint + " Check DNS."
    try:
        response = run.http.get(f"{s.endpoint}/", timeout=run.timeout, stream=True, allow_redirects=False)
        response.close()
    except requests.exceptions.SSLError:
        run.unreachable_why = "the TLS handshake with the endpoint failed"
        return (
            "fail",
            f"TLS: the handshake with {host}:{port} failed.",
            fix_endpoint + " Check proxies that intercept TLS.",
        )
    except requests.exceptions.ConnectTimeout:
        run.unreachable_why = "the endpoint did not accept a connection"
        return (
            "fail",
            f"TCP: no connection to {host}:{port} within {timeout:g} s.",
            fix_endpoint + " A firewall may drop the traffic.",
        )
    except requests.exceptions.ReadTimeout:
        run.unreachable_why = "the endpoint accepts connections but does not answer"
        return (
            "fail",
            f"HTTP: {host}:{port} accepted the connection but sent no answer within {run.deps.read_timeout:g} s.",
            fix_endpoint + " Something listens there that is not an S3 server (or it is stuck).",
        )
    except requests.exceptions.ConnectionError as exc:
        refused = "refused" in str(exc).lower()
        run.unreachable_why = "the endpoint refused the connection" if refused else "the endpoint cannot be reached"
        detail = (
            f"TCP: {host}:{port} refused the connection (nothing listens there)."
            if refused
            else (f"TCP: {host}:{port} cannot be reached ({type(exc).__name__}).")
        )
        return "fail", detail, fix_endpoint
    except requests.RequestException as exc:
        run.unreachable_why = "the endpoint cannot be reached"
        return "fail", f"HTTP: the request failed ({type(exc).__name__}).", fix_endpoint
    run.reachable = True
    date = response.headers.get("Date")
    if date:
        try:
            run.server_date = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            run.server_date = None
    tls = " over TLS" if parts.scheme == "https" else ""
    return "ok", f"{host} resolves ({len(addresses)} address(es)); it answered HTTP {response.status_code}{tls}.", ""


def check_clock(run: Run) -> Outcome:
    if not run.reachable:
        raise Skip(run.unreachable_why)
    if run.server_date is None:
        return (
            "warn",
            "The server sent no usable Date header: the clock could not be compared.",
            ("Make sure this machine syncs its clock (NTP): signed requests fail beyond 15 minutes of skew."),
        )
    skew = run.server_date.timestamp() - run.deps.clock()
    direction = "behind" if skew > 0 else "ahead of"
    detail = f"This machine's clock is {_fmt_s(skew)} {direction} the server's."
    fix = "Synchronise the clock (enable NTP / systemd-timesyncd, or set the time zone correctly)."
    if abs(skew) >= SKEW_FAIL_S:
        return "fail", detail + " Signed requests fail beyond 15 minutes of skew (RequestTimeTooSkewed).", fix
    if abs(skew) >= SKEW_WARN_S:
        return "warn", detail + " Signed requests still work, but fail beyond 15 minutes.", fix
    return "ok", f"Within {SKEW_WARN_S:.0f} s of the server's clock (skew {abs(skew):.0f} s).", ""


# Health's own wording for why the first signed call failed: it says more than the general table.
AUTH_MESSAGES: Messages = {
    "SignatureDoesNotMatch": (
        AccessDenied,
        "The secret key does not match the access key id (SignatureDoesNotMatch).",
        "R2_SECRET_ACCESS_KEY must be the token's Secret Access Key (the SHA-256 hex of the token value, shown once "
        "when the token was created), not the token value itself. Create a new token if it was lost.",
    ),
    "InvalidAccessKeyId": (
        AccessDenied,
        "The server does not know this access key id (InvalidAccessKeyId).",
        "R2_ACCESS_KEY_ID must be the token's Access Key ID (the token's id). The token may have been deleted, "
        "or it belongs to another account than the endpoint.",
    ),
    "AccessDenied": (
        AccessDenied,
        "The credentials are valid but may not list bucket {target} (AccessDenied).",
        "Give the API token access to this bucket (R2 > Manage API tokens: Object Read & Write, scoped to it).",
    ),
    "NoSuchBucket": (
        NotFound,
        "The bucket {target} does not exist at this endpoint (NoSuchBucket).",
        "Check R2_BUCKET, and that the endpoint is the right account and jurisdiction (a jurisdiction bucket "
        "exists only behind its own endpoint, e.g. .eu.r2.cloudflarestorage.com).",
    ),
    "RequestTimeTooSkewed": (
        AccessDenied,
        "The server refused the signature's time (RequestTimeTooSkewed).",
        "Synchronise this machine's clock (NTP); see the Clock check.",
    ),
    "Unauthorized": (
        AccessDenied,
        "The server refused the request as unauthorised.",
        "Check R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY (from the same API token).",
    ),
}


def check_auth(run: Run) -> Outcome:
    s = run.settings
    if not run.reachable:
        run.auth_why = run.unreachable_why
        raise Skip(run.unreachable_why)
    run.auth_why = "authentication failed"
    run.client = run.deps.client_factory(
        s, connect_timeout=run.deps.connect_timeout, read_timeout=run.deps.read_timeout
    )
    with s3_errors(f"list the bucket {s.bucket}", target=s.bucket, messages=AUTH_MESSAGES):
        page = run.client.list_objects_v2(Bucket=s.bucket, MaxKeys=1)
    run.auth_ok = True
    run.can["list"] = True
    contents = page.get("Contents") or []
    if contents:
        run.sample_key = str(contents[0]["Key"])
    what = "it holds objects" if contents else "it is empty"
    return "ok", f"A signed LIST of bucket {s.bucket} succeeded ({what}): the key pair works and may list.", ""
