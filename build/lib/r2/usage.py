"""What the bucket holds: a streaming, parallel, resumable scan and its aggregates, plus cost.

- `Aggregator` folds listing entries into groups as they stream by: memory grows with the number of
  groups (folders, types, months, storage classes: capped at `max_groups` each) plus the top-N heap,
  never with the number of objects.
- `UsageScan` lists the bucket: one delimiter LIST finds the top-level folders, then each folder is
  listed on its own thread (R2's latency, not CPU, bounds a sequential scan). Each folder keeps its
  own partial aggregate and the last key it counted, so after a failure or a cancel `run()` again
  continues where it stopped and the final totals are exact (nothing counted twice or missed).
- Progress is reported from the calling thread (safe for Streamlit), cancel via `should_stop`.
- Keys under the app's reserved prefixes (`r2.naming.HIDDEN_PREFIXES`) are counted in the totals
  (they are billed) but kept out of the folder/type/month breakdowns and reported separately.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from r2.client import S3Client
from r2.errors import R2Error, translate
from r2.naming import HIDDEN_PREFIXES
from r2.settings import Settings
from r2.usage_listing import Boto3Lister, Entry, Lister, PathNotSupported

OTHER = "(other)"
ROOT = "(top level)"
NO_EXTENSION = "(none)"
FREE_STORAGE_GB = 10.0  # R2 free tier per month: 10 GB-month storage, 1M Class A, 10M Class B
FREE_CLASS_A = 1_000_000
FREE_CLASS_B = 10_000_000
GB = 1_000_000_000  # R2 bills decimal gigabytes
MAX_DISCOVERY_LEVELS = 3  # how deep the scan looks for folders to list in parallel
DEFAULT_WORKERS = 32  # parallel folder listings (R2 latency bound; obstore releases the GIL)


@dataclass
class Group:
    objects: int = 0
    bytes: int = 0

    def add(self, size: int, count: int = 1) -> None:
        self.objects += count
        self.bytes += size

    def as_dict(self) -> dict[str, int]:
        return {"objects": self.objects, "bytes": self.bytes}


def prefix_of(key: str, depth: int) -> str:
    """The folder of `key` at `depth` levels ("a/b/" for a/b/c/x.png at depth 2), or ROOT."""
    parts = key.split("/")[:-1]
    if not parts:
        return ROOT
    return "/".join(parts[:depth]) + "/"


def type_of(key: str) -> str:
    """The file type from the key's extension (LIST has no content type; a HEAD each costs Class B)."""
    name = key.rsplit("/", 1)[-1]
    if "." not in name.strip("."):
        return NO_EXTENSION
    ext = name.rsplit(".", 1)[-1].lower()
    if not ext or len(ext) > 10 or not ext.isalnum():
        return OTHER
    return {"jpeg": "jpg", "tif": "tiff"}.get(ext, ext)


def _reserved(key: str) -> str | None:
    for prefix in HIDDEN_PREFIXES:
        if key.startswith(prefix):
            return prefix
    return None


