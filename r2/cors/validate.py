"""R2's rules for a CORS policy: what it refuses, and origins a browser never sends (so never match)."""

from __future__ import annotations

import difflib
import re
from urllib.parse import urlsplit

import idna

from r2.cors.model import (
    DEFAULT_PORTS,
    FIELDS,
    HEADER_TOKEN,
    MAX_AGE_LIMIT,
    MAX_ID_LENGTH,
    MAX_RULES,
    METHODS,
    ORIGIN_PATTERN,
    CorsPolicy,
    CorsRule,
    InvalidPolicy,
    Problem,
)

# Names people write by mistake -> the right one (S3 XML uses singular names; the REST API others).
_ALIASES = {
    "allowedorigin": "AllowedOrigins",
    "allowedmethod": "AllowedMethods",
    "allowedheader": "AllowedHeaders",
    "exposeheader": "ExposeHeaders",
    "exposedheaders": "ExposeHeaders",
    "maxage": "MaxAgeSeconds",
    "maxageseconds": "MaxAgeSeconds",
    "origins": "AllowedOrigins",
    "methods": "AllowedMethods",
    "headers": "AllowedHeaders",
    "id": "ID",
}


def validate(policy: CorsPolicy) -> list[Problem]:
    """Problems R2 would refuse (or that can never work). Empty: the policy may be sent."""
    problems: list[Problem] = []
    if not policy.rules:
        problems.append(
            Problem(
                "The policy has no rules.",
                "Add a rule, or delete the bucket's CORS policy instead of sending an empty one.",
            )
        )
    if len(policy.rules) > MAX_RULES:
        problems.append(
            Problem(
                f"The policy has {len(policy.rules)} rules; at most {MAX_RULES} are allowed.",
                "Merge rules that share origins.",
            )
        )
    for number, rule in enumerate(policy.rules, start=1):
        problems.extend(_validate_rule(rule, number))
    return problems


def _validate_rule(rule: CorsRule, n: int) -> list[Problem]:
    out: list[Problem] = []
    for name in rule.unknown:
        guess = _ALIASES.get(name.lower().replace("_", "")) or next(
            iter(difflib.get_close_matches(name, FIELDS, n=1, cutoff=0.6)), ""
        )
        fix = f"Did you mean {guess}?" if guess else f"Known fields: {', '.join(FIELDS)}."
        out.append(Problem(f'unknown field "{name}".', fix, n, name))
    if not rule.origins:
        out.append(
            Problem(
                "no origins: the rule would never match.",
                'List the sites that may call the bucket, e.g. ["https://app.example.com"].',
                n,
                "AllowedOrigins",
            )
        )
    for origin in rule.origins:
        problem = origin_problem(origin)
        if problem:
            out.append(Problem(problem[0], problem[1], n, "AllowedOrigins"))
    if not rule.methods:
        out.append(
            Problem(
                "no methods: the rule would never match.",
                'Add the methods browsers use, e.g. ["GET", "PUT", "HEAD"].',
                n,
                "AllowedMethods",
            )
        )
    for method in rule.methods:
        if method in METHODS:
            continue
        if method.upper() == "OPTIONS":
            out.append(
                Problem(
                    "OPTIONS is not a method you can allow.",
                    "Remove it: R2 answers the OPTIONS preflight by itself for the other methods.",
                    n,
                    "AllowedMethods",
                )
            )
        elif method.upper() in METHODS:
            out.append(
                Problem(f'"{method}" must be written in capitals.', f'Write "{method.upper()}".', n, "AllowedMethods")
            )
        else:
            out.append(
                Problem(
                    f'"{method}" is not a method R2 accepts.', f"Use only {', '.join(METHODS)}.", n, "AllowedMethods"
                )
            )
    for name, values in (("AllowedHeaders", rule.headers), ("ExposeHeaders", rule.exposed)):
        for header in values:
            if not header.strip():
                out.append(Problem("an empty header name.", "Remove the empty string.", n, name))
            elif header.count("*") > 1:
                out.append(Problem(f'"{header}" has more than one "*".', 'Use at most one "*" per header.', n, name))
            elif not HEADER_TOKEN.match(header):
                out.append(
                    Problem(
                        f'"{header}" is not a header name (spaces or separators).',
                        'Write one header name per string, e.g. "content-type".',
                        n,
                        name,
                    )
                )
    if rule.max_age_seconds is not None and not 0 <= rule.max_age_seconds <= MAX_AGE_LIMIT:
        out.append(
            Problem(
                f"{rule.max_age_seconds} is outside 0..{MAX_AGE_LIMIT}.",
                f"Use a value up to {MAX_AGE_LIMIT} (one day); 3600 is common.",
                n,
                "MaxAgeSeconds",
            )
        )
    if rule.id is not None and len(rule.id) > MAX_ID_LENGTH:
        out.append(Problem(f"longer than {MAX_ID_LENGTH} characters.", "Shorten it.", n, "ID"))
    return out


