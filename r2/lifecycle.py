"""The bucket's lifecycle rules (admins): read, validate with R2's rules, diff, apply with read-back,
history and rollback.

R2 supports, per rule: a prefix filter (no tag or size filters), expiration after N days or on a date,
abort of incomplete multipart uploads after N days, and transition to Infrequent Access
(`STANDARD_IA`) after N days (https://developers.cloudflare.com/r2/buckets/object-lifecycles/).
Rules are validated before anything is sent. A rule that would expire the app's own data
(`.dashboard/`, `.thumbs/`: audit log, histories, thumbnails) is refused, except `.dashboard/zips/`.

Before every change the live rules are snapshotted under `.dashboard/lifecycle/history/` (If-None-Match:
never rewritten); after it they are read back and compared, and restored if they differ.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from r2.client import S3Client
from r2.errors import InvalidInput, NotFound, R2Error, translate
from r2.naming import HIDDEN_PREFIXES
from r2.settings import RESERVED_PREFIX

HISTORY_PREFIX = f"{RESERVED_PREFIX}lifecycle/history/"
ALLOWED_EXPIRY = (f"{RESERVED_PREFIX}zips/",)  # the app's own temporary ZIPs may expire
MAX_RULES = 1000
ACTIONS = ("Expiration", "AbortIncompleteMultipartUpload", "Transitions")

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
                    "(audit log, histories, thumbnails): give a prefix outside .dashboard/ and .thumbs/"
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


def read(client: S3Client, bucket: str) -> Rules:
    """The live rules ([] when none)."""
    try:
        response = client.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return []
        raise translate(exc, action="read the lifecycle rules", target="the bucket") from exc
    except BotoCoreError as exc:
        raise translate(exc, action="read the lifecycle rules", target="the bucket") from exc
    return [dict(rule) for rule in response.get("Rules", [])]


def _canonical(rules: Rules) -> str:
    def clean(rule: dict[str, Any]) -> dict[str, Any]:
        rule = dict(rule)
        if "Prefix" in rule and "Filter" not in rule:
            rule["Filter"] = {"Prefix": rule.pop("Prefix")}
        return rule

    return json.dumps(sorted((clean(r) for r in rules), key=lambda r: str(r.get("ID"))), indent=2, sort_keys=True)


def diff(old: Rules, new: Rules) -> str:
    """A unified diff of two rule sets (order and layout ignored); '' when they are the same."""
    lines = difflib.unified_diff(
        _canonical(old).splitlines(), _canonical(new).splitlines(), "live", "proposed", lineterm=""
    )
    return "\n".join(lines)


def _write(client: S3Client, bucket: str, rules: Rules) -> None:
    try:
        if rules:
            client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
        else:
            client.delete_bucket_lifecycle(Bucket=bucket)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="apply the lifecycle rules", target="the bucket") from exc


@dataclass(frozen=True)
class Applied:
    version: str  # the history entry holding the rules that were live before
    before: Rules
    after: Rules


def apply(client: S3Client, bucket: str, rules: Rules, *, actor: str, reason: str = "") -> Applied:
    """Validate, snapshot the live rules, apply, read back; restore the snapshot if the read-back differs."""
    require_valid(rules)
    before = read(client, bucket)
    at = datetime.now(UTC)
    version = f"{at:%Y%m%dT%H%M%S%fZ}"
    entry = {"version": version, "at": at.isoformat(), "actor": actor, "reason": reason, "before": before}
    try:
        client.put_object(
            Bucket=bucket,
            Key=f"{HISTORY_PREFIX}{version}.json",
            Body=json.dumps(entry, default=str).encode(),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="save the lifecycle history", target="the history") from exc
    try:
        _write(client, bucket, rules)
        after = read(client, bucket)
        if diff(after, rules):
            raise R2Error(
                "The bucket's lifecycle rules read back differ from those sent.", "The old rules were restored."
            )
    except R2Error:
        _write(client, bucket, before)
        raise
    return Applied(version, before, after)


def history(client: S3Client, bucket: str) -> list[dict[str, Any]]:
    """Saved entries (the rules live before each change), newest first."""
    try:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=HISTORY_PREFIX).get("Contents", [])
        keys = sorted((o["Key"] for o in listed), reverse=True)
        return [json.loads(client.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="read the lifecycle history", target="the history") from exc


def rollback(client: S3Client, bucket: str, *, actor: str, version: str = "") -> Applied:
    """Put back the rules live before `version` (default: the last change)."""
    entries = history(client, bucket)
    chosen = next((e for e in entries if not version or e["version"] == version), None)
    if chosen is None:
        raise NotFound("No saved lifecycle version to roll back to." if not version else f"No version {version}.")
    return apply(client, bucket, chosen["before"], actor=actor, reason=f"rollback of {chosen['version']}")


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
    try:
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
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="list incomplete uploads", target="the bucket") from exc
    return Incomplete(tuple(found[:limit]))


def abort_incomplete(client: S3Client, bucket: str, found: Incomplete) -> tuple[int, list[str]]:
    """Abort the uploads found; returns (aborted, failures). An upload finished meanwhile is left alone."""
    aborted, failures = 0, []
    for key, upload_id, _ in found.uploads:
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            aborted += 1
        except (ClientError, BotoCoreError) as exc:
            err = translate(exc, action="abort the upload", target=key)
            if not isinstance(err, NotFound):
                failures.append(str(err))
    return aborted, failures
