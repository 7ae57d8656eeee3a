"""CORS policies: frozen models, the two JSON formats, R2's validation rules, lint and a local evaluator.

Formats (R2-FACTS "CORS as R2 accepts it"): the R2 dashboard's JSON array of rules (what people paste
from the guide) and the S3 API's ``{"CORSRules": [...]}``. Both parse into `CorsPolicy` and export back
exactly (a field absent in the input stays absent). The S3 form is what is stored and sent.

`validate()` returns problems (the policy must not be sent), `lint()` returns warnings (it can be sent
but something will likely not work), `evaluate()` answers a preflight question locally the way
R2/S3 does: the first rule whose origin, method and headers all match wins.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import idna

from r2.errors import InvalidInput

METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_AGE_LIMIT = 86_400  # R2 refuses a larger MaxAgeSeconds
MAX_RULES = 100  # the S3 API's limit on rules per bucket
MAX_ID_LENGTH = 255
# What this app's direct browser upload sends with its presigned PUT (r2.presign.sign_put).
UPLOAD_HEADERS = ("content-type", "if-none-match")
PROPAGATION_NOTE = "R2 can take about 30 seconds to apply a CORS change everywhere."

# Field order of the export (both formats use the S3 field names).
FIELDS = ("ID", "AllowedOrigins", "AllowedMethods", "AllowedHeaders", "ExposeHeaders", "MaxAgeSeconds")
_LIST_FIELDS = ("AllowedOrigins", "AllowedMethods", "AllowedHeaders", "ExposeHeaders")
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
_ORIGIN = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^/:?#\s\[\]]+)(?::(?P<port>[^/?#\s]*))?$"
)
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_DEFAULT_PORTS = {"http": "80", "https": "443"}  # browsers leave these out of the Origin header
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)


# --------------------------------------------------------------------------------------------- models


@dataclass(frozen=True)
class CorsRule:
    """One rule. `None` means "field absent" (kept apart from an empty list so exports round-trip)."""

    allowed_origins: tuple[str, ...] | None
    allowed_methods: tuple[str, ...] | None
    allowed_headers: tuple[str, ...] | None = None
    expose_headers: tuple[str, ...] | None = None
    max_age_seconds: int | None = None
    id: str | None = None
    unknown: tuple[str, ...] = field(default=(), compare=False)  # field names R2 does not know

    @property
    def origins(self) -> tuple[str, ...]:
        return self.allowed_origins or ()

    @property
    def methods(self) -> tuple[str, ...]:
        return self.allowed_methods or ()

    @property
    def headers(self) -> tuple[str, ...]:
        return self.allowed_headers or ()

    @property
    def exposed(self) -> tuple[str, ...]:
        return self.expose_headers or ()

    def to_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "ID": self.id,
            "AllowedOrigins": _list(self.allowed_origins),
            "AllowedMethods": _list(self.allowed_methods),
            "AllowedHeaders": _list(self.allowed_headers),
            "ExposeHeaders": _list(self.expose_headers),
            "MaxAgeSeconds": self.max_age_seconds,
        }
        return {k: v for k, v in values.items() if v is not None}

    def canonical(self) -> tuple[object, ...]:
        """What a server keeps: absent and empty lists alike, methods upper-case, headers lower-case."""
        return (
            self.origins,
            tuple(m.upper() for m in self.methods),
            tuple(h.lower() for h in self.headers),
            tuple(h.lower() for h in self.exposed),
            self.max_age_seconds,
            self.id or None,
        )


def _list(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)


@dataclass(frozen=True)
class CorsPolicy:
    rules: tuple[CorsRule, ...]

    def to_dashboard(self) -> list[dict[str, Any]]:
        """The R2 dashboard's JSON array of rules."""
        return [rule.to_dict() for rule in self.rules]

    def to_s3(self) -> dict[str, Any]:
        """The S3 API's CORSConfiguration (what put_bucket_cors takes)."""
        return {"CORSRules": self.to_dashboard()}

    def to_json(self, fmt: Literal["s3", "dashboard"] = "s3") -> str:
        data: object = self.to_s3() if fmt == "s3" else self.to_dashboard()
        return json.dumps(data, indent=2, ensure_ascii=False)

    def same_as(self, other: CorsPolicy | None) -> bool:
        """Equal as a server stores it (see `CorsRule.canonical`)."""
        return other is not None and [r.canonical() for r in self.rules] == [r.canonical() for r in other.rules]


def same_policy(a: CorsPolicy | None, b: CorsPolicy | None) -> bool:
    """Equal as stored; `None` (no policy) equals only `None`."""
    if a is None or b is None:
        return a is None and b is None
    return a.same_as(b)


