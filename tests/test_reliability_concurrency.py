"""Concurrency on shared state, against the real local S3 server: CORS edits racing, uploads racing
for one key, audit events from parallel writers. Threads meet at barriers placed inside the calls
(botocore event hooks), so the interleaving is forced, not hoped for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2 import config_store, cors, cors_store
from r2.audit import AUDIT_PREFIX, AuditEvent, recent, record
from r2.client import S3Client, make_client
from r2.errors import AlreadyExists, Conflict
from r2.images import ImagePolicy, clean
from r2.settings import Settings
from r2.thumbnails import thumbnail_of
from r2.uploads import put_new, store
from tests.support import corpus
from tests.support.apptest import configure
from tests.support.env import ROOT, TEST_BUCKET

APP = "http://localhost:8501"
A = cors.parse([{"AllowedOrigins": ["https://a.example.com"], "AllowedMethods": ["GET"]}])
B = cors.parse([{"AllowedOrigins": ["https://b.example.com"], "AllowedMethods": ["PUT"]}])


def meet_before(client: S3Client, operation: str, barrier: threading.Barrier) -> None:
    """Make the client's first `operation` wait until every party reached the barrier."""
    fired = threading.Event()

    def wait(**_: Any) -> None:
        if not fired.is_set():
            fired.set()
            barrier.wait(timeout=30)

    client.meta.events.register(f"before-call.s3.{operation}", wait)


def race(*jobs: Callable[[], object]) -> list[object]:
    """Run the jobs at once; each result is the job's return value or the exception it raised."""

    def run(job: Callable[[], object]) -> object:
        try:
            return job()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


