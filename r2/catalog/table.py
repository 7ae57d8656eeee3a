"""The catalog: one row per object of the bucket, so people find images by what they know.

A Delta Lake table (delta-rs, `deltalake`) in the bucket under `.dashboard/catalog/`: Parquet files
plus a transaction log whose commits use R2's conditional PUT (`aws_conditional_put = "etag"`), so
several replicas, the command line and a sync can write at once without a lock service, and a
half-written commit is never read. Other engines (DuckDB, Spark, R2 SQL) read the same table.

The catalog is the app's index, never the source of truth: the bucket is. Every write path of the app
records what it changed (one commit per batch); `sync` repairs anything else by diffing one listing
of the bucket against the table. Each version is read once into a lean Arrow table in memory
(`r2.catalog.rows`) that searches scan in process (`r2.catalog.query`); reports use DuckDB over it.

A commit that removes keys names them in its commit info (`r2.removed`, a standard custom field of
the Delta log), so a sync about to record what it read can tell which of those objects the app
deleted meanwhile and leave them out (`record(..., unless_removed_since=version)`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from r2.catalog.rows import COLUMNS, SCHEMA, Row, empty_memory, read_lean, rows_of
from r2.client import S3Client, make_client
from r2.errors import NotFound, R2Error, Unavailable, s3_errors
from r2.settings import RESERVED_PREFIX, Settings

CATALOG_PREFIX = f"{RESERVED_PREFIX}catalog/"
COMMIT_ATTEMPTS = 8  # concurrent writers: a commit that lost the race is retried on the new version
MAINTAIN_EVERY = 50  # versions between compaction + checkpoint (small commits make reads slow)
FRESH_SECONDS = 30.0  # a reader checks the log for new versions at most this often (as page caches do)
REMOVED = "r2.removed"  # commit info field: the keys a commit removed (JSON list)


def storage_options(settings: Settings) -> dict[str, str]:
    """delta-rs's object-store settings for the bucket (its own HTTP client, same credentials)."""
    options = {
        "AWS_ENDPOINT_URL": settings.endpoint,
        "AWS_ACCESS_KEY_ID": settings.access_key_id,
        "AWS_SECRET_ACCESS_KEY": settings.secret_access_key,
        "AWS_REGION": "auto",
        # R2 supports conditional PUT: delta-rs commits with If-None-Match, no DynamoDB lock needed.
        "aws_conditional_put": "etag",
    }
    if settings.endpoint.startswith("http://"):
        options["AWS_ALLOW_HTTP"] = "true"  # the settings allow http:// only on loopback
    return options


def _failure(action: str, exc: BaseException) -> R2Error:
    # delta-rs errors can quote the request; keep the message generic (no URLs, no credentials).
    return Unavailable(
        f"Could not {action}: the catalog in the bucket did not answer as expected ({type(exc).__name__}).",
        "Try again; if it persists, run `python -m r2 catalog sync` (admins) to rebuild it from a listing.",
    )


