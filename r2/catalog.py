"""The catalog: one row per object of the bucket, so people find images by what they know.

A Delta Lake table (delta-rs, `deltalake`) in the bucket under `.dashboard/catalog/`: Parquet files
plus a transaction log whose commits use R2's conditional PUT (`aws_conditional_put = "etag"`), so
several replicas, the command line and a sync can write at once without a lock service, and a
half-written commit is never read. Other engines (DuckDB, Spark, R2 SQL) read the same table.

The catalog is the app's index, never the source of truth: the bucket is. Every write path of the app
records what it changed (one commit per batch); `sync` repairs anything else by diffing one listing
of the bucket against the table. Queries run in process with DuckDB over the Arrow data, always
with bound parameters: search text is data, never SQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import BotoCoreError, ClientError
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from r2.client import S3Client, make_client
from r2.errors import InvalidInput, R2Error, Unavailable, translate
from r2.settings import RESERVED_PREFIX, Settings

CATALOG_PREFIX = f"{RESERVED_PREFIX}catalog/"
COMMIT_ATTEMPTS = 8  # concurrent writers: a commit that lost the race is retried on the new version
MAINTAIN_EVERY = 50  # versions between compaction + checkpoint (small commits make reads slow)
FRESH_SECONDS = 30.0  # a reader checks the log for new versions at most this often (as page caches do)

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("folder", pa.string()),
        ("size", pa.int64()),
        ("etag", pa.string()),
        ("last_modified", pa.timestamp("us", tz="UTC")),
        ("content_type", pa.string()),
        ("original_name", pa.string()),
        ("uploader", pa.string()),
        ("uploaded_at", pa.timestamp("us", tz="UTC")),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("has_thumbnail", pa.bool_()),
        ("sha256", pa.string()),
    ]
)
COLUMNS = tuple(SCHEMA.names)


@dataclass(frozen=True)
class Row:
    """What the catalog knows about one object. Unknown values are None (objects written by other tools)."""

    key: str
    size: int
    etag: str
    last_modified: datetime
    content_type: str | None = None
    original_name: str | None = None
    uploader: str | None = None
    uploaded_at: datetime | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    has_thumbnail: bool | None = None
    sha256: str | None = None

    @property
    def folder(self) -> str:
        return self.key.rsplit("/", 1)[0] + "/" if "/" in self.key else ""

    @property
    def display_name(self) -> str:
        return self.original_name or self.key.rsplit("/", 1)[-1]

    @property
    def by_line(self) -> str:
        """ "ann@example.com · 2026-11-01": who uploaded it and when (the modification date if not known)."""
        when = (self.uploaded_at or self.last_modified).strftime("%Y-%m-%d")
        return f"{self.uploader} · {when}" if self.uploader else when

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["folder"] = self.folder
        record["etag"] = self.etag.strip('"')
        return {name: record[name] for name in COLUMNS}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Row:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})


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
        self._table: DeltaTable | None = None
        self._checked = 0.0
        self._data: tuple[int, pa.Table] | None = None

    # ---------------------------------------------------------------------------------------- reading
    def _load(self, *, refresh: bool) -> DeltaTable | None:
        with self._lock:
            now = time.monotonic()
            if self._table is not None and not refresh and now - self._checked < self._fresh_seconds:
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
        """Every row as Arrow, cached per table version (a search never lists the bucket)."""
        table = self._load(refresh=refresh)
        if table is None:
            return SCHEMA.empty_table()
        version = int(table.version())
        cached = self._data
        if cached is not None and cached[0] == version:
            return cached[1]
        try:
            data = table.to_pyarrow_table(columns=list(COLUMNS))
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
        return {r["key"]: Row.from_record(r) for r in found.to_pylist()}

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
        try:
            head = self._client.head_object(Bucket=self._settings.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, action="read when the catalog was updated", target=key) from exc
        moment: datetime = head["LastModified"]
        self._stamp = (version, moment)
        return moment

    # ---------------------------------------------------------------------------------------- writing
    def record(self, upserts: Iterable[Row] = (), removals: Iterable[str] = ()) -> int:
        """Insert or replace `upserts` and drop `removals` (keys) in one commit; returns the new version.

        A commit that loses a race with another writer is retried on the newer version, so no writer's
        rows are lost. Creates the table on first use.
        """
        records = [row.as_record() for row in upserts]
        gone = sorted(set(removals) - {r["key"] for r in records})
        if not records and not gone:
            return self.version(refresh=True) or 0
        source = _source(records, gone)
        with self._write_lock:
            return self._record(source, records)

    def _record(self, source: pa.Table, records: list[dict[str, Any]]) -> int:
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                version = self._commit(source, records)
            except CommitFailedError:
                time.sleep(0.05 * (attempt + 1))
                continue
            except R2Error:
                raise
            except Exception as exc:
                raise _failure("update the catalog", exc) from exc
            self._maybe_maintain(version)
            return version
        raise Unavailable(
            "Could not update the catalog: other writers kept changing it at the same moment.",
            "The objects themselves are stored; the next catalog sync records them.",
        )

    def _commit(self, source: pa.Table, records: list[dict[str, Any]]) -> int:
        table = self._load(refresh=True)
        if table is None:
            rows = pa.Table.from_pylist(records, schema=SCHEMA)
            try:
                write_deltalake(self.uri, rows, mode="error", storage_options=self._options)
            except Exception as exc:  # another writer created it first: merge into theirs
                if "exist" not in str(exc).lower():
                    raise
                return self._commit(source, records)
            return int(self._load(refresh=True).version())  # type: ignore[union-attr]
        updates = {name: f"s.{name}" for name in COLUMNS}
        (
            table.merge(source, "t.key = s.key", source_alias="s", target_alias="t")
            .when_matched_delete(predicate="s._remove")
            .when_matched_update(updates=updates, predicate="NOT s._remove")
            .when_not_matched_insert(updates=updates, predicate="NOT s._remove")
            .execute()
        )
        return int(table.version())

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


# -------------------------------------------------------------------------------------------- search
MAX_NUMBER = 2**53  # sizes, dimensions and offsets beyond this are no real search (and overflow SQL's BIGINT)

SORTS = {
    "newest": "coalesce(uploaded_at, last_modified) DESC, key",
    "oldest": "coalesce(uploaded_at, last_modified) ASC, key",
    "largest": "size DESC, key",
    "smallest": "size ASC, key",
    "name": "lower(coalesce(original_name, key)) ASC, key",
}


@dataclass(frozen=True)
class Search:
    """What a person knows about an image. Every field is optional; all given ones must match."""

    name: str = ""  # part of the original name (or of the key when none is recorded), any case
    uploader: str = ""  # part of the uploader's email or name, any case
    folder: str = ""  # "team/" ; with subfolders unless `exact_folder`
    exact_folder: bool = False
    type: str = ""  # format (JPEG) or content type (image/jpeg)
    since: datetime | None = None  # uploaded (or modified, for objects of other tools) at or after
    until: datetime | None = None  # ... and before
    min_size: int | None = None
    max_size: int | None = None
    min_width: int | None = None
    min_height: int | None = None
    sort: str = "newest"
    limit: int = 60
    offset: int = 0


@dataclass(frozen=True)
class SearchPage:
    rows: tuple[Row, ...]
    total: int  # how many match, over every page
    version: int | None  # the catalog version answered from (None: no catalog yet)


def _where(search: Search) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if search.name:
        clauses.append("contains(lower(coalesce(original_name, key)), lower(?))")
        params.append(search.name)
    if search.uploader:
        clauses.append("contains(lower(coalesce(uploader, '')), lower(?))")
        params.append(search.uploader)
    if search.folder:
        folder = search.folder if search.folder.endswith("/") else search.folder + "/"
        clauses.append("folder = ?" if search.exact_folder else "starts_with(folder, ?)")
        params.append(folder)
    if search.type:
        clauses.append("(upper(coalesce(format, '')) = upper(?) OR lower(coalesce(content_type, '')) = lower(?))")
        params += [search.type, search.type]
    when = "coalesce(uploaded_at, last_modified)"
    for moment, op in ((search.since, ">="), (search.until, "<")):
        if moment is not None:
            clauses.append(f"{when} {op} ?")
            params.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    for limit, column, op in (
        (search.min_size, "size", ">="),
        (search.max_size, "size", "<="),
        (search.min_width, "width", ">="),
        (search.min_height, "height", ">="),
    ):
        if limit is not None:
            clauses.append(f"{column} {op} ?")
            params.append(int(limit))
    return (" AND ".join(clauses) or "TRUE"), params


def search(catalog: Catalog, query: Search) -> SearchPage:
    """One page of matches, answered from the catalog in process (no request to the bucket's listing)."""
    if query.sort not in SORTS:
        raise InvalidInput(f"Unknown sort {query.sort!r}.", f"Use one of: {', '.join(SORTS)}.")
    if not 1 <= query.limit <= 1000 or not 0 <= query.offset <= MAX_NUMBER:
        raise InvalidInput("A page holds 1 to 1,000 results and starts at 0 or later.")
    numbers = (query.min_size, query.max_size, query.min_width, query.min_height)
    if any(n is not None and not 0 <= n <= MAX_NUMBER for n in numbers):  # from a URL: anything can come
        raise InvalidInput("Sizes and dimensions are whole numbers from 0 up.", "Correct the number in the search.")
    data = catalog.data()
    where, params = _where(query)
    con = duckdb.connect()
    try:
        con.register("catalog", data)
        # One scan: the page and the number of matches (a window count) together.
        result = con.sql(
            f"SELECT *, count(*) OVER () AS _total FROM catalog WHERE {where} "  # noqa: S608  clauses ours, values bound
            f"ORDER BY {SORTS[query.sort]} LIMIT ? OFFSET ?",
            params=[*params, query.limit, query.offset],
        ).to_arrow_table()
        if result.num_rows:
            total = int(result["_total"][0].as_py())
        else:  # past the last page (or nothing matches): count alone
            counted = con.sql(f"SELECT count(*) FROM catalog WHERE {where}", params=params).fetchall()  # noqa: S608
            total = int(counted[0][0])
        result = result.drop_columns(["_total"])
    finally:
        con.close()
    rows = tuple(Row.from_record(r) for r in result.to_pylist())
    return SearchPage(rows=rows, total=total, version=catalog.version())
