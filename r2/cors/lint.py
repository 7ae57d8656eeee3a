"""Warnings about a valid policy: something will likely not work, or lets in more than needed."""

from __future__ import annotations

import json
from dataclasses import dataclass

from r2.cors.matching import evaluate, header_matches, origin_matches
from r2.cors.model import LOCAL_HOSTS, ORIGIN_PATTERN, UPLOAD_HEADERS, CorsPolicy, CorsRule, Problem
from r2.cors.validate import origin_problem


def _shadows(first: CorsRule, later: CorsRule) -> bool:
    """True when every request `later` matches is matched by `first` first (so `later` never applies)."""
    return (
        all(any(origin_matches(p, o) for p in first.origins) for o in later.origins)
        and set(later.methods) <= set(first.methods)
        and all(any(header_matches(p, h) for p in first.headers) for h in later.headers)
    )


def lint(policy: CorsPolicy, app_origin: str = "") -> list[Problem]:
    """Warnings: the policy is valid but something will likely not work or is riskier than needed."""
    warnings: list[Problem] = []

    def warn(message: str, fix: str, rule: int | None = None, name: str = "") -> None:
        warnings.append(Problem(message, fix, rule, name, severity="warning"))

    if app_origin:
        verdict = evaluate(policy, app_origin, "PUT", UPLOAD_HEADERS)
        if not verdict.allowed:
            warn(
                f"this app's origin {app_origin} cannot PUT with {', '.join(UPLOAD_HEADERS)}: direct uploads "
                "from the Upload page will fail (" + "; ".join(verdict.reasons) + ").",
                "Start from the preset, or add the app's origin with PUT and those headers to the first rule.",
            )
    for n, rule in enumerate(policy.rules, start=1):
        if "PUT" in rule.methods:
            for header in UPLOAD_HEADERS:
                if not any(header_matches(p, header) for p in rule.headers):
                    why = (
                        "signed uploads send Content-Type"
                        if header == "content-type"
                        else "this app's direct upload sends If-None-Match: * so it never overwrites"
                    )
                    warn(
                        f"allows PUT but not the header {header}: browsers will block the upload ({why}).",
                        f'Add "{header}" to AllowedHeaders.',
                        n,
                        "AllowedHeaders",
                    )
            if not any(h.lower() == "etag" for h in rule.exposed):
                warn(
                    "allows PUT but does not expose ETag: browser uploads cannot read it (multipart, checks).",
                    'Add "ETag" to ExposeHeaders.',
                    n,
                    "ExposeHeaders",
                )
        if "*" in rule.origins:
            warn(
                '"*" lets any website make visitors\' browsers call this private bucket with signed URLs.',
                "List the app's origins explicitly.",
                n,
                "AllowedOrigins",
            )
        if "*" in rule.headers:
            warn(
                '"*" in AllowedHeaders is reported not to work on R2.',
                f"List the headers explicitly, e.g. {json.dumps(list(UPLOAD_HEADERS))}.",
                n,
                "AllowedHeaders",
            )
        for origin in rule.origins:
            if origin != "*" and "*" in origin and origin_problem(origin) is None:
                reach = wildcard_reach(origin)
                warn(
                    f'"{origin}" is a wildcard origin: it matches {reach.matches}, e.g. {reach.example}, '
                    f'{reach.who}. R2\'s documentation only promises exact origin matches; a "*" inside an '
                    "origin is reported to work as on S3 (any characters, dots included), not documented.",
                    f'List each origin you use exactly, e.g. "{reach.exact}".',
                    n,
                    "AllowedOrigins",
                )
            if origin == "null":
                warn(
                    '"null" is the opaque origin: browsers send it from pages opened from local files, '
                    "sandboxed iframes, data: URLs and some cross-site redirects. Any website can make a "
                    'visitor\'s browser send "null" (a sandboxed iframe), so allowing it lets every site in. '
                    'How R2 treats "null" is not documented.',
                    "Remove it, and serve the page from a real origin you list (e.g. http://localhost:8501).",
                    n,
                    "AllowedOrigins",
                )
            match = ORIGIN_PATTERN.match(origin)
            if not match:
                continue
            if match.group("scheme").lower() == "http" and match.group("host").lower() not in LOCAL_HOSTS:
                warn(
                    f"{origin} uses plain http:// (not localhost): traffic and signed URLs travel unencrypted.",
                    f'Use "https://{origin[len("http://") :]}".',
                    n,
                    "AllowedOrigins",
                )
            if origin != origin.lower():
                warn(
                    f"{origin} has capital letters; browsers send origins in lower case, so it never matches.",
                    f'Write "{origin.lower()}".',
                    n,
                    "AllowedOrigins",
                )
        for name, values in (
            ("AllowedOrigins", rule.origins),
            ("AllowedMethods", rule.methods),
            ("AllowedHeaders", tuple(h.lower() for h in rule.headers)),
        ):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                warn(f"repeated: {', '.join(repeated)}.", "Remove the duplicates.", n, name)
        for m, earlier in enumerate(policy.rules[: n - 1], start=1):
            if earlier.canonical() == rule.canonical():
                warn(f"is a duplicate of rule {m}.", "Remove it.", n)
                break
            if rule.origins and _shadows(earlier, rule):
                warn(
                    f"is shadowed by rule {m}: every request it matches matches rule {m} first, so it is never used.",
                    f"Remove it, or move it before rule {m}.",
                    n,
                )
                break
    return warnings


