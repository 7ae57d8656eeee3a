"""Health checks: do the settings, endpoint, clock, credentials, permissions and CORS actually work?

Each check is a small function of one `Run` (the injected dependencies plus what earlier checks
learned) and returns a status (ok / warn / fail / skip), a detail and a fix. `run_checks()` is a
generator, so a page can show each check as it completes. Every network step has a short timeout,
the health client makes one attempt only, and the whole run has a time budget: an endpoint that
accepts TCP and never answers costs one read timeout, not a hang. A check that depends on an
earlier one that failed is reported as skipped with the reason, not as a cascade of failures.
Probe objects live under the app's reserved prefix and are always removed (`finally`).

No detail or fix ever contains a secret or a signed URL: secrets are shown masked, URLs not at all.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from botocore.exceptions import BotoCoreError, ClientError

from r2.client import S3Client, make_client
from r2.cors import UPLOAD_HEADERS, evaluate, from_s3_response, origin_matches
from r2.errors import InvalidInput, R2Error, redact, translate
from r2.preflight import preflight
from r2.presign import sign_get, sign_put
from r2.settings import RESERVED_PREFIX, Settings, mask

Status = Literal["ok", "warn", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail", "skip")

SKEW_WARN_S = 60.0  # NTP keeps clocks within milliseconds: a minute off means no time sync
SKEW_FAIL_S = 15 * 60.0  # SigV4: R2 refuses requests signed more than 15 minutes off
TOKEN_WARN_DAYS = 14
PROBE_PREFIX = f"{RESERVED_PREFIX}health/"
SETTINGS_FIX = "Fix them in the environment, .env or .streamlit/secrets.toml (see docs/configuration.md)."


@dataclass(frozen=True)
class Check:
    """The result of one check. `ms` is how long it took."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    ms: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def overall(checks: list[Check]) -> Status:
    """fail if any failed, warn if any warned, else ok (skips alone do not fail a run)."""
    statuses = {c.status for c in checks}
    if "fail" in statuses:
        return "fail"
    if "warn" in statuses:
        return "warn"
    return "ok"


def report(checks: list[Check]) -> dict[str, object]:
    """The JSON report: `{"status": ..., "checks": [{name, status, detail, fix, ms}, ...]}`."""
    return {"status": overall(checks), "checks": [c.as_dict() for c in checks]}


def health_client(settings: Settings, *, connect_timeout: float, read_timeout: float) -> S3Client:
    """A client that gives up fast: one attempt, short timeouts (never the app's patient client)."""
    return make_client(settings, connect_timeout=connect_timeout, read_timeout=read_timeout, max_attempts=1)


@dataclass(frozen=True)
class Deps:
    """What the checks may touch; tests inject a skewed clock, short timeouts, fake servers."""

    settings: Settings | None
    problems: tuple[str, ...] = ()  # settings problems (SettingsError.problems) when settings is None
    client_factory: Callable[..., S3Client] = health_client
    clock: Callable[[], float] = time.time  # wall clock (epoch seconds), compared with the server's Date
    monotonic: Callable[[], float] = time.monotonic  # durations and the run's budget
    session: requests.Session | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    budget_s: float = 30.0  # checks not started within this many seconds are skipped


class Skip(Exception):
    """Raised by a check that cannot run because an earlier one failed; the message says why."""


Outcome = tuple[Status, str, str]  # status, detail, fix


