"""Renames and the audit events of bulk work: one event per action, the count in the target and the
keys in the detail."""

from __future__ import annotations

import json
from typing import Any

from r2.audit import AuditEvent, record
from r2.bulk import CatalogHook, TransferPlan, TransferResult, _refuse_reserved
from r2.client import S3Client
from r2.errors import InvalidInput, R2Error, s3_errors
from r2.naming import META_ORIGINAL_NAME, check_key
from r2.uploads import display_name, encode_name


# ------------------------------------------------------------------------------------------ renaming
def rename(client: S3Client, bucket: str, key: str, new_name: str, *, on_change: CatalogHook | None = None) -> str:
    """Change an object's display name (its original-name metadata); the key stays the generated one.

    S3 metadata cannot be edited: the object is copied onto itself with the new metadata, only if it
    is still the version just read (CopySourceIfMatch), so a concurrent change is never lost. Returns
    the name stored.
    """
    key = check_key(key)
    _refuse_reserved([key])
    name = display_name(new_name.strip())
    if not new_name.strip():
        raise InvalidInput("The new name is empty.")
    with s3_errors("rename the object", target=key, precondition="if-match"):
        head = client.head_object(Bucket=bucket, Key=key)
        metadata = {str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()}
        metadata[META_ORIGINAL_NAME] = encode_name(name)
        extra: dict[str, Any] = {"CacheControl": head["CacheControl"]} if head.get("CacheControl") else {}
        client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            CopySourceIfMatch=str(head.get("ETag", "")),
            MetadataDirective="REPLACE",
            ContentType=str(head.get("ContentType", "application/octet-stream")),
            Metadata=metadata,
            **extra,
        )
    if on_change is not None:
        on_change([(key, key)], [], {key: name})
    return name


# ------------------------------------------------------------------------------------------ audit
def audit(client: S3Client, bucket: str, actor: str, action: str, target: str, **detail: object) -> str:
    """One event per action: the count in the target, the keys in the detail. Raises R2Error if unwritable."""
    failed = detail.get("failed") or detail.get("both")
    outcome = "failed" if failed and not detail.get("done") and not detail.get("deleted") else "ok"
    if failed and outcome == "ok":
        outcome = "partial"
    event = AuditEvent(actor=actor, action=action, target=target, outcome=outcome, detail=json.dumps(detail))
    return record(client, bucket, event)


def audit_quietly(client: S3Client, bucket: str, actor: str, action: str, target: str, **detail: object) -> str:
    """As `audit`, but a failure to write the event is returned as its message (the work is done)."""
    try:
        audit(client, bucket, actor, action, target, **detail)
    except R2Error as exc:
        return str(exc)
    return ""


def audit_transfer(client: S3Client, bucket: str, actor: str, plan: TransferPlan, result: TransferResult) -> str:
    """The one audit event of a move or copy ('' when written, else why not)."""
    return audit_quietly(
        client,
        bucket,
        actor,
        plan.action,
        f"{len(plan.steps)} objects to {plan.dest}",
        done=[list(p) for p in result.done],
        both=[list(p) for p in result.both],
        failed=[list(p) for p in result.failed],
    )
