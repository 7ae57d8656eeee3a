"""Selections from search results: "everything matching this search", answered from the catalog.

The count and total size come from the catalog (no listing of the bucket), before anything runs. The
catalog is an index, not the truth: an object another tool removed or changed since the last sync is
reported by the action itself (its copy fails on the recorded ETag, nothing is overwritten).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from r2.bulk import Item, Selection
from r2.catalog import Catalog, Row, Search, search
from r2.naming import is_hidden

PAGE = 1000  # rows per catalog query (the most one search answers)


def items_of(rows: Iterable[Row]) -> list[Item]:
    """The bulk items of catalog rows (reserved keys, which the catalog never holds, are left out)."""
    return [Item(r.key, r.size, (r.etag or "").strip('"')) for r in rows if not is_hidden(r.key)]


def select_search(catalog: Catalog, query: Search) -> Selection:
    """Every object matching `query` (all pages, in the search's order), from the catalog alone."""
    items: list[Item] = []
    offset = 0
    while True:
        page = search(catalog, replace(query, limit=PAGE, offset=offset))
        items += items_of(page.rows)
        offset += PAGE
        if len(page.rows) < PAGE or offset >= page.total:
            return Selection(tuple(dict((i.key, i) for i in items).values()))
