"""A replica (or command) that dies in the middle of a write leaves the bucket consistent.

Each test starts the real command line as its own process against the local S3 server through the fault
proxy, holds one chosen request unanswered (so the process is exactly mid-way), kills the process as a
crash or a redeploy would, and checks what the next writer finds.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from r2 import config_store, cors_store
from r2.cors import preset
from r2.errors import Conflict
from r2.naming import is_hidden
from r2.settings import Settings
from tests.support import corpus
from tests.support.env import ROOT, TEST_BUCKET, env_for
from tests.support.fault_proxy import Fault, fault_proxy


def _killed_mid_request(argv: list[str], endpoint: str, fault: Fault, arrived: Callable[[], bool]) -> None:
    """Run `python -m r2 ARGV` against `endpoint`; once `arrived()` (the held request reached the proxy),
    kill it without warning."""
    env = {"PATH": "/usr/bin:/bin", **env_for(endpoint)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "r2", *argv], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 90
        while not arrived():
            assert proc.poll() is None, "the command ended before reaching the held request"
            assert time.monotonic() < deadline, "the held request never arrived"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_cors_apply_killed_midway_leaves_the_policy_and_a_lock_that_frees_itself(
    s3,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    wanted = preset("https://images.example.com")
    policy_file = tmp_path / "cors.json"
    policy_file.write_text(wanted.to_json(), encoding="utf-8")
    with fault_proxy(settings.endpoint) as proxy:
        proxy.inject(Fault("hang", match=lambda m, p: m == "PUT" and p.split("?", 1)[-1].startswith("cors")))
        _killed_mid_request(
            ["cors", "set", str(policy_file), "--yes"],
            proxy.endpoint,
            proxy.faults[-1],
            lambda: proxy.count("PUT", "cors") > 0,
        )
    # Nothing half-applied: the live policy is still the old one (none), and the dead writer's lease waits.
    assert cors_store.read_policy(s3, TEST_BUCKET) is None
    with pytest.raises(Conflict) as busy:
        cors_store.apply(s3, TEST_BUCKET, wanted, actor="admin-b")
    assert "frees itself within" in (busy.value.fix or "")
    # Time passes (LEASE_SECONDS, 120 s in production): the lease of a writer that never came back expires.
    monkeypatch.setattr(config_store, "LEASE_SECONDS", 0)
    cors_store.apply(s3, TEST_BUCKET, wanted, actor="admin-b")
    assert cors_store.read_policy(s3, TEST_BUCKET) == wanted


def test_an_upload_killed_between_thumbnail_and_original_leaves_no_orphan(
    s3, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from r2.thumbnails import remove_orphans

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(corpus.jpeg_gps((400, 300)))
    with fault_proxy(settings.endpoint) as proxy:
        # The thumbnail is written first; hold the original's PUT (not under .thumbs/) and kill the upload.
        held = Fault("hang", match=lambda m, p: m == "PUT" and "/uploads/" in p and "/.thumbs/" not in p)
        proxy.inject(held)
        _killed_mid_request(
            ["upload", str(photo)],
            proxy.endpoint,
            held,
            lambda: proxy.count("PUT", path_contains="/uploads/") > proxy.count("PUT", path_contains="/.thumbs/"),
        )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=TEST_BUCKET).get("Contents", [])]
    assert not [k for k in keys if not is_hidden(k)], "the original was never stored"
    assert [k for k in keys if k.startswith(".thumbs/")], "the thumbnail was (the crash window)"
    # The repair that Browse's "Make missing thumbnails" runs: thumbnails whose
    # original is gone are removed once older than a grace period (0 here: time has passed).
    removed = remove_orphans(s3, TEST_BUCKET, "uploads/", older_than_seconds=0, actor="admin")
    assert len(removed) == 1
    assert not s3.list_objects_v2(Bucket=TEST_BUCKET, Prefix=".thumbs/").get("Contents")