class Aggregator:
    """Streams entries into totals and groups. Not thread-safe: one per thread, then `merge`."""

    def __init__(self, depth: int = 1, top_n: int = 20, max_groups: int = 10_000) -> None:
        if depth < 1:
            raise ValueError("depth must be >= 1")
        self.depth = depth
        self.top_n = top_n
        self.max_groups = max_groups
        self.total = Group()
        self.by_prefix: dict[str, Group] = {}
        self.by_type: dict[str, Group] = {}
        self.by_month: dict[str, Group] = {}
        self.by_class: dict[str, Group] = {}
        self.reserved: dict[str, Group] = {}
        self.largest: list[tuple[int, str, str]] = []  # min-heap of (size, key, last modified ISO)

    def _group(self, groups: dict[str, Group], name: str) -> Group:
        group = groups.get(name)
        if group is None:
            if len(groups) >= self.max_groups:
                name = OTHER
                group = groups.get(name)
            if group is None:
                group = groups[name] = Group()
        return group

    def add(self, entry: Entry) -> None:
        key, size = entry.key, entry.size
        self.total.add(size)
        self._group(self.by_class, entry.storage_class).add(size)
        reserved = _reserved(key)
        if reserved is not None:
            self._group(self.reserved, reserved).add(size)
            return
        self._group(self.by_prefix, prefix_of(key, self.depth)).add(size)
        self._group(self.by_type, type_of(key)).add(size)
        self._group(self.by_month, entry.last_modified.astimezone(UTC).strftime("%Y-%m")).add(size)
        item = (size, key, entry.last_modified.isoformat())
        if len(self.largest) < self.top_n:
            heapq.heappush(self.largest, item)
        elif item > self.largest[0]:
            heapq.heapreplace(self.largest, item)

    def add_all(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.add(entry)

    def merge(self, other: Aggregator) -> None:
        self.total.add(other.total.bytes, other.total.objects)
        for mine, theirs in (
            (self.by_prefix, other.by_prefix),
            (self.by_type, other.by_type),
            (self.by_month, other.by_month),
            (self.by_class, other.by_class),
            (self.reserved, other.reserved),
        ):
            for name, group in theirs.items():
                self._group(mine, name).add(group.bytes, group.objects)
        for item in other.largest:
            if len(self.largest) < self.top_n:
                heapq.heappush(self.largest, item)
            elif item > self.largest[0]:
                heapq.heapreplace(self.largest, item)


@dataclass(frozen=True)
class LargeObject:
    key: str
    bytes: int
    last_modified: str


@dataclass(frozen=True)
class IncompleteUpload:
    key: str
    initiated: str


@dataclass(frozen=True)
class UsageReport:
    """A completed (or partial) scan, as saved in a snapshot and printed by `python -m r2 usage`."""

    bucket: str
    scanned_at: datetime
    depth: int
    objects: int
    bytes: int
    by_prefix: dict[str, dict[str, int]]
    by_type: dict[str, dict[str, int]]
    by_month: dict[str, dict[str, int]]
    by_storage_class: dict[str, dict[str, int]]
    reserved: dict[str, dict[str, int]]
    largest: tuple[LargeObject, ...]
    incomplete_uploads: tuple[IncompleteUpload, ...] = ()
    incomplete_uploads_truncated: bool = False
    list_calls: int = 0
    seconds: float = 0.0
    engine: str = ""
    complete: bool = True

    @classmethod
    def from_aggregator(cls, agg: Aggregator, *, bucket: str, **extra: Any) -> UsageReport:
        def table(groups: dict[str, Group]) -> dict[str, dict[str, int]]:
            ordered = sorted(groups.items(), key=lambda kv: (-kv[1].bytes, kv[0]))
            return {name: g.as_dict() for name, g in ordered}

        largest = tuple(LargeObject(k, s, m) for s, k, m in sorted(agg.largest, reverse=True))
        return cls(
            bucket=bucket,
            scanned_at=extra.pop("scanned_at", datetime.now(UTC)),
            depth=agg.depth,
            objects=agg.total.objects,
            bytes=agg.total.bytes,
            by_prefix=table(agg.by_prefix),
            by_type=table(agg.by_type),
            by_month=dict(sorted(table(agg.by_month).items())),
            by_storage_class=table(agg.by_class),
            reserved=table(agg.reserved),
            largest=largest,
            **extra,
        )

    def to_dict(self, settings: Settings | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "bucket": self.bucket,
            "scanned_at": self.scanned_at.isoformat(),
            "depth": self.depth,
            "objects": self.objects,
            "bytes": self.bytes,
            "by_prefix": self.by_prefix,
            "by_type": self.by_type,
            "by_month": self.by_month,
            "by_storage_class": self.by_storage_class,
            "reserved": self.reserved,
            "largest": [{"key": o.key, "bytes": o.bytes, "last_modified": o.last_modified} for o in self.largest],
            "incomplete_uploads": [{"key": u.key, "initiated": u.initiated} for u in self.incomplete_uploads],
            "incomplete_uploads_truncated": self.incomplete_uploads_truncated,
            "list_calls": self.list_calls,
            "seconds": round(self.seconds, 3),
            "engine": self.engine,
            "complete": self.complete,
        }
        if settings is not None:
            data["estimated_monthly_cost_usd"] = round(estimate_cost(self.bytes, settings).storage_usd, 4)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UsageReport:
        return cls(
            bucket=data["bucket"],
            scanned_at=datetime.fromisoformat(data["scanned_at"]),
            depth=int(data["depth"]),
            objects=int(data["objects"]),
            bytes=int(data["bytes"]),
            by_prefix=data["by_prefix"],
            by_type=data["by_type"],
            by_month=data["by_month"],
            by_storage_class=data.get("by_storage_class", {}),
            reserved=data.get("reserved", {}),
            largest=tuple(LargeObject(o["key"], int(o["bytes"]), o["last_modified"]) for o in data["largest"]),
            incomplete_uploads=tuple(IncompleteUpload(u["key"], u["initiated"]) for u in data["incomplete_uploads"]),
            incomplete_uploads_truncated=bool(data.get("incomplete_uploads_truncated", False)),
            list_calls=int(data.get("list_calls", 0)),
            seconds=float(data.get("seconds", 0.0)),
            engine=str(data.get("engine", "")),
            complete=bool(data.get("complete", True)),
        )


# ------------------------------------------------------------------------------------------ cost


@dataclass(frozen=True)
class CostEstimate:
    stored_gb: float
    storage_usd: float  # per month, after the free tier
    free_storage_left_gb: float  # free-tier headroom (negative: over it by that much)


def estimate_cost(total_bytes: int, settings: Settings) -> CostEstimate:
    """Monthly storage cost if the bucket stays this size (Standard class, the account's free tier
    applied to this bucket alone: other buckets of the account share it)."""
    gb = total_bytes / GB
    billable = max(0.0, gb - FREE_STORAGE_GB)
    return CostEstimate(gb, billable * settings.storage_price_gb_month, FREE_STORAGE_GB - gb)


def scan_list_calls(objects: int, prefixes: int = 0) -> int:
    """LIST calls (Class A) one full scan needs: a page per 1,000 keys per folder, plus discovery."""
    return max(1, math.ceil(objects / 1000)) + prefixes + 2  # + delimiter LIST + ListMultipartUploads


def scan_cost_usd(objects: int, settings: Settings, prefixes: int = 0) -> float:
    return scan_list_calls(objects, prefixes) * settings.class_a_price_per_million / 1_000_000


# ---------------------------------------------------------------------------------- multipart


def incomplete_uploads(
    client: S3Client, bucket: str, *, limit: int = 1000
) -> tuple[tuple[IncompleteUpload, ...], bool, int]:
    """Multipart uploads started and never completed or aborted: they are billed and invisible.

    Returns (uploads, truncated, LIST calls made). One Class A call per 1,000 uploads.
    """
    uploads: list[IncompleteUpload] = []
    calls = 0
    params: dict[str, Any] = {"Bucket": bucket}
    try:
        while True:
            page = client.list_multipart_uploads(**params)
            calls += 1
            for upload in page.get("Uploads", []):
                initiated = upload.get("Initiated")
                uploads.append(
                    IncompleteUpload(upload["Key"], initiated.isoformat() if isinstance(initiated, datetime) else "")
                )
            if not page.get("IsTruncated") or len(uploads) >= limit:
                return tuple(uploads[:limit]), bool(page.get("IsTruncated")) or len(uploads) > limit, calls
            params["KeyMarker"] = page.get("NextKeyMarker", "")
            params["UploadIdMarker"] = page.get("NextUploadIdMarker", "")
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action="list incomplete uploads", target="the bucket") from exc