class Catalog:
    """The catalog table of one bucket. Thread-safe; one instance per process and bucket is enough."""

    def __init__(
        self,
        settings: Settings,
        client: S3Client | None = None,
        *,
        fresh_seconds: float = FRESH_SECONDS,
        local_path: str | None = None,
    ) -> None:
        # `local_path`: a table in a local folder instead of the bucket (benchmarks; copies for analysis).
        self.uri = local_path or f"s3://{settings.bucket}/{CATALOG_PREFIX}".rstrip("/")
        self._settings = settings
        self._client = client  # for the commit time (one HEAD per version); made on first use if not given
        self._stamp: tuple[int, datetime] | None = None
        self._options = {} if local_path else storage_options(settings)
        self._fresh_seconds = fresh_seconds
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # this process's writers take turns (other processes: retries)
        self._read_lock = threading.Lock()
        self._table: DeltaTable | None = None
        self._checked: float | None = None  # when the log was last read (None: never)
        self._data: tuple[int, pa.Table] | None = None

    # ---------------------------------------------------------------------------------------- reading
    def _load(self, *, refresh: bool) -> DeltaTable | None:
        with self._lock:
            now = time.monotonic()
            # "No catalog yet" is kept as long as a version is: a page visit asks the bucket at most once.
            if self._checked is not None and not refresh and now - self._checked < self._fresh_seconds:
                return self._table
            try:
                if self._table is None:
                    self._table = DeltaTable(self.uri, storage_options=self._options)
                else:
                    self._table.update_incremental()
            except TableNotFoundError:
                self._table = None
            except Exception as exc:  # delta-rs raises its own and OSError-like errors
                raise _failure("read the catalog", exc) from exc
            self._checked = now
            return self._table

    def version(self, *, refresh: bool = False) -> int | None:
        """The table's version (None: no catalog yet)."""
        table = self._load(refresh=refresh)
        return None if table is None else int(table.version())

    def data(self, *, refresh: bool = False) -> pa.Table:
        """Every row in the lean in-memory form (`rows.MEMORY_SCHEMA`), read once per table version.

        A search never lists the bucket; only a new version (someone's commit) is read again.
        """
        table = self._load(refresh=refresh)
        if table is None:
            return empty_memory()
        version = int(table.version())
        with self._read_lock:  # one reader per process reads a new version; the others wait for it
            cached = self._data
            if cached is not None and cached[0] == version:
                return cached[1]
            self._data = None  # the old version's memory goes before the new one is read
            try:
                files = table.to_pyarrow_dataset()
                data = read_lean(list(files.files), files.filesystem)
            except Exception as exc:
                raise _failure("read the catalog", exc) from exc
            self._data = (version, data)
            return data

    def lookup(self, keys: Iterable[str]) -> dict[str, Row]:
        """The rows of these keys (a page of Browse), from the cached table: no request per key.

        At most one request to the bucket: the transaction log's check for a newer version, which
        happens once per `fresh_seconds` for the whole process.
        """
        wanted = list(dict.fromkeys(keys))
        data = self.data()
        if not wanted or data.num_rows == 0:
            return {}
        found = data.filter(pc.is_in(data["key"], value_set=pa.array(wanted, pa.string())))
        return {row.key: row for row in rows_of(found)}

    def updated_at(self) -> datetime | None:
        """When the newest commit was made (how fresh the catalog is): the commit file's Last-Modified.

        Not `DeltaTable.history()`: delta-rs 1.6 holds the GIL through that call's HTTP requests, which
        stalls every other thread of the process meanwhile (all Streamlit sessions) and deadlocks outright
        when the S3 server answers from the same process (the local demo bucket, the tests). One HEAD per
        new version instead (cached), through boto3, which releases the GIL while it waits.
        """
        version = self.version()
        if version is None:
            return None
        stamp = self._stamp
        if stamp is not None and stamp[0] == version:
            return stamp[1]
        if self._client is None:
            self._client = make_client(self._settings)
        key = f"{CATALOG_PREFIX}_delta_log/{version:020d}.json"
        with s3_errors("read when the catalog was updated", target=key):
            head = self._client.head_object(Bucket=self._settings.bucket, Key=key)
        moment: datetime = head["LastModified"]
        self._stamp = (version, moment)
        return moment

    # ---------------------------------------------------------------------------------------- writing
    def record(self, upserts: Iterable[Row] = (), removals: Iterable[str] = ()) -> int | None:
        """Insert or replace `upserts` and drop `removals` (keys) in one commit; returns the new version.

        A commit that loses a race with another writer is retried on the newer version, so no writer's
        rows are lost. Creates the table on first use, but not for removals alone: no catalog yet stays
        none (None is returned).
        """
        return self.record_read(upserts, removals, read_since=None)[0]

    def record_read(
        self, upserts: Iterable[Row], removals: Iterable[str] = (), *, read_since: int | None
    ) -> tuple[int | None, frozenset[str]]:
        """`record` for rows read from the bucket (a sync) after version `read_since` was current.

        Upserts of keys that a commit after `read_since` removed are left out (the app deleted those
        objects after they were read), and the commit lands only directly on the version whose log was
        checked. Returns the new version and the keys left out.
        """
        records = [row.as_record() for row in upserts]
        gone = sorted(set(removals) - {r["key"] for r in records})
        if not records and not gone:
            return self.version(refresh=True), frozenset()
        with self._write_lock:
            for attempt in range(COMMIT_ATTEMPTS):
                try:
                    version, left_out = self._commit(records, gone, read_since)
                except CommitFailedError:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                except R2Error:
                    raise
                except Exception as exc:
                    raise _failure("update the catalog", exc) from exc
                if version is not None:
                    self._maybe_maintain(version)
                return version, left_out
        raise Unavailable(
            "Could not update the catalog: other writers kept changing it at the same moment.",
            "The objects themselves are stored; the next catalog sync records them.",
        )

    def _commit(
        self, records: list[dict[str, Any]], gone: list[str], since: int | None
    ) -> tuple[int | None, frozenset[str]]:
        table = self._load(refresh=True)
        if table is None:
            if not records:
                return None, frozenset()  # removals from a catalog that does not exist: nothing to record
            rows = pa.Table.from_pylist(records, schema=SCHEMA)
            try:
                write_deltalake(self.uri, rows, mode="error", storage_options=self._options)
            except Exception as exc:  # another writer created it first: merge into theirs
                if "exist" not in str(exc).lower():
                    raise
                return self._commit(records, gone, since)
            return self.version(refresh=True), frozenset()
        before = int(table.version())
        conditional = since is not None
        left_out: frozenset[str] = frozenset()
        if since is not None and since < before:
            removed = self.removed_between(since, before)
            left_out = frozenset(r["key"] for r in records if r["key"] in removed)
            records = [r for r in records if r["key"] not in left_out]
            if not records and not gone:
                return before, left_out
        properties = CommitProperties(
            custom_metadata={REMOVED: json.dumps(gone)} if gone else None,
            max_commit_retries=0 if conditional else None,  # land on the version checked, or try again
        )
        updates = {name: f"s.{name}" for name in COLUMNS}
        (
            table.merge(
                _source(records, gone),
                "t.key = s.key",
                source_alias="s",
                target_alias="t",
                commit_properties=properties,
            )
            .when_matched_delete(predicate="s._remove")
            .when_matched_update(updates=updates, predicate="NOT s._remove")
            .when_not_matched_insert(updates=updates, predicate="NOT s._remove")
            .execute()
        )
        if gone and int(table.version()) == before:
            # Nothing matched (keys the catalog never had): delta-rs made no commit. The removal is still
            # written down, as an empty append carrying the keys, so a sync that read them leaves them out.
            write_deltalake(table, SCHEMA.empty_table(), mode="append", commit_properties=properties)
        return int(table.version()), left_out

    def removed_between(self, old: int, new: int) -> set[str]:
        """Keys that the commits after version `old` up to `new` removed (their commit info says so)."""
        removed: set[str] = set()
        for version in range(old + 1, new + 1):
            for line in self._log_entry(version).splitlines():
                info = json.loads(line).get("commitInfo") if line.strip() else None
                if info and REMOVED in info:
                    removed.update(json.loads(info[REMOVED]))
        return removed

    def _log_entry(self, version: int) -> str:
        name = f"_delta_log/{version:020d}.json"
        if not self.uri.startswith("s3://"):
            return (Path(self.uri) / name).read_text(encoding="utf-8")
        if self._client is None:
            self._client = make_client(self._settings)
        key = f"{CATALOG_PREFIX}{name}"
        try:
            with s3_errors("read the catalog's log", target=key):
                body = self._client.get_object(Bucket=self._settings.bucket, Key=key)["Body"].read()
        except NotFound:
            return ""  # removed by log cleanup: older than any sync in progress
        return str(body.decode("utf-8"))

    def _maybe_maintain(self, version: int) -> None:
        if version == 0 or version % MAINTAIN_EVERY:
            return
        self.maintain()

    def maintain(self) -> None:
        """Compact small files, write a checkpoint, and remove files no version needs (older than 7 days)."""
        table = self._load(refresh=True)
        if table is None:
            return
        try:
            table.optimize.compact()
            table.create_checkpoint()
            table.vacuum(retention_hours=168, dry_run=False, enforce_retention_duration=False)
        except CommitFailedError:
            pass  # another writer changed the table meanwhile: the next maintenance round does it
        except Exception as exc:
            raise _failure("compact the catalog", exc) from exc


