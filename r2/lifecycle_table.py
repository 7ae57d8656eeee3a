"""Lifecycle rules as table rows (the Lifecycle page's editor) and back.

One row per rule: ID, prefix, and the three actions R2 supports as "after N days" (expire, abort
incomplete multipart uploads, transition to Infrequent Access), plus Enabled. Rules the table cannot
show without losing something (a date instead of days, several transitions, fields R2 does not know)
are named by `not_in_table`; the page then shows them read-only, and the command line edits them as
JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from r2.lifecycle import Rules

ID = "ID"
PREFIX = "Prefix"
EXPIRE = "Expire after (days)"
ABORT = "Abort incomplete after (days)"
COLD = "Infrequent Access after (days)"
ENABLED = "Enabled"
COLUMNS = (ID, PREFIX, EXPIRE, ABORT, COLD, ENABLED)
DAY_COLUMNS = (EXPIRE, ABORT, COLD)

_TABLE_KEYS = {"ID", "Status", "Filter", "Prefix", "Expiration", "AbortIncompleteMultipartUpload", "Transitions"}


def prefix_of(rule: Mapping[str, Any]) -> str:
    flt = rule.get("Filter")
    if isinstance(flt, Mapping):
        return str(flt.get("Prefix", ""))
    return str(rule.get("Prefix", ""))


def rows_of(rules: Rules) -> list[dict[str, Any]]:
    """One row per rule; an action the rule does not have is None."""
    rows = []
    for rule in rules:
        transitions = rule.get("Transitions") or [{}]
        rows.append(
            {
                ID: str(rule.get("ID", "")),
                PREFIX: prefix_of(rule),
                EXPIRE: (rule.get("Expiration") or {}).get("Days"),
                ABORT: (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"),
                COLD: transitions[0].get("Days"),
                ENABLED: rule.get("Status") == "Enabled",
            }
        )
    return rows


def not_in_table(rules: Rules) -> list[str]:
    """Why each rule that the table cannot show faithfully is left out of it; empty when all fit."""
    reasons = []
    for rule in rules:
        name = repr(str(rule.get("ID", "")))
        expiration = rule.get("Expiration") or {}
        transitions = rule.get("Transitions") or []
        flt = rule.get("Filter")
        if set(rule) - _TABLE_KEYS:
            reasons.append(f"rule {name} has {', '.join(sorted(set(rule) - _TABLE_KEYS))}")
        elif isinstance(flt, Mapping) and set(flt) - {"Prefix"}:
            reasons.append(f"rule {name} filters by more than a prefix")
        elif set(expiration) - {"Days"}:
            reasons.append(f"rule {name} expires on a date or by another condition")
        elif len(transitions) > 1 or any(set(t) != {"Days", "StorageClass"} for t in transitions):
            reasons.append(f"rule {name} has a transition by date or more than one transition")
    return reasons


def _days(value: Any) -> Any:
    """A cell as days: None when empty, an int when whole, anything else as given (validation names it)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if hasattr(value, "item"):  # a numpy scalar from the editor's table
        return _days(value.item())
    return value


def _blank(row: Mapping[str, Any]) -> bool:
    return (
        not str(row.get(ID) or "").strip()
        and not str(row.get(PREFIX) or "")
        and all(_days(row.get(c)) is None for c in DAY_COLUMNS)
    )


def rules_of(rows: Iterable[Mapping[str, Any]]) -> Rules:
    """The rules the rows describe (an untouched new row is ignored); validate them with `problems_of`."""
    rules: Rules = []
    for row in rows:
        if _blank(row):
            continue
        rule: dict[str, Any] = {
            "ID": str(row.get(ID) or "").strip(),
            "Status": "Enabled" if row.get(ENABLED) is None or bool(row.get(ENABLED)) else "Disabled",
            "Filter": {"Prefix": str(row.get(PREFIX) or "")},
        }
        expire, abort, cold = (_days(row.get(c)) for c in DAY_COLUMNS)
        if expire is not None:
            rule["Expiration"] = {"Days": expire}
        if abort is not None:
            rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": abort}
        if cold is not None:
            rule["Transitions"] = [{"Days": cold, "StorageClass": "STANDARD_IA"}]
        rules.append(rule)
    return rules
