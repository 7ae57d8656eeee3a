"""A finished scan's result and what it costs: the report saved in a snapshot, the storage and scan cost."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from r2.settings import Settings
from r2.usage.aggregate import Aggregator, Group

FREE_STORAGE_GB = 10.0  # R2 free tier per month: 10 GB-month storage, 1M Class A, 10M Class B
FREE_CLASS_A = 1_000_000
FREE_CLASS_B = 10_000_000
GB = 1_000_000_000  # R2 bills decimal gigabytes


@dataclass(frozen=True)
class LargeObject:
    key: str
    bytes: int
    last_modified: str


@dataclass(frozen=True)
class IncompleteUpload:
    key: str
    initiated: str


@dataclass(frozen=True)
class UsageReport:
    """A completed (or partial) scan, as saved in a snapshot and printed by `python -m r2 usage`."""

    bucket: str
    scanned_at: datetime
    depth: int
    objects: int
    bytes: int
    by_prefix: dict[str, dict[str, int]]
    by_type: dict[str, dict[str, int]]
    by_month: dict[str, dict[str, int]]
    by_storage_class: dict[str, dict[str, int]]
    reserved: dict[str, dict[str, int]]
    largest: tuple[LargeObject, ...]
    incomplete_uploads: tuple[IncompleteUpload, ...] = ()
    incomplete_uploads_truncated: bool = False
    list_calls: int = 0
    seconds: float = 0.0
    engine: str = ""
    complete: bool = True

    @classmethod
    def from_aggregator(cls, agg: Aggregator, *, bucket: str, **extra: Any) -> UsageReport:
        def table(groups: dict[str, Group]) -> dict[str, dict[str, int]]:
            ordered = sorted(groups.items(), key=lambda kv: (-kv[1].bytes, kv[0]))
            return {name: g.as_dict() for name, g in ordered}

        largest = tuple(LargeObject(k, s, m) for s, k, m in sorted(agg.largest, reverse=True))
        return cls(
            bucket=bucket,
            scanned_at=extra.pop("scanned_at", datetime.now(UTC)),
            depth=agg.depth,
            objects=agg.total.objects,
            bytes=agg.total.bytes,
            by_prefix=table(agg.by_prefix),
            by_type=table(agg.by_type),
            by_month=dict(sorted(table(agg.by_month).items())),
            by_storage_class=table(agg.by_class),
            reserved=table(agg.reserved),
            largest=largest,
            **extra,
        )

    def to_dict(self, settings: Settings | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "bucket": self.bucket,
            "scanned_at": self.scanned_at.isoformat(),
            "depth": self.depth,
            "objects": self.objects,
            "bytes": self.bytes,
            "by_prefix": self.by_prefix,
            "by_type": self.by_type,
            "by_month": self.by_month,
            "by_storage_class": self.by_storage_class,
            "reserved": self.reserved,
            "largest": [{"key": o.key, "bytes": o.bytes, "last_modified": o.last_modified} for o in self.largest],
            "incomplete_uploads": [{"key": u.key, "initiated": u.initiated} for u in self.incomplete_uploads],
            "incomplete_uploads_truncated": self.incomplete_uploads_truncated,
            "list_calls": self.list_calls,
            "seconds": round(self.seconds, 3),
            "engine": self.engine,
            "complete": self.complete,
        }
        if settings is not None:
            data["estimated_monthly_cost_usd"] = round(estimate_cost(self.bytes, settings).storage_usd, 4)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UsageReport:
        return cls(
            bucket=data["bucket"],
            scanned_at=datetime.fromisoformat(data["scanned_at"]),
            depth=int(data["depth"]),
            objects=int(data["objects"]),
            bytes=int(data["bytes"]),
            by_prefix=data["by_prefix"],
            by_type=data["by_type"],
            by_month=data["by_month"],
            by_storage_class=data.get("by_storage_class", {}),
            reserved=data.get("reserved", {}),
            largest=tuple(LargeObject(o["key"], int(o["bytes"]), o["last_modified"]) for o in data["largest"]),
            incomplete_uploads=tuple(IncompleteUpload(u["key"], u["initiated"]) for u in data["incomplete_uploads"]),
            incomplete_uploads_truncated=bool(data.get("incomplete_uploads_truncated", False)),
            list_calls=int(data.get("list_calls", 0)),
            seconds=float(data.get("seconds", 0.0)),
            engine=str(data.get("engine", "")),
            complete=bool(data.get("complete", True)),
        )


# ------------------------------------------------------------------------------------------ cost


@dataclass(frozen=True)
class CostEstimate:
    stored_gb: float
    storage_usd: float  # per month, after the free tier
    free_storage_left_gb: float  # free-tier headroom (negative: over it by that much)


def estimate_cost(total_bytes: int, settings: Settings) -> CostEstimate:
    """Monthly storage cost if the bucket stays this size (Standard class, the account's free tier
    applied to this bucket alone: other buckets of the account share it)."""
    gb = total_bytes / GB
    billable = max(0.0, gb - FREE_STORAGE_GB)
    return CostEstimate(gb, billable * settings.storage_price_gb_month, FREE_STORAGE_GB - gb)


def scan_list_calls(objects: int, prefixes: int = 0) -> int:
    """LIST calls (Class A) one full scan needs: a page per 1,000 keys per folder, plus discovery."""
    return max(1, math.ceil(objects / 1000)) + prefixes + 2  # + delimiter LIST + ListMultipartUploads


def scan_cost_usd(objects: int, settings: Settings, prefixes: int = 0) -> float:
    return scan_list_calls(objects, prefixes) * settings.class_a_price_per_million / 1_000_000