@dataclass
class Run:
    """The state of one run: dependencies plus what earlier checks learned."""

    deps: Deps
    http: requests.Session
    client: S3Client | None = None
    reachable: bool = False
    unreachable_why: str = "the endpoint was not checked"
    server_date: datetime | None = None
    auth_ok: bool = False
    auth_why: str = "authentication was not checked"
    sample_key: str | None = None  # a key seen while listing (for a signed GET without a probe)
    probe_key: str | None = None  # written by "Write object"
    probe_body: bytes = b""
    to_delete: list[str] = field(default_factory=list)
    can: dict[str, bool | None] = field(default_factory=dict)  # permission -> allowed (None: unknown)
    cors_rules: list[dict[str, Any]] | None = None  # None: could not be read
    exposed_on_get: set[str] | None = None  # Access-Control-Expose-Headers of the signed GET, if any
    token_id: str | None = None
    unverified_because: str = ""

    @property
    def settings(self) -> Settings:
        if self.deps.settings is None:
            raise Skip("the settings have problems")
        return self.deps.settings

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.deps.connect_timeout, self.deps.read_timeout)

    def s3(self) -> S3Client:
        """The health client, only once the endpoint answered and the credentials work."""
        if not self.reachable:
            raise Skip(self.unreachable_why)
        if not self.auth_ok:
            raise Skip(self.auth_why)
        assert self.client is not None
        return self.client

    def cleanup(self) -> list[str]:
        """Delete every probe object still present; returns the keys that could not be deleted."""
        left = []
        for key in list(self.to_delete):
            try:
                assert self.client is not None
                self.client.delete_object(Bucket=self.settings.bucket, Key=key)
                self.to_delete.remove(key)
            except Exception:  # best effort: reported, never raised
                left.append(key)
        return left


# ---------------------------------------------------------------------------------------------
# Helpers


def _error_code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _xml_code(text: str) -> str:
    match = re.search(r"<Code>([^<]{1,80})</Code>", text)
    return match.group(1) if match else ""


def _explain(exc: BaseException, action: str) -> Outcome:
    """fail with the error hierarchy's message and fix (never botocore's text, it can hold URLs)."""
    err = translate(exc, action=action, target="the probe object")
    return "fail", redact(err.message), redact(err.fix)


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


