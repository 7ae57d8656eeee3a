"""Load: concurrent browser sessions browse, page and upload against one app instance for a bounded
time (bench/load.py drives them). Zero errors, nothing lost: every upload is stored exactly once.

Eight sessions by default: on this 2-core machine, with Chromium, the app and the S3 server sharing
the cores, 20 sessions took ~3 minutes (p50 render ~39 s) — beyond the per-test time limit. The
benchmark (`python -m bench --quick load`, docs/bench/load.md) runs 20; R2_LOAD_SESSIONS and
R2_LOAD_SECONDS change the load here.
"""

from __future__ import annotations

import os

import pytest

from bench.load import SEEDED, drive, report, seed, stored_uploads
from r2.client import S3Client
from tests.browser import require_chromium, streamlit_app
from tests.conftest import TEST_BUCKET

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SESSIONS = int(os.environ.get("R2_LOAD_SESSIONS", "8"))
SECONDS = float(os.environ.get("R2_LOAD_SECONDS", "15"))


@pytest.mark.timeout(150)  # app start, the uploads, a round of browsing each and SECONDS more, the checks
def test_concurrent_sessions_browse_page_and_upload_without_errors_or_loss(s3: S3Client) -> None:
    require_chromium()
    seed(s3, TEST_BUCKET)
    env = {
        "R2_ENDPOINT": s3.meta.endpoint_url,
        "R2_ACCESS_KEY_ID": "test-access-key",
        "R2_SECRET_ACCESS_KEY": "test-secret-key-0123456789",
        "R2_BUCKET": TEST_BUCKET,
        "R2_DEFAULT_ROLE": "member",
    }
    with streamlit_app(env) as url:
        result = drive(url, SESSIONS, SECONDS)
    print(report(result, stored_uploads(s3, TEST_BUCKET)))
    assert result.errors == []
    assert sorted(result.uploaded) == sorted(f"load-session-{i}.png" for i in range(SESSIONS))
    stored = stored_uploads(s3, TEST_BUCKET)
    assert stored == {name: 1 for name in result.uploaded}  # each upload exactly once, nothing extra
    keys = [
        o["Key"]
        for p in s3.get_paginator("list_objects_v2").paginate(Bucket=TEST_BUCKET)
        for o in p.get("Contents", [])
    ]
    assert sum(k.startswith("uploads/") for k in keys) == SEEDED + SESSIONS
    assert sum(k.startswith(".thumbs/uploads/") for k in keys) == SESSIONS  # each with its thumbnail
    assert result.pages_seen["browse 1"] >= SESSIONS and result.pages_seen["browse 2"] >= SESSIONS
