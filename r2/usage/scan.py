"""The streaming, parallel, resumable scan of the whole bucket (and its incomplete multipart uploads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from r2.client import S3Client
from r2.errors import R2Error, s3_errors, translate
from r2.usage.aggregate import Aggregator
from r2.usage.listing import Boto3Lister, Lister, PathNotSupported
from r2.usage.report import IncompleteUpload, UsageReport

# ---------------------------------------------------------------------------------- multipart


MAX_DISCOVERY_LEVELS = 3  # how deep the scan looks for folders to list in parallel
DEFAULT_WORKERS = 32  # parallel folder listings (R2 latency bound; obstore releases the GIL)


def incomplete_uploads(
    client: S3Client, bucket: str, *, limit: int = 1000
) -> tuple[tuple[IncompleteUpload, ...], bool, int]:
    """Multipart uploads started and never completed or aborted: they are billed and invisible.

    Returns (uploads, truncated, LIST calls made). One Class A call per 1,000 uploads.
    """
    uploads: list[IncompleteUpload] = []
    calls = 0
    params: dict[str, Any] = {"Bucket": bucket}
    with s3_errors("list incomplete uploads", target="the bucket"):
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

    def _list_part(self, part: _Part, should_stop: Callable[[], bool], ended: threading.Event) -> None:
        lister = self.lister
        if part.engine == "fallback" and self.fallback is not None:
            lister = self.fallback
        try:
            for page in lister.pages(part.prefix, part.start_after):
                with self._lock:
                    # A page that arrives after its run stopped is dropped (listed again on resume): a run
                    # interrupted by a page rerun can be resumed before this worker's request returns,
                    # and the resumed run lists this folder from the same point.
                    if ended.is_set():
                        return
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
            self._list_part(part, should_stop, ended)
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
        ended = threading.Event()  # this run is over: its workers add no page any more

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
                    futures: set[Future[None]] = {pool.submit(self._list_part, p, stopping, ended) for p in todo}
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
                        with self._lock:  # after this, no worker of this run adds a page
                            ended.set()
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