@dataclass(frozen=True)
class Problem:
    """Something that makes the policy invalid (error) or likely not to work (warning)."""

    message: str
    fix: str = ""
    rule: int | None = None  # 1-based rule number, None for the whole policy
    field: str = ""
    severity: Literal["error", "warning"] = "error"

    @property
    def where(self) -> str:
        """Where the problem is, e.g. "Rule 2, AllowedHeaders" or "Policy"."""
        parts = [f"Rule {self.rule}" if self.rule else "Policy", self.field]
        return ", ".join(p for p in parts if p)

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        return f"{text} Fix: {self.fix}" if self.fix else text


class InvalidPolicy(InvalidInput):
    """The policy cannot be sent. `problems` lists every problem, each naming its rule and field."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"The CORS policy has {len(self.problems)} problem(s): " + "; ".join(str(p) for p in self.problems),
            "Nothing was sent. Fix the policy and try again.",
            code="InvalidCORS",
        )


# --------------------------------------------------------------------------------------------- parse


def parse(source: str | bytes | object) -> CorsPolicy:
    """Parse either format (text or already-decoded JSON). Raises InvalidPolicy on structural problems.

    Field *values* are kept as given (for example "OPTIONS" or a trailing slash): `validate` names them.
    """
    data = source
    if isinstance(source, (str, bytes)):
        try:
            data = json.loads(source)
        except json.JSONDecodeError as exc:
            raise InvalidPolicy(
                [
                    Problem(
                        f"This is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
                        'Paste the policy as JSON: an array of rules, or {"CORSRules": [...]}.',
                    )
                ]
            ) from exc
        except (UnicodeDecodeError, RecursionError) as exc:  # bytes not UTF-8; nesting deeper than Python's stack
            raise InvalidPolicy(
                [
                    Problem(
                        "This is not a CORS policy: "
                        + (
                            "it is not UTF-8 text."
                            if isinstance(exc, UnicodeDecodeError)
                            else "it is nested too deeply."
                        ),
                        'Paste the policy as JSON: an array of rules, or {"CORSRules": [...]}.',
                    )
                ]
            ) from exc
    if isinstance(data, Mapping):
        if "CORSRules" in data:
            extra = sorted(k for k in data if k != "CORSRules")
            if extra:
                raise InvalidPolicy(
                    [
                        Problem(
                            f"Unknown top-level field(s) {', '.join(extra)}.",
                            'Only "CORSRules" belongs at the top level.',
                        )
                    ]
                )
            data = data["CORSRules"]
        elif "rules" in data:
            raise InvalidPolicy(
                [
                    Problem(
                        'This looks like the Cloudflare REST API format ({"rules": [{"allowed": ...}]}).',
                        'Paste the R2 dashboard\'s array of rules or the S3 form {"CORSRules": [...]} instead: '
                        "origins go in AllowedOrigins, methods in AllowedMethods, headers in AllowedHeaders.",
                    )
                ]
            )
        elif any(k in data for k in ("AllowedOrigins", "AllowedMethods")):
            raise InvalidPolicy(
                [Problem("This is a single rule, not a policy.", "Wrap it in square brackets: [ {...} ].")]
            )
        else:
            raise InvalidPolicy(
                [Problem("The JSON object has no CORSRules.", 'Use an array of rules, or {"CORSRules": [...]}.')]
            )
    if not isinstance(data, list):
        raise InvalidPolicy(
            [Problem("A CORS policy is a list of rules.", 'Use an array of rules, or {"CORSRules": [...]}.')]
        )
    problems: list[Problem] = []
    rules = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, Mapping):
            problems.append(Problem("A rule must be a JSON object ({...}).", rule=number))
            continue
        rule = _parse_rule(item, number, problems)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise InvalidPolicy(problems)
    return CorsPolicy(tuple(rules))


def _parse_rule(item: Mapping[str, Any], number: int, problems: list[Problem]) -> CorsRule | None:
    before = len(problems)
    lists: dict[str, tuple[str, ...] | None] = {}
    for name in _LIST_FIELDS:
        value = item.get(name)
        if value is None:
            lists[name] = None
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            lists[name] = tuple(value)
        else:
            problems.append(
                Problem(
                    "must be a list of strings.",
                    f'Write it as ["…", "…"], e.g. {name}: ["GET"].'
                    if name == "AllowedMethods"
                    else 'Write it as ["…", "…"].',
                    number,
                    name,
                )
            )
    max_age = item.get("MaxAgeSeconds")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int)):
        problems.append(Problem("must be a whole number of seconds.", "For example 3600.", number, "MaxAgeSeconds"))
    rule_id = item.get("ID")
    if rule_id is not None and not isinstance(rule_id, str):
        problems.append(Problem("must be a string.", 'For example "uploads".', number, "ID"))
    if len(problems) > before:
        return None
    return CorsRule(
        allowed_origins=lists["AllowedOrigins"],
        allowed_methods=lists["AllowedMethods"],
        allowed_headers=lists["AllowedHeaders"],
        expose_headers=lists["ExposeHeaders"],
        max_age_seconds=max_age,
        id=rule_id,
        unknown=tuple(k for k in item if k not in FIELDS),
    )


def from_s3_response(rules: Iterable[Mapping[str, Any]]) -> CorsPolicy:
    """The policy from GetBucketCors's `CORSRules` (servers may add `ID: null` and the like)."""
    return parse([{k: v for k, v in rule.items() if k in FIELDS and v is not None} for rule in rules])


