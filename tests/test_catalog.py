"""The catalog (a Delta Lake table in the bucket): records, search, sync, concurrent writers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from r2 import catalog_sync
from r2.catalog import CATALOG_PREFIX, Catalog, Row, Search, search
from r2.client import CallCounter, S3Client
from r2.settings import Settings
from tests.conftest import TEST_BUCKET

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


def _listing(s3: S3Client) -> dict[str, tuple[str, int]]:
    listed, _ = catalog_sync.list_bucket(s3, TEST_BUCKET)
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
    from tests.conftest import env_for

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
