"""Helpers shared by benchmarks: timing statistics and a description of the machine."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Stats:
    runs: int
    median: float  # seconds
    low: float
    high: float

    def ms(self) -> str:
        return f"{self.median * 1000:.1f} ms (min {self.low * 1000:.1f}, max {self.high * 1000:.1f}, n={self.runs})"


def measure(fn: Callable[[], object], runs: int = 7, warmup: int = 1) -> Stats:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Stats(runs, statistics.median(times), min(times), max(times))


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
