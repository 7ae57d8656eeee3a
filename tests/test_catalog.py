"""The catalog (a Delta Lake table in the bucket): records, search, sync, concurrent writers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from r2 import catalog_sync
from r2.catalog import CATALOG_PREFIX, Catalog, Row, Search, search
from r2.client import CallCounter, S3Client
from r2.settings import Settings
from tests.support.env import TEST_BUCKET

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _row(key: str, name: str | None = None, uploader: str | None = None, size: int = 100, days: int = 0) -> Row:
    at = T0 + timedelta(days=days)
    return Row(
        key=key,
        size=size,
        etag=f"e-{key}",
        last_modified=at,
        original_name=name,
        uploader=uploader,
        uploaded_at=at if uploader else None,
        format="JPEG",
        content_type="image/jpeg",
        width=40,
        height=30,
    )


def _keys(page: object) -> list[str]:
    return [r.key for r in page.rows]  # type: ignore[attr-defined]


@pytest.fixture
def cat(s3: S3Client, settings: Settings) -> Catalog:
    return Catalog(settings, fresh_seconds=0)


def test_find_by_part_of_the_original_name_uploader_and_date(cat: Catalog) -> None:
    cat.record(
        [
            _row("uploads/1.jpg", "Clinic-Front.JPG", "ann@example.com", days=0),
            _row("uploads/2.jpg", "clinic back.jpg", "bob@example.com", days=3),
            _row("team/a/3.jpg", "front desk.png", "ann@example.com", days=8),
            _row("other/raw.jpg", days=-1),  # written by another tool: no name, found by its key
        ]
    )
    assert _keys(search(cat, Search(name="clinic-front"))) == ["uploads/1.jpg"]
    assert sorted(_keys(search(cat, Search(name="FRONT")))) == ["team/a/3.jpg", "uploads/1.jpg"]
    assert _keys(search(cat, Search(uploader="ann", since=T0 + timedelta(days=7)))) == ["team/a/3.jpg"]
    assert _keys(search(cat, Search(name="raw"))) == ["other/raw.jpg"]
    assert _keys(search(cat, Search(folder="team/"))) == ["team/a/3.jpg"]  # sub-folders included
    assert _keys(search(cat, Search(folder="team/", exact_folder=True))) == []
    newest = search(cat, Search(sort="newest", limit=2))
    assert newest.total == 4 and _keys(newest) == ["team/a/3.jpg", "uploads/2.jpg"]
    assert _keys(search(cat, Search(sort="newest", limit=2, offset=2))) == ["uploads/1.jpg", "other/raw.jpg"]


@pytest.mark.parametrize("text", ["%", "_", "'; DROP TABLE catalog; --", "\\", "a' OR '1'='1"])
def test_search_text_is_matched_literally_never_run(cat: Catalog, text: str) -> None:
    cat.record([_row("uploads/1.jpg", "plain.jpg"), _row("uploads/2.jpg", f"odd {text} name.jpg")])
    assert _keys(search(cat, Search(name=text))) == ["uploads/2.jpg"]
    assert search(cat, Search()).total == 2  # the table is still there, whole


def test_one_commit_updates_and_removes(cat: Catalog) -> None:
    first = cat.record([_row("a/1.jpg", "one"), _row("a/2.jpg", "two")])
    second = cat.record([_row("a/1.jpg", "renamed")], removals=["a/2.jpg"])
    assert second == first + 1
    rows = {r.key: r for r in catalog_sync.iter_rows(cat)}
    assert set(rows) == {"a/1.jpg"} and rows["a/1.jpg"].original_name == "renamed"


def test_concurrent_writers_lose_no_row(s3: S3Client, settings: Settings) -> None:
    Catalog(settings).record([_row("seed/0.jpg")])  # the table exists; writers then race on commits
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        mine = Catalog(settings, fresh_seconds=0)  # as another replica would: its own reader
        try:
            for i in range(3):
                mine.record([_row(f"w{n}/{i}.jpg")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    keys = {r.key for r in catalog_sync.iter_rows(Catalog(settings, fresh_seconds=0))}
    assert keys == {"seed/0.jpg"} | {f"w{n}/{i}.jpg" for n in range(4) for i in range(3)}


def _put(s3: S3Client, key: str, body: bytes = b"x", **meta: str) -> None:
    s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=body, Metadata=meta)


def _listing(s3: S3Client, bucket: str = TEST_BUCKET) -> dict[str, tuple[str, int]]:
    listed, _ = catalog_sync.list_bucket(s3, bucket)
    return {item.key: (item.etag, item.size) for item in listed}


def _catalogued(settings: Settings) -> dict[str, tuple[str, int]]:
    return {r.key: (r.etag, r.size) for r in catalog_sync.iter_rows(Catalog(settings, fresh_seconds=0))}


def test_sync_builds_then_repairs_with_one_head_per_change(s3: S3Client, settings: Settings) -> None:
    for i in range(5):
        _put(s3, f"uploads/{i}.jpg", b"x" * (i + 1), **{"original-name": f"photo%20{i}.jpg", "uploaded-by": "ann"})
    _put(s3, "elsewhere/tool.png")
    _put(s3, ".thumbs/uploads/0.jpg.webp")  # the app's own data never enters the catalog
    cat = Catalog(settings, fresh_seconds=0)
    first = catalog_sync.sync(cat, s3, TEST_BUCKET)
    assert first.recorded == 6 and _catalogued(settings) == _listing(s3)
    assert {r.original_name for r in catalog_sync.iter_rows(cat) if r.uploader} == {f"photo {i}.jpg" for i in range(5)}

    _put(s3, "uploads/1.jpg", b"changed by another tool")
    s3.delete_object(Bucket=TEST_BUCKET, Key="uploads/2.jpg")
    _put(s3, "uploads/new.jpg")
    calls = CallCounter(s3)
    again = catalog_sync.sync(cat, s3, TEST_BUCKET)
    assert (again.recorded, again.removed) == (2, 1)
    assert calls.calls["HeadObject"] == 2 and calls.calls["ListObjectsV2"] == 1
    assert _catalogued(settings) == _listing(s3)
    assert not any(k.startswith(CATALOG_PREFIX) for k in _catalogued(settings))


def test_a_stopped_sync_resumes_where_it_stopped(s3: S3Client, settings: Settings) -> None:
    for i in range(7):
        _put(s3, f"f/{i}.jpg")
    cat = Catalog(settings, fresh_seconds=0)
    stops = iter([False, True])
    first = catalog_sync.sync(cat, s3, TEST_BUCKET, batch=3, should_stop=lambda: next(stops, True))
    assert first.stopped and first.recorded == 3
    calls = CallCounter(s3)
    second = catalog_sync.sync(cat, s3, TEST_BUCKET, batch=3)
    assert not second.stopped and second.recorded == 4 and calls.calls["HeadObject"] == 4
    assert _catalogued(settings) == _listing(s3)


def _cli(settings: Settings, *argv: str) -> tuple[int, str, str]:
    import io

    from r2.cli import Context, main
    from tests.support.env import env_for

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Context(out=out, err=err, environ=env_for(settings.endpoint)))
    return code, out.getvalue(), err.getvalue()


def test_command_line_find_sync_stats_and_duplicates(s3: S3Client, settings: Settings) -> None:
    same = {"original-name": "clinic-front.jpg", "uploaded-by": "ann%40example.com", "sha256": "ab" * 32}
    _put(s3, "uploads/1.jpg", b"same bytes", **same)
    _put(s3, "uploads/2.jpg", b"same bytes", **{**same, "original-name": "clinic-front%20(copy).jpg"})
    _put(s3, "uploads/3.jpg", b"other", **{"original-name": "back.jpg", "uploaded-by": "bob%40example.com"})
    code, out, _ = _cli(settings, "find", "--name", "front")
    assert code == 1 and "catalog sync" in out  # no catalog yet: said, not guessed
    code, out, err = _cli(settings, "catalog", "sync")  # not a terminal and no --yes: refuses
    assert code == 1 and "--yes" in err
    code, out, _ = _cli(settings, "catalog", "sync", "--yes", "--json")
    assert code == 0 and '"recorded": 3' in out
    code, out, _ = _cli(settings, "find", "--name", "FRONT", "--uploader", "ann", "--json")
    assert code == 0 and '"total": 2' in out and "uploads/3.jpg" not in out
    code, out, _ = _cli(settings, "catalog", "duplicates")
    assert code == 0 and "2 copies, 10 bytes wasted: uploads/1.jpg, uploads/2.jpg" in out
    code, out, _ = _cli(settings, "catalog", "stats", "--json")
    assert code == 0 and '"objects": 3' in out and '"ann@example.com"' in out


# ------------------------------------------------------------------------------- the app's own writes


def test_a_batch_upload_is_in_the_catalog_at_once_in_one_commit(s3: S3Client, settings: Settings) -> None:
    import hashlib

    from r2.uploads import Uploaded, upload_files
    from tests.support import corpus

    cat = Catalog(settings, s3, fresh_seconds=0)
    cat.record([_row("seed/0.jpg")])
    before = cat.version(refresh=True)
    files = [("Clinic Front.jpg", corpus.jpeg_gps()), ("back.png", corpus.plain("PNG")), ("bad.jpg", b"not an image")]
    results = upload_files(s3, settings, files, actor="ann@example.com", catalog=cat)
    stored = [r for r in results if isinstance(r, Uploaded)]
    assert len(stored) == 2 and not any(r.problems for r in stored)
    assert cat.version(refresh=True) == (before or 0) + 1  # one commit for the batch
    rows = {r.key: r for r in catalog_sync.iter_rows(cat)}
    assert set(rows) == {"seed/0.jpg", *(r.key for r in stored)}
    front = rows[stored[0].key]
    assert (front.original_name, front.uploader, front.format) == ("Clinic Front.jpg", "ann@example.com", "JPEG")
    body = s3.get_object(Bucket=TEST_BUCKET, Key=front.key)["Body"].read()
    assert front.sha256 == hashlib.sha256(body).hexdigest()  # of the stored (cleaned) bytes
    assert _keys(search(cat, Search(name="clinic front", uploader="ann"))) == [front.key]
    assert {k: v for k, v in _catalogued(settings).items() if k != "seed/0.jpg"} == _listing(s3)  # sync: nothing to do


def test_a_crash_before_the_catalog_write_is_repaired_by_the_next_sync(s3: S3Client, settings: Settings) -> None:
    import hashlib

    from r2.uploads import Uploaded, upload_file
    from tests.support import corpus

    result = upload_file(s3, settings, "lost.jpg", corpus.jpeg_gps(), actor="bob@example.com")  # no catalog write
    assert isinstance(result, Uploaded)
    cat = Catalog(settings, s3, fresh_seconds=0)
    assert catalog_sync.sync(cat, s3, TEST_BUCKET).recorded == 1
    (row,) = list(catalog_sync.iter_rows(cat))
    body = s3.get_object(Bucket=TEST_BUCKET, Key=result.key)["Body"].read()
    assert (row.key, row.original_name, row.uploader) == (result.key, "lost.jpg", "bob@example.com")
    assert row.sha256 == hashlib.sha256(body).hexdigest()  # written as metadata, so a sync rebuilds it


def test_deleting_through_the_app_removes_the_rows_in_the_same_action(s3: S3Client, settings: Settings) -> None:
    from r2.catalog import forget_deleted
    from r2.objects import delete

    _put(s3, "a/1.jpg")
    _put(s3, "a/2.jpg")
    cat = Catalog(settings, s3, fresh_seconds=0)
    catalog_sync.sync(cat, s3, TEST_BUCKET)
    result = delete(s3, TEST_BUCKET, ["a/1.jpg"])
    assert forget_deleted(cat, result.deleted) is None
    assert _catalogued(settings) == _listing(s3) and set(_listing(s3)) == {"a/2.jpg"}


def test_direct_uploads_checked_by_the_sweep_are_in_the_catalog(s3: S3Client, settings: Settings) -> None:
    import requests

    from r2.direct import Offer, plan, sweep
    from tests.support.corpus import plain
    from tests.support.direct_upload import sweep_due

    photos = [plain("PNG"), plain("JPEG")]
    offers = [Offer(f"b-{i}", f"direct {i}.png", len(p), "image/png") for i, p in enumerate(photos[:1])]
    offers.append(Offer("b-1", "direct 1.jpg", len(photos[1]), "image/jpeg"))
    tickets, _ = plan(s3, settings, offers, "uploads", actor="dee@example.com")
    for ticket, body in zip(tickets, photos, strict=True):
        requests.put(ticket.url, data=body, headers=ticket.headers, timeout=30).raise_for_status()
    cat = Catalog(settings, s3, fresh_seconds=0)
    cat.record([_row("seed/0.jpg")])
    before = cat.version(refresh=True) or 0
    result = sweep(s3, settings, now=lambda: sweep_due(settings), catalog=cat)
    assert [o.status for o in result.outcomes] == ["stored", "stored"]
    assert cat.version(refresh=True) == before + 1  # one commit for what the sweep stored
    found = search(cat, Search(name="direct", uploader="dee"))
    assert sorted(r.original_name or "" for r in found.rows) == ["direct 0.png", "direct 1.jpg"]
    assert {k: v for k, v in _catalogued(settings).items() if k != "seed/0.jpg"} == _listing(s3)


def test_an_upload_recorded_while_a_sync_lists_is_not_removed_by_it(s3: S3Client, settings: Settings) -> None:
    cat = Catalog(settings, s3, fresh_seconds=0)
    _put(s3, "a/old.jpg")
    catalog_sync.sync(cat, s3, TEST_BUCKET)
    other = Catalog(settings, fresh_seconds=0)  # another replica

    def upload_meanwhile(**_: object) -> None:  # the listing is done; an app process stores and records
        s3.meta.events.unregister("after-call.s3.ListObjectsV2", upload_meanwhile)
        _put(s3, "a/new.jpg")
        listed = catalog_sync.list_bucket(s3, TEST_BUCKET)[0]
        other.record([catalog_sync.row_from_head("a/new.jpg", s3.head_object(Bucket=TEST_BUCKET, Key="a/new.jpg"))])
        assert "a/new.jpg" in {i.key for i in listed}

    s3.meta.events.register("after-call.s3.ListObjectsV2", upload_meanwhile)
    result = catalog_sync.sync(cat, s3, TEST_BUCKET)
    assert result.plan.to_remove == ()
    assert _catalogued(settings) == _listing(s3)


def test_two_app_processes_uploading_and_a_sync_meanwhile_leave_the_catalog_equal_to_the_bucket(
    s3: S3Client, settings: Settings, tmp_path: object
) -> None:
    import subprocess
    import sys
    from pathlib import Path

    from tests.support import corpus
    from tests.support.env import ROOT, env_for

    folder = Path(str(tmp_path))
    _put(s3, "other-tool/before.jpg")  # something only a sync records
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env_for(settings.endpoint)}

    def files(process: int, batch: int) -> list[str]:
        paths = []
        for i in range(3):
            path = folder / f"p{process}-b{batch}-{i}.png"
            path.write_bytes(corpus.plain("PNG", size=(20 + process, 10 + batch * 3 + i)))
            paths.append(str(path))
        return paths

    go = folder / "go"
    program = (  # one app process: a batch upload, then (once told) a second one; each batch is one commit
        "import sys, time, pathlib; from r2.cli import main\n"
        "first = main(['upload', *sys.argv[2:5]])\n"
        "pathlib.Path(sys.argv[1] + '.ready').touch()\n"
        "deadline = time.monotonic() + 120\n"
        "while not pathlib.Path(sys.argv[1]).exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "sys.exit(first or main(['upload', *sys.argv[5:8]]))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", program, f"{go}-{p}", *files(p, 0), *files(p, 1)],
            env=env,
            cwd=str(folder),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for p in (0, 1)
    ]
    # Syncs run while both processes upload their first batch (racing their commits) ...
    syncer = Catalog(settings, s3, fresh_seconds=0)
    syncs = 0
    ready = [Path(f"{go}-{p}.ready") for p in (0, 1)]
    while not all(r.exists() for r in ready) or syncs == 0:  # bounded: the processes end (pytest timeout)
        assert all(p.poll() is None for p in procs) or all(r.exists() for r in ready), "an uploader died"
        catalog_sync.sync(syncer, s3, TEST_BUCKET, batch=2)
        syncs += 1
    # ... and none after the second: those rows are in the catalog only if the uploads recorded them.
    for p in (0, 1):
        Path(f"{go}-{p}").touch()
    outputs = [p.communicate(timeout=60)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert not any("warning" in out for out in outputs), outputs  # every catalog write succeeded
    listing = _listing(s3)
    assert len(listing) == 13  # 2 processes x 2 batches x 3 files + the other tool's
    assert _catalogued(settings) == listing  # no extra sync after the uploads: exact already
    named = [r for r in catalog_sync.iter_rows(Catalog(settings, fresh_seconds=0)) if r.original_name]
    assert len(named) == 12 and all(r.uploader and r.uploader.startswith("cli:") and r.sha256 for r in named)


def test_a_duplicate_upload_is_skipped_by_default_and_stored_when_asked(s3: S3Client, settings: Settings) -> None:
    from r2.uploads import Rejected, Uploaded, upload_files
    from tests.support import corpus

    cat = Catalog(settings, s3, fresh_seconds=0)
    photo = corpus.plain("PNG")
    first = upload_files(s3, settings, [("a.png", photo), ("a copy.png", photo)], actor="ann", catalog=cat)
    assert isinstance(first[0], Uploaded) and isinstance(first[1], Rejected)
    assert first[1].duplicate_of == first[0].key and first[0].key in first[1].reason  # said, with the key
    (again,) = upload_files(s3, settings, [("a again.png", photo)], actor="bob", catalog=cat)
    assert isinstance(again, Rejected) and again.duplicate_of == first[0].key
    assert len(_listing(s3)) == 1  # nothing stored for the skipped ones
    (kept,) = upload_files(s3, settings, [("a again.png", photo)], actor="bob", catalog=cat, duplicates=True)
    assert isinstance(kept, Uploaded)
    from r2.catalog_reports import duplicates

    (group,) = duplicates(cat)
    assert set(group.keys) == {first[0].key, kept.key} and group.wasted_bytes == len(_s3_body(s3, kept.key))


def _s3_body(s3: S3Client, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=TEST_BUCKET, Key=key)["Body"].read())


def test_the_command_line_reports_a_duplicate_and_stores_it_with_the_flag(
    s3: S3Client, settings: Settings, tmp_path: object
) -> None:
    from pathlib import Path

    from tests.support import corpus

    photo = Path(str(tmp_path)) / "photo.png"
    photo.write_bytes(corpus.plain("PNG"))
    code, out, _ = _cli(settings, "upload", str(photo))
    assert code == 0 and out.startswith("uploaded ")
    first = out.split()[1]
    code, out, _ = _cli(settings, "upload", str(photo))
    assert code == 0 and f"skipped {photo}: the same image is already stored as {first}" in out
    assert len(_listing(s3)) == 1
    code, out, _ = _cli(settings, "upload", "--allow-duplicates", str(photo))
    assert code == 0 and out.startswith("uploaded ") and len(_listing(s3)) == 2


def test_regenerated_thumbnails_are_recorded_in_the_catalog(s3: S3Client, settings: Settings) -> None:
    from r2.catalog import note_thumbnails
    from r2.thumbnails import regenerate
    from tests.support import corpus

    s3.put_object(Bucket=TEST_BUCKET, Key="t/a.png", Body=corpus.plain("PNG"), ContentType="image/png")
    cat = Catalog(settings, s3, fresh_seconds=0)
    catalog_sync.sync(cat, s3, TEST_BUCKET)
    assert not cat.lookup(["t/a.png"])["t/a.png"].has_thumbnail
    made = regenerate(s3, settings, ["t/a.png"], actor="admin").made
    assert note_thumbnails(cat, made) is None
    assert cat.lookup(["t/a.png"])["t/a.png"].has_thumbnail


def test_the_demo_bucket_starts_with_its_catalog() -> None:
    from r2.local import start_demo
    from r2.settings import parse_settings

    server, demo, client = start_demo(parse_settings({}))
    try:
        found = search(Catalog(demo, client, fresh_seconds=0), Search(limit=100))
        assert found.total == len(_listing(client, demo.bucket)) > 0
        assert all(r.original_name for r in found.rows)
    finally:
        server.stop()


def test_sessions_of_one_process_sharing_its_catalog_lose_no_row(s3: S3Client, settings: Settings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    shared = Catalog(settings, s3, fresh_seconds=0)  # as ui.state.catalog(): one per process, all sessions
    shared.record([_row("seed/0.jpg")])
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: [shared.record([_row(f"s{n}/{i}.jpg")]) for i in range(3)], range(4)))
    keys = {r.key for r in catalog_sync.iter_rows(Catalog(settings, fresh_seconds=0))}
    assert keys == {"seed/0.jpg"} | {f"s{n}/{i}.jpg" for n in range(4) for i in range(3)}


def test_an_unreadable_catalog_never_stops_an_upload(s3: S3Client, settings: Settings) -> None:
    """The catalog is an index, never a gate: when it cannot be read, the image is stored and the result
    says the duplicate check was skipped (the next sync records it)."""
    from dataclasses import replace

    from r2.uploads import Uploaded, upload_files
    from tests.support import corpus
    from tests.support.fault_proxy import closed_endpoint

    unreachable = Catalog(replace(settings, endpoint=closed_endpoint()), s3, fresh_seconds=0)
    (result,) = upload_files(s3, settings, [("a.png", corpus.plain("PNG"))], actor="ann", catalog=unreachable)
    assert isinstance(result, Uploaded), result
    assert any("Not checked for duplicates" in p for p in result.problems), result.problems
    assert s3.head_object(Bucket=TEST_BUCKET, Key=result.key)["ContentLength"] == result.size


@pytest.mark.parametrize(
    "query",
    [Search(offset=10**30), Search(min_size=10**30), Search(max_size=-1), Search(min_width=2**64)],
    ids=["offset", "min-size", "negative", "width"],
)
def test_numbers_from_a_hostile_url_are_refused_with_a_reason(cat: Catalog, query: Search) -> None:
    """The Search page takes these from the URL: a number no search can mean is refused in words, never
    passed to the engine (where it overflowed into a raw error)."""
    from r2.errors import InvalidInput

    cat.record([_row("a/1.jpg", "one")])
    with pytest.raises(InvalidInput):
        search(cat, query)


# ------------------------------------------------------------------------------------------- races


def test_removals_alone_never_create_an_empty_catalog(s3: S3Client, settings: Settings) -> None:
    """Deleting an object before any catalog exists (a fresh bucket) must not create one: an empty table
    would read as "the catalog knows the bucket is empty" instead of "no catalog yet, sync to build it"."""
    cat = Catalog(settings, s3, fresh_seconds=0)
    cat.record(removals=["a/1.jpg"])
    assert cat.version(refresh=True) is None
    assert s3.list_objects_v2(Bucket=TEST_BUCKET, Prefix=CATALOG_PREFIX).get("KeyCount", 0) == 0


def test_a_rebuilt_catalog_says_which_images_have_a_thumbnail_in_the_bucket(s3: S3Client, settings: Settings) -> None:
    """The upload's `thumbnail` metadata says what was true at upload; a thumbnail made later (Make
    missing thumbnails) or removed later changes only `.thumbs/`. A sync takes the flag from its listing."""
    from r2.naming import thumbnail_key

    _put(s3, "t/regenerated.png", thumbnail="no")  # uploaded without one; made later
    _put(s3, thumbnail_key("t/regenerated.png"))
    _put(s3, "t/lost.png", thumbnail="yes")  # uploaded with one; removed since
    _put(s3, "t/other-tool.png")
    _put(s3, thumbnail_key("t/other-tool.png"))
    cat = Catalog(settings, s3, fresh_seconds=0)
    catalog_sync.sync(cat, s3, TEST_BUCKET)
    flags = {r.key: r.has_thumbnail for r in catalog_sync.iter_rows(cat)}
    assert flags == {"t/regenerated.png": True, "t/lost.png": False, "t/other-tool.png": True}

    s3.delete_object(Bucket=TEST_BUCKET, Key=thumbnail_key("t/regenerated.png"))  # the objects are unchanged
    calls = CallCounter(s3)
    again = catalog_sync.sync(cat, s3, TEST_BUCKET)
    assert again.recorded == 1 and calls.calls["HeadObject"] == 0  # the listing alone tells it
    assert cat.lookup(["t/regenerated.png"])["t/regenerated.png"].has_thumbnail is False


def test_an_object_deleted_by_the_app_while_a_sync_reads_it_is_not_added_back(s3: S3Client, settings: Settings) -> None:
    """The sync listed and read the object; the app then deleted it and recorded that before the sync
    committed: the sync's commit must not bring the row back (the catalog would list a missing image)."""
    from r2.catalog import forget_deleted

    cat = Catalog(settings, s3, fresh_seconds=0)
    _put(s3, "a/old.jpg")
    catalog_sync.sync(cat, s3, TEST_BUCKET)
    _put(s3, "a/doomed.jpg")
    _put(s3, "a/kept.jpg")
    other = Catalog(settings, fresh_seconds=0)  # another replica

    def delete_meanwhile(context: dict[str, dict[str, object]], **_: object) -> None:
        if context.get("r2_params", {}).get("Key") == "a/doomed.jpg":  # the sync's HEAD saw it; the app deletes it
            s3.meta.events.unregister("after-call.s3.HeadObject", delete_meanwhile)
            s3.delete_object(Bucket=TEST_BUCKET, Key="a/doomed.jpg")
            assert forget_deleted(other, ["a/doomed.jpg"]) is None

    s3.meta.events.register("provide-client-params.s3.HeadObject", _remember_params)
    s3.meta.events.register("after-call.s3.HeadObject", delete_meanwhile)
    result = catalog_sync.sync(cat, s3, TEST_BUCKET, workers=1)
    assert result.recorded == 1  # a/kept.jpg; a/doomed.jpg was removed by the app meanwhile
    assert _catalogued(settings) == _listing(s3) and set(_listing(s3)) == {"a/old.jpg", "a/kept.jpg"}


