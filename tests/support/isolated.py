"""Memory measured in a process of its own.

`tracemalloc` and `ru_maxrss` see the whole process. The test process holds the session's local S3
server (moto's werkzeug server, in a thread), which reads up to 10 MB at once while closing a
connection, and threads other tests left behind: one of those allocating at the wrong moment made a
clean 160-byte PNG look like 10 MB (a clean-clone CI failure), and a high-water mark raised by an
earlier test could hide a bomb. A spawned worker has one thread and no history, so the figures are the
measured call's own. One worker serves a whole module (`worker()` as a module fixture).
"""

from __future__ import annotations

import functools
import multiprocessing
import resource
import sys
import tracemalloc
import types
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from r2.client import make_client
from r2.direct import Outcome, Ticket, verify
from r2.images import ImagePolicy, ImageRejected, clean
from r2.settings import Settings
from r2.thumbnails import thumbnail_of
from r2.usage import Aggregator
from r2.usage.listing import Entry

T = TypeVar("T")


@dataclass(frozen=True)
class Traced(Generic[T]):
    value: T
    peak: int  # bytes: tracemalloc's peak during the call
    maxrss_growth_kib: int  # growth of the worker's resident high-water mark during the call


def worker() -> ProcessPoolExecutor:
    """A single-worker pool, spawned (not forked: no inherited threads or heap), its process started now.

    A spawned child first runs the parent's `__main__` again (as `__mp_main__`). After an AppTest run, that
    is the last page script Streamlit executed (it installs each script as `__main__`): the child would
    run pages/upload.py. The process is started with a bare `__main__` in place, which the child skips."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")  # no __file__, no __spec__: nothing to re-run
    try:
        pool.submit(int).result(timeout=120)  # the one worker process starts here
    finally:
        if main is not None:
            sys.modules["__main__"] = main
    return pool


def traced(pool: ProcessPoolExecutor, call: Callable[..., T], *args: Any) -> Traced[T]:
    """`call(*args)` in the worker (a module-level function, picklable arguments); its exceptions are
    raised here."""
    return run(pool, _traced, call, *args)


def run(pool: ProcessPoolExecutor, call: Callable[..., T], *args: Any) -> T:
    """`call(*args)` in the worker; its exceptions are raised here."""
    return pool.submit(call, *args).result(timeout=120)


def _traced(call: Callable[..., T], *args: Any) -> Traced[T]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        value = call(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Traced(value, peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)


@dataclass(frozen=True)
class Cleaned:
    """What `clean` did with some bytes: refused (with its message) or accepted as this image."""

    rejected: str | None
    body: bytes = b""
    format: str = ""
    width: int = 0
    height: int = 0


def clean_bytes(data: bytes, policy: ImagePolicy, thumb_size: int) -> Cleaned:
    try:
        result = clean(data, policy, thumb_size=thumb_size, thumbnail=thumbnail_of)
    except ImageRejected as err:
        return Cleaned(err.message)
    info = result.info
    return Cleaned(None, result.body, info.format, info.width, info.height)


def verify_once(settings: Settings, ticket: Ticket, actor: str) -> Traced[Outcome]:
    """`r2.direct.verify` with its memory traced, the S3 client made before tracing starts."""
    client = make_client(settings)
    return _traced(functools.partial(verify, actor=actor), client, settings, ticket)


def aggregator_memory(objects: int) -> int:
    """Bytes an `Aggregator` holds after adding `objects` entries spread over 50 folders."""
    agg = Aggregator(depth=1, top_n=20)
    when = datetime(2025, 1, 1, tzinfo=UTC)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(objects):
            agg.add(Entry(f"f{i % 50}/k{i}.jpg", i % 1000, when, "STANDARD"))
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert agg.total.objects == objects
    return held
