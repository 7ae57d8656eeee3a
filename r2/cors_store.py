"""The bucket's live CORS policy: read, apply, delete, with history, read-back and rollback.

Nothing is lost: before every change the live policy is snapshotted under `.dashboard/cors/history/`
(who, when, why, before and after), written with If-None-Match so history is never rewritten. After
the change the policy is read back and compared; if the change failed or the read-back differs, the
snapshot is restored and the caller is told. An editor passes the policy it loaded as `expected`: if
the live policy changed meanwhile (another admin), the change is refused with `StaleEdit`.

CORS calls need an Admin token (Object-scoped R2 tokens get AccessDenied), so AccessDenied is
explained in those words.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from botocore.exceptions import BotoCoreError, ClientError

from r2.audit import AuditEvent, record
from r2.client import S3Client
from r2.cors import CorsPolicy, diff, from_s3_response, require_valid, same_policy
from r2.errors import AccessDenied, AlreadyExists, Conflict, NotFound, R2Error, translate
from r2.settings import RESERVED_PREFIX

HISTORY_PREFIX = f"{RESERVED_PREFIX}cors/history/"
# One change at a time: a change first takes this lease with a conditional PUT (compare-and-swap on
# its ETag). PutBucketCors has no condition of its own, so without it two editors who loaded the same
# policy both passed the stale check and the later write (or its "restore") silently undid the other.
LEASE_KEY = f"{RESERVED_PREFIX}cors/lease.json"
LEASE_SECONDS = 120  # a lease left "pending" longer than this (a crashed writer) may be taken over
ADMIN_FIX = (
    "CORS needs an Admin token: Object Read & Write tokens (the kind the guide creates) cannot read or "
    "change a bucket's CORS policy. Use an R2 API token with Admin Read (to view) or Admin Read & Write "
    "(to change), or ask an account admin to apply the policy."
)


class _Unchecked:
    def __repr__(self) -> str:
        return "UNCHECKED"


UNCHECKED: Final = _Unchecked()  # `expected` default: do not compare with what an editor loaded
Expected = CorsPolicy | None | _Unchecked


class StaleEdit(Conflict):
    """The live policy is not the one the editor loaded. `live` is what is there now."""

    def __init__(self, expected: CorsPolicy | None, live: CorsPolicy | None) -> None:
        self.expected = expected
        self.live = live
        self.difference = diff(expected, live, old_name="what you loaded", new_name="live now")
        super().__init__(
            "The bucket's CORS policy changed since you loaded it (someone else applied a change). "
            "Nothing was changed.",
            "Review the difference, reload the live policy and apply your edit again.",
            code="StaleEdit",
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One snapshot: the live policy `before` a change, and the policy the change set (`after`)."""

    version: str
    at: datetime
    actor: str
    action: str  # cors.apply | cors.rollback | cors.delete
    reason: str
    before: CorsPolicy | None
    after: CorsPolicy | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "reason": self.reason,
            "before": None if self.before is None else self.before.to_s3(),
            "after": None if self.after is None else self.after.to_s3(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> HistoryEntry:
        data = json.loads(text)

        def policy(value: Any) -> CorsPolicy | None:
            return None if value is None else from_s3_response(value["CORSRules"])

        return cls(
            version=data["version"],
            at=datetime.fromisoformat(data["at"]),
            actor=data["actor"],
            action=data["action"],
            reason=data.get("reason", ""),
            before=policy(data["before"]),
            after=policy(data["after"]),
        )


@dataclass(frozen=True)
class ChangeResult:
    version: str  # the history version holding the policy that was live before
    before: CorsPolicy | None
    after: CorsPolicy | None
    audit_error: str = ""  # the change happened but the audit event could not be written


def _cors_error(exc: BaseException, action: str) -> R2Error:
    err = translate(exc, action=action, target="the bucket's CORS policy")
    if isinstance(err, AccessDenied) and err.code in ("AccessDenied", "403", "Unauthorized"):
        return AccessDenied(err.message, ADMIN_FIX, code=err.code)
    return err


def read_policy(client: S3Client, bucket: str) -> CorsPolicy | None:
    """The live policy, or None when the bucket has none (a normal state, not an error)."""
    try:
        response = client.get_bucket_cors(Bucket=bucket)
    except (ClientError, BotoCoreError) as exc:
        err = _cors_error(exc, "read the CORS policy")
        if isinstance(err, NotFound) and err.code == "NoSuchCORSConfiguration":
            return None
        raise err from exc
    rules = response.get("CORSRules") or []
    return from_s3_response(rules) if rules else None


def _write(client: S3Client, bucket: str, policy: CorsPolicy | None) -> None:
    try:
        if policy is None:
            client.delete_bucket_cors(Bucket=bucket)
        else:
            client.put_bucket_cors(Bucket=bucket, CORSConfiguration=policy.to_s3())
    except (ClientError, BotoCoreError) as exc:
        raise _cors_error(exc, "delete the CORS policy" if policy is None else "apply the CORS policy") from exc


def _snapshot(client: S3Client, bucket: str, entry: HistoryEntry) -> None:
    try:
        client.put_object(
            Bucket=bucket,
            Key=f"{HISTORY_PREFIX}{entry.version}.json",
            Body=entry.to_json().encode("utf-8"),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except (ClientError, BotoCoreError) as exc:
        err = translate(exc, action="snapshot the live CORS policy", target="the CORS history")
        raise R2Error(err.message, "Nothing was changed. " + err.fix, code=err.code) from exc


def new_version(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


def change(
    client: S3Client,
    bucket: str,
    new: CorsPolicy | None,
    *,
    actor: str,
    reason: str = "",
    action: Literal["cors.apply", "cors.rollback", "cors.delete"] = "cors.apply",
    expected: Expected = UNCHECKED,
) -> ChangeResult:
    """Set (or with `new=None`, delete) the policy: validate, stale check, snapshot, write, read back.

    Raises InvalidPolicy (nothing sent), StaleEdit (nothing changed), or an R2Error saying whether the
    previous policy was restored. Returns the history version of the snapshot.
    """
    if new is not None:
        require_valid(new)
    at = datetime.now(UTC)
    version = new_version(at)
    lease = _take_lease(client, bucket, version, new, expected, actor, action)
    try:
        live = read_policy(client, bucket)
        if not isinstance(expected, _Unchecked) and not same_policy(expected, live):
            _audit(client, bucket, actor, action, "refused", "the live policy changed since it was loaded")
            raise StaleEdit(expected, live)
        entry = HistoryEntry(version, at, actor, action, reason, before=live, after=new)
        _snapshot(client, bucket, entry)
        try:
            _write(client, bucket, new)
            back = read_policy(client, bucket)
        except R2Error as err:
            raise _restore(client, bucket, entry, actor, action, err.message, err) from err
        if not same_policy(back, new):
            shown = diff(new, back, old_name="sent", new_name="read back")
            raise _restore(
                client, bucket, entry, actor, action, "the policy read back differs from the one sent:\n" + shown
            )
    finally:
        _release_lease(client, bucket, lease)
    audit_error = _audit(client, bucket, actor, action, "ok", f"version {entry.version}; {reason}".strip("; "))
    return ChangeResult(entry.version, live, new, audit_error=audit_error)


def _read_lease(client: S3Client, bucket: str) -> tuple[str | None, dict[str, Any]]:
    try:
        response = client.get_object(Bucket=bucket, Key=LEASE_KEY)
        return str(response["ETag"]), json.loads(response["Body"].read())
    except (ClientError, BotoCoreError) as exc:
        err = translate(exc, action="read the CORS change lease", target="the CORS change lease")
        if isinstance(err, NotFound):
            return None, {}
        raise err from exc
    except ValueError:  # unreadable: treat as free, the conditional write still arbitrates
        return None, {}


def _lease_policy(data: dict[str, Any]) -> CorsPolicy | None:
    after = data.get("after")
    return None if after is None else from_s3_response(after["CORSRules"])


def _take_lease(
    client: S3Client,
    bucket: str,
    version: str,
    new: CorsPolicy | None,
    expected: Expected,
    actor: str,
    action: str,
) -> str:
    """Claim the right to change the policy; returns the lease's ETag. Another change in progress (or
    one that claimed the lease between our read and our write) refuses this one: StaleEdit showing
    the policy that change is setting, or Conflict when the caller did not say what it loaded."""
    etag, data = _read_lease(client, bucket)
    busy = data.get("state") == "pending" and _age(data) < LEASE_SECONDS
    body = json.dumps(
        {
            "state": "pending",
            "version": version,
            "actor": actor,
            "at": datetime.now(UTC).isoformat(),
            "after": None if new is None else new.to_s3(),
        }
    ).encode("utf-8")
    if not busy:
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            response = client.put_object(
                Bucket=bucket, Key=LEASE_KEY, Body=body, ContentType="application/json", **condition
            )
            return str(response["ETag"])
        except (ClientError, BotoCoreError) as exc:
            err = translate(exc, action="start the CORS change", target="the CORS change lease")
            if not isinstance(err, (AlreadyExists, NotFound)):  # 412 (or a lease removed meanwhile): lost
                raise err from exc
        _, data = _read_lease(client, bucket)
    _audit(client, bucket, actor, action, "refused", "another CORS change was in progress")
    if isinstance(expected, _Unchecked):
        # A writer that died mid-change (a replica restarted, a killed command) leaves its lease pending:
        # say when it frees itself, so nobody has to guess or delete app data by hand.
        left = max(0, round(LEASE_SECONDS - _age(data))) if data.get("state") == "pending" else 0
        raise Conflict(
            f"Another CORS change is in progress (by {data.get('actor', 'someone')}). Nothing was changed.",
            "Wait a moment, look at the live policy and try again"
            + (f"; if that change was interrupted, its lock frees itself within {left} s." if left else "."),
            code="Busy",
        )
    # The other change may have finished meanwhile (its lease already "done", naming no policy): then the
    # difference to show is with the live policy it left.
    raise StaleEdit(expected, _lease_policy(data) if data.get("state") == "pending" else read_policy(client, bucket))


def _age(data: dict[str, Any]) -> float:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(str(data["at"]))).total_seconds()
    except (KeyError, ValueError, TypeError):
        return float("inf")


def _release_lease(client: S3Client, bucket: str, etag: str) -> None:
    """Mark our lease done (only if it is still ours); a failure leaves it to expire."""
    body = json.dumps({"state": "done", "at": datetime.now(UTC).isoformat()}).encode("utf-8")
    with contextlib.suppress(ClientError, BotoCoreError):
        client.put_object(Bucket=bucket, Key=LEASE_KEY, Body=body, ContentType="application/json", IfMatch=etag)


def _restore(
    client: S3Client,
    bucket: str,
    entry: HistoryEntry,
    actor: str,
    action: str,
    what: str,
    cause: R2Error | None = None,
) -> R2Error:
    """Put the snapshot back after a failed change; returns the error to raise (it says what happened)."""
    try:
        # When the write never landed (the server kept refusing it), the previous policy is still live:
        # say so instead of failing to write it again and asking for a manual rollback.
        if not same_policy(read_policy(client, bucket), entry.before):
            _write(client, bucket, entry.before)
        restored = same_policy(read_policy(client, bucket), entry.before)
    except R2Error:
        restored = False
    if restored:
        message = (
            f"The CORS change failed ({what}). The previous policy was restored (history version {entry.version})."
        )
        fix = cause.fix if cause else "Check the policy and try again."
    else:
        message = (
            f"The CORS change failed ({what}) and the previous policy could NOT be restored automatically. "
            f"It is saved as history version {entry.version}."
        )
        fix = f"Roll back to it: CORS page, History, or `python -m r2 cors rollback {entry.version}`."
    _audit(client, bucket, actor, action, "failed", message)
    return R2Error(message, fix, code=cause.code if cause else "ReadBackMismatch")


def _audit(client: S3Client, bucket: str, actor: str, action: str, outcome: str, detail: str) -> str:
    """Write the audit event; returns "" or the reason it failed (the caller tells the user)."""
    try:
        record(client, bucket, AuditEvent(actor, action, f"{bucket} CORS", outcome, detail))
    except R2Error as err:
        return f"The change was made, but the audit log could not be written: {err}"
    return ""


def apply(
    client: S3Client, bucket: str, policy: CorsPolicy, *, actor: str, reason: str = "", expected: Expected = UNCHECKED
) -> ChangeResult:
    return change(client, bucket, policy, actor=actor, reason=reason, action="cors.apply", expected=expected)


def delete(
    client: S3Client, bucket: str, *, actor: str, reason: str = "", expected: Expected = UNCHECKED
) -> ChangeResult:
    return change(client, bucket, None, actor=actor, reason=reason, action="cors.delete", expected=expected)


def history(client: S3Client, bucket: str, *, limit: int = 50) -> list[HistoryEntry]:
    """The newest `limit` snapshots, newest first (one LIST per 1,000 versions, then one GET each)."""
    keys: list[str] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=HISTORY_PREFIX):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        entries = []
        for key in sorted(keys, reverse=True)[:limit]:
            entries.append(HistoryEntry.from_json(client.get_object(Bucket=bucket, Key=key)["Body"].read()))
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="read the CORS history", target="the CORS history") from exc
    return entries


