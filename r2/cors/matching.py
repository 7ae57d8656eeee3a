"""Origin and header matching, and a preflight evaluated locally the way R2 (like S3) does: the first
rule whose origin, method and headers all match wins."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from r2.cors.model import HEADER_TOKEN, METHODS, CorsPolicy, CorsRule
from r2.errors import InvalidInput


@dataclass(frozen=True)
class Evaluation:
    """The local answer to "would a browser at `origin` be allowed to send `method` with `headers`?"."""

    allowed: bool
    origin: str
    method: str
    headers: tuple[str, ...]
    rule: int | None = None  # 1-based number of the rule that matched
    reasons: tuple[str, ...] = ()  # why blocked, in plain words
    response_headers: Mapping[str, str] = field(default_factory=dict)  # what R2 would answer


def origin_matches(pattern: str, origin: str) -> bool:
    if pattern == "*" or pattern == origin:
        return True
    if "*" not in pattern:
        return False
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), origin) is not None


def header_matches(pattern: str, header: str) -> bool:
    pattern, header = pattern.lower(), header.lower()
    if "*" not in pattern:
        return pattern == header
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), header) is not None


def _missing_headers(rule: CorsRule, headers: Sequence[str]) -> list[str]:
    return [h for h in headers if not any(header_matches(p, h) for p in rule.headers)]


def normalise_headers(headers: Iterable[str]) -> tuple[str, ...]:
    """Header names as a browser lists them in Access-Control-Request-Headers: lower case, each once.

    An item may itself be a comma list ("content-type, if-none-match"), as typed on the page or the CLI.
    """
    names = (name.strip().lower() for item in headers for name in item.split(","))
    return tuple(dict.fromkeys(name for name in names if name))


def require_method(method: str) -> str:
    """The method as a browser sends it (upper case). InvalidInput when it is empty or not a method name."""
    name = method.strip().upper()
    if not HEADER_TOKEN.match(name):
        raise InvalidInput(
            f'"{method}" is not an HTTP method name.'
            if name
            else "No method given: a preflight asks about one method.",
            f"Give the method the browser will send, one of {', '.join(METHODS)}.",
            code="InvalidMethod",
        )
    return name


def evaluate(policy: CorsPolicy | None, origin: str, method: str, headers: Sequence[str] = ()) -> Evaluation:
    """Evaluate a preflight as R2 (like S3) does: the first rule matching origin, method and every header.

    Returns the matching rule and the headers R2 would answer with, or the reasons the browser blocks.
    Raises InvalidInput when `method` is empty or not a method name (see `require_method`).
    """
    method = require_method(method)
    names = normalise_headers(headers)
    base = Evaluation(allowed=False, origin=origin, method=method, headers=names)
    if policy is None or not policy.rules:
        return _blocked(base, "the bucket has no CORS policy, so browsers may not call it from any other site")
    for number, rule in enumerate(policy.rules, start=1):
        if (
            any(origin_matches(o, origin) for o in rule.origins)
            and method in rule.methods
            and not _missing_headers(rule, names)
        ):
            answer = {
                "Access-Control-Allow-Origin": "*" if "*" in rule.origins else origin,
                "Access-Control-Allow-Methods": ", ".join(rule.methods),
            }
            if names:
                answer["Access-Control-Allow-Headers"] = ", ".join(names)
            if rule.exposed:
                answer["Access-Control-Expose-Headers"] = ", ".join(rule.exposed)
            if rule.max_age_seconds is not None:
                answer["Access-Control-Max-Age"] = str(rule.max_age_seconds)
            return Evaluation(True, origin, method, names, rule=number, response_headers=answer)
    by_origin = [
        (n, r) for n, r in enumerate(policy.rules, start=1) if any(origin_matches(o, origin) for o in r.origins)
    ]
    if not by_origin:
        return _blocked(base, *_origin_reasons(policy, origin))
    reasons = []
    for number, rule in by_origin:
        missing = []
        if method not in rule.methods:
            missing.append(f"{method} is not in its AllowedMethods")
        absent = _missing_headers(rule, names)
        if absent:
            missing.append(f"the header(s) {', '.join(absent)} are not in its AllowedHeaders")
        reasons.append(f"rule {number} lists the origin, but " + " and ".join(missing))
    return _blocked(base, *reasons)


def _blocked(base: Evaluation, *reasons: str) -> Evaluation:
    return Evaluation(False, base.origin, base.method, base.headers, reasons=tuple(reasons))


def _origin_reasons(policy: CorsPolicy, origin: str) -> list[str]:
    reasons = [f"no rule lists the origin {origin} (origins must match exactly: scheme, host and port)"]
    near = sorted({o for r in policy.rules for o in r.origins if o != "*" and _near(o, origin)})
    if near:
        reasons.append(f"close but different: {', '.join(near)}")
    return reasons


def _near(pattern: str, origin: str) -> bool:
    host = re.sub(r"^[a-z]+://|:\d+$|/+$", "", pattern.lower())
    return host == re.sub(r"^[a-z]+://|:\d+$", "", origin.lower())
