"""CORS policies as frozen models, R2's limits, and the problems found in a policy.

A `CorsPolicy` holds `CorsRule`s in the S3 API's field names; `None` in a rule means "field absent",
kept apart from an empty list so both JSON formats export back exactly as they were given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

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
LIST_FIELDS = ("AllowedOrigins", "AllowedMethods", "AllowedHeaders", "ExposeHeaders")

ORIGIN_PATTERN = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^/:?#\s\[\]]+)(?::(?P<port>[^/?#\s]*))?$"
)
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_PORTS = {"http": "80", "https": "443"}  # browsers leave these out of the Origin header
HEADER_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)


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
