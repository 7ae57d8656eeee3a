"""The one preset policy (this app's direct upload), one-shot checking, and readable rows and diffs."""

from __future__ import annotations

import difflib
from typing import Any

from r2.cors.lint import lint
from r2.cors.model import UPLOAD_HEADERS, CorsPolicy, InvalidPolicy, Problem
from r2.cors.parse import parse
from r2.cors.validate import validate


def check(text: str | bytes | object, app_origin: str = "") -> tuple[CorsPolicy | None, list[Problem], list[Problem]]:
    """Parse, validate and lint in one go: (policy or None, problems, warnings)."""
    try:
        policy = parse(text)
    except InvalidPolicy as exc:
        return None, exc.problems, []
    return policy, validate(policy), lint(policy, app_origin)


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
