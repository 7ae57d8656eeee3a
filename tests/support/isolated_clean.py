"""The image pipeline's memory, measured in a process of its own.

`tracemalloc` and `ru_maxrss` see the whole process: in the test process, a thread left by an earlier
test (a server, a pool) allocating at the wrong moment made a clean 160-byte PNG look like 10 MB, and a
high-water mark raised by an earlier test made a bomb look free. A spawned worker has one thread and
no history, so the figures are the pipeline's own. The worker is reused across examples.
"""

from __future__ import annotations

import multiprocessing
import resource
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from r2.images import ImagePolicy, ImageRejected, clean
from r2.thumbnails import thumbnail_of


@dataclass(frozen=True)
class Measured:
    peak: int  # bytes, tracemalloc's peak while cleaning
    maxrss_growth_kib: int  # growth of the worker's resident high-water mark while cleaning
    rejected: str | None  # the refusal's message, or None when accepted
    body: bytes = b""
    format: str = ""
    width: int = 0
    height: int = 0


def measure(data: bytes, policy: ImagePolicy, thumb_size: int) -> Measured:
    """Runs in the worker: `clean(data)` with its memory watched."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        result = clean(data, policy, thumb_size=thumb_size, thumbnail=thumbnail_of)
    except ImageRejected as err:
        return Measured(_peak(), _growth(before), err.message)
    peak = _peak()
    info = result.info
    return Measured(peak, _growth(before), None, result.body, info.format, info.width, info.height)


def _peak() -> int:
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def _growth(before: int) -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before


def worker() -> ProcessPoolExecutor:
    """One spawned (not forked: no inherited threads or heap) single-worker pool."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
