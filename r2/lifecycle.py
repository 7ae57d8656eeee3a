"""The bucket's lifecycle rules (admins): read, validate with R2's rules, diff, apply with read-back,
history and rollback.

R2 supports, per rule: a prefix filter (no tag or size filters), expiration after N days or on a date,
abort of incomplete multipart uploads after N days, and transition to Infrequent Access
(`STANDARD_IA`) after N days (https://developers.cloudflare.com/r2/buckets/object-lifecycles/).
Rules are validated before anything is sent. A rule that would expire the app's own data
(`.dashboard/`, `.thumbs/`: audit log, histories, thumbnails) is refused, except `.dashboard/zips/`.

Changes go through `r2.config_store`, as CORS changes do: a lease refuses a stale edit (another admin,
replica or tab changed the rules since they were loaded) with the difference; the live rules are
snapshotted under `.dashboard/lifecycle/history/` first; after the change they are read back and
compared, and restored if they differ; every change is audited and can be rolled back.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from r2.client import S3Client
from r2.config_store import (
    UNCHECKED,
    ChangeResult,
    ConfigStore,
    HistoryEntry,
    NoConfiguration,
    Unchecked,
    admin_messages,
)
from r2.config_store import (
    StaleEdit as StaleEdit,  # re-exported: callers catch lifecycle.StaleEdit
)
from r2.errors import InvalidInput, NotFound, R2Error, s3_errors
from r2.naming import HIDDEN_PREFIXES
from r2.settings import RESERVED_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import LifecycleRuleTypeDef

# The app's own temporary ZIPs may expire, and so may direct uploads still staged after their sweep was due
# (never checked, never shown: docs/guide.md recommends this backstop).
ALLOWED_EXPIRY = (f"{RESERVED_PREFIX}zips/", f"{RESERVED_PREFIX}direct/")
MAX_RULES = 1000
ACTIONS = ("Expiration", "AbortIncompleteMultipartUpload", "Transitions")
_MESSAGES = admin_messages(
    "Lifecycle rules need an Admin token: Object Read & Write tokens cannot read or change them. Use an R2 API "
    "token with Admin Read (to view) or Admin Read & Write (to change).",
    "NoSuchLifecycleConfiguration",
)

Rules = list[dict[str, Any]]


def parse(text: str) -> Rules:
    """The S3 form ({"Rules": [...]}) or a bare list of rules."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"The lifecycle rules are not valid JSON: {exc.msg} (line {exc.lineno}).") from exc
    rules = data.get("Rules") if isinstance(data, dict) else data
    if not isinstance(rules, list):
        raise InvalidInput('Give the rules as {"Rules": [...]} or as a list of rules.')
    return rules


def _days(rule_id: str, where: str, value: Any, problems: list[str]) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        problems.append(f"rule {rule_id!r}: {where} must be a whole number of days, 1 or more")


