"""Folding listing entries into groups as they stream by: folders, types, months, storage classes, the largest."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC

from r2.naming import HIDDEN_PREFIXES
from r2.usage.listing import Entry

OTHER = "(other)"
ROOT = "(top level)"
NO_EXTENSION = "(none)"


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