# --------------------------------------------------------------------------------------------- validate


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
            elif not _TOKEN.match(header):
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
    match = _ORIGIN.match(origin)
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
    if port is not None and str(int(port)) == _DEFAULT_PORTS.get(scheme.lower()):
        port_part = ""
        why.append(f"browsers leave the default port :{int(port)} of {scheme.lower()}:// out of Origin")
    elif port is not None and port != str(int(port)):
        why.append(f"browsers write the port without leading zeros ({int(port)})")
    if not why:
        return None
    return f'"{origin}" never matches: {"; ".join(why)}.', f'Write "{scheme}://{ascii_host}{port_part}".'


# --------------------------------------------------------------------------------------------- evaluate


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
    if not _TOKEN.match(name):
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


# --------------------------------------------------------------------------------------------- lint


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
            match = _ORIGIN.match(origin)
            if not match:
                continue
            if match.group("scheme").lower() == "http" and match.group("host").lower() not in _LOCAL_HOSTS:
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


def check(text: str | bytes | object, app_origin: str = "") -> tuple[CorsPolicy | None, list[Problem], list[Problem]]:
    """Parse, validate and lint in one go: (policy or None, problems, warnings)."""
    try:
        policy = parse(text)
    except InvalidPolicy as exc:
        return None, exc.problems, []
    return policy, validate(policy), lint(policy, app_origin)


def require_valid(policy: CorsPolicy) -> CorsPolicy:
    problems = validate(policy)
    if problems:
        raise InvalidPolicy(problems)
    return policy


# --------------------------------------------------------------------------------------------- preset / diff


def preset_rules(app_origin: str) -> list[dict[str, Any]]:
    """The seed guide's policy adapted to this app, as the dashboard's array: its own origin in rule 1
    (moto only matches rule 1), the methods and UPLOAD_HEADERS its direct upload sends, ETag exposed.
    The one preset: the CORS page, the CLI and the local demo bucket all use it."""
    origins = [app_origin]
    if "://localhost" in app_origin:
        origins.append(app_origin.replace("://localhost", "://127.0.0.1"))
    return [
        {
            "AllowedOrigins": origins,
            "AllowedMethods": ["GET", "PUT", "HEAD"],
            "AllowedHeaders": list(UPLOAD_HEADERS),
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3600,
        }
    ]


def preset(app_origin: str) -> CorsPolicy:
    """`preset_rules` as a policy."""
    return parse(preset_rules(app_origin))


def rows(policy: CorsPolicy) -> list[dict[str, object]]:
    """One readable row per rule (for tables)."""
    return [
        {
            "Rule": n,
            "ID": rule.id or "",
            "Origins": ", ".join(rule.origins),
            "Methods": ", ".join(rule.methods),
            "Allowed headers": ", ".join(rule.headers),
            "Exposed headers": ", ".join(rule.exposed),
            "Max age (s)": "" if rule.max_age_seconds is None else str(rule.max_age_seconds),
        }
        for n, rule in enumerate(policy.rules, start=1)
    ]


def diff(old: CorsPolicy | None, new: CorsPolicy | None, *, old_name: str = "live", new_name: str = "edited") -> str:
    """A unified diff of the two policies' S3 JSON (empty when they are the same)."""

    def lines(policy: CorsPolicy | None) -> list[str]:
        return ["(no CORS policy)\n"] if policy is None else [line + "\n" for line in policy.to_json().splitlines()]

    return "".join(difflib.unified_diff(lines(old), lines(new), old_name, new_name))