def problems_of(rules: Rules) -> list[str]:
    """Every reason R2 (or this app) would refuse the rules; empty when they may be applied."""
    problems: list[str] = []
    if len(rules) > MAX_RULES:
        problems.append(f"at most {MAX_RULES} rules")
    seen: set[str] = set()
    for number, item in enumerate(rules, start=1):
        rule: Any = item
        if not isinstance(rule, dict):
            problems.append(f"rule {number} is not an object")
            continue
        rule_id = str(rule.get("ID", ""))
        if not rule_id or len(rule_id) > 255:
            problems.append(f"rule {number}: an ID of 1 to 255 characters is needed")
        if rule_id in seen:
            problems.append(f"rule {rule_id!r}: the ID is used twice")
        seen.add(rule_id)
        if rule.get("Status") not in ("Enabled", "Disabled"):
            problems.append(f"rule {rule_id!r}: Status must be Enabled or Disabled")
        unknown = set(rule) - {"ID", "Status", "Filter", "Prefix", *ACTIONS}
        if unknown:
            problems.append(f"rule {rule_id!r}: R2 does not support {', '.join(sorted(unknown))}")
        flt = rule.get("Filter", {})
        if not isinstance(flt, dict) or set(flt) - {"Prefix"}:
            problems.append(f"rule {rule_id!r}: R2 filters by prefix only (no tags or sizes)")
            flt = {}
        prefix = str(flt.get("Prefix", rule.get("Prefix", "")))
        if not any(a in rule for a in ACTIONS):
            problems.append(f"rule {rule_id!r}: no action (Expiration, AbortIncompleteMultipartUpload, Transitions)")
        if "Expiration" in rule:
            exp = rule["Expiration"]
            if not isinstance(exp, dict) or len(set(exp) & {"Days", "Date"}) != 1 or set(exp) - {"Days", "Date"}:
                problems.append(f"rule {rule_id!r}: Expiration needs exactly one of Days or Date")
            elif "Days" in exp:
                _days(rule_id, "Expiration.Days", exp["Days"], problems)
            covers_app = any(p.startswith(prefix) or prefix.startswith(p) for p in HIDDEN_PREFIXES)
            if covers_app and not prefix.startswith(ALLOWED_EXPIRY):
                problems.append(
                    f"rule {rule_id!r}: expiring {prefix or 'the whole bucket'!r} would delete the app's own data "
                    "(audit log, histories, thumbnails): give a prefix outside .dashboard/ and .thumbs/ "
                    "(only .dashboard/zips/ and .dashboard/direct/ may expire)"
                )
        if "AbortIncompleteMultipartUpload" in rule:
            abort = rule["AbortIncompleteMultipartUpload"]
            value = abort.get("DaysAfterInitiation") if isinstance(abort, dict) else None
            _days(rule_id, "AbortIncompleteMultipartUpload.DaysAfterInitiation", value, problems)
        for transition in rule.get("Transitions", []) or []:
            if not isinstance(transition, dict) or transition.get("StorageClass") != "STANDARD_IA":
                problems.append(f"rule {rule_id!r}: R2 transitions only to STANDARD_IA (Infrequent Access)")
            elif "Days" in transition:
                _days(rule_id, "Transitions.Days", transition["Days"], problems)
            elif "Date" not in transition:
                problems.append(f"rule {rule_id!r}: a transition needs Days or Date")
    return problems


def require_valid(rules: Rules) -> None:
    problems = problems_of(rules)
    if problems:
        raise InvalidInput("The lifecycle rules were not sent: " + "; ".join(problems) + ".")


def abort_uploads_rule(days: int = 7) -> dict[str, Any]:
    """The one-click rule: abort multipart uploads left incomplete for `days` days, bucket-wide."""
    return {
        "ID": f"abort-incomplete-uploads-{days}d",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
    }