def _remember_params(params: dict[str, object], context: dict[str, object], **_: object) -> None:
    context["r2_params"] = dict(params)


def test_the_lean_in_memory_form_gives_back_the_rows_as_written(tmp_path: object, settings: Settings) -> None:
    """In memory the SHA-256 is 32 bytes and folder/uploader/type are dictionary-encoded; what a reader
    gets back is the row as written, and a value that is no SHA-256 (another tool's metadata) reads as
    none instead of failing the whole load. A table written without a column (an older catalog) loads."""
    import hashlib
    from dataclasses import replace
    from pathlib import Path

    import pyarrow as pa
    from deltalake import write_deltalake

    from r2.catalog import SCHEMA

    digest = hashlib.sha256(b"photo").hexdigest()
    rows = [replace(_row(f"f{i % 2}/{i}.jpg", f"N{i}.jpg", "Ann@Example.com"), sha256=digest) for i in range(5)]
    rows.append(replace(_row("other/x.jpg"), sha256="not-a-hash"))
    folder = str(Path(str(tmp_path)) / "catalog")
    write_deltalake(folder, pa.Table.from_pylist([r.as_record() for r in rows], schema=SCHEMA))
    cat = Catalog(settings, local_path=folder)
    back = {r.key: r for r in catalog_sync.iter_rows(cat)}
    assert back == {r.key: replace(r, sha256=None) if r.sha256 == "not-a-hash" else r for r in rows}
    assert _keys(search(cat, Search(uploader="ann@EXAMPLE", folder="f1", name="n3"))) == ["f1/3.jpg"]

    older = str(Path(str(tmp_path)) / "older")
    write_deltalake(older, pa.Table.from_pylist([r.as_record() for r in rows]).drop_columns(["sha256", "folder"]))
    assert search(Catalog(settings, local_path=older), Search(name="n4")).rows[0].sha256 is None