# GetObject: both read the free lease before either claims it; PutObject: both claim it at once.
@pytest.mark.parametrize("meeting_point", ["GetObject", "PutObject"])
def test_two_cors_edits_at_once_one_wins_the_other_is_refused_with_the_difference(
    s3: S3Client, settings: Settings, meeting_point: str
) -> None:
    """Both editors loaded "no policy"; they apply A and B at the same moment. Whichever the server
    saw first wins; the other is refused with StaleEdit naming the difference. Never both, never a
    policy that nobody is told about."""
    clients = [make_client(settings), make_client(settings)]
    barrier = threading.Barrier(2)
    for client in clients:
        meet_before(client, meeting_point, barrier)
    results = race(
        lambda: cors_store.apply(clients[0], TEST_BUCKET, A, actor="ana", expected=None),
        lambda: cors_store.apply(clients[1], TEST_BUCKET, B, actor="bo", expected=None),
    )
    won = [r for r in results if isinstance(r, cors_store.ChangeResult)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(lost) == 1, results
    live = cors_store.read_policy(s3, TEST_BUCKET)
    assert live == won[0].after
    refused = lost[0]
    assert isinstance(refused, cors_store.StaleEdit)
    other = "b.example.com" if live == B else "a.example.com"
    assert other in refused.difference
    outcomes = sorted(e.outcome for e in recent(s3, TEST_BUCKET) if e.action == "cors.apply")
    assert outcomes == ["ok", "refused"]


def test_cors_page_refuses_while_another_session_is_applying(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings
) -> None:
    """Session 2 is in the middle of applying B (it holds the lease, its write not yet done) when
    session 1 presses Apply: session 1 is refused and shown the difference with B, not left to undo it.
    (AppTest sessions cannot run at the same moment: AppTest swaps a process-wide Runtime per run; the
    truly simultaneous case is the library test above, with barriers.)"""
    st.cache_resource.clear()
    st.cache_data.clear()
    configure(monkeypatch, settings.endpoint, "developer")
    monkeypatch.setenv("R2_APP_ORIGIN", APP)
    page = AppTest.from_file(str(ROOT / "pages" / "cors.py")).run(timeout=30)
    page.text_area(key="cors_text").input(A.to_json()).run(timeout=30)
    lease = cors_store._take_lease(s3, TEST_BUCKET, "v-session-2", B, None, "session 2", "cors.apply")
    page.button(key="cors_apply").click().run(timeout=30)
    assert not page.exception
    assert any("changed since you loaded it" in e.value for e in page.error)
    assert any("b.example.com" in c.value for c in page.code)  # what session 2 is setting
    assert cors_store.read_policy(s3, TEST_BUCKET) is None  # session 1 wrote nothing
    cors_store._release_lease(s3, TEST_BUCKET, lease)
    page.button(key="cors_apply").click().run(timeout=30)  # the lease is free again: it goes through
    assert not page.exception and cors_store.read_policy(s3, TEST_BUCKET) == A


def test_two_uploads_racing_for_one_key_store_exactly_one(s3: S3Client, settings: Settings) -> None:
    image = clean(corpus.plain("PNG"), ImagePolicy(), thumb_size=64, thumbnail=thumbnail_of)
    other = clean(corpus.plain("JPEG"), ImagePolicy(), thumb_size=64, thumbnail=thumbnail_of)
    clients = [make_client(settings), make_client(settings)]
    barrier = threading.Barrier(2)
    for client in clients:
        meet_before(client, "PutObject", barrier)
    results = race(
        lambda: store(clients[0], TEST_BUCKET, "uploads/same.png", image, original_name="a.png", uploaded_by="a"),
        lambda: store(clients[1], TEST_BUCKET, "uploads/same.png", other, original_name="b.jpg", uploaded_by="b"),
    )
    assert sum(isinstance(r, AlreadyExists) for r in results) == 1, results
    winner = image if isinstance(results[1], AlreadyExists) else other
    body = s3.get_object(Bucket=TEST_BUCKET, Key="uploads/same.png")["Body"].read()
    assert body == winner.body  # the loser overwrote nothing
    thumb = s3.get_object(Bucket=TEST_BUCKET, Key=".thumbs/uploads/same.png.webp")["Body"].read()
    assert thumb == winner.thumbnail  # and its thumbnail is the winner's


def test_many_writers_racing_for_one_key(s3: S3Client, settings: Settings) -> None:
    barrier = threading.Barrier(8)
    clients = [make_client(settings) for _ in range(8)]
    for client in clients:
        meet_before(client, "PutObject", barrier)
    results = race(
        *[
            lambda c=c, n=n: put_new(c, TEST_BUCKET, "k.bin", bytes([n]) * 10, content_type="x/y", metadata={})
            for n, c in enumerate(clients)
        ]
    )
    assert sum(r is None for r in results) == 1 and sum(isinstance(r, AlreadyExists) for r in results) == 7


def test_audit_events_from_parallel_writers_are_all_kept(s3: S3Client, settings: Settings) -> None:
    writers, each = 8, 25
    clients = [make_client(settings) for _ in range(writers)]
    events = [[AuditEvent(f"user{w}", "upload", f"uploads/{w}-{n}.png") for n in range(each)] for w in range(writers)]

    def write(w: int) -> list[str]:
        return [record(clients[w], TEST_BUCKET, e) for e in events[w]]

    with ThreadPoolExecutor(writers) as pool:
        keys = [k for batch in pool.map(write, range(writers)) for k in batch]
    assert len(set(keys)) == writers * each  # every event has its own key, even within one microsecond
    stored = recent(s3, TEST_BUCKET, limit=10_000)
    assert sorted((e.actor, e.target) for e in stored) == sorted((e.actor, e.target) for batch in events for e in batch)
    listed = s3.list_objects_v2(Bucket=TEST_BUCKET, Prefix=AUDIT_PREFIX)["KeyCount"]
    assert listed == writers * each


def test_a_lease_left_by_a_crashed_writer_expires(s3: S3Client, settings: Settings) -> None:
    import json
    from datetime import UTC, datetime, timedelta

    old = (datetime.now(UTC) - timedelta(seconds=cors_store.LEASE_SECONDS + 1)).isoformat()
    fresh = datetime.now(UTC).isoformat()
    lease = {"state": "pending", "version": "v", "actor": "crashed", "at": fresh, "after": None}
    s3.put_object(Bucket=TEST_BUCKET, Key=cors_store.LEASE_KEY, Body=json.dumps(lease).encode())
    with pytest.raises(Conflict) as info:
        cors_store.apply(s3, TEST_BUCKET, A, actor="ana")  # no `expected`: plain Conflict, who holds it
    assert "in progress" in str(info.value) and "crashed" in str(info.value)
    assert cors_store.read_policy(s3, TEST_BUCKET) is None
    s3.put_object(Bucket=TEST_BUCKET, Key=cors_store.LEASE_KEY, Body=json.dumps(lease | {"at": old}).encode())
    assert cors_store.apply(s3, TEST_BUCKET, A, actor="ana").after == A
    assert cors_store.apply(s3, TEST_BUCKET, B, actor="ana").after == B  # released after each change


def test_a_race_lost_to_a_change_that_already_finished_still_shows_the_difference(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by CI: both editors saw the lease free; the winner then finished its whole change (its lease
    "done", naming no policy) before the loser looked again. The loser must still be shown what is live."""
    cors_store.apply(s3, TEST_BUCKET, B, actor="bo", expected=None)  # the winner, done
    real = config_store._read_lease
    first_look: list[tuple[str | None, dict[str, Any]]] = [(None, {})]  # before the winner wrote its lease
    monkeypatch.setattr(config_store, "_read_lease", lambda c, b, k: first_look.pop() if first_look else real(c, b, k))
    with pytest.raises(cors_store.StaleEdit) as refused:
        cors_store.apply(s3, TEST_BUCKET, A, actor="ana", expected=None)
    assert "b.example.com" in refused.value.difference
    assert cors_store.read_policy(s3, TEST_BUCKET) == B
