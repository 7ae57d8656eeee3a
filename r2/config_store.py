"""A bucket configuration (CORS policy, lifecycle rules) changed safely: lease, history, read-back, rollback.

One `ConfigStore` per kind of configuration, parameterised by how that kind is read, written, validated,
compared, shown as a diff and stored as JSON. Every change:

1. is validated before anything is sent;
2. takes the kind's lease (`.dashboard/<slug>/lease.json`) with a conditional PUT (compare-and-swap on
   its ETag): the bucket's configuration calls have no condition of their own, so without it two
   editors who loaded the same configuration both passed the stale check and the later write (or its
   "restore") silently undid the other;
3. refuses a stale edit: an editor passes the configuration it loaded as `expected`; when the live one
   differs (another admin, replica or tab), `StaleEdit` says so and carries the difference;
4. snapshots the live configuration under `.dashboard/<slug>/history/` (If-None-Match: history is
   never rewritten) with who, when, why, before and after;
5. writes, reads back and compares; on a failure or a different read-back it restores the snapshot
   and says whether that worked;
6. is audited (`<slug>.apply|rollback|delete`, outcome ok, refused or failed).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Generic, TypeVar

from r2.audit import AuditEvent, record
from r2.client import S3Client
from r2.errors import AccessDenied, AlreadyExists, Conflict, Messages, NotFound, R2Error, s3_errors
from r2.settings import RESERVED_PREFIX

T = TypeVar("T")

LEASE_SECONDS = 120  # a lease left "pending" longer than this (a crashed writer) may be taken over


class Unchecked:
    def __repr__(self) -> str:
        return "UNCHECKED"


UNCHECKED: Final = Unchecked()  # `expected` default: do not compare with what an editor loaded


class NoConfiguration(NotFound):
    """The bucket has no configuration of this kind: a normal state, read as None."""


def admin_messages(fix: str, *missing: str) -> Messages:
    """Per-call wording for a bucket configuration call: AccessDenied explains the admin token (`fix`);
    each of the `missing` codes (NoSuchCORSConfiguration, ...) becomes NoConfiguration."""
    denied = {
        "AccessDenied": (AccessDenied, "Could not {action}: access denied.", fix),
        "403": (AccessDenied, "Could not {action}: access denied (403).", fix),
        "Unauthorized": (AccessDenied, "Could not {action}: the request was not authorised.", fix),
    }
    return denied | {code: (NoConfiguration, "The bucket has no {target}.", "") for code in missing}


class StaleEdit(Conflict, Generic[T]):
    """The live configuration is not the one the editor loaded. `live` is what is there now."""

    def __init__(self, store: ConfigStore[T], expected: T | None, live: T | None) -> None:
        self.expected = expected
        self.live = live
        self.difference = store.diff(expected, live, "what you loaded", "live now")
        super().__init__(
            f"The bucket's {store.name} {store.noun} changed since you loaded it (someone else applied a change). "
            "Nothing was changed.",
            f"Review the difference, reload the live {store.noun} and apply your edit again.",
            code="StaleEdit",
        )


@dataclass(frozen=True)
class HistoryEntry(Generic[T]):
    """One snapshot: the live configuration `before` a change, and the one the change set (`after`)."""

    version: str
    at: datetime
    actor: str
    action: str  # <slug>.apply | <slug>.rollback | <slug>.delete
    reason: str
    before: T | None
    after: T | None
    dump: Callable[[T], Any] = field(repr=False, compare=False, default=lambda value: value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "reason": self.reason,
            "before": None if self.before is None else self.dump(self.before),
            "after": None if self.after is None else self.dump(self.after),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


@dataclass(frozen=True)
class ChangeResult(Generic[T]):
    version: str  # the history version holding the configuration that was live before
    before: T | None
    after: T | None
    audit_error: str = ""  # the change happened but the audit event could not be written


def new_version(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


def _read_lease(client: S3Client, bucket: str, key: str) -> tuple[str | None, dict[str, Any]]:
    try:
        with s3_errors("read the change lease", target="the change lease"):
            response = client.get_object(Bucket=bucket, Key=key)
            return str(response["ETag"]), json.loads(response["Body"].read())
    except NotFound:
        return None, {}
    except ValueError:  # unreadable: treat as free, the conditional write still arbitrates
        return None, {}


def _age(data: dict[str, Any]) -> float:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(str(data["at"]))).total_seconds()
    except (KeyError, ValueError, TypeError):
        return float("inf")


@dataclass(frozen=True)
class ConfigStore(Generic[T]):
    """How one kind of bucket configuration is read, written and compared; `None` means "none set"."""

    slug: str  # "cors": keys under .dashboard/cors/, audit actions cors.apply, CLI `python -m r2 cors`
    name: str  # "CORS", in sentences: "Another CORS change is in progress"
    noun: str  # "policy": "The previous policy was restored"
    page: str  # the page that shows the history: "CORS"
    read: Callable[[S3Client, str], T | None]
    write: Callable[[S3Client, str, T | None], None]
    validate: Callable[[T], object]  # raises InvalidInput (nothing is sent)
    same: Callable[[T | None, T | None], bool]
    diff: Callable[[T | None, T | None, str, str], str]  # (old, new, old name, new name) -> unified diff
    dump: Callable[[T], Any]  # to the JSON stored in history and lease
    load: Callable[[Any], T]

    @property
    def history_prefix(self) -> str:
        return f"{RESERVED_PREFIX}{self.slug}/history/"

    @property
    def lease_key(self) -> str:
        return f"{RESERVED_PREFIX}{self.slug}/lease.json"

    # ------------------------------------------------------------------------------------ change
    def change(
        self,
        client: S3Client,
        bucket: str,
        new: T | None,
        *,
        actor: str,
        reason: str = "",
        action: str,
        expected: T | Unchecked | None = UNCHECKED,
    ) -> ChangeResult[T]:
        """Set (or with `new=None`, delete) the configuration: validate, lease, stale check, snapshot,
        write, read back. Raises InvalidInput (nothing sent), StaleEdit or Conflict (nothing changed), or
        an R2Error saying whether the previous configuration was restored."""
        if new is not None:
            self.validate(new)
        at = datetime.now(UTC)
        version = new_version(at)
        lease = self._take_lease(client, bucket, version, new, expected, actor, action)
        try:
            live = self.read(client, bucket)
            if not isinstance(expected, Unchecked) and not self.same(expected, live):
                self._audit(
                    client, bucket, actor, action, "refused", f"the live {self.noun} changed since it was loaded"
                )
                raise StaleEdit(self, expected, live)
            entry = HistoryEntry(version, at, actor, action, reason, before=live, after=new, dump=self.dump)
            self._snapshot(client, bucket, entry)
            try:
                self.write(client, bucket, new)
                back = self.read(client, bucket)
            except R2Error as err:
                raise self._restore(client, bucket, entry, err.message, err) from err
            if not self.same(back, new):
                shown = self.diff(new, back, "sent", "read back")
                raise self._restore(
                    client, bucket, entry, f"the {self.noun} read back differs from the one sent:\n" + shown
                )
        finally:
            self._release_lease(client, bucket, lease)
        detail = f"version {entry.version}; {reason}".strip("; ")
        audit_error = self._audit(client, bucket, actor, action, "ok", detail)
        return ChangeResult(entry.version, live, new, audit_error=audit_error)

    def _snapshot(self, client: S3Client, bucket: str, entry: HistoryEntry[T]) -> None:
        try:
            with s3_errors(
                f"snapshot the live {self.name} {self.noun}",
                target=f"the {self.name} history",
                precondition="if-none-match",
            ):
                client.put_object(
                    Bucket=bucket,
                    Key=f"{self.history_prefix}{entry.version}.json",
                    Body=entry.to_json().encode("utf-8"),
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
        except R2Error as err:
            raise R2Error(err.message, "Nothing was changed. " + err.fix, code=err.code) from err

    def _restore(
        self, client: S3Client, bucket: str, entry: HistoryEntry[T], what: str, cause: R2Error | None = None
    ) -> R2Error:
        """Put the snapshot back after a failed change; returns the error to raise (it says what happened)."""
        try:
            # When the write never landed (the server kept refusing it), the previous configuration is
            # still live: say so instead of failing to write it again and asking for a manual rollback.
            if not self.same(self.read(client, bucket), entry.before):
                self.write(client, bucket, entry.before)
            restored = self.same(self.read(client, bucket), entry.before)
        except R2Error:
            restored = False
        if restored:
            message = (
                f"The {self.name} change failed ({what}). The previous {self.noun} was restored "
                f"(history version {entry.version})."
            )
            fix = cause.fix if cause else f"Check the {self.noun} and try again."
        else:
            message = (
                f"The {self.name} change failed ({what}) and the previous {self.noun} could NOT be restored "
                f"automatically. It is saved as history version {entry.version}."
            )
            fix = f"Roll back to it: {self.page} page, History, or `python -m r2 {self.slug} rollback {entry.version}`."
        self._audit(client, bucket, entry.actor, entry.action, "failed", message)
        return R2Error(message, fix, code=cause.code if cause else "ReadBackMismatch")

    def _audit(self, client: S3Client, bucket: str, actor: str, action: str, outcome: str, detail: str) -> str:
        """Write the audit event; returns "" or the reason it failed (the caller tells the user)."""
        try:
            record(client, bucket, AuditEvent(actor, action, f"{bucket} {self.name}", outcome, detail))
        except R2Error as err:
            return f"The change was made, but the audit log could not be written: {err}"
        return ""

    # ------------------------------------------------------------------------------------ lease
    def _take_lease(
        self,
        client: S3Client,
        bucket: str,
        version: str,
        new: T | None,
        expected: T | Unchecked | None,
        actor: str,
        action: str,
    ) -> str:
        """Claim the right to change the configuration; returns the lease's ETag. Another change in
        progress (or one that claimed the lease between our read and our write) refuses this one:
        StaleEdit showing what that change is setting, or Conflict when the caller did not say what it
        loaded."""
        etag, data = _read_lease(client, bucket, self.lease_key)
        busy = data.get("state") == "pending" and _age(data) < LEASE_SECONDS
        body = json.dumps(
            {
                "state": "pending",
                "version": version,
                "actor": actor,
                "at": datetime.now(UTC).isoformat(),
                "after": None if new is None else self.dump(new),
            }
        ).encode("utf-8")
        if not busy:
            try:
                with s3_errors(
                    f"start the {self.name} change",
                    target=f"the {self.name} change lease",
                    precondition="if-match" if etag else "if-none-match",
                ):
                    condition: dict[str, Any] = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
                    response = client.put_object(
                        Bucket=bucket, Key=self.lease_key, Body=body, ContentType="application/json", **condition
                    )
                    return str(response["ETag"])
            except (AlreadyExists, Conflict, NotFound):  # another writer claimed it first (or removed it): lost
                pass
            _, data = _read_lease(client, bucket, self.lease_key)
        self._audit(client, bucket, actor, action, "refused", f"another {self.name} change was in progress")
        if isinstance(expected, Unchecked):
            # A writer that died mid-change (a replica restarted, a killed command) leaves its lease
            # pending: say when it frees itself, so nobody has to guess or delete app data by hand.
            left = max(0, round(LEASE_SECONDS - _age(data))) if data.get("state") == "pending" else 0
            raise Conflict(
                f"Another {self.name} change is in progress (by {data.get('actor', 'someone')}). Nothing was changed.",
                f"Wait a moment, look at the live {self.noun} and try again"
                + (f"; if that change was interrupted, its lock frees itself within {left} s." if left else "."),
                code="Busy",
            )
        # The other change may have finished meanwhile (its lease already "done", naming no
        # configuration): then the difference to show is with the live configuration it left.
        if data.get("state") == "pending":
            after = data.get("after")
            raise StaleEdit(self, expected, None if after is None else self.load(after))
        raise StaleEdit(self, expected, self.read(client, bucket))

    def _release_lease(self, client: S3Client, bucket: str, etag: str) -> None:
        """Mark our lease done (only if it is still ours); a failure leaves it to expire."""
        body = json.dumps({"state": "done", "at": datetime.now(UTC).isoformat()}).encode("utf-8")
        with (
            contextlib.suppress(R2Error),
            s3_errors(f"release the {self.name} change lease", target="the lease", precondition="if-match"),
        ):
            client.put_object(
                Bucket=bucket, Key=self.lease_key, Body=body, ContentType="application/json", IfMatch=etag
            )

    # ------------------------------------------------------------------------------------ history
    def entry_from_json(self, text: str | bytes) -> HistoryEntry[T]:
        """One stored snapshot. Entries written before the lease existed may lack `action` and `after`."""
        data = json.loads(text)

        def value(raw: Any) -> T | None:
            return None if raw is None else self.load(raw)

        return HistoryEntry(
            version=data["version"],
            at=datetime.fromisoformat(data["at"]),
            actor=data["actor"],
            action=data.get("action", f"{self.slug}.apply"),
            reason=data.get("reason", ""),
            before=value(data["before"]),
            after=value(data.get("after")),
            dump=self.dump,
        )

    def history(self, client: S3Client, bucket: str, *, limit: int = 50) -> list[HistoryEntry[T]]:
        """The newest `limit` snapshots, newest first (one LIST per 1,000 versions, then one GET each)."""
        keys: list[str] = []
        with s3_errors(f"read the {self.name} history", target=f"the {self.name} history"):
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=self.history_prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
            return [
                self.entry_from_json(client.get_object(Bucket=bucket, Key=key)["Body"].read())
                for key in sorted(keys, reverse=True)[:limit]
            ]

    def get_version(self, client: S3Client, bucket: str, version: str) -> HistoryEntry[T]:
        unknown = NotFound(
            f"There is no {self.name} history version {version!r}.",
            f"See `{self.slug} history` for the versions.",
        )
        if not version or "/" in version or version.startswith("."):
            raise unknown
        try:
            with s3_errors(f"read the {self.name} history", target=f"history version {version}"):
                body = client.get_object(Bucket=bucket, Key=f"{self.history_prefix}{version}.json")["Body"].read()
        except NotFound as err:
            raise unknown from err
        return self.entry_from_json(body)

    def rollback(
        self,
        client: S3Client,
        bucket: str,
        version: str | None = None,
        *,
        actor: str,
        reason: str = "",
        expected: T | Unchecked | None = UNCHECKED,
    ) -> ChangeResult[T]:
        """Put back the configuration live before change `version` (default: undo the latest change)."""
        if version is None:
            entries = self.history(client, bucket, limit=1)
            if not entries:
                raise NotFound(f"There is no {self.name} history yet: nothing to roll back to.")
            entry = entries[0]
        else:
            entry = self.get_version(client, bucket, version)
        why = reason or f"rollback to the {self.noun} before version {entry.version}"
        return self.change(
            client, bucket, entry.before, actor=actor, reason=why, action=f"{self.slug}.rollback", expected=expected
        )