def _dates_as_text(value: Any) -> Any:
    """Servers answer Expiration/Transition dates as datetimes: keep them as ISO text (JSON, comparable)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    return value


def _read(client: S3Client, bucket: str) -> Rules | None:
    try:
        with s3_errors("read the lifecycle rules", target="lifecycle configuration", messages=_MESSAGES):
            response = client.get_bucket_lifecycle_configuration(Bucket=bucket)
    except NoConfiguration:
        return None
    return [_dates_as_text(dict(rule)) for rule in response.get("Rules", [])] or None


def read(client: S3Client, bucket: str) -> Rules:
    """The live rules ([] when none)."""
    return _read(client, bucket) or []


def _canonical(rules: Rules | None) -> str:
    def clean(rule: dict[str, Any]) -> dict[str, Any]:
        rule = dict(rule)
        if "Prefix" in rule and "Filter" not in rule:
            rule["Filter"] = {"Prefix": rule.pop("Prefix")}
        return rule

    cleaned = sorted((clean(r) for r in rules or []), key=lambda r: str(r.get("ID")))
    return json.dumps(cleaned, indent=2, sort_keys=True, default=str)


def diff(old: Rules | None, new: Rules | None, old_name: str = "live", new_name: str = "proposed") -> str:
    """A unified diff of two rule sets (order and layout ignored); '' when they are the same."""
    lines = difflib.unified_diff(
        _canonical(old).splitlines(), _canonical(new).splitlines(), old_name, new_name, lineterm=""
    )
    return "\n".join(lines)


def _write(client: S3Client, bucket: str, rules: Rules | None) -> None:
    action = "apply the lifecycle rules" if rules else "delete the lifecycle rules"
    with s3_errors(action, target="lifecycle configuration", messages=_MESSAGES):
        if rules:
            rules_sent = cast("list[LifecycleRuleTypeDef]", rules)  # validated by problems_of before any write
            client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules_sent})
        else:
            client.delete_bucket_lifecycle(Bucket=bucket)


def _dump(rules: Rules) -> dict[str, Any]:
    return {"Rules": rules}


def _load(data: Any) -> Rules:
    """Stored rules: {"Rules": [...]}, or the bare list that history entries held before the lease existed."""
    rules = data.get("Rules", []) if isinstance(data, dict) else data
    return [dict(rule) for rule in rules]


STORE: ConfigStore[Rules] = ConfigStore(
    slug="lifecycle",
    name="lifecycle",
    noun="configuration",
    page="Lifecycle",
    read=_read,
    write=_write,
    validate=require_valid,
    same=lambda a, b: _canonical(a) == _canonical(b),
    diff=diff,
    dump=_dump,
    load=_load,
)
HISTORY_PREFIX = STORE.history_prefix
Expected = Rules | None | Unchecked


@dataclass(frozen=True)
class Applied:
    version: str  # the history entry holding the rules that were live before
    before: Rules
    after: Rules
    audit_error: str = ""  # the change was made, but its audit event could not be written


def _applied(result: ChangeResult[Rules]) -> Applied:
    return Applied(result.version, result.before or [], result.after or [], result.audit_error)


def apply(
    client: S3Client, bucket: str, rules: Rules, *, actor: str, reason: str = "", expected: Expected = UNCHECKED
) -> Applied:
    """Validate, take the lease, refuse a stale edit (`expected`: the rules the editor loaded, [] for none),
    snapshot the live rules, apply, read back; restore the snapshot if the read-back differs. [] deletes."""
    if isinstance(expected, list) and not expected:
        expected = None
    result = STORE.change(
        client, bucket, rules or None, actor=actor, reason=reason, action="lifecycle.apply", expected=expected
    )
    return _applied(result)


def history(client: S3Client, bucket: str, *, limit: int = 50) -> list[HistoryEntry[Rules]]:
    """Saved entries (the rules live before each change), newest first."""
    return STORE.history(client, bucket, limit=limit)


def rollback(
    client: S3Client, bucket: str, *, actor: str, version: str = "", expected: Expected = UNCHECKED
) -> Applied:
    """Put back the rules live before `version` (default: the last change)."""
    if isinstance(expected, list) and not expected:
        expected = None
    return _applied(STORE.rollback(client, bucket, version or None, actor=actor, expected=expected))


# ------------------------------------------------------------------------------ incomplete uploads now
@dataclass(frozen=True)
class Incomplete:
    """Multipart uploads never completed: (key, upload id, bytes stored in their parts)."""

    uploads: tuple[tuple[str, str, int], ...]

    @property
    def count(self) -> int:
        return len(self.uploads)

    @property
    def bytes(self) -> int:
        return sum(size for _, _, size in self.uploads)


def find_incomplete(client: S3Client, bucket: str, *, limit: int = 1000) -> Incomplete:
    """Every incomplete upload with the bytes its parts hold (one ListParts each): shown before aborting."""
    found: list[tuple[str, str, int]] = []
    params: dict[str, Any] = {"Bucket": bucket}
    with s3_errors("list incomplete uploads", target="the bucket"):
        while len(found) < limit:
            page = client.list_multipart_uploads(**params)
            for upload in page.get("Uploads", []):
                parts = client.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                size = sum(int(p.get("Size", 0)) for p in parts.get("Parts", []))
                found.append((str(upload["Key"]), str(upload["UploadId"]), size))
            if not page.get("IsTruncated"):
                break
            params["KeyMarker"] = page.get("NextKeyMarker", "")
            params["UploadIdMarker"] = page.get("NextUploadIdMarker", "")
    return Incomplete(tuple(found[:limit]))


def abort_incomplete(client: S3Client, bucket: str, found: Incomplete) -> tuple[int, list[str]]:
    """Abort the uploads found; returns (aborted, failures). An upload finished meanwhile is left alone."""
    aborted, failures = 0, []
    for key, upload_id, _ in found.uploads:
        try:
            with s3_errors("abort the upload", target=key):
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            aborted += 1
        except NotFound:
            pass
        except R2Error as err:
            failures.append(str(err))
    return aborted, failures
