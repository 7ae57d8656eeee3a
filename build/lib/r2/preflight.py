"""A real CORS preflight (OPTIONS) against the bucket endpoint, judged the way a browser judges it.

Servers differ in what they check themselves (moto matches only the origin and returns the rule's
methods and headers, leaving the browser to enforce them), so never judge by status code alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import quote

import requests

from r2.cors import normalise_headers, require_method
from r2.settings import RESERVED_PREFIX, Settings

SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})
PROBE_KEY = f"{RESERVED_PREFIX}preflight-probe"


@dataclass(frozen=True)
class PreflightResult:
    allowed: bool
    origin: str
    method: str
    request_headers: tuple[str, ...]
    status: int | None = None
    reasons: tuple[str, ...] = ()  # why a browser would block, in plain words
    response_headers: Mapping[str, str] = field(default_factory=dict)  # the Access-Control-* ones
    error: str = ""  # the request itself failed (no answer)


def object_url(settings: Settings, key: str = PROBE_KEY) -> str:
    """Path-style URL of `key` in the configured bucket."""
    return f"{settings.endpoint}/{settings.bucket}/{quote(key, safe='/~')}"


def judge(
    status: int, headers: Mapping[str, str], origin: str, method: str, request_headers: Sequence[str]
) -> tuple[str, ...]:
    """Reasons a browser would refuse the actual request after this preflight answer (empty: allowed)."""
    lower = {k.lower(): v for k, v in headers.items()}
    if not 200 <= status < 300:
        # R2 (like S3) refuses a preflight with one 403 whether the origin, the method or a header failed,
        # and says not which: name all three; the local evaluator of the policy says which one it was.
        asked = ", ".join(request_headers) or "none"
        return (
            f"the server refused the preflight (HTTP {status}): none of its CORS rules allows this origin, "
            f"method and headers together (origin {origin}, method {method.upper()}, headers: {asked}); "
            "the answer does not say which of them failed",
        )
    reasons: list[str] = []
    allow_origin = lower.get("access-control-allow-origin", "").strip()
    if allow_origin not in ("*", origin):
        if allow_origin:
            reasons.append(f"the server allows the origin {allow_origin}, not {origin}")
        else:
            reasons.append(f"no Access-Control-Allow-Origin for {origin}: no rule lists this origin")
    allow_methods = {m.strip().upper() for m in lower.get("access-control-allow-methods", "").split(",") if m.strip()}
    if method.upper() not in SAFELISTED_METHODS and method.upper() not in allow_methods and "*" not in allow_methods:
        reasons.append(f"the method {method.upper()} is not in AllowedMethods of the matching rule")
    allow_headers = set(normalise_headers([lower.get("access-control-allow-headers", "")]))
    # Fetch standard (CORS-preflight fetch): "*" stands for any header name except Authorization, which
    # must be listed by name. Chromium and Firefox still accept it under "*" (a deprecated exception,
    # measured in tests/test_cors_judge_browser.py); judged by the standard, where browsers are heading.
    missing = [
        h
        for h in normalise_headers(request_headers)
        if h not in allow_headers and not ("*" in allow_headers and h != "authorization")
    ]
    if missing:
        why = f"the header(s) {', '.join(missing)} are not in AllowedHeaders of the matching rule"
        if "*" in allow_headers:
            why += (
                ' (by the Fetch standard a "*" never covers Authorization, it must be listed by name; Chromium and '
                "Firefox still accept it for now, deprecated)"
            )
        reasons.append(why)
    return tuple(reasons)


def preflight(
    settings: Settings,
    origin: str,
    method: str = "PUT",
    request_headers: Sequence[str] = ("content-type",),
    *,
    key: str = PROBE_KEY,
    timeout: float = 5.0,
    session: requests.Session | None = None,
) -> PreflightResult:
    """Send the OPTIONS request a browser would send before `method` with `request_headers`.

    Raises InvalidInput, before sending anything, when `method` is empty or not a method name.
    """
    method = require_method(method)  # an empty method is a mistake to report, not a question to send
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    names = normalise_headers(request_headers)
    if names:
        headers["Access-Control-Request-Headers"] = ",".join(names)
    http = session or requests
    failed = PreflightResult(allowed=False, origin=origin, method=method.upper(), request_headers=names)
    try:
        response = http.options(object_url(settings, key), headers=headers, timeout=timeout)
    except requests.Timeout:
        return replace(failed, error="the endpoint did not answer the preflight in time")
    except requests.RequestException as exc:
        return replace(failed, error=f"the preflight could not be sent ({type(exc).__name__})")
    cors_headers = {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}
    reasons = judge(response.status_code, response.headers, origin, method, names)
    return PreflightResult(
        allowed=not reasons,
        origin=origin,
        method=method.upper(),
        request_headers=names,
        status=response.status_code,
        reasons=reasons,
        response_headers=cors_headers,
    )