def origin_problem(origin: str) -> tuple[str, str] | None:
    """(message, fix) when `origin` is not an origin R2 accepts or one a browser never sends, else None.

    A browser serialises its Origin header one way (the URL standard): ASCII host (punycode), no
    user name, no default port, port without leading zeros. Any other spelling never matches, so it is
    refused here with the spelling to use. "null" is accepted (lint explains what it lets in).
    """
    if origin in ("*", "null"):
        return None
    if not origin.strip():
        return "an empty origin.", "Remove the empty string."
    if origin != origin.strip():
        return f'"{origin}" has spaces around it.', f'Write "{origin.strip()}".'
    if origin.lower() == "null":
        return f'"{origin}": browsers send the opaque origin as "null", in lower case.', 'Write "null".'
    userinfo = _userinfo_problem(origin)
    if userinfo:
        return userinfo
    match = ORIGIN_PATTERN.match(origin)
    if match is None:
        head = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#]+)[/?#]", origin)
        if head:
            return (
                f'"{origin}" has a path or trailing slash; an origin is only scheme://host[:port].',
                f'Write "{head.group(1)}".',
            )
        if "://" not in origin:
            return (f'"{origin}" has no scheme.', f'Write "https://{origin}" (or http:// for a local address).')
        return f'"{origin}" is not an origin.', "Write scheme://host[:port], e.g. https://app.example.com."
    port = match.group("port")
    if origin.count("*") > 1:
        return f'"{origin}" has more than one "*".', 'Use one wildcard, e.g. "https://*.example.com".'
    if port == "*":
        return (
            f'"{origin}": a wildcard port (":*") is not accepted by R2.',
            "List each port you use, e.g. http://localhost:8501.",
        )
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        return f'"{origin}" has an invalid port.', "Use a number from 1 to 65535."
    if "*" in match.group("scheme"):
        return f'"{origin}": the scheme cannot be a wildcard.', "Write https:// or http://."
    return _serialisation_problem(origin, match.group("scheme"), match.group("host"), port)


def _userinfo_problem(origin: str) -> tuple[str, str] | None:
    """A user name (and maybe a password) before "@": browsers never send one. The origin is not echoed."""
    try:
        parts = urlsplit(origin)
    except ValueError:  # e.g. an unclosed IPv6 bracket: the pattern check below names it
        return None
    if "://" not in origin or "@" not in parts.netloc:
        return None
    bare = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    return (
        f'"{parts.scheme}://…@{parts.netloc.rpartition("@")[2]}" has a user name before "@"; browsers never '
        "send one in Origin, so it never matches.",
        f'Write "{bare}".',
    )


def _serialisation_problem(origin: str, scheme: str, host: str, port: str | None) -> tuple[str, str] | None:
    """The origin is well formed but not as a browser writes it: name the difference and the right form."""
    why: list[str] = []
    ascii_host = host
    if not host.isascii():
        try:  # browsers apply UTS #46 (IDNA 2008) per label: what the `idna` package implements
            ascii_host = ".".join(
                label if label.isascii() else idna.encode(label, uts46=True).decode("ascii")
                for label in host.split(".")
            )
        except UnicodeError as exc:  # idna.IDNAError is one
            return (
                f'"{origin}": the host is not a valid international domain name ({exc}).',
                "Write the host's punycode form (xn--…), as the browser's address bar shows it.",
            )
        why.append(f"browsers send a non-ASCII host in its punycode form ({ascii_host})")
    port_part = "" if port is None else f":{int(port)}"
    if port is not None and str(int(port)) == DEFAULT_PORTS.get(scheme.lower()):
        port_part = ""
        why.append(f"browsers leave the default port :{int(port)} of {scheme.lower()}:// out of Origin")
    elif port is not None and port != str(int(port)):
        why.append(f"browsers write the port without leading zeros ({int(port)})")
    if not why:
        return None
    return f'"{origin}" never matches: {"; ".join(why)}.', f'Write "{scheme}://{ascii_host}{port_part}".'


def require_valid(policy: CorsPolicy) -> CorsPolicy:
    problems = validate(policy)
    if problems:
        raise InvalidPolicy(problems)
    return policy
