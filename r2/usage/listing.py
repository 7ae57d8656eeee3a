"""Listing engines for the usage scan: obstore (fast, the default) and boto3 (complete metadata).

Measured on these machines (docs/bench/usage.md): boto3 spends most of a scan parsing XML in Python
(~100 ms per 1,000-key page), while obstore's Rust core lists the same bucket several times faster.
So the scan lists with obstore; boto3 stays the client for everything else (and the fallback here).

Two gaps of obstore, both handled:
- It reports no StorageClass, so the obstore engine records class "unreported" (the boto3 engine
  reports STANDARD / STANDARD_IA).
- Its path type refuses keys with an empty, "." or ".." segment or a control character ("a//b.png")
  and fails the whole listing. The scan then lists that prefix again with boto3 (see UsageScan).
Both engines yield pages of `Entry` tuples in key order and accept `start_after`, so a scan can resume.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

from r2.client import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, S3Client
from r2.errors import AccessDenied, NotFound, R2Error, Unavailable, s3_errors
from r2.settings import Settings, _is_loopback

PAGE_SIZE = 1000  # ListObjectsV2's maximum keys per call (one Class A operation each)
UNREPORTED = "unreported"


class Entry(NamedTuple):
    key: str
    size: int
    last_modified: datetime
    storage_class: str


class Lister(Protocol):
    """Lists a bucket. Implementations must be safe to call from several threads at once."""

    name: str

    def top_level(self, prefix: str = "") -> tuple[list[str], list[Entry]]:
        """Sub-prefixes (ending in '/') and the objects directly under `prefix` (delimiter '/')."""
        ...

    def pages(self, prefix: str, start_after: str | None = None) -> Iterator[list[Entry]]:
        """Every object under `prefix` (recursively) after `start_after`, one page at a time."""
        ...


class PathNotSupported(R2Error):
    """obstore cannot represent a key under this prefix: list it with boto3 instead."""


# ---------------------------------------------------------------------------------------- boto3


class Boto3Lister:
    name = "boto3"

    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def top_level(self, prefix: str = "") -> tuple[list[str], list[Entry]]:
        prefixes: list[str] = []
        entries: list[Entry] = []
        with s3_errors("list the bucket", target="the bucket"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
                entries.extend(_boto_entry(o) for o in page.get("Contents", []))
        return prefixes, entries

    def peek(self, prefix: str) -> tuple[list[str], list[Entry]] | None:
        """One delimiter LIST page of `prefix`: its sub-prefixes and direct objects, or None when the
        level holds more than one page (then it is cheaper to list it as a whole)."""
        with s3_errors("list the bucket", target="the bucket"):
            page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, Delimiter="/", MaxKeys=PAGE_SIZE)
        if page.get("IsTruncated"):
            return None
        prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        return prefixes, [_boto_entry(o) for o in page.get("Contents", [])]

    def pages(self, prefix: str, start_after: str | None = None) -> Iterator[list[Entry]]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": PAGE_SIZE}
        if start_after:
            params["StartAfter"] = start_after
        while True:
            with s3_errors("list the bucket", target="the bucket"):
                page = self.client.list_objects_v2(**params)
            entries = [_boto_entry(o) for o in page.get("Contents", [])]
            if entries:
                yield entries
            if not page.get("IsTruncated"):
                return
            params.pop("StartAfter", None)
            params["ContinuationToken"] = page["NextContinuationToken"]


def _boto_entry(obj: Mapping[str, Any]) -> Entry:
    return Entry(obj["Key"], int(obj["Size"]), obj["LastModified"], obj.get("StorageClass") or "STANDARD")


# -------------------------------------------------------------------------------------- obstore


def obstore_store(settings: Settings) -> Any:
    """An obstore S3Store configured from Settings: the one place obstore is set up.

    Path-style requests (R2 and local servers), region auto, the app's timeouts, and plain http only
    for a loopback endpoint (the embedded/test server). Creating it does not connect.
    """
    from obstore.store import S3Store

    host = urlsplit(settings.endpoint).hostname or ""
    return S3Store(
        settings.bucket,
        endpoint=settings.endpoint,
        access_key_id=settings.access_key_id,
        secret_access_key=settings.secret_access_key,
        region="auto",
        virtual_hosted_style_request=False,
        client_options={
            "allow_http": _is_loopback(host),
            "connect_timeout": timedelta(seconds=CONNECT_TIMEOUT_S),
            "timeout": timedelta(seconds=READ_TIMEOUT_S),
        },
        retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=60)},
    )


def translate_obstore(exc: BaseException, *, action: str = "list the bucket") -> R2Error:
    """obstore's exceptions as R2Errors. Its messages (which can name URLs) are never copied."""
    from obstore import exceptions as oe

    if isinstance(exc, R2Error):
        return exc
    if isinstance(exc, oe.InvalidPathError):
        return PathNotSupported(f"Could not {action} with the fast lister: a key has an unusual path.", code="Path")
    if isinstance(exc, oe.NotFoundError):
        return NotFound(
            f"Could not {action}: the bucket does not exist.",
            "Check R2_BUCKET and that the endpoint is the right account and jurisdiction.",
            code="NoSuchBucket",
        )
    if isinstance(exc, (oe.PermissionDeniedError, oe.UnauthenticatedError)):
        return AccessDenied(
            f"Could not {action}: access denied.",
            "Check R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY and that the token may read this bucket.",
            code="AccessDenied",
        )
    text = str(exc).lower()
    if "nosuchbucket" in text:
        return NotFound(f"Could not {action}: the bucket does not exist.", "Check R2_BUCKET.", code="NoSuchBucket")
    # 403 as a status on its own: the message also holds the endpoint's URL, whose port may contain "403".
    if re.search(r"\b403\b", text) or "forbidden" in text or "signature" in text or "accessdenied" in text:
        return AccessDenied(
            f"Could not {action}: access denied.",
            "Check R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY and that the token may read this bucket.",
            code="AccessDenied",
        )
    return Unavailable(
        f"Could not {action}: the endpoint failed or did not answer ({type(exc).__name__}).",
        "Check R2_ENDPOINT and the network; the Health page tests reachability. The scan can be resumed.",
        code=type(exc).__name__,
    )