def test_pages_of_a_sort_with_ties_follow_the_key_and_never_overlap(cat: Catalog) -> None:
    """Many images share a moment or a size (a bulk import): every sort ends with the key, so paging
    through shows each image exactly once, in the same order as a full sort."""
    rows = [_row(f"k/{i:03d}.jpg", f"n{i % 7}", size=100 + i % 3, days=i % 4) for i in range(120)]
    cat.record(rows)
    full = {
        "newest": sorted(rows, key=lambda r: (-r.last_modified.timestamp(), r.key)),
        "smallest": sorted(rows, key=lambda r: (r.size, r.key)),
        "largest": sorted(rows, key=lambda r: (-r.size, r.key)),
        "name": sorted(rows, key=lambda r: ((r.original_name or "").lower(), r.key)),
    }
    for sort, expected in full.items():
        paged = [
            key for offset in range(0, 120, 7) for key in _keys(search(cat, Search(sort=sort, limit=7, offset=offset)))
        ]
        assert paged == [r.key for r in expected], sort


def test_no_catalog_yet_is_checked_once_per_freshness_period(
    s3: S3Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the first sync every page visit asked the bucket again whether a catalog exists (Search: three
    times a visit); the answer "none yet" is kept as long as a table's version is. This process's own
    first write still shows at once."""
    import r2.catalog.table

    opened: list[str] = []
    real = r2.catalog.table.DeltaTable

    def counted(uri: str, **kwargs: object) -> object:
        opened.append(uri)
        return real(uri, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(r2.catalog.table, "DeltaTable", counted)
    cat = Catalog(settings, s3)
    assert [cat.version(), cat.version(), len(cat.data())] == [None, None, 0]
    assert len(opened) == 1
    cat.record([_row("a.jpg")])
    assert cat.version() is not None
