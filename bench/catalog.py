"""The catalog at 1,000,000 objects: search latency (warm), cold load time and memory.

The table is built locally (`write_deltalake` to a temporary folder: the same Parquet + log a bucket
holds; no need to create a million objects), then read through `r2.catalog.Catalog(local_path=...)`
and searched with `r2.catalog.search`, exactly as the Search page and `find` do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from bench.common import Stats, ratio, table
from r2.catalog import SCHEMA, Catalog, Search, search
from r2.settings import parse_settings

ROWS = 1_000_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)
SETTINGS = parse_settings(
    {
        "R2_ENDPOINT": "http://127.0.0.1:9",
        "R2_ACCESS_KEY_ID": "k",
        "R2_SECRET_ACCESS_KEY": "s" * 20,
        "R2_BUCKET": "bench-catalog",
    }
)


def build(path: str, rows: int) -> None:
    write_deltalake(path, synthetic(rows), mode="overwrite")


def synthetic(rows: int) -> pa.Table:
    """`rows` catalog rows: 40 folders, 50 uploaders, names like `photo 123 front.jpg`, one a minute from 2024."""
    n = pa.array(range(rows), pa.int64())
    names = [f"photo {i} {'front' if i % 7 == 0 else 'back'}.jpg" for i in range(rows)]
    folders = [f"team{i % 40}/{2024 + i % 3}/" for i in range(rows)]
    moments = [T0 + timedelta(minutes=i) for i in range(rows)]
    return pa.table(
        {
            "key": [f"{f}{i:08x}.jpg" for i, f in enumerate(folders)],
            "folder": folders,
            "size": pa.compute.add(pa.compute.multiply(pa.compute.bit_wise_and(n, 1023), 997), 20_000),
            "etag": [f"{i:032x}" for i in range(rows)],
            "last_modified": moments,
            "content_type": ["image/jpeg"] * rows,
            "original_name": names,
            "uploader": [f"user{i % 50}@example.com" for i in range(rows)],
            "uploaded_at": moments,
            "width": pa.array([4000 - i % 3000 for i in range(rows)], pa.int32()),
            "height": pa.array([3000 - i % 2000 for i in range(rows)], pa.int32()),
            "format": ["JPEG"] * rows,
            "has_thumbnail": [True] * rows,
            "sha256": [f"{i % (rows - 1000):064x}" for i in range(rows)],
        },
        schema=SCHEMA,
    )


COLD = """
import json, sys, time
from bench.catalog import SETTINGS, previous_load
from r2.catalog import Catalog

def mib(field):  # this process's own figures (ru_maxrss would include the parent's peak across exec)
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

base = mib("VmRSS:")
start = time.perf_counter()
if sys.argv[2] == "previous":
    data = previous_load(sys.argv[1])
else:
    data = Catalog(SETTINGS, local_path=sys.argv[1]).data()
