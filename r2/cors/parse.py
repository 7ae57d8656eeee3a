"""Reading a CORS policy from either JSON format: the R2 dashboard's array of rules, or the S3 API's
``{"CORSRules": [...]}``. Structural problems are reported with the fix; field values are kept as given
(`validate` judges them)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from r2.cors.model import FIELDS, LIST_FIELDS, CorsPolicy, CorsRule, InvalidPolicy, Problem


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
    for name in LIST_FIELDS:
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