def get_version(client: S3Client, bucket: str, version: str) -> HistoryEntry:
    if not version or "/" in version or version.startswith("."):
        raise NotFound(f"There is no CORS history version {version!r}.", "See `cors history` for the versions.")
    try:
        body = client.get_object(Bucket=bucket, Key=f"{HISTORY_PREFIX}{version}.json")["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        err = translate(exc, action="read the CORS history", target=f"history version {version}")
        if isinstance(err, NotFound):
            raise NotFound(
                f"There is no CORS history version {version!r}.", "See `cors history` for the versions."
            ) from exc
        raise err from exc
    return HistoryEntry.from_json(body)


def rollback(
    client: S3Client,
    bucket: str,
    version: str | None = None,
    *,
    actor: str,
    reason: str = "",
    expected: Expected = UNCHECKED,
) -> ChangeResult:
    """Put back the policy that was live before change `version` (default: undo the latest change)."""
    if version is None:
        entries = history(client, bucket, limit=1)
        if not entries:
            raise NotFound("There is no CORS history yet: nothing to roll back to.")
        entry = entries[0]
    else:
        entry = get_version(client, bucket, version)
    why = reason or f"rollback to the policy before version {entry.version}"
    return change(client, bucket, entry.before, actor=actor, reason=why, action="cors.rollback", expected=expected)