_AUTH_CAUSES: dict[str, tuple[str, str]] = {
    "SignatureDoesNotMatch": (
        "The secret key does not match the access key id (SignatureDoesNotMatch).",
        "R2_SECRET_ACCESS_KEY must be the token's Secret Access Key (the SHA-256 hex of the token value, shown once "
        "when the token was created), not the token value itself. Create a new token if it was lost.",
    ),
    "InvalidAccessKeyId": (
        "The server does not know this access key id (InvalidAccessKeyId).",
        "R2_ACCESS_KEY_ID must be the token's Access Key ID (the token's id). The token may have been deleted, "
        "or it belongs to another account than the endpoint.",
    ),
    "AccessDenied": (
        "The credentials are valid but may not list this bucket (AccessDenied).",
        "Give the API token access to this bucket (R2 > Manage API tokens: Object Read & Write, scoped to it).",
    ),
    "NoSuchBucket": (
        "The bucket does not exist at this endpoint (NoSuchBucket).",
        "Check R2_BUCKET, and that the endpoint is the right account and jurisdiction (a jurisdiction bucket "
        "exists only behind its own endpoint, e.g. .eu.r2.cloudflarestorage.com).",
    ),
    "RequestTimeTooSkewed": (
        "The server refused the signature's time (RequestTimeTooSkewed).",
        "Synchronise this machine's clock (NTP); see the Clock check.",
    ),
    "Unauthorized": (
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
    try:
        page = run.client.list_objects_v2(Bucket=s.bucket, MaxKeys=1)
    except ClientError as exc:
        code = _error_code(exc)
        if code in _AUTH_CAUSES:
            detail, fix = _AUTH_CAUSES[code]
            if code in ("NoSuchBucket", "AccessDenied"):
                detail = detail.replace("this bucket", f"bucket {s.bucket}").replace(
                    "The bucket", f"The bucket {s.bucket}"
                )
            return "fail", detail, fix
        return _explain(exc, f"list the bucket {s.bucket}")
    except BotoCoreError as exc:
        return _explain(exc, f"list the bucket {s.bucket}")
    run.auth_ok = True
    run.can["list"] = True
    contents = page.get("Contents") or []
    if contents:
        run.sample_key = str(contents[0]["Key"])
    what = "it holds objects" if contents else "it is empty"
    return "ok", f"A signed LIST of bucket {s.bucket} succeeded ({what}): the key pair works and may list.", ""


def check_write(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    key = f"{PROBE_PREFIX}probe-{uuid.uuid4().hex}.txt"
    body = f"health probe {datetime.fromtimestamp(run.deps.clock(), UTC).isoformat()}".encode()
    run.to_delete.append(key)
    try:
        client.put_object(Bucket=s.bucket, Key=key, Body=body, ContentType="text/plain", IfNoneMatch="*")
    except (ClientError, BotoCoreError) as exc:
        if isinstance(exc, ClientError):  # the server answered no: nothing was stored
            run.to_delete.remove(key)
        if isinstance(exc, ClientError) and _error_code(exc) in ("AccessDenied", "403"):
            run.can["write"] = False
            return (
                "fail",
                "Writing an object was refused (AccessDenied): uploads will fail.",
                ("Use a token with Object Read & Write on this bucket (an Object Read token cannot upload)."),
            )
        return _explain(exc, "write a probe object")
    run.can["write"] = True
    run.probe_key, run.probe_body = key, body
    return "ok", f"Wrote a probe object under {PROBE_PREFIX} (conditional PUT, If-None-Match: *).", ""


def _need_probe(run: Run) -> str:
    run.s3()
    if run.probe_key is None:
        raise Skip("no probe object (writing it failed)")
    return run.probe_key


def check_read(run: Run) -> Outcome:
    key = _need_probe(run)
    try:
        body = run.s3().get_object(Bucket=run.settings.bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        if isinstance(exc, ClientError) and _error_code(exc) in ("AccessDenied", "403"):
            run.can["read"] = False
            return (
                "fail",
                "Reading an object was refused (AccessDenied): previews and downloads will fail.",
                ("Use a token with Object Read & Write (or Object Read) on this bucket."),
            )
        return _explain(exc, "read the probe object")
    run.can["read"] = True
    if body != run.probe_body:
        return (
            "fail",
            "The probe object read back differs from what was written.",
            ("Something between this app and the bucket rewrites content (a proxy?); check R2_ENDPOINT."),
        )
    return "ok", "Read the probe object back; its content matches.", ""


def _http_failure(response: requests.Response) -> str:
    code = _xml_code(response.text[:4000])
    return f"HTTP {response.status_code}" + (f" ({code})" if code else "")


def check_signed_get(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    key: str | None = run.probe_key
    expected: bytes | None = run.probe_body
    if key is None:
        if run.sample_key is None:
            raise Skip("no object to fetch (writing the probe failed and the bucket is empty)")
        key, expected = run.sample_key, None
    url = sign_get(client, s.bucket, key, 60, reserved_ok=True)  # the probe lives under .dashboard/
    try:  # sent with the app's Origin, as a page's fetch() would: the answer shows the exposed headers
        response = run.http.get(url, headers={"Origin": s.app_origin}, timeout=run.timeout)
    except requests.RequestException as exc:
        return "fail", f"Fetching the signed URL failed ({type(exc).__name__}).", "Check the endpoint's network path."
    if response.status_code != 200:
        return (
            "fail",
            f"The server refused a signed GET URL: {_http_failure(response)}.",
            (
                "Signed URLs use the same key pair and clock as the app: see Authentication and Clock. Signed URLs "
                "work only on the r2.cloudflarestorage.com endpoint, not on a custom domain."
            ),
        )
    if response.headers.get("Access-Control-Allow-Origin") in ("*", s.app_origin):
        exposed = response.headers.get("Access-Control-Expose-Headers", "")
        run.exposed_on_get = {h.strip().lower() for h in exposed.split(",") if h.strip()}
    if expected is not None and response.content != expected:
        return "fail", "The signed GET returned other content than the probe object.", "Check R2_ENDPOINT."
    return "ok", "A signed GET URL (60 s) fetched the object over plain HTTP, as browsers will.", ""


def check_signed_put(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    if run.can.get("write") is False:
        raise Skip("writing objects is refused (see Write object)")
    key = f"{PROBE_PREFIX}signed-put-{uuid.uuid4().hex}.txt"
    body = b"signed put probe"
    url = sign_put(client, s.bucket, key, 60, content_type="text/plain", content_length=len(body))
    run.to_delete.append(key)
    try:
        response = run.http.put(
            url, data=body, headers={"Content-Type": "text/plain", "If-None-Match": "*"}, timeout=run.timeout
        )
    except requests.RequestException as exc:
        return "fail", f"Sending the signed PUT failed ({type(exc).__name__}).", "Check the endpoint's network path."
    if response.status_code not in (200, 201, 204):
        return (
            "fail",
            f"The server refused a signed PUT URL with Content-Type: {_http_failure(response)}.",
            (
                "Direct uploads will fail. Check the token's Object Read & Write permission, the clock, and that "
                "the browser sends exactly the signed Content-Type and Content-Length."
            ),
        )
    return "ok", "A signed PUT URL with Content-Type, Content-Length and If-None-Match was accepted.", ""


def check_delete(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    # Nothing written (a read-only token)? Deleting a key that does not exist still probes the
    # permission: S3 answers 204 for a missing key, AccessDenied when the token may not delete.
    keys = list(run.to_delete) or [f"{PROBE_PREFIX}never-written-{uuid.uuid4().hex}.txt"]
    probed_only = not run.to_delete
    denied: list[str] = []
    for key in keys:
        try:
            client.delete_object(Bucket=s.bucket, Key=key)
            if key in run.to_delete:
                run.to_delete.remove(key)
        except ClientError as exc:
            if _error_code(exc) in ("AccessDenied", "403"):
                denied.append(key)
            else:
                return _explain(exc, "delete the probe object")
        except BotoCoreError as exc:
            return _explain(exc, "delete the probe object")
    if denied:
        run.can["delete"] = False
        by_hand = "" if probed_only else f"; then remove the probe object(s) {', '.join(denied)} by hand"
        return (
            "fail",
            "Deleting an object was refused (AccessDenied): deletes from Browse will fail.",
            (f"Use a token with Object Read & Write on this bucket{by_hand}."),
        )
    run.can["delete"] = True
    if probed_only:
        return "ok", "Delete is allowed (probed on a key that does not exist, as nothing was written).", ""
    return "ok", "Deleted the probe object(s): nothing is left behind.", ""


_ADMIN_FIX = (
    "Expected with the guide's bucket-scoped Object Read & Write token. To read or edit CORS from the CORS "
    "page, use a token with Admin Read & Write (or edit CORS in the Cloudflare dashboard)."
)


def check_read_cors(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    try:
        rules = client.get_bucket_cors(Bucket=s.bucket).get("CORSRules", [])
    except ClientError as exc:
        code = _error_code(exc)
        if code == "NoSuchCORSConfiguration":
            run.can["admin_read"] = True
            run.cors_rules = []
            return "ok", "GetBucketCors is allowed (Admin); the bucket has no CORS policy yet.", ""
        if code in ("AccessDenied", "403", "Unauthorized"):
            run.can["admin_read"] = False
            return "warn", "GetBucketCors was refused (AccessDenied): the token is not an Admin token.", _ADMIN_FIX
        return _explain(exc, "read the bucket's CORS policy")
    except BotoCoreError as exc:
        return _explain(exc, "read the bucket's CORS policy")
    run.can["admin_read"] = True
    run.cors_rules = [dict(rule) for rule in rules]
    return "ok", f"GetBucketCors is allowed (Admin): the policy has {len(rules)} rule(s).", ""


def check_list_buckets(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    try:
        names = [b["Name"] for b in client.list_buckets().get("Buckets", [])]
    except ClientError as exc:
        if _error_code(exc) in ("AccessDenied", "403", "Unauthorized"):
            run.can["list_buckets"] = False
            return (
                "warn",
                "ListBuckets was refused (AccessDenied): the token is scoped to buckets, not Admin.",
                (_ADMIN_FIX),
            )
        return _explain(exc, "list the account's buckets")
    except BotoCoreError as exc:
        return _explain(exc, "list the account's buckets")
    run.can["list_buckets"] = True
    seen = "including" if s.bucket in names else "not listing"
    return "ok", f"ListBuckets is allowed (Admin): {len(names)} bucket(s), {seen} {s.bucket}.", ""


def check_tier(run: Run) -> Outcome:
    run.s3()
    can = run.can
    write = can.get("write") and can.get("delete") is not False
    admin = [can.get("admin_read"), can.get("list_buckets")]
    if None in admin or can.get("write") is None:
        raise Skip("a permission probe could not decide (see the checks above)")
    if all(admin):
        if write:
            return "ok", "Admin Read & Write: every page works, including editing CORS.", ""
        return (
            "warn",
            "Admin Read: reads everything, but uploads and deletes fail.",
            ("Use Admin Read & Write, or an Object Read & Write token scoped to this bucket."),
        )
    if not any(admin):
        if write:
            return (
                "ok",
                (
                    "Object Read & Write (bucket-scoped), as the guide creates: uploads, browsing and deletes work; "
                    "the CORS page can test the policy but cannot read or change it."
                ),
                "",
            )
        return (
            "warn",
            "Object Read: browsing works, but uploads and deletes fail.",
            ("Use an Object Read & Write token scoped to this bucket."),
        )
    return (
        "warn",
        "Mixed: some Admin calls are allowed and others refused; the token tier is unclear.",
        ("Check the token's permissions in R2 > Manage API tokens."),
    )


def _cors_fix(origin: str) -> str:
    return (
        f"Add a CORS rule (CORS page, or R2 > bucket > Settings > CORS policy) with AllowedOrigins "
        f'["{origin}"], AllowedMethods ["GET", "PUT", "HEAD"], AllowedHeaders {json.dumps(list(UPLOAD_HEADERS))} '
        'and ExposeHeaders ["ETag"]. Put it first: the origin must match exactly (scheme, host, '
        "port, no trailing slash). Set R2_APP_ORIGIN if the app is served from another address."
    )


def check_cors(run: Run) -> Outcome:
    s = run.settings
    if not run.reachable:
        raise Skip(run.unreachable_why)
    origin = s.app_origin
    result = preflight(s, origin, "PUT", UPLOAD_HEADERS, timeout=run.deps.read_timeout, session=run.http)
    if result.error:
        return "fail", f"The preflight for {origin} failed: {result.error}.", "See Endpoint reachable."
    if not result.allowed:
        # When no rule matches the origin, the method and header complaints are noise: name the origin only.
        about_origin = [r for r in result.reasons if "origin" in r or "HTTP" in r]
        reasons = about_origin or list(result.reasons)
        if result.status is not None and not 200 <= result.status < 300 and run.cors_rules:
            reasons.append(_policy_says(run.cors_rules, origin))  # a refusal does not say what failed
        none = " The bucket has no CORS policy." if run.cors_rules == [] else ""
        return "fail", f"A browser at {origin} cannot upload directly: {'; '.join(reasons)}.{none}", _cors_fix(origin)
    exposed = _exposed_headers(run, origin)
    if exposed is None:
        return (
            "warn",
            f"Preflight for PUT from {origin} with content-type, if-none-match: allowed. Whether ETag is "
            "exposed could not be read.",
            "Read the policy with an Admin token (or on the CORS page) to confirm it.",
        )
    if "etag" not in exposed:
        return (
            "warn",
            f"{origin} may PUT with content-type and if-none-match, but ETag is not exposed: the browser "
            "cannot read the stored object's ETag (multipart uploads need it).",
            'Add "ETag" to ExposeHeaders.',
        )
    return "ok", f"{origin} may PUT with content-type and if-none-match (a real preflight), and ETag is exposed.", ""


def _policy_says(rules: list[dict[str, Any]], origin: str) -> str:
    """What the policy read earlier says about the upload preflight the server refused."""
    try:
        verdict = evaluate(from_s3_response(rules), origin, "PUT", UPLOAD_HEADERS)
    except InvalidInput:
        return "the policy read could not be evaluated"
    if verdict.allowed:
        return f"the policy read allows it (rule {verdict.rule}): a recent change may still be propagating"
    return "in the policy, " + "; ".join(verdict.reasons)


def _exposed_headers(run: Run, origin: str) -> set[str] | None:
    """ExposeHeaders for `origin`: from the policy when readable, else from the signed GET's answer."""
    if run.cors_rules is not None:
        for rule in run.cors_rules:
            if any(origin_matches(o, origin) for o in rule.get("AllowedOrigins", [])) and "PUT" in [
                m.upper() for m in rule.get("AllowedMethods", [])
            ]:
                return {h.lower() for h in rule.get("ExposeHeaders", [])}
        return set()
    return run.exposed_on_get


def _verify_token(run: Run, token: str) -> tuple[int, Mapping[str, Any]]:
    s = run.settings
    urls = [f"{s.cloudflare_api_base}/user/tokens/verify"]
    if s.account_id:  # account-owned tokens verify only under their account
        urls.append(f"{s.cloudflare_api_base}/accounts/{s.account_id}/tokens/verify")
    status, data = 0, {}
    for url in urls:
        response = run.http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=run.timeout)
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = {}
        if status == 200 and data.get("success"):
            break
    return status, data


def check_token(run: Run) -> Outcome:
    s = run.settings
    token = s.cloudflare_api_token
    if not token:
        run.unverified_because = "CLOUDFLARE_API_TOKEN is not set"
        return (
            "skip",
            (
                "Not configured. With CLOUDFLARE_API_TOKEN set (the R2 API token's value), Health verifies the token "
                "is active, warns before it expires, and proves the S3 key pair derives from it."
            ),
            "",
        )
    run.unverified_because = "the token could not be verified"
    try:
        status, data = _verify_token(run, token)
    except requests.RequestException as exc:
        return (
            "fail",
            f"Cloudflare's API could not be reached ({type(exc).__name__}).",
            ("Check the network (and CLOUDFLARE_API_BASE if set)."),
        )
    result = data.get("result") if isinstance(data, Mapping) else None
    if status != 200 or not data.get("success") or not isinstance(result, Mapping):
        messages = [str(e.get("message", "")) for e in data.get("errors", []) if isinstance(e, Mapping)]
        said = redact("; ".join(m for m in messages if m), s.secret_values())[:200] or f"HTTP {status}"
        return (
            "fail",
            f"Cloudflare does not accept the token: {said}.",
            (
                "CLOUDFLARE_API_TOKEN must be the token value shown once when the R2 API token was created "
                "(not its Access Key ID or Secret Access Key)."
            ),
        )
    run.token_id = str(result.get("id", ""))
    state = str(result.get("status", ""))
    if state != "active":
        run.unverified_because = f"the token is {state or 'not active'}"
        return (
            "fail",
            f"The token is {state or 'not active'}.",
            ("Create a new R2 API token (R2 > Manage API tokens) and update every R2_* value."),
        )
    expires = result.get("expires_on")
    if not expires:
        return "ok", "The token is active and does not expire.", ""
    try:
        when = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
    except ValueError:
        return "warn", "The token is active; its expiry date could not be read.", ""
    days = (when.timestamp() - run.deps.clock()) / 86400
    if days < 0:
        return "fail", f"The token expired on {when:%Y-%m-%d}.", "Create a new R2 API token and update R2_* values."
    if days < TOKEN_WARN_DAYS:
        return (
            "warn",
            f"The token is active but expires on {when:%Y-%m-%d} (in {days:.0f} day(s)).",
            ("Roll or recreate the token before then, and update R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY."),
        )
    return "ok", f"The token is active; it expires on {when:%Y-%m-%d} (in {days:.0f} days).", ""


def check_token_keys(run: Run) -> Outcome:
    s = run.settings
    if not s.cloudflare_api_token:
        raise Skip("CLOUDFLARE_API_TOKEN is not set")
    if not run.token_id:
        raise Skip(run.unverified_because or "the token could not be verified")
    problems = []
    if s.access_key_id != run.token_id:
        problems.append(f"R2_ACCESS_KEY_ID ({mask(s.access_key_id)}) is not this token's id ({mask(run.token_id)})")
    expected = hashlib.sha256(s.cloudflare_api_token.encode()).hexdigest()
    if s.secret_access_key != expected:
        problems.append("R2_SECRET_ACCESS_KEY is not the SHA-256 of this token's value")
    if problems:
        return (
            "fail",
            "The S3 key pair is not from this token: " + "; ".join(problems) + ".",
            (
                "Use the Access Key ID and Secret Access Key shown when this token was created (or set "
                "CLOUDFLARE_API_TOKEN to the value of the token the keys came from)."
            ),
        )
    return "ok", "The access key id is the token's id and the secret is the SHA-256 of its value.", ""


CHECKS: tuple[tuple[str, Callable[[Run], Outcome]], ...] = (
    ("Settings", check_settings),
    ("Endpoint reachable", check_reachability),
    ("Clock", check_clock),
    ("Authentication (list)", check_auth),
    ("Write object", check_write),
    ("Read object", check_read),
    ("Signed GET URL", check_signed_get),
    ("Signed PUT URL", check_signed_put),
    ("Delete object", check_delete),
    ("Read CORS policy (Admin)", check_read_cors),
    ("List buckets (Admin)", check_list_buckets),
    ("Token tier", check_tier),
    ("CORS for this app", check_cors),
    ("Cloudflare API token", check_token),
    ("S3 keys derive from token", check_token_keys),
)
CHECK_NAMES = tuple(name for name, _ in CHECKS)

# The guide's four known problems, and the checks that catch each.
KNOWN_PROBLEMS: tuple[tuple[str, str, str], ...] = (
    (
        "CORS error on a browser PUT (upload)",
        "CORS for this app; Signed PUT URL",
        "the app's origin, PUT or content-type missing from the bucket's CORS policy (a 401/403 on the PUT "
        "itself is a signature problem, not CORS)",
    ),
    (
        "XML error when opening an image's URL directly",
        "Signed GET URL",
        "the bucket is private: a plain object URL answers AccessDenied XML; the app shows images only "
        "through signed URLs",
    ),
    (
        "Token confusion (which id, which secret, which tier)",
        "Authentication (list); Token tier; Cloudflare API token; S3 keys derive from token",
        "access key id = token id, secret = SHA-256 of the token value; CORS and ListBuckets need Admin",
    ),
    (
        "Missing allowed headers",
        "CORS for this app",
        "AllowedHeaders must list content-type and if-none-match (what direct uploads send)",
    ),
)


def run_checks(deps: Deps) -> Iterator[Check]:
    """Run every check in order, yielding each result as it completes. Probe objects are always removed."""
    run = Run(deps=deps, http=deps.session or requests.Session())
    secrets = deps.settings.secret_values() if deps.settings is not None else ()
    start = deps.monotonic()
    try:
        for name, func in CHECKS:
            began = deps.monotonic()
            if began - start > deps.budget_s:
                yield Check(name, "skip", f"Not run: the health run's {deps.budget_s:g} s budget was spent.")
                continue
            try:
                status, detail, fix = func(run)
            except Skip as why:
                status, detail, fix = "skip", f"Skipped: {why}.", ""
            except R2Error as err:
                status, detail, fix = "fail", err.message, err.fix
            except Exception as exc:  # one broken check must not hide the others
                status, detail, fix = "fail", f"The check itself failed ({type(exc).__name__}).", ""
            detail, fix = redact(detail, secrets), redact(fix, secrets)
            yield Check(name, status, detail, fix, round((deps.monotonic() - began) * 1000, 1))
        left = _cleanup(run)
        if left:
            yield Check(
                "Cleanup",
                "warn",
                f"{len(left)} probe object(s) could not be removed: {', '.join(left)}.",
                "Delete them by hand (they are hidden from Browse).",
            )
    finally:
        _cleanup(run)  # also when the caller stops early (generator closed) or a check raised
        if deps.session is None:
            run.http.close()


def _cleanup(run: Run) -> list[str]:
    if run.client is None or run.deps.settings is None or not run.to_delete:
        return []
    return run.cleanup()


def run_all(deps: Deps) -> list[Check]:
    return list(run_checks(deps))
