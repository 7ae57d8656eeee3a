"""A usage scan whose process dies is resumed by another from the state it saved in the bucket.

Every object is counted exactly once: pages listed after the last save die with the process and are
listed again by the resumed scan from the saved position.
"""

from __future__ import annotations

import contextlib
import json

import pytest

from r2.client import S3Client
from r2.usage import ScanStopped, UsageScan, scan
from r2.usage import checkpoint as usage_checkpoint
from r2.usage.listing import Boto3Lister
from tests.support.env import TEST_BUCKET
from tests.support.seeding import seed


def test_a_scan_cut_after_a_save_is_finished_by_another_process_exactly(s3: S3Client) -> None:
    items = [(f"f{n % 3}/deep/{n:05d}.jpg", 10 + n % 7) for n in range(4500)] + [("top.png", 5)]
    seed(TEST_BUCKET, items)
    expected = scan(Boto3Lister(s3, TEST_BUCKET), TEST_BUCKET, client=s3, workers=3)
    assert expected.objects == len(items)

    # Replica A: lists a few pages, saves its state, lists more pages (never saved), then dies.
    pages = 0

    def after_some_pages() -> bool:
        nonlocal pages
        pages += 1
        return pages > 3

    first = UsageScan(Boto3Lister(s3, TEST_BUCKET), TEST_BUCKET, client=s3, workers=1)
    with pytest.raises(ScanStopped):  # what a Stop click or an error leaves; the page then saves
        first.run(should_stop=after_some_pages)
    usage_checkpoint.save(s3, first, actor="ann")
    counted_at_save = first.progress().objects
    assert 0 < counted_at_save < len(items)
    pages = 0
    with contextlib.suppress(ScanStopped):  # it goes on listing (maybe to the end), but dies before saving:
        first.run(should_stop=after_some_pages)  # whatever it counted after the save dies with it
    del first

    # Replica B: finds the saved state in the bucket (as JSON: nothing shared in memory) and finishes.
    saved = usage_checkpoint.load(s3, TEST_BUCKET)
    assert saved is not None and saved["actor"] == "ann"
    resumed = usage_checkpoint.restore(json.loads(json.dumps(saved)), Boto3Lister(s3, TEST_BUCKET), s3)
    assert resumed.progress().objects == counted_at_save
    report = resumed.run()
    assert (report.objects, report.bytes) == (expected.objects, expected.bytes)
    assert report.by_prefix == expected.by_prefix and report.by_type == expected.by_type
    assert [o.key for o in report.largest] == [o.key for o in expected.largest]
    usage_checkpoint.clear(s3, TEST_BUCKET)
    assert usage_checkpoint.load(s3, TEST_BUCKET) is None
