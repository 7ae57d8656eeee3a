"""The usage scan against the real local S3 server: exact totals, groups, resume, cancel, snapshots."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from r2.client import CallCounter, S3Client
from r2.errors import Unavailable
from r2.settings import Settings
from r2.usage import (
    NO_EXTENSION,
    ROOT,
    Aggregator,
    ScanStopped,
    UsageReport,
    UsageScan,
    estimate_cost,
    prefix_of,
    scan,
    scan_list_calls,
    type_of,
)
from r2.usage.listing import Boto3Lister, Entry, ObstoreLister, make_lister
from r2.usage.snapshots import history, latest, load, parse_key, save
from tests.support import isolated
from tests.support.seeding import seed

MONTHS = [datetime(2025, m, 15, 12, tzinfo=UTC) for m in (1, 3, 7, 11)]


def seeded_items() -> list[tuple[str, int]]:
    items = []
    for folder in ("photos", "products", "clinics"):
        for i in range(45):
            ext = ("jpg", "png", "webp", "JPEG")[i % 4]
            items.append((f"{folder}/sub{i % 3}/img-{i:03d}.{ext}", 100 + i * 7))
    items += [("readme", 11), ("top.gif", 2500), ("weird/<img src=x onerror=alert(1)>.png", 33)]
    items += [(".dashboard/audit/2025/a.json", 40), (".thumbs/photos/sub0/img-000.jpg.webp", 60)]
    return items


@pytest.fixture
def bucket(s3: S3Client, settings: Settings) -> list[tuple[str, int]]:
    items = seeded_items()
    modified = {key: MONTHS[i % len(MONTHS)] for i, (key, _) in enumerate(items)}
    storage = {key: "STANDARD_IA" for key, _ in items[:10]}
    seed(settings.bucket, items, modified=modified, storage=storage)
    return items


def direct_sum(s3: S3Client, bucket: str) -> tuple[int, int, list[dict]]:  # type: ignore[type-arg]
    objs = [o for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in p.get("Contents", [])]
    return len(objs), sum(o["Size"] for o in objs), objs


# ------------------------------------------------------------------------------------------ pure


def test_prefix_and_type_rules() -> None:
    assert prefix_of("a/b/c/x.png", 1) == "a/"
    assert prefix_of("a/b/c/x.png", 2) == "a/b/"
    assert prefix_of("a/x.png", 3) == "a/"
    assert prefix_of("x.png", 1) == ROOT
    assert type_of("a/B.JPEG") == "jpg"
    assert type_of("a/readme") == NO_EXTENSION
    assert type_of("a/.hidden") == NO_EXTENSION
    assert type_of("a.b/c") == NO_EXTENSION


def test_aggregator_memory_is_bounded_by_groups_not_objects() -> None:
    with isolated.worker() as pool:
        small, big = (isolated.run(pool, isolated.aggregator_memory, n) for n in (2_000, 20_000))
    assert big < small * 2 + 64_000, (small, big)  # 10x the objects, about the same memory


def test_aggregator_caps_the_number_of_groups() -> None:
    agg = Aggregator(depth=1, max_groups=5)
    when = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(50):
        agg.add(Entry(f"f{i}/x.png", 1, when, "STANDARD"))
    assert len(agg.by_prefix) == 5 + 1 and agg.by_prefix["(other)"].objects == 45
    assert sum(g.objects for g in agg.by_prefix.values()) == 50


def test_cost_estimate_uses_settings_and_free_tier(settings: Settings) -> None:
    assert estimate_cost(5 * 10**9, settings).storage_usd == 0
    cost = estimate_cost(30 * 10**9, settings)
    assert cost.storage_usd == pytest.approx(20 * 0.015) and cost.free_storage_left_gb == pytest.approx(-20)
    assert scan_list_calls(20_000, prefixes=20) == 20 + 20 + 2


# ------------------------------------------------------------------------------- integration


@pytest.mark.parametrize("engine", ["obstore", "boto3"])
def test_scan_totals_match_a_direct_sum(
    engine: str, s3: S3Client, settings: Settings, bucket: list[tuple[str, int]]
) -> None:
    report = scan(make_lister(engine, settings, s3), settings.bucket, client=s3, workers=4)
    count, size, objs = direct_sum(s3, settings.bucket)
    assert (report.objects, report.bytes) == (count, size) == (len(bucket), sum(s for _, s in bucket))
    assert report.complete and report.engine == engine

    visible = [o for o in objs if not o["Key"].startswith((".dashboard/", ".thumbs/"))]
    by_prefix = Counter(o["Key"].split("/")[0] + "/" if "/" in o["Key"] else ROOT for o in visible)
    assert {k: v["objects"] for k, v in report.by_prefix.items()} == dict(by_prefix)
    assert report.by_prefix["photos/"]["bytes"] == sum(o["Size"] for o in objs if o["Key"].startswith("photos/"))
    assert report.reserved == {".dashboard/": {"objects": 1, "bytes": 40}, ".thumbs/": {"objects": 1, "bytes": 60}}
    jpg = [k for k, _ in bucket if k.lower().endswith((".jpg", ".jpeg")) and not k.startswith(".")]
    assert report.by_type["jpg"]["objects"] == len(jpg) == 3 * 23  # .jpg and .JPEG together
    assert report.by_type[NO_EXTENSION] == {"objects": 1, "bytes": 11}
    assert set(report.by_month) == {"2025-01", "2025-03", "2025-07", "2025-11"}
    assert sum(g["objects"] for g in report.by_month.values()) == len(visible)
    assert report.largest[0].key == "top.gif" and report.largest[0].bytes == 2500
    assert [o.bytes for o in report.largest] == sorted((o["Size"] for o in visible), reverse=True)[:20]
    if engine == "boto3":
        assert report.by_storage_class["STANDARD_IA"]["objects"] == 10
    else:
        assert set(report.by_storage_class) == {"unreported"}


def test_depth_two(s3: S3Client, settings: Settings, bucket: list[tuple[str, int]]) -> None:
    report = scan(make_lister("obstore", settings, s3), settings.bucket, depth=2)
    assert report.by_prefix["photos/sub0/"]["objects"] == 15
    assert "photos/" not in report.by_prefix and report.by_prefix["weird/"]["objects"] == 1


def test_scan_costs_one_list_per_folder_page(s3: S3Client, s3_calls: CallCounter, settings: Settings) -> None:
    seed(settings.bucket, [(f"p{p}/k{i:05d}.jpg", 1) for p in range(2) for i in range(1500)])
    s3_calls.reset()
    report = scan(Boto3Lister(s3, settings.bucket), settings.bucket, client=s3, workers=2)
    assert report.objects == 3000
    # 1 delimiter LIST to find the 2 folders + ceil(1500/1000) = 2 pages for each folder
    assert s3_calls.calls == {"ListObjectsV2": 1 + 2 * 2, "ListMultipartUploads": 1}
    assert report.list_calls == 6


def test_obstore_lister_falls_back_to_boto3_for_keys_it_cannot_represent(s3: S3Client, settings: Settings) -> None:
    items = [("a/ok-1.png", 5), ("a//double.png", 7), ("a/x/../y.png", 9), ("a/ok-2.png", 11), ("b/c.png", 13)]
    seed(settings.bucket, items)
    report = scan(ObstoreLister.from_settings(settings), settings.bucket, client=s3)
    assert (report.objects, report.bytes) == (5, 45)
    assert report.by_prefix["a/"] == {"objects": 4, "bytes": 32}


def test_incomplete_multipart_uploads_are_reported(s3: S3Client, settings: Settings) -> None:
    s3.put_object(Bucket=settings.bucket, Key="photos/done.jpg", Body=b"x")
    s3.create_multipart_upload(Bucket=settings.bucket, Key="photos/abandoned.jpg")
    report = scan(make_lister("obstore", settings, s3), settings.bucket, client=s3)
    assert [u.key for u in report.incomplete_uploads] == ["photos/abandoned.jpg"]
    assert report.objects == 1


class FlakyLister:
    """Wraps a lister; fails the n-th page of one folder once (a dropped connection mid-scan)."""

    def __init__(self, inner: Boto3Lister, folder: str, fail_at_page: int) -> None:
        self.inner, self.folder, self.fail_at = inner, folder, fail_at_page
        self.name = inner.name
        self.failed = False
        self.starts: list[tuple[str, str | None]] = []

    def top_level(self, prefix: str = "") -> tuple[list[str], list[Entry]]:
        return self.inner.top_level(prefix)

    def pages(self, prefix: str, start_after: str | None = None) -> Iterator[list[Entry]]:
        self.starts.append((prefix, start_after))
        for n, page in enumerate(self.inner.pages(prefix, start_after)):
            if prefix == self.folder and n == self.fail_at and not self.failed:
                self.failed = True
                raise Unavailable("Could not list the bucket: connection reset.")
            yield page


def test_resume_after_a_failure_mid_scan_gives_exact_totals(s3: S3Client, settings: Settings) -> None:
    items = [(f"p{p}/k{i:05d}.png", (i % 13) + 1) for p in range(4) for i in range(1200)]
    seed(settings.bucket, items)
    lister = FlakyLister(Boto3Lister(s3, settings.bucket), "p2/", fail_at_page=1)
    job = UsageScan(lister, settings.bucket, workers=2)
    with pytest.raises(Unavailable):
        job.run()
    counted = job.progress().objects
    assert 0 < counted < len(items)
    assert job.report is None
    report = job.run()
    assert (report.objects, report.bytes) == (len(items), sum(s for _, s in items))
    assert report.by_prefix["p2/"]["objects"] == 1200
    assert ("p2/", "p2/k00999.png") in lister.starts, "p2 resumed after the last key of its first page"


def test_cancel_keeps_counts_and_resume_finishes(s3: S3Client, settings: Settings) -> None:
    items = [(f"p{p}/k{i:05d}.png", 3) for p in range(3) for i in range(1100)]
    seed(settings.bucket, items)
    job = UsageScan(Boto3Lister(s3, settings.bucket), settings.bucket, workers=1)
    pages_seen = []

    def stop_after_two_pages() -> bool:
        pages_seen.append(1)
        return len(pages_seen) >= 2

    with pytest.raises(ScanStopped):
        job.run(should_stop=stop_after_two_pages)
    stopped = job.progress()
    assert 0 < stopped.objects < len(items) and stopped.folders_done < 3
    seen = []
    report = job.run(progress=seen.append)
    assert report.objects == len(items) and report.bytes == 3 * len(items)
    assert seen and seen[-1].objects == len(items) and seen[-1].rate > 0


def test_discovery_goes_deeper_when_everything_is_in_one_folder(s3: S3Client, settings: Settings) -> None:
    seed(settings.bucket, [(f"uploads/u{u}/k{i}.jpg", 1) for u in range(10) for i in range(5)] + [("uploads/x", 2)])
    job = UsageScan(make_lister("obstore", settings, s3), settings.bucket, workers=8, client=s3)
    report = job.run()
    assert len(job.parts) == 10 and report.objects == 51
    assert report.by_prefix == {"uploads/": {"objects": 51, "bytes": 52}}


def test_empty_bucket(s3: S3Client, settings: Settings) -> None:
    report = scan(make_lister("obstore", settings, s3), settings.bucket, client=s3)
    assert (report.objects, report.bytes, report.by_prefix, report.largest) == (0, 0, {}, ())


def test_snapshots_save_load_and_history(s3: S3Client, settings: Settings, bucket: list[tuple[str, int]]) -> None:
    assert latest(s3, settings.bucket) == (None, [])
    first = scan(make_lister("obstore", settings, s3), settings.bucket, client=s3)
    key1 = save(s3, settings.bucket, first)
    seed(settings.bucket, [("photos/new.jpg", 1000)])
    second = scan(make_lister("obstore", settings, s3), settings.bucket, client=s3)
    save(s3, settings.bucket, second)
    report, infos = latest(s3, settings.bucket)
    assert report == second
    assert [(i.objects, i.bytes) for i in infos] == [(first.objects, first.bytes), (second.objects, second.bytes)]
    assert load(s3, settings.bucket, key1) == first
    assert parse_key(key1) is not None and history(s3, settings.bucket)[0].key == key1
    # the snapshot itself lives under the reserved prefix: the next scan counts it apart
    third = scan(make_lister("obstore", settings, s3), settings.bucket, client=s3)
    assert third.reserved[".dashboard/"]["objects"] == 1 + 2


def test_report_json_round_trip(s3: S3Client, settings: Settings, bucket: list[tuple[str, int]]) -> None:
    report = scan(make_lister("boto3", settings, s3), settings.bucket, client=s3)
    data = report.to_dict(settings)
    assert UsageReport.from_dict(data) == report
    assert data["estimated_monthly_cost_usd"] == 0.0


def test_discovery_never_lists_a_big_folder_by_itself(s3: S3Client, settings: Settings, s3_calls: CallCounter) -> None:
    seed(settings.bucket, [(f"uploads/{i:05d}.jpg", 1) for i in range(1100)])
    job = UsageScan(make_lister("obstore", settings, s3), settings.bucket, workers=8, client=s3)
    report = job.run()
    assert list(job.parts) == ["uploads/"] and report.objects == 1100
    assert job.discovery_calls == 2  # the top level, and one page of uploads/ (truncated: not expanded)
    assert s3_calls.calls["ListObjectsV2"] == 1  # the peek; the rest was listed by obstore


class Interrupted(Exception):
    """Stands in for Streamlit's RerunException, raised from a progress element when Stop is clicked."""


def test_an_exception_from_the_progress_callback_pauses_the_scan(s3: S3Client, settings: Settings) -> None:
    items = [(f"p{p}/k{i:05d}.png", 2) for p in range(3) for i in range(1100)]
    seed(settings.bucket, items)
    job = UsageScan(Boto3Lister(s3, settings.bucket), settings.bucket, workers=3)

    def interrupt(p: object) -> None:
        if job.parts:  # after discovery: the folders are being listed
            raise Interrupted

    with pytest.raises(Interrupted):
        job.run(progress=interrupt, tick=0.01)
    paused = job.progress().objects
    assert job.report is None and paused < len(items)
    assert job.progress().objects == paused, "no worker keeps counting after the interruption"
    report = job.run()
    assert (report.objects, report.bytes) == (len(items), 2 * len(items))
