"""The catalog: one row per object of the bucket, so people find images by what they know.

`table` holds the Delta Lake table in the bucket (reading, committing, maintenance), `rows` its schema
and the lean form held in memory, `query` the Search page's and `find`'s queries. Every public name
imports from here (`from r2.catalog import Catalog, Search, search`).
"""

from r2.catalog.query import MAX_NUMBER, SORTS, Search, SearchPage, search
from r2.catalog.rows import COLUMNS, MEMORY_SCHEMA, SCHEMA, Row, rows_of
from r2.catalog.table import (
    CATALOG_PREFIX,
    COMMIT_ATTEMPTS,
    FRESH_SECONDS,
    MAINTAIN_EVERY,
    Catalog,
    forget_deleted,
    note,
    note_thumbnails,
    storage_options,
)

__all__ = [
    "CATALOG_PREFIX",
    "COLUMNS",
    "COMMIT_ATTEMPTS",
    "FRESH_SECONDS",
    "MAINTAIN_EVERY",
    "MAX_NUMBER",
    "MEMORY_SCHEMA",
    "SCHEMA",
    "SORTS",
    "Catalog",
    "Row",
    "Search",
    "SearchPage",
    "forget_deleted",
    "note",
    "note_thumbnails",
    "rows_of",
    "search",
    "storage_options",
]
