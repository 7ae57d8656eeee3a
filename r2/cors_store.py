"""The bucket's live CORS policy: read, apply, delete, with history, read-back and rollback.

The change machinery (lease, stale-edit refusal, snapshot under `.dashboard/cors/history/`, read-back,
restore, audit) is `r2.config_store`, shared with the lifecycle rules; this module says how a CORS
policy is read, written, compared and stored.

CORS calls need an Admin token (Object-scoped R2 tokens get AccessDenied), so AccessDenied is
explained in those words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, cast

from r2 import config_store
from r2.client import S3Client
from r2.config_store import UNCHECKED, ChangeResult, ConfigStore, HistoryEntry, NoConfiguration, StaleEdit
from r2.cors import CorsPolicy, diff, from_s3_response, require_valid, same_policy
from r2.errors import s3_errors

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CORSConfigurationTypeDef

__all__ = [
    "ADMIN_FIX",
    "HISTORY_PREFIX",
    "LEASE_KEY",
    "LEASE_SECONDS",
    "STORE",
    "UNCHECKED",
    "ChangeResult",
    "Expected",
    "HistoryEntry",
    "StaleEdit",
    "apply",
    "change",
    "delete",
    "get_version",
    "history",
    "read_policy",
    "rollback",
]

ADMIN_FIX = (
    "CORS needs an Admin token: Object Read & Write tokens (the kind the guide creates) cannot read or "
    "change a bucket's CORS policy. Use an R2 API token with Admin Read (to view) or Admin Read & Write "
    "(to change), or ask an account admin to apply the policy."
)
_MESSAGES = config_store.admin_messages(ADMIN_FIX, "NoSuchCORSConfiguration")
_TARGET = "CORS policy"

Expected = CorsPolicy | None | config_store.Unchecked


def read_policy(client: S3Client, bucket: str) -> CorsPolicy | None:
    """The live policy, or None when the bucket has none (a normal state, not an error)."""
    try:
        with s3_errors("read the CORS policy", target=_TARGET, messages=_MESSAGES):
            response = client.get_bucket_cors(Bucket=bucket)
    except NoConfiguration:
        return None
    rules = response.get("CORSRules") or []
    return from_s3_response(rules) if rules else None


def _write(client: S3Client, bucket: str, policy: CorsPolicy | None) -> None:
    action = "delete the CORS policy" if policy is None else "apply the CORS policy"
    with s3_errors(action, target=_TARGET, messages=_MESSAGES):
        if policy is None:
            client.delete_bucket_cors(Bucket=bucket)
        else:
            client.put_bucket_cors(Bucket=bucket, CORSConfiguration=cast("CORSConfigurationTypeDef", policy.to_s3()))


def _load(data: Any) -> CorsPolicy:
    return from_s3_response(data["CORSRules"])


STORE: ConfigStore[CorsPolicy] = ConfigStore(
    slug="cors",
    name="CORS",
    noun="policy",
    page="CORS",
    read=read_policy,
    write=_write,
    validate=require_valid,
    same=same_policy,
    diff=lambda old, new, old_name, new_name: diff(old, new, old_name=old_name, new_name=new_name),
    dump=CorsPolicy.to_s3,
    load=_load,
)
HISTORY_PREFIX = STORE.history_prefix
LEASE_KEY = STORE.lease_key
LEASE_SECONDS = config_store.LEASE_SECONDS


def change(
    client: S3Client,
    bucket: str,
    new: CorsPolicy | None,
    *,
    actor: str,
    reason: str = "",
    action: Literal["cors.apply", "cors.rollback", "cors.delete"] = "cors.apply",
    expected: Expected = UNCHECKED,
) -> ChangeResult[CorsPolicy]:
    """Set (or with `new=None`, delete) the policy: validate, stale check, snapshot, write, read back.

    Raises InvalidPolicy (nothing sent), StaleEdit (nothing changed), or an R2Error saying whether the
    previous policy was restored. Returns the history version of the snapshot.
    """
    return STORE.change(client, bucket, new, actor=actor, reason=reason, action=action, expected=expected)


def apply(
    client: S3Client, bucket: str, policy: CorsPolicy, *, actor: str, reason: str = "", expected: Expected = UNCHECKED
) -> ChangeResult[CorsPolicy]:
    return change(client, bucket, policy, actor=actor, reason=reason, action="cors.apply", expected=expected)


def delete(
    client: S3Client, bucket: str, *, actor: str, reason: str = "", expected: Expected = UNCHECKED
) -> ChangeResult[CorsPolicy]:
    return change(client, bucket, None, actor=actor, reason=reason, action="cors.delete", expected=expected)


def history(client: S3Client, bucket: str, *, limit: int = 50) -> list[HistoryEntry[CorsPolicy]]:
    """The newest `limit` snapshots, newest first (one LIST per 1,000 versions, then one GET each)."""
    return STORE.history(client, bucket, limit=limit)


def get_version(client: S3Client, bucket: str, version: str) -> HistoryEntry[CorsPolicy]:
    return STORE.get_version(client, bucket, version)


def rollback(
    client: S3Client,
    bucket: str,
    version: str | None = None,
    *,
    actor: str,
    reason: str = "",
    expected: Expected = UNCHECKED,
) -> ChangeResult[CorsPolicy]:
    """Put back the policy that was live before change `version` (default: undo the latest change)."""
    return STORE.rollback(client, bucket, version, actor=actor, reason=reason, expected=expected)


# The lease's steps, for tests that hold a lease while a page applies (see config_store).
def _take_lease(
    client: S3Client,
    bucket: str,
    version: str,
    new: CorsPolicy | None,
    expected: Expected,
    actor: str,
    action: str,
) -> str:
    return STORE._take_lease(client, bucket, version, new, expected, actor, action)


def _release_lease(client: S3Client, bucket: str, etag: str) -> None:
    STORE._release_lease(client, bucket, etag)
