"""Load: concurrent browser sessions (Playwright contexts) browse, page and upload against one app
instance (tests/support/load.py drives them). Zero errors, nothing lost: every upload is stored exactly once
with its thumbnail, and every session browsed and paged.

The shape of the load (tests/support/load.py): sessions arrive one every 2 s (a staggered ramp-up: users do
not all click in the same millisecond), each opens the app once (the only full page load), opens the
folder, uploads one image through the Upload page, comes back, then pages Next / Previous with 2-5 s of
think time (at least one round each, then until R2_LOAD_SECONDS after the first arrived). Each step has
its own limit (tests/support/load.py: OPEN_TIMEOUT_S, STEP_TIMEOUT_S, UPLOAD_TIMEOUT_S), sized for 20 sessions
on this 2-core machine: a step that misses it is an error of the run.

`make test` runs a small honest version: 4 sessions that overlap (each round takes ~30 s of think
time, arrivals 2 s apart), one round each, the same assertions. The 20-session scale run is the load
benchmark (`make bench BENCH_ARGS="--quick load"`, docs/bench/load.md: errors and uploads stored once
are in its table) or this test with R2_LOAD_SESSIONS=20 R2_LOAD_SECONDS=60 (docs/reliability.md,
Test-suite determinism). Render times are printed and recorded by the benchmark, never asserted.
"""

from __future__ import annotations

import os

import pytest

from r2.client import S3Client
from tests.support.browser import require_chromium, streamlit_app
from tests.support.env import TEST_BUCKET, env_for
from tests.support.load import SEEDED, drive, report, seed, stored_uploads, streamlit_pid

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SESSIONS = int(os.environ.get("R2_LOAD_SESSIONS", "4"))
SECONDS = float(os.environ.get("R2_LOAD_SECONDS", "0"))  # 0: one round each
RAMP = float(os.environ.get("R2_LOAD_RAMP", str(2.0 * SESSIONS)))


# The whole test: app start, the sessions (SECONDS, then each finishes its round within the step
# limits), the checks. A run that hangs fails here instead of holding CI.
@pytest.mark.timeout(360)
def test_concurrent_sessions_browse_page_and_upload_without_errors_or_loss(s3: S3Client) -> None:
    require_chromium()
    seed(s3, TEST_BUCKET)
    env = env_for(s3.meta.endpoint_url, R2_DEFAULT_ROLE="member")
    with streamlit_app(env) as url:
        result = drive(url, SESSIONS, SECONDS, ramp=RAMP, server_pid=streamlit_pid())
    stored = stored_uploads(s3, TEST_BUCKET)
    print(report([("this run", result, sum(1 for n in result.uploaded if stored[n] == 1))]))
    assert result.errors == []
    assert sorted(result.uploaded) == sorted(f"load-session-{i}.png" for i in range(SESSIONS))
    assert stored == {name: 1 for name in result.uploaded}  # each upload exactly once, nothing extra
    keys = [
        o["Key"]
        for p in s3.get_paginator("list_objects_v2").paginate(Bucket=TEST_BUCKET)
        for o in p.get("Contents", [])
    ]
    assert sum(k.startswith("uploads/") for k in keys) == SEEDED + SESSIONS
    assert sum(k.startswith(".thumbs/uploads/") for k in keys) == SESSIONS  # each with its thumbnail
    # every session opened the app, the folder twice (before and after its upload), and paged both ways
    assert result.pages_seen["open app"] == SESSIONS
    assert result.pages_seen["open folder"] == 2 * SESSIONS
    assert result.pages_seen["next"] >= SESSIONS and result.pages_seen["previous"] >= SESSIONS
