"""Admin permissions (CORS policy, bucket list), the token tier they imply, and the app's CORS preflight."""

from __future__ import annotations

import json
from typing import Any

from r2.cors import UPLOAD_HEADERS, evaluate, from_s3_response, origin_matches
from r2.errors import InvalidInput, s3_errors
from r2.health.model import NoCorsPolicy, Outcome, Refused, Run, Skip, refused
from r2.preflight import preflight

_ADMIN_FIX = (
    "Expected with the guide's bucket-scoped Object Read & Write token. To read or edit CORS from the CORS "
    "page, use a token with Admin Read & Write (or edit CORS in the Cloudflare dashboard)."
)


_ADMIN_CODES = ("AccessDenied", "403", "Unauthorized")
NO_POLICY = {"NoSuchCORSConfiguration": (NoCorsPolicy, "The bucket has no CORS policy.", "")}


def check_read_cors(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    denied = refused("GetBucketCors was refused (AccessDenied).", "", codes=_ADMIN_CODES)
    try:
        with s3_errors("read the bucket's CORS policy", target=s.bucket, messages={**denied, **NO_POLICY}):
            rules = client.get_bucket_cors(Bucket=s.bucket).get("CORSRules", [])
    except NoCorsPolicy:
        run.can["admin_read"] = True
        run.cors_rules = []
        return "ok", "GetBucketCors is allowed (Admin); the bucket has no CORS policy yet.", ""
    except Refused:
        run.can["admin_read"] = False
        return "warn", "GetBucketCors was refused (AccessDenied): the token is not an Admin token.", _ADMIN_FIX
    run.can["admin_read"] = True
    run.cors_rules = [dict(rule) for rule in rules]
    return "ok", f"GetBucketCors is allowed (Admin): the policy has {len(rules)} rule(s).", ""


def check_list_buckets(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    denied = refused("ListBuckets was refused (AccessDenied).", "", codes=_ADMIN_CODES)
    try:
        with s3_errors("list the account's buckets", target=s.bucket, messages=denied):
            names = [b["Name"] for b in client.list_buckets().get("Buckets", [])]
    except Refused:
        run.can["list_buckets"] = False
        return "warn", "ListBuckets was refused (AccessDenied): the token is scoped to buckets, not Admin.", _ADMIN_FIX
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