took = time.perf_counter() - start
peak = mib("VmHWM:")
figures = {"rows": data.num_rows, "seconds": took, "peak_mib": peak, "added_mib": peak - base}
print(json.dumps({**figures, "held_mib": mib("VmRSS:") - base, "arrow_mib": data.nbytes / 2**20}))
"""


def previous_load(path: str) -> pa.Table:
    """How the catalog was held before (the "before" of the ratios): every column as written, via delta-rs."""
    return DeltaTable(path).to_pyarrow_table(columns=list(SCHEMA.names))


_PREVIOUS_SQL = (  # the search as it was: DuckDB over that table, lowering per row, a window count
    "SELECT *, count(*) OVER () AS _total FROM catalog WHERE {where} "
    "ORDER BY coalesce(uploaded_at, last_modified) DESC, key LIMIT 60"
)


def previous_search(data: pa.Table, where: str, params: list[object]) -> int:
    con = duckdb.connect()
    try:
        con.register("catalog", data)
        result = con.sql(_PREVIOUS_SQL.format(where=where), params=params).to_arrow_table()
        rows = result.drop_columns(["_total"]).to_pylist()
    finally:
        con.close()
    return len(rows)


def _cold(path: str, root: str, how: str) -> dict[str, float]:
    """One cold load in a new process. delta-rs's runtime has aborted at interpreter exit now and then
    (SIGABRT after the figures were printed): the figures are taken from the output, tried up to 3 times."""
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", COLD, path, how], capture_output=True, check=False, cwd=root, text=True
        )
        if done.stdout.strip():
            return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    raise RuntimeError(f"the cold load failed three times: {done.stderr[-500:]}")


def _timed(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)


def _p95(times: list[float]) -> float:
    return times[min(len(times) - 1, int(0.95 * len(times)))]


def run(quick: bool) -> str:
    rows = ROWS
    runs = 15 if quick else 41
    with tempfile.TemporaryDirectory(prefix="catalog-bench-") as folder:
        path = str(Path(folder) / "catalog")
        started = time.perf_counter()
        build(path, rows)
        built = time.perf_counter() - started
        root = str(Path(__file__).resolve().parent.parent)
        colds = {how: [_cold(path, root, how) for _ in range(3)] for how in ("previous", "now")}
        cat = Catalog(SETTINGS, local_path=path)
        query = Search(name="5 front", uploader="user5@", sort="newest", limit=60)
        first = search(cat, query)
        day = Search(since=T0 + timedelta(days=300), until=T0 + timedelta(days=301), sort="name")
        old = previous_load(path)
        name_where = (
            "contains(lower(coalesce(original_name, key)), lower(?)) "
            "AND contains(lower(coalesce(uploader, '')), lower(?))"
        )
        # Interleaved, so both see the same machine load.
        now: list[float] = []
        before: list[float] = []
        for _ in range(runs):
            now += _timed(lambda: search(cat, query), 1)
            before += _timed(lambda: previous_search(old, name_where, ["5 front", "user5@"]), 1)
        by_date = _timed(lambda: search(cat, day), runs)
        everything = _timed(lambda: search(cat, Search(sort="newest")), runs)
    return _section(rows, first.total, sorted(now), sorted(before), by_date, everything, colds, built)


def _section(
    rows: int,
    matches: int,
    now: list[float],
    before: list[float],
    by_date: list[float],
    everything: list[float],
    colds: dict[str, list[dict[str, float]]],
    built: float,
) -> str:
    warm, previous = Stats.of(now), Stats.of(before)
    cold = {how: Stats.of([c["seconds"] for c in runs]) for how, runs in colds.items()}
    added = {how: max(c["added_mib"] for c in runs) for how, runs in colds.items()}
    held = {how: max(c["held_mib"] for c in runs) for how, runs in colds.items()}
    arrow = {how: runs[0]["arrow_mib"] for how, runs in colds.items()}
    rows_table = table(
        ["What", "Now", "Before", "Before ÷ now", "Goal"],
        [
            [
                "Search: name contains + uploader + newest first, first page of 60 (warm), p50",
                warm.ms(),
                previous.ms(),
                ratio(previous, warm),
                "< 300 ms",
            ],
            ["… p95", f"{_p95(now) * 1000:.1f} ms", f"{_p95(before) * 1000:.1f} ms", "", "< 300 ms"],
            ["Search: one day's uploads sorted by name (warm), p50", Stats.of(by_date).ms(), "", "", ""],
            ["Search: everything, newest first (warm), p50", Stats.of(everything).ms(), "", "", ""],
            [
                "Cold load in a new process (open the table, read it)",
                cold["now"].s(),
                cold["previous"].s(),
                ratio(cold["previous"], cold["now"]),
                "< 5 s",
            ],
            [
                "Memory added by the cold load (peak RSS)",
                f"{added['now']:.0f} MiB",
                f"{added['previous']:.0f} MiB",
                ratio(added["previous"], added["now"]),
                "< 500 MiB",
            ],
            [
                "Memory held after it (RSS)",
                f"{held['now']:.0f} MiB",
                f"{held['previous']:.0f} MiB",
                ratio(held["previous"], held["now"]),
                "",
            ],
            [
                "The table's own Arrow buffers",
                f"{arrow['now']:.0f} MiB",
                f"{arrow['previous']:.0f} MiB",
                ratio(arrow["previous"], arrow["now"]),
                "",
            ],
            ["Building the 1M-row table (write_deltalake to a local folder)", f"{built:.1f} s", "", "", ""],
        ],
    )
    return (
        "## Catalog: search and load at 1,000,000 objects\n\n"
        f"A catalog table of {rows:,} rows (40 folders, 50 uploaders, names like `photo 123 front.jpg`) built "
        "locally with `write_deltalake`, read through `r2.catalog.Catalog(local_path=...)` and searched with "
        f"`r2.catalog.search`, as the Search page and `find` do. The measured search matches {matches:,} rows. "
        "*Now*: the table is read batch by batch into a lean in-memory form (folder, uploader, type and "
        "format dictionary-encoded, the SHA-256 as 32 bytes instead of 64 hex characters, a pre-lowered name "
        "column) and searched with Arrow kernels: substring tests on the name column, the uploader's test on "
        "its 50 dictionary values, then a top-k of only the matching rows. *Before* (measured in the same "
        "run, interleaved): every column as written, via delta-rs's `to_pyarrow_table`, searched by DuckDB "
        "over that Arrow table, lowering every name per query, with a window count over the matches. "
        "Profile of the before: DuckDB's scan of the Arrow strings and the per-row `lower()` took most of "
        "the time, the window count most of the rest (it rose to seconds for an unfiltered search); a DuckDB "
        "native table answered in tens of ms but held more than 700 MiB of RSS at 1M rows, so it was not "
        "chosen. The table on disk is unchanged (plain strings, hex SHA-256), so other engines read it as "
        "before and no migration is needed. Reading from the bucket adds the transfer of the Parquet files "
        "(about 40 MB here) to the cold load; a warm search makes no request at all.\n\n" + rows_table
    )
