"""Figures from the catalog: totals and breakdowns (Usage without a scan), and duplicate images."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from r2.catalog import Catalog


@dataclass(frozen=True)
class CatalogStats:
    objects: int
    bytes: int
    by_folder: tuple[tuple[str, int, int], ...]  # (top-level folder, objects, bytes), largest first
    by_type: tuple[tuple[str, int, int], ...]
    by_month: tuple[tuple[str, int, int], ...]  # (YYYY-MM of upload or modification, objects, bytes)
    by_uploader: tuple[tuple[str, int, int], ...]
    largest: tuple[tuple[str, int], ...]  # (key, bytes)
    version: int | None
    updated_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        def table(rows: tuple[tuple[str, int, int], ...]) -> dict[str, dict[str, int]]:
            return {name: {"objects": n, "bytes": b} for name, n, b in rows}

        return {
            "objects": self.objects,
            "bytes": self.bytes,
            "by_folder": table(self.by_folder),
            "by_type": table(self.by_type),
            "by_month": table(self.by_month),
            "by_uploader": table(self.by_uploader),
            "largest": [{"key": k, "bytes": b} for k, b in self.largest],
            "catalog_version": self.version,
            "catalog_updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


@dataclass(frozen=True)
class DuplicateGroup:
    sha256: str
    keys: tuple[str, ...]  # oldest first: the first is the one to keep
    size: int

    @property
    def wasted_bytes(self) -> int:
        return self.size * (len(self.keys) - 1)


_GROUPS = {
    "by_folder": "CASE WHEN position('/' IN key) > 0 THEN split_part(key, '/', 1) || '/' ELSE '(root)' END",
    "by_type": "coalesce(format, content_type, '(unknown)')",
    "by_month": "strftime(coalesce(uploaded_at, last_modified), '%Y-%m')",
    "by_uploader": "coalesce(uploader, '(other tools)')",
}


def stats(catalog: Catalog, *, top: int = 20) -> CatalogStats:
    con = duckdb.connect()
    try:
        con.register("catalog", catalog.data())
        objects, total = con.sql("SELECT count(*), coalesce(sum(size), 0) FROM catalog").fetchall()[0]
        groups = {
            name: tuple(
                (str(g), int(n), int(b))
                for g, n, b in con.sql(
                    f"SELECT {expr} AS g, count(*), sum(size) FROM catalog GROUP BY g ORDER BY 3 DESC, 1"  # noqa: S608  fixed expressions
                ).fetchall()
            )
            for name, expr in _GROUPS.items()
        }
        largest = con.sql("SELECT key, size FROM catalog ORDER BY size DESC, key LIMIT ?", params=[top]).fetchall()
    finally:
        con.close()
    return CatalogStats(
        objects=int(objects),
        bytes=int(total),
        largest=tuple((str(k), int(s)) for k, s in largest),
        version=catalog.version(),
        updated_at=catalog.updated_at(),
        **groups,
    )


def duplicates(catalog: Catalog) -> list[DuplicateGroup]:
    """Groups of objects with the same content (SHA-256 recorded at upload), most wasted bytes first."""
    con = duckdb.connect()
    try:
        con.register("catalog", catalog.data())
        found = con.sql(
            "SELECT lower(hex(sha256)), list(key ORDER BY coalesce(uploaded_at, last_modified), key), max(size) "
            "FROM catalog WHERE sha256 IS NOT NULL GROUP BY sha256 HAVING count(*) > 1"
        ).fetchall()
    finally:
        con.close()
    groups = [DuplicateGroup(sha256=str(h), keys=tuple(keys), size=int(size)) for h, keys, size in found]
    return sorted(groups, key=lambda g: (-g.wasted_bytes, g.keys[0]))


def find_same(catalog: Catalog, sha256: str) -> list[str]:
    """Keys whose content has this SHA-256 (an upload about to store a duplicate)."""
    try:
        digest = bytes.fromhex(sha256)
    except ValueError:
        return []
    if len(digest) != 32:
        return []
    data = catalog.data()
    same = data.filter(
        pc.fill_null(pc.equal(data["sha256"], pa.scalar(digest, data.schema.field("sha256").type)), False)
    )
    return sorted(str(k) for k in same["key"].to_pylist())
