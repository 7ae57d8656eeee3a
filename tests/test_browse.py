"""Browse library and its commands against the real local S3 server (HTTP): costs counted, not timed."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pytest

from r2.audit import recent
from r2.browse import (
    NO_EXTENSION,
    Entry,
    breadcrumb,
    check_folder,
    extension_choices,
    filter_objects,
    list_level,
    list_page,
    missing_thumbnails,
    parent,
    tiles,
)
from r2.cli import Context, main
from r2.errors import InvalidInput
from r2.local import sample_image
from r2.naming import thumbnail_key
from r2.objects import audit_delete, delete, head
from r2.settings import Settings
from tests.support.env import settings_for
from tests.support.seeding import seed as seed_fast

HOSTILE = ("<img src=x onerror=alert(1)>.png", "**bold**.png")


def put(s3, settings: Settings, key: str, body: bytes = b"x", **extra) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=settings.bucket, Key=key, Body=body, **extra)


# ---- pure helpers -----------------------------------------------------------------------------------


def test_folder_paths_and_breadcrumb() -> None:
    assert check_folder("") == "" and check_folder("a") == "a/" and check_folder("/a/b/") == "a/b/"
    with pytest.raises(InvalidInput):
        check_folder("a/../b")
    assert breadcrumb("a/b/") == [("bucket root", ""), ("a", "a/"), ("b", "a/b/")]
    assert parent("a/b/") == "a/" and parent("a/") == "" and parent("") == ""


def test_filters_act_on_the_loaded_page_only() -> None:
    day = datetime(2026, 3, 4, 12, tzinfo=UTC)
    objects = [
        Entry("f/Cat.JPG", "Cat.JPG", size=1, last_modified=day),
        Entry("f/dog.png", "dog.png", size=1, last_modified=day.replace(month=5)),
        Entry("f/README", "README", size=1, last_modified=day),
    ]
    assert [e.name for e in filter_objects(objects, contains="cat")] == ["Cat.JPG"]
    assert [e.name for e in filter_objects(objects, extensions=["jpg", ".PNG"])] == ["Cat.JPG", "dog.png"]
    assert [e.name for e in filter_objects(objects, since=date(2026, 4, 1))] == ["dog.png"]
    assert [e.name for e in filter_objects(objects, until=date(2026, 3, 4))] == ["Cat.JPG", "README"]
    assert objects[0].content_type == "image/jpeg" and objects[2].content_type == "application/octet-stream"


def test_the_extension_filter_offers_each_extension_once_and_a_choice_for_names_without_one() -> None:
    objects = [Entry(f"f/{n}", n, size=1) for n in ("Cat.JPG", "dog.png", "README", "b.jpg", "LICENSE")]
    assert extension_choices(objects) == [NO_EXTENSION, "jpg", "png"]
    assert [e.name for e in filter_objects(objects, extensions=[NO_EXTENSION])] == ["README", "LICENSE"]
    assert [e.name for e in filter_objects(objects, extensions=["png", NO_EXTENSION])] == [
        "dog.png",
        "README",
        "LICENSE",
    ]
    assert len(filter_objects(objects, extensions=[])) == len(objects)  # nothing chosen: no filter


# ---- listing ------------------------------------------------------------------------------------------


def test_one_level_folders_first_and_reserved_prefixes_hidden(settings: Settings, s3, s3_calls) -> None:  # type: ignore[no-untyped-def]
    for key in ("a.jpg", "z/1.jpg", "b/2.jpg", "b/c/3.jpg", thumbnail_key("a.jpg"), ".dashboard/audit/x.json"):
        put(s3, settings, key)
    s3_calls.reset()
    page = list_page(s3, settings.bucket)
    assert [e.key for e in page.entries] == ["b/", "z/", "a.jpg"]
    assert page.hidden == 2
    assert dict(s3_calls.calls) == {"ListObjectsV2": 1}

    s3_calls.reset()
    nested = list_page(s3, settings.bucket, "b/")
    assert [(e.name, e.is_folder) for e in nested.entries] == [("c/", True), ("2.jpg", False)]
    assert dict(s3_calls.calls) == {"ListObjectsV2": 1}


def test_hidden_entries_make_a_short_page_without_refilling(settings: Settings, s3, s3_calls) -> None:  # type: ignore[no-untyped-def]
    for key in (".dashboard/x", ".thumbs/x.webp", "p.jpg", "q.jpg"):
        put(s3, settings, key)
    s3_calls.reset()
    page = list_page(s3, settings.bucket, page_size=2)
    assert page.entries == () and page.hidden == 2 and page.next_token
    assert dict(s3_calls.calls) == {"ListObjectsV2": 1}, "no extra LIST to refill the page"
    rest = list_page(s3, settings.bucket, page_size=2, token=page.next_token)
    assert [e.key for e in rest.objects] == ["p.jpg", "q.jpg"]


def test_paging_forward_and_back_over_thousands_of_keys(settings: Settings, s3, s3_calls) -> None:  # type: ignore[no-untyped-def]
    keys = [f"many/{i:05d}.jpg" for i in range(2500)] + [f"many/sub{i}/x.jpg" for i in range(3)]
    seed_fast(settings.bucket, ((key, 1) for key in keys))
    expected = sorted([k for k in keys if "/sub" not in k] + [f"many/sub{i}/" for i in range(3)])
    s3_calls.reset()
    tokens: list[str | None] = [None]
    pages = []
    while True:
        page = list_page(s3, settings.bucket, "many/", page_size=240, token=tokens[-1])
        pages.append(page)
        assert s3_calls.calls["ListObjectsV2"] == len(pages) and s3_calls.calls["HeadObject"] == 0
        if page.next_token is None:
            break
        tokens.append(page.next_token)
    assert len(pages) == 11
    assert sorted(e.key for p in pages for e in p.entries) == expected
    # Back: a stored token reopens an earlier page exactly, in one LIST.
    s3_calls.reset()
    again = list_page(s3, settings.bucket, "many/", page_size=240, token=tokens[3])
    assert again.entries == pages[3].entries and s3_calls.total == 1
    # A deep link holds only the last key of the previous page: same page, one LIST, no token needed.
    linked = list_page(s3, settings.bucket, "many/", page_size=240, start_after=pages[3].last_key)
    assert linked.entries == pages[4].entries


def test_deep_link_after_a_folder_skips_its_contents(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    for key in ("d/a/1.jpg", "d/a/2.jpg", "d/a0.jpg", "d/b.jpg"):
        put(s3, settings, key)
    first = list_page(s3, settings.bucket, "d/", page_size=1)
    assert [e.key for e in first.entries] == ["d/a/"]
    second = list_page(s3, settings.bucket, "d/", page_size=5, start_after=first.last_key)
    assert [e.key for e in second.entries] == ["d/a0.jpg", "d/b.jpg"]


def test_prefix_search_is_on_the_server(settings: Settings, s3, s3_calls) -> None:  # type: ignore[no-untyped-def]
    for key in ("s/2026-01.jpg", "s/2026-02.jpg", "s/2025-12.jpg", "s/2026x/deep.jpg"):
        put(s3, settings, key)
    s3_calls.reset()
    page = list_page(s3, settings.bucket, "s/", search="2026")
    assert [e.name for e in page.entries] == ["2026x/", "2026-01.jpg", "2026-02.jpg"]
    assert s3_calls.total == 1
    with pytest.raises(InvalidInput):
        list_page(s3, settings.bucket, "s/", search="a/b")


def test_tiles_are_signed_locally_small_originals_direct_large_through_thumbnails(
    settings: Settings,
    s3,
    s3_calls,  # type: ignore[no-untyped-def]
) -> None:
    put(s3, settings, "t/small.png", b"tiny")
    put(s3, settings, "t/big.jpg", b"x" * (300 * 1024))
    put(s3, settings, "t/notes.txt", b"hello")
    for key in HOSTILE:
        put(s3, settings, f"t/{key}")
    s3_calls.reset()
    page = list_page(s3, settings.bucket, "t/")
    by_key = {t.key: t for t in tiles(s3, settings.bucket, page.objects, 300)}
    assert dict(s3_calls.calls) == {"ListObjectsV2": 1}, "signing makes no request, and no HEAD per row"
    assert by_key["t/small.png"].source == "original" and "/t/small.png?" in by_key["t/small.png"].url
    assert by_key["t/big.jpg"].source == "thumbnail" and "/.thumbs/t/big.jpg.webp?" in by_key["t/big.jpg"].url
    assert by_key["t/notes.txt"].source == "none" and not by_key["t/notes.txt"].url
    assert "X-Amz-Expires=300" in by_key["t/" + HOSTILE[0]].url


def test_missing_thumbnails_lists_folder_and_thumbs(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    for key in ("m/a.jpg", "m/b.jpg", "m/c.txt", "m/sub/d.jpg", thumbnail_key("m/a.jpg")):
        put(s3, settings, key)
    assert missing_thumbnails(s3, settings.bucket, "m/") == ("m/b.jpg",)


# ---- details and delete ----------------------------------------------------------------------------------


def test_details_are_one_head(settings: Settings, s3, s3_calls) -> None:  # type: ignore[no-untyped-def]
    put(
        s3,
        settings,
        "h/p.jpg",
        sample_image(2),
        ContentType="image/jpeg",
        Metadata={"original-name": "Caf%C3%A9%20photo.jpg", "width": "1200", "height": "800", "thumbnail": "yes"},
    )
    s3_calls.reset()
    info = head(s3, settings.bucket, "h/p.jpg")
    assert dict(s3_calls.calls) == {"HeadObject": 1}
    assert info.original_name == "Café photo.jpg" and info.dimensions == (1200, 800)
    assert info.content_type == "image/jpeg" and info.etag and info.has_thumbnail is True


def test_delete_removes_object_and_thumbnail_and_is_audited(settings: Settings, s3, s3_calls) -> None:  # type: ignore[no-untyped-def]
    for key in ("x/1.jpg", thumbnail_key("x/1.jpg"), "x/2.jpg", "x/keep.jpg"):
        put(s3, settings, key)
    s3_calls.reset()
    result = delete(s3, settings.bucket, ["x/1.jpg", "x/2.jpg"])
    assert result.ok and result.deleted == ("x/1.jpg", "x/2.jpg")
    assert dict(s3_calls.calls) == {"DeleteObjects": 1}
    remaining = {o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket).get("Contents", [])}
    assert remaining == {"x/keep.jpg"}
    audit_delete(s3, settings.bucket, "ann@example.com", result)
    (event,) = recent(s3, settings.bucket)
    assert (event.actor, event.action, event.target, event.outcome) == ("ann@example.com", "delete", "2 objects", "ok")
    assert json.loads(event.detail)["deleted"] == ["x/1.jpg", "x/2.jpg"]


def test_delete_refuses_reserved_keys_and_empty_selection(settings: Settings, s3, s3_calls) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        delete(s3, settings.bucket, [".dashboard/audit/x.json"])
    with pytest.raises(InvalidInput):
        delete(s3, settings.bucket, [])
    assert s3_calls.total == 0


# ---- command line ---------------------------------------------------------------------------------------


def run_cli(argv: list[str], endpoint: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environ = {
        "R2_ENDPOINT": endpoint,
        "R2_ACCESS_KEY_ID": "test-access-key",
        "R2_SECRET_ACCESS_KEY": "test-secret-key-0123456789",
        "R2_BUCKET": settings_for(endpoint).bucket,
    }
    code = main(argv, Context(out=out, err=err, environ=environ))
    return code, out.getvalue(), err.getvalue()


def test_cli_ls_one_level_text_and_json(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    for key in ("u/a.jpg", "u/sub/b.jpg", "top.png", thumbnail_key("u/a.jpg")):
        put(s3, settings, key, b"12345")
    code, out, _ = run_cli(["ls"], settings.endpoint)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["PRE", "u/"] and lines[1].endswith(" 5  top.png")
    assert ".thumbs" not in out
    code, out, _ = run_cli(["ls", "u", "--json"], settings.endpoint)
    data = json.loads(out)
    assert code == 0 and data["prefix"] == "u/"
    assert [(e["type"], e["key"]) for e in data["entries"]] == [("folder", "u/sub/"), ("object", "u/a.jpg")]
    assert data["entries"][1]["size"] == 5 and data["entries"][1]["last_modified"]


def test_cli_sign_limits_lifetime_to_seven_days(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    put(s3, settings, "s.jpg")
    code, out, _ = run_cli(["sign", "s.jpg", "--expires", "604800"], settings.endpoint)
    assert code == 0 and "X-Amz-Expires=604800" in out and "/s.jpg?" in out
    code, out, err = run_cli(["sign", "s.jpg", "--expires", "604801"], settings.endpoint)
    assert code == 1 and out == "" and "7 days" in err
    code, _, err = run_cli(["sign", "s.jpg", "--expires", "0"], settings.endpoint)
    assert code == 1
    code, out, _ = run_cli(["sign", "s.jpg"], settings.endpoint)
    assert code == 0 and "X-Amz-Expires=3600" in out  # R2_SHARE_TTL_SECONDS default


def test_list_level_pages_through_a_whole_level(settings: Settings, s3, s3_calls) -> None:  # type: ignore[no-untyped-def]
    seed_fast(settings.bucket, ((f"L/{i:04d}.jpg", 1) for i in range(2100)))
    s3_calls.reset()
    level = list_level(s3, settings.bucket, "L/")
    assert len(level.objects) == 2100 and s3_calls.calls["ListObjectsV2"] == 3


def test_cli_ls_never_sends_control_characters_to_the_terminal(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    put(s3, settings, "evil\x1b[2Jname.jpg")
    code, out, _ = run_cli(["ls"], settings.endpoint)
    assert code == 0 and "\x1b" not in out and "evil\\x1b[2Jname.jpg" in out


@pytest.mark.parametrize(
    "key",
    ["plain.jpg", "a b/c+d.png", "ünï/cödé.webp", "q?x#y%z&w=1.jpg", "~tilde/(1)[2]!*'.gif", *HOSTILE],
)
def test_url_signer_matches_boto3_byte_for_byte(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.auth

    from r2.client import make_client
    from r2.presign import UrlSigner

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: datetime(2026, 5, 6, 7, 8, 9))
    settings = settings_for("http://127.0.0.1:9")
    client = make_client(settings)
    expected = client.generate_presigned_url(
        "get_object", Params={"Bucket": settings.bucket, "Key": key}, ExpiresIn=300
    )
    assert UrlSigner.from_settings(settings).sign_get(key, 300) == expected
    assert "secret" not in repr(UrlSigner.from_settings(settings))


def test_url_signer_urls_work_against_the_server(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    import requests

    from r2.presign import UrlSigner

    put(s3, settings, "ok/ünï b+c.jpg", b"payload")
    url = UrlSigner.from_settings(settings).sign_get("ok/ünï b+c.jpg", 60)
    assert requests.get(url, timeout=10).content == b"payload"
    with pytest.raises(InvalidInput):
        UrlSigner.from_settings(settings).sign_get("x.jpg", 604801)
