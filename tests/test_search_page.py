"""The Search page's "Select many" through AppTest, against the real local S3 server: every match of a
search counted from the catalog before anything runs, moved or deleted (typed count beyond 100), roles
re-checked when the action runs; bucket, thumbnails, catalog and audit log agree afterwards."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from streamlit.testing.v1 import AppTest

import ui.bulk_panel
from r2.audit import recent
from r2.catalog import Catalog, Row
from r2.client import S3Client
from r2.naming import is_hidden, thumbnail_key
from r2.uploads import Uploaded, upload_files
from tests.support import corpus
from tests.support.apptest import button, configure, open_panel, texts
from tests.support.env import ROOT, TEST_BUCKET, keys_in, settings_for

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")
from ui.auth import Visitor

B = TEST_BUCKET
PAGE = str(ROOT / "pages" / "search.py")
EVERYTHING = "Everything matching this search"


def open_search(monkeypatch: pytest.MonkeyPatch, s3: S3Client, role: str, **query: str) -> AppTest:
    configure(monkeypatch, s3.meta.endpoint_url, role)
    at = AppTest.from_file(PAGE, default_timeout=60)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run(timeout=60)


def select_everything(at: AppTest) -> AppTest:
    at = open_panel(at, "search-bulk-panel")
    at.radio(key="search-bulk-scope").set_value(EVERYTHING).run()
    return button(at, "Count everything matching this search").click().run()


def user_keys(s3: S3Client) -> set[str]:
    return {k for k in keys_in(s3) if not is_hidden(k)}


def catalog_keys(s3: S3Client) -> set[str]:
    return {r["key"] for r in Catalog(settings_for(s3.meta.endpoint_url), s3).data(refresh=True).to_pylist()}


def catalogued(s3: S3Client, keys_and_names: list[tuple[str, str]]) -> None:
    """Objects of 10 bytes, and their catalog rows (one commit: quicker than uploading each)."""
    rows = []
    for key, name in keys_and_names:
        etag = s3.put_object(Bucket=B, Key=key, Body=b"0123456789")["ETag"].strip('"')
        rows.append(Row(key, 10, etag, datetime.now(UTC), original_name=name))
    Catalog(settings_for(s3.meta.endpoint_url), s3).record(rows)


def test_a_member_moves_every_match_of_a_search_counted_from_the_catalog(
    monkeypatch: pytest.MonkeyPatch,
    s3: S3Client,
    page_calls,
) -> None:
    settings = settings_for(s3.meta.endpoint_url)
    cat = Catalog(settings, s3)
    files = [(f"Beach {n}.jpg", corpus.jpeg_gps(size=(64 + n, 48))) for n in range(3)] + [
        ("garden.png", corpus.plain("PNG"))
    ]
    uploaded = upload_files(s3, settings, files, folder="uploads/", actor="ann@example.com", catalog=cat)
    assert all(isinstance(r, Uploaded) for r in uploaded)
    beaches = sorted(r.key for r in uploaded[:3] if isinstance(r, Uploaded))
    garden = uploaded[3].key if isinstance(uploaded[3], Uploaded) else ""

    at = open_search(monkeypatch, s3, "member", name="beach")
    assert not at.exception and "3 match(es)" in texts(at, "caption")
    page_calls.reset()
    at = select_everything(at)
    assert not at.exception
    assert "**3 object(s)," in texts(at, "markdown"), "count and size are shown before anything runs"
    assert "ListObjectsV2" not in page_calls.calls, "counted from the catalog, not by listing the bucket"
    assert keys_in(s3) >= {*beaches, garden}, "counting changed nothing"

    at.text_input(key="search-bulk-dest").set_value("uploads/archive/").run()
    at = button(at, "Move").click().run()
    assert not at.exception
    assert "Moved 3 object(s) to uploads/archive/" in texts(at, "success")

    objects = keys_in(s3)
    moved = sorted(k for k in objects if k.startswith("uploads/archive/"))
    assert len(moved) == 3 and not set(beaches) & objects and garden in objects
    assert {thumbnail_key(k) for k in moved} <= objects, "thumbnails moved with their images"
    assert not {thumbnail_key(k) for k in beaches} & objects
    assert catalog_keys(s3) == {*moved, garden}, "the catalog follows the move"
    (event,) = [e for e in recent(s3, B) if e.action == "move"]
    assert event.actor and event.outcome == "ok" and sorted(s for s, _ in json.loads(event.detail)["done"]) == beaches
    assert "3 match(es)" in texts(at, "caption"), "the same search now finds them in their new folder"


def test_an_admin_deletes_every_match_only_with_the_count_typed(monkeypatch: pytest.MonkeyPatch, s3: S3Client) -> None:
    scans = [(f"uploads/scans/{n:03d}.jpg", f"old-scan-{n:03d}.jpg") for n in range(101)]
    catalogued(s3, [*scans, ("uploads/keep.jpg", "keep.jpg")])

    at = open_search(monkeypatch, s3, "admin", name="old-scan")
    assert "101 match(es)" in texts(at, "caption")
    at = select_everything(at)
    at.segmented_control(key="search-bulk-action").set_value("Delete (admins)").run()
    assert "101 object(s)" in texts(at, "warning") and "1 DeleteObjects request(s)" in texts(at, "warning")

    at.text_input(key="search-bulk-typed").set_value("100").run()
    at = button(at, "Delete permanently").click().run()
    assert not at.exception
    assert "needs the number of objects typed to confirm" in texts(at, "error")
    assert len(user_keys(s3)) == 102, "a wrong count deletes nothing"

    at.text_input(key="search-bulk-typed").set_value("101").run()
    at = button(at, "Delete permanently").click().run()
    assert not at.exception
    assert "Deleted 101 object(s)" in texts(at, "success")
    assert user_keys(s3) == {"uploads/keep.jpg"}
    assert catalog_keys(s3) == {"uploads/keep.jpg"}
    (event,) = [e for e in recent(s3, B) if e.action == "delete"]
    assert event.target == "101 objects" and len(json.loads(event.detail)["deleted"]) == 101


def test_roles_are_checked_again_when_the_action_runs(monkeypatch: pytest.MonkeyPatch, s3: S3Client) -> None:
    catalogued(s3, [("uploads/a.jpg", "red-a.jpg"), ("private/b.jpg", "red-b.jpg")])

    at = open_search(monkeypatch, s3, "member", name="red")
    at = open_panel(at, "search-bulk-panel")
    at.radio(key="search-bulk-scope").set_value("This page").run()
    at.segmented_control(key="search-bulk-action").set_value("Delete (admins)").run()
    assert "Only admins may delete." in texts(at, "caption") and not [
        b for b in at.button if b.label.startswith("Delete")
    ]
    at.segmented_control(key="search-bulk-action").set_value("Move / copy").run()
    at.text_input(key="search-bulk-dest").set_value("uploads/red/").run()
    at = button(at, "Move").click().run()
    assert "private/b\\.jpg is outside the folders members may change" in texts(at, "error")  # markdown-escaped
    assert {"uploads/a.jpg", "private/b.jpg"} <= keys_in(s3) and not any(
        k.startswith("uploads/red/") for k in keys_in(s3)
    )

    # An admin's role is withdrawn after the button was drawn: the click is refused.
    at = open_search(monkeypatch, s3, "admin", name="red")
    at = open_panel(at, "search-bulk-panel")
    at.radio(key="search-bulk-scope").set_value("This page").run()
    at.segmented_control(key="search-bulk-action").set_value("Delete (admins)").run()
    member = Visitor(name="x", email="x@example.com", roles=frozenset({"member"}))
    monkeypatch.setattr(ui.bulk_panel, "current_visitor", lambda settings: member)
    at = button(at, "Delete permanently").click().run()
    assert "Only admins may delete." in texts(at, "error")
    assert {"uploads/a.jpg", "private/b.jpg"} <= keys_in(s3)


def test_refinements_are_drawn_when_asked_for_and_linked(monkeypatch: pytest.MonkeyPatch, s3: S3Client) -> None:
    """The form shows the four text fields; dates, sizes, dimensions and order are drawn once "More
    filters" is opened (no date picker, number field or drop-down script for a browser landing on the page),
    or at once when the link carries one. What the panel holds goes into the link on Search."""
    at = open_search(monkeypatch, s3, "member")
    assert [t.label for t in at.text_input] == ["Name contains", "Uploaded by", "Folder", "Type"]
    assert not at.date_input and not at.number_input and not at.selectbox and not at.checkbox

    at = open_search(monkeypatch, s3, "member", name="red", since="2026-01-02", sort="largest")
    assert at.date_input[0].value == date(2026, 1, 2) and at.selectbox[0].value == "largest"
    at.number_input[0].set_value(5)
    at = at.button[0].click().run()  # the form's Search button
    assert dict(at.query_params) == {"name": "red", "since": "2026-01-02", "min_size": "5120", "sort": "largest"}

    at.session_state["search_more"] = False  # closed: the search has no refinements
    at = at.run()
    assert "also use the filters under *More filters*" in texts(at, "caption")
    at = at.button[0].click().run()
    assert dict(at.query_params) == {"name": "red"}
