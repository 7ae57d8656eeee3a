"""Search the catalog: one page of matches, answered in process from the table held in memory.

A search is a vectorised filter over the lean in-memory table (Arrow compute kernels: literal
substring matching, never a pattern or SQL, so search text stays data), then a top-k of only the
matching rows for the page (`select_k_unstable`, with the key as the last sort key so the order is
total and pages never overlap). Folder, uploader and type are matched on their dictionaries (a few
values each), then mapped to rows. No request to the bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from r2.catalog.rows import Row, rows_of
from r2.errors import InvalidInput

if TYPE_CHECKING:
    from r2.catalog.table import Catalog

MAX_NUMBER = 2**53  # sizes, dimensions and offsets beyond this are no real search

_MOMENT = "_moment"  # when uploaded, else when modified (objects of other tools)
SORTS: dict[str, list[tuple[str, str]]] = {
    "newest": [(_MOMENT, "descending"), ("key", "ascending")],
    "oldest": [(_MOMENT, "ascending"), ("key", "ascending")],
    "largest": [("size", "descending"), ("key", "ascending")],
    "smallest": [("size", "ascending"), ("key", "ascending")],
    "name": [("name_lc", "ascending"), ("key", "ascending")],
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


def _lower(text: str) -> str:
    return str(pc.utf8_lower(pa.scalar(text, pa.string())).as_py())  # the same lowering as the table's


def _on_dictionary(column: pa.ChunkedArray, test: Callable[[pa.Array], pa.Array]) -> pa.ChunkedArray:
    """A dictionary column's test run on its few distinct values, then mapped to the rows."""
    return pa.chunked_array(
        [pc.take(test(chunk.dictionary), chunk.indices) for chunk in column.chunks], type=pa.bool_()
    )


def _moment(data: pa.Table) -> pa.ChunkedArray:
    return pc.coalesce(data["uploaded_at"], data["last_modified"])


def _conditions(data: pa.Table, query: Search) -> list[pa.ChunkedArray]:
    found: list[pa.ChunkedArray] = []
    if query.name:
        found.append(pc.match_substring(data["name_lc"], _lower(query.name)))
    if query.uploader:
        found.append(_on_dictionary(data["uploader_lc"], lambda d: pc.match_substring(d, _lower(query.uploader))))
    if query.folder:
        folder = query.folder if query.folder.endswith("/") else query.folder + "/"
        if query.exact_folder:
            found.append(_on_dictionary(data["folder"], lambda d: pc.equal(d, folder)))
        else:
            found.append(_on_dictionary(data["folder"], lambda d: pc.starts_with(d, folder)))
    if query.type:
        upper, lower = str(query.type).upper(), _lower(query.type)
        found.append(
            pc.or_kleene(
                pc.fill_null(_on_dictionary(data["format"], lambda d: pc.equal(pc.utf8_upper(d), upper)), False),
                pc.fill_null(_on_dictionary(data["content_type"], lambda d: pc.equal(pc.utf8_lower(d), lower)), False),
            )
        )
    for moment, test in ((query.since, pc.greater_equal), (query.until, pc.less)):
        if moment is not None:
            at = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            found.append(test(_moment(data), pa.scalar(at, pa.timestamp("us", tz="UTC"))))
    for number, column, test in (
        (query.min_size, "size", pc.greater_equal),
        (query.max_size, "size", pc.less_equal),
        (query.min_width, "width", pc.greater_equal),
        (query.min_height, "height", pc.greater_equal),
    ):
        if number is not None:
            found.append(test(data[column], int(number)))
    return found


def _check(query: Search) -> None:
    if query.sort not in SORTS:
        raise InvalidInput(f"Unknown sort {query.sort!r}.", f"Use one of: {', '.join(SORTS)}.")
    if not 1 <= query.limit <= 1000 or not 0 <= query.offset <= MAX_NUMBER:
        raise InvalidInput("A page holds 1 to 1,000 results and starts at 0 or later.")
    numbers = (query.min_size, query.max_size, query.min_width, query.min_height)
    if any(n is not None and not 0 <= n <= MAX_NUMBER for n in numbers):  # from a URL: anything can come
        raise InvalidInput("Sizes and dimensions are whole numbers from 0 up.", "Correct the number in the search.")


def search(catalog: Catalog, query: Search) -> SearchPage:
    """One page of matches, answered from the catalog in process (no request to the bucket's listing)."""
    _check(query)
    data = catalog.data()
    conditions = _conditions(data, query)
    if conditions:
        mask = conditions[0]
        for condition in conditions[1:]:
            mask = pc.and_kleene(mask, condition)
        data = data.filter(pc.fill_null(mask, False))
    total = data.num_rows
    wanted = min(query.offset + query.limit, total)
    if query.offset >= total:
        return SearchPage(rows=(), total=total, version=catalog.version())
    keys = SORTS[query.sort]
    columns = pa.table({name: (_moment(data) if name == _MOMENT else data[name]) for name, _ in keys})
    order = _top(columns, keys, wanted)[query.offset :]
    page = SearchPage(rows=tuple(rows_of(data.take(order))), total=total, version=catalog.version())
    # The filter's and the sort's buffers go back to the system: without this an unfiltered search left
    # ~60 MiB behind at 1M rows, taking the app past its memory goal (docs/bench/catalog_million.md).
    pa.default_memory_pool().release_unused()
    return page


def _top(columns: pa.Table, keys: list[tuple[str, str]], wanted: int) -> pa.Array:
    """Indices of the first `wanted` rows in `keys` order, sorting only what can be among them.

    A number or a moment first (date and size sorts): a linear partition (numpy) finds the `wanted`
    smallest, then the candidates (those plus every tie at the boundary) are sorted with the key as the
    tie-breaker; the whole column is never sorted. Names: Arrow's top-k over the strings.
    """
    first, direction = keys[0]
    if first == "name_lc" or wanted * 4 > columns.num_rows or columns[first].null_count:
        return pc.select_k_unstable(columns, k=wanted, sort_keys=keys)
    column = columns[first]
    numbers = column.cast(pa.int64()) if pa.types.is_timestamp(column.type) else column
    values = numbers.to_numpy()
    if direction == "descending":
        values = -values
    boundary = values[np.argpartition(values, wanted - 1)[:wanted]].max()
    candidates = pa.array(np.flatnonzero(values <= boundary))
    order = pc.sort_indices(columns.take(candidates), sort_keys=keys)[:wanted]
    return candidates.take(order)