# --------------------------------------------------------------------------------------- scan


@dataclass(frozen=True)
class Progress:
    objects: int
    bytes: int
    seconds: float
    folders_done: int
    folders_total: int

    @property
    def rate(self) -> float:
        """Objects per second so far."""
        return self.objects / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Part:
    """One folder's share of the scan: its own aggregate and the last key counted."""

    prefix: str
    agg: Aggregator
    start_after: str | None = None
    pages: int = 0
    done: bool = False
    engine: str = ""


class ScanStopped(R2Error):
    """The scan was cancelled; what was counted is kept and `run()` continues it."""


@dataclass
class UsageScan:
    """A resumable scan. `run()` until `report` is set; after an error or a stop, `run()` resumes.

    Keep the object (Streamlit: in session state) to resume; it holds groups, not objects.
    """

    lister: Lister
    bucket: str
    depth: int = 1
    top_n: int = 20
    workers: int = DEFAULT_WORKERS
    fallback: Lister | None = None  # lists a folder the main lister cannot represent (obstore paths)
    client: S3Client | None = None  # for ListMultipartUploads; skipped when None
    parts: dict[str, _Part] = field(default_factory=dict)
    root: Aggregator | None = None
    discovery_calls: int = 0
    seconds: float = 0.0
    uploads: tuple[tuple[IncompleteUpload, ...], bool, int] | None = None
    report: UsageReport | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.fallback is None and self.client is not None and self.lister.name != "boto3":
            self.fallback = Boto3Lister(self.client, self.bucket)

    # -- state

    @property
    def started(self) -> bool:
        return self.root is not None

    def progress(self) -> Progress:
        with self._lock:
            objects = sum(p.agg.total.objects for p in self.parts.values())
            size = sum(p.agg.total.bytes for p in self.parts.values())
            done = sum(1 for p in self.parts.values() if p.done)
        if self.root is not None:
            objects += self.root.total.objects
            size += self.root.total.bytes
        return Progress(objects, size, self.seconds, done, len(self.parts))

    def partial(self) -> Aggregator:
        """Everything counted so far, merged (for showing a stopped scan's numbers)."""
        agg = Aggregator(self.depth, self.top_n)
        if self.root is not None:
            agg.merge(self.root)
        with self._lock:
            for part in self.parts.values():
                agg.merge(part.agg)
        return agg

    # -- running

    def _discover(self) -> None:
        """The folders to list in parallel, and the objects at the top level.

        One delimiter LIST of the top level. While there are too few folders to keep the workers busy
        (everything under `uploads/`), each folder is looked into with a one-page delimiter LIST (in
        parallel): when that page holds the whole level, its objects are counted here and its
        sub-folders listed in parallel instead; a folder with more than a page keeps being listed
        as one (resumable) part, so discovery never lists a big folder by itself."""
        root = Aggregator(self.depth, self.top_n)
        try:
            frontier, entries = self.lister.top_level("")
        except PathNotSupported:
            if self.fallback is None:
                raise
            frontier, entries = self.fallback.top_level("")
        self.discovery_calls += 1
        root.add_all(entries)
        peeker = self.lister if isinstance(self.lister, Boto3Lister) else self.fallback
        for _ in range(MAX_DISCOVERY_LEVELS - 1):
            if not frontier or len(frontier) * 2 >= self.workers or not isinstance(peeker, Boto3Lister):
                break
            with ThreadPoolExecutor(max_workers=len(frontier)) as pool:
                peeks = list(pool.map(peeker.peek, frontier))
            self.discovery_calls += len(frontier)
            expanded: list[str] = []
            for prefix, peek in zip(frontier, peeks, strict=True):
                if peek is None:
                    expanded.append(prefix)  # more than a page: list it as one part
                else:
                    subs, direct = peek
                    root.add_all(direct)
                    expanded.extend(subs)
            if expanded == frontier:
                break
            frontier = expanded
        self.parts = {p: _Part(p, Aggregator(self.depth, self.top_n)) for p in frontier}
        self.root = root

    def _list_part(self, part: _Part, should_stop: Callable[[], bool]) -> None:
        lister = self.lister
        if part.engine == "fallback" and self.fallback is not None:
            lister = self.fallback
        try:
            for page in lister.pages(part.prefix, part.start_after):
                with self._lock:
                    part.agg.add_all(page)
                    part.start_after = page[-1].key
                    part.pages += 1
                if should_stop():
                    return
        except PathNotSupported:
            if self.fallback is None or part.engine == "fallback":
                raise
            # obstore may have renamed keys it could parse ("x/" -> "x"): start this folder over.
            with self._lock:
                part.agg = Aggregator(self.depth, self.top_n)
                part.start_after = None
                part.engine = "fallback"
            self._list_part(part, should_stop)
            return
        with self._lock:
            part.done = True

    def _list_uploads(self, client: S3Client) -> None:
        self.uploads = incomplete_uploads(client, self.bucket)

    def run(
        self,
        *,
        progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        tick: float = 0.25,
    ) -> UsageReport:
        """Scan (or continue scanning). Returns the report; raises ScanStopped or an R2Error, after
        which the counted state is kept and `run()` again resumes. `progress` is called from this
        thread about every `tick` seconds."""
        if self.report is not None:
            return self.report
        started = time.monotonic()
        base_seconds = self.seconds
        stop = threading.Event()

        def stopping() -> bool:
            return stop.is_set() or should_stop()

        def tell() -> None:
            self.seconds = base_seconds + time.monotonic() - started
            if progress is not None:
                progress(self.progress())

        try:
            if self.root is None:
                self._discover()
                tell()
            todo = [p for p in self.parts.values() if not p.done]
            error: BaseException | None = None
            client = self.client
            if todo or (self.uploads is None and client is not None):
                with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(todo) + 1))) as pool:
                    futures: set[Future[None]] = {pool.submit(self._list_part, p, stopping) for p in todo}
                    if self.uploads is None and client is not None:  # one more LIST, alongside the folders
                        futures.add(pool.submit(self._list_uploads, client))
                    try:
                        while futures:
                            finished, futures = wait(futures, timeout=tick, return_when=FIRST_COMPLETED)
                            for future in finished:
                                if future.exception() is not None and error is None:
                                    error = future.exception()
                                    stop.set()  # the other folders stop at their next page boundary
                            tell()
                            if should_stop():
                                stop.set()
                    finally:
                        stop.set()  # also when the caller is interrupted (Streamlit rerun)
            if error is not None:
                raise error if isinstance(error, R2Error) else translate(error, action="list the bucket") from error
            if any(not p.done for p in self.parts.values()):
                raise ScanStopped(
                    "The scan was stopped.", "What was counted so far is kept; resume to finish it.", code="Stopped"
                )

        finally:
            self.seconds = base_seconds + time.monotonic() - started
        agg = self.partial()
        uploads, truncated, upload_calls = self.uploads or ((), False, 0)
        pages = sum(max(1, p.pages) for p in self.parts.values())
        self.report = UsageReport.from_aggregator(
            agg,
            bucket=self.bucket,
            incomplete_uploads=uploads,
            incomplete_uploads_truncated=truncated,
            list_calls=self.discovery_calls + pages + upload_calls,
            seconds=round(self.seconds, 3),
            engine=self.lister.name,
        )
        tell()
        return self.report


def scan(
    lister: Lister,
    bucket: str,
    *,
    client: S3Client | None = None,
    depth: int = 1,
    top_n: int = 20,
    workers: int = DEFAULT_WORKERS,
    progress: Callable[[Progress], None] | None = None,
) -> UsageReport:
    """One full scan, start to end (the command line's path)."""
    return UsageScan(lister, bucket, depth=depth, top_n=top_n, workers=workers, client=client).run(progress=progress)