def note(catalog: Catalog | None, upserts: Iterable[Row] = (), removals: Iterable[str] = ()) -> str | None:
    """Record the app's own change right after it was made; None, or a warning to show when it failed.

    Never raises: the change to the bucket stands either way, and the next sync repairs the catalog
    (it diffs a listing by ETag and size), so a failure is said, not hidden and not fatal.
    """
    rows, gone = list(upserts), list(removals)
    if catalog is None or not (rows or gone):
        return None
    try:
        catalog.record(rows, gone)
    except R2Error as exc:
        return f"The catalog was not updated ({exc.message}); the next catalog sync records it."
    return None


def forget_deleted(catalog: Catalog | None, keys: Iterable[str]) -> str | None:
    """Drop deleted objects from the catalog (one commit); None, or a warning (see `note`)."""
    return note(catalog, removals=keys)


def note_thumbnails(catalog: Catalog | None, keys: Iterable[str]) -> str | None:
    """Thumbnails were (re)made for these keys: their rows say so (one commit); None, or a warning."""
    if catalog is None:
        return None
    try:
        rows = catalog.lookup(keys)
    except R2Error as exc:
        return f"The catalog was not updated ({exc.message}); the next catalog sync records it."
    return note(catalog, [replace(row, has_thumbnail=True) for row in rows.values()])


def _source(records: list[dict[str, Any]], gone: Sequence[str]) -> pa.Table:
    """The MERGE source: rows to upsert plus key-only rows to remove, told apart by `_remove`."""
    blank: dict[str, Any] = dict.fromkeys(COLUMNS)
    rows = [{**r, "_remove": False} for r in records] + [{**blank, "key": k, "_remove": True} for k in gone]
    return pa.Table.from_pylist(rows, schema=SCHEMA.append(pa.field("_remove", pa.bool_())))