ATTACKER_DOMAIN = "attacker.net"  # stands for a domain anyone can register, in lint's examples


@dataclass(frozen=True)
class WildcardReach:
    """What an origin with one "*" lets in, for lint: in words, one example, and an exact origin to list."""

    matches: str  # e.g. "every https:// site"
    example: str  # an origin it lets in (`origin_matches(pattern, example)` holds)
    who: str  # who can get such an origin, e.g. "which anyone can register"
    exact: str  # an exact origin to list instead


def wildcard_reach(pattern: str) -> WildcardReach:
    """Where the "*" of `pattern` sits decides who can get in; the example is one an attacker could own."""
    head, _, tail = pattern.partition("*")
    scheme = head.partition("://")[0]
    tail_host, colon, port = tail.partition(":")
    port_part = colon + port
    anyone = "which anyone can register"
    if not tail_host:  # the "*" ends the host: anything may follow what is written before it
        if head.endswith("://"):
            on_port = f" on port {port}" if port else ""
            return WildcardReach(
                f"every {scheme}:// site{on_port}",
                f"{head}{ATTACKER_DOMAIN}{port_part}",
                anyone,
                f"{head}app.example.com{port_part}",
            )
        joint = "" if head.endswith(".") else "."
        return WildcardReach(
            f"every origin that starts with {head}",
            f"{head}{joint}{ATTACKER_DOMAIN}{port_part}",
            anyone,
            (f"{head}com" if head.endswith(".") else head) + port_part,
        )
    at_host_start = head.endswith(("://", "."))
    if tail_host.startswith("."):  # https://*.example.com -> https://app.example.com
        exact = f"{head}{'app' if at_host_start else '1'}{tail}"
    else:  # https://*example.com -> https://example.com
        exact = f"{head}{'' if head.endswith('://') else '1'}{tail}"
    parent = tail_host[1:] if tail_host.startswith(".") else tail_host.partition(".")[2]
    example = f"{head}attacker{tail}"
    if "." in parent:  # every match ends in .parent: whoever controls a name under it gets in
        return WildcardReach(
            f"any host under {parent}, at any depth",
            example,
            f"which anyone who controls a name under {parent} can use (a forgotten DNS record, a user-content host)",
            exact,
        )
    return WildcardReach(f"every host that ends in {tail_host}", example, anyone, exact)