class ObstoreLister:
    name = "obstore"

    def __init__(self, store: Any) -> None:
        self.store = store

    @classmethod
    def from_settings(cls, settings: Settings) -> ObstoreLister:
        return cls(obstore_store(settings))

    def top_level(self, prefix: str = "") -> tuple[list[str], list[Entry]]:
        try:
            result = self.store.list_with_delimiter(_obstore_prefix(prefix))
        except Exception as exc:
            raise translate_obstore(exc) from exc
        prefixes = [p.rstrip("/") + "/" for p in result["common_prefixes"]]
        return prefixes, [_obstore_entry(m) for m in result["objects"]]

    def pages(self, prefix: str, start_after: str | None = None) -> Iterator[list[Entry]]:
        import obstore

        # obstore's prefixes are whole path segments: "p00" lists "p00/...", never "p00x".
        stream = obstore.list(self.store, _obstore_prefix(prefix), offset=start_after, chunk_size=PAGE_SIZE)
        while True:
            try:
                chunk = next(stream)
            except StopIteration:
                return
            except Exception as exc:
                raise translate_obstore(exc) from exc
            yield [_obstore_entry(m) for m in chunk]


def _obstore_prefix(prefix: str) -> str | None:
    """obstore's form of a folder prefix ("a/b/" -> "a/b"), or PathNotSupported when it has none."""
    if not prefix:
        return None
    path = prefix[:-1] if prefix.endswith("/") else prefix
    if any(part in ("", ".", "..") for part in path.split("/")) or any(ord(ch) < 32 for ch in path):
        raise PathNotSupported("The fast lister cannot list this folder.", code="Path")
    return path


def _obstore_entry(meta: Any) -> Entry:
    modified = meta["last_modified"]
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    return Entry(meta["path"], int(meta["size"]), modified, UNREPORTED)


def make_lister(engine: str, settings: Settings, client: S3Client) -> Lister:
    """`obstore` (fast; no storage classes) or `boto3` (slower; reports storage classes)."""
    if engine == "boto3":
        return Boto3Lister(client, settings.bucket)
    if engine == "obstore":
        return ObstoreLister.from_settings(settings)
    raise ValueError(f"unknown listing engine {engine!r}")
