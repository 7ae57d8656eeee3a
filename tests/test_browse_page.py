"""The Browse page through AppTest, against the real local S3 server: costs, deep links, literal keys, delete."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

import r2.browse
import r2.objects
from r2.audit import recent
from r2.errors import AccessDenied, Unavailable
from r2.naming import thumbnail_key
from r2.uploads import Uploaded, upload_file
from tests.support import corpus
from tests.support.apptest import button, open_panel, texts
from tests.support.apptest import open_browse as open_page
from tests.support.env import TEST_BUCKET, keys_in

HOSTILE = ("<img src=x onerror=alert(1)>.png", "**bold**.png")


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def put(s3, key: str, body: bytes = b"x", **extra) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=body, **extra)


def grid(at: AppTest) -> str:
    (element,) = at.get("html")
    return str(element.proto.body)


def test_a_page_view_is_one_list_and_no_head(monkeypatch: pytest.MonkeyPatch, s3, page_calls) -> None:  # type: ignore[no-untyped-def]
    for i in range(70):
        put(s3, f"img-{i:03d}.jpg", b"x" * 1000)
    put(s3, "folder/inner.jpg")
    put(s3, thumbnail_key("img-000.jpg"))
    at = open_page(monkeypatch, s3)
    assert not at.exception
    assert dict(page_calls.calls) == {"ListObjectsV2": 1}
    assert grid(at).count("<figure") == 58  # 60 per LIST: .thumbs/ (hidden, not refilled), folder/, 58 objects
    assert ".thumbs" not in texts(at, "button") and "1 reserved entry hidden" in texts(at, "caption")

    page_calls.reset()
    button(at, "Next →").click().run()
    assert not at.exception
    assert dict(page_calls.calls) == {"ListObjectsV2": 1}
    assert at.query_params["page"] == "2" and grid(at).count("<figure") == 12

    page_calls.reset()
    button(at, "← Previous").click().run()
    assert dict(page_calls.calls) == {}, "page 1 is still cached: no request at all"
    assert "page" not in at.query_params

    page_calls.reset()
    at.selectbox[-1].set_value("img-005.jpg").run()
    assert not at.exception
    assert dict(page_calls.calls) == {"HeadObject": 1}, "details cost one HEAD; the listing stays cached"


def test_deep_link_restores_folder_page_and_object(monkeypatch: pytest.MonkeyPatch, s3, page_calls) -> None:  # type: ignore[no-untyped-def]
    for i in range(40):
        put(s3, f"team/{i:02d}.jpg", b"x", Metadata={"original-name": f"holiday-{i}.jpg"})
    at = open_page(monkeypatch, s3, folder="team/", page="2", size="30", after="team/29.jpg", object="team/33.jpg")
    assert not at.exception and not at.error
    body = grid(at)
    assert body.count("<figure") == 10 and 'data-key="team/30.jpg"' in body
    assert "team/33.jpg" in texts(at, "code")
    details = at.dataframe[0].value
    assert "holiday-33.jpg" in details["value"].tolist()
    assert dict(page_calls.calls) == {"ListObjectsV2": 1, "HeadObject": 1}
    assert [b.label for b in at.button][:2] == ["bucket root", "team/"]


def test_folder_navigation_and_breadcrumb(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    put(s3, "a/b/c.jpg")
    put(s3, "top.jpg")
    at = open_page(monkeypatch, s3)
    button(at, "a/").click().run()
    assert at.query_params["folder"] == "a/"
    button(at, "b/").click().run()
    assert at.query_params["folder"] == "a/b/" and 'data-key="a/b/c.jpg"' in grid(at)
    button(at, "bucket root").click().run()
    assert "folder" not in at.query_params and 'data-key="top.jpg"' in grid(at)


def test_hostile_keys_render_literally_in_grid_list_and_details(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    for key in HOSTILE:
        put(s3, key, b"tiny")
    put(s3, "**dir**/x.png")
    at = open_page(monkeypatch, s3, object=HOSTILE[0])
    assert not at.exception
    body = grid(at)
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;.png" in body
    assert 'data-key="&lt;img src=x onerror=alert(1)&gt;.png"' in body
    assert HOSTILE[0] in texts(at, "code")
    assert any(b.label == "\\*\\*dir\\*\\*/" for b in at.button), "folder names are Markdown-escaped"
    for kind in ("markdown", "caption", "info", "subheader"):
        assert "<img src=x" not in texts(at, kind)
    at.query_params["view"] = "list"
    at.run()
    keys = at.dataframe[0].value["key"].tolist()
    assert HOSTILE[0] in keys and HOSTILE[1] in keys


def test_delete_needs_admin(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    put(s3, "d/1.jpg")
    at = open_page(monkeypatch, s3, "member", folder="d/", object="d/1.jpg")
    labels = [b.label for b in at.button]
    assert "Delete selected…" not in labels and "Delete this object…" not in labels
    at.session_state["browse_confirm"] = ["d/1.jpg"]  # even a forged confirmation does nothing
    at.run()
    assert not any(b.label == "Delete permanently" for b in at.button)
    assert "d/1.jpg" in keys_in(s3)


def test_admin_deletes_after_confirmation_with_audit(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    for key in ("d/1.jpg", thumbnail_key("d/1.jpg"), "d/2.jpg", "d/keep.jpg"):
        put(s3, key)
    at = open_panel(open_page(monkeypatch, s3, "admin", folder="d/"), "browse_delete_panel")
    at.multiselect[-1].set_value(["d/1.jpg", "d/2.jpg"]).run()
    button(at, "Delete selected…").click().run()
    assert not at.exception
    assert "no versioning" in texts(at, "warning")
    assert "d/1.jpg\nd/2.jpg" in texts(at, "code")
    assert keys_in(s3) >= {"d/1.jpg", "d/2.jpg"}, "nothing is deleted before confirming"
    button(at, "Delete permanently").click().run()
    assert not at.exception
    assert keys_in(s3) - {k for k in keys_in(s3) if k.startswith(".dashboard/")} == {"d/keep.jpg"}
    assert "Deleted 2 object(s)" in texts(at, "success")
    assert 'data-key="d/1.jpg"' not in grid(at), "the listing is fresh after the app's own delete"
    (event,) = recent(s3, TEST_BUCKET)
    assert event.action == "delete" and event.actor == "Visitor"
    assert json.loads(event.detail)["deleted"] == ["d/1.jpg", "d/2.jpg"]


def test_failed_audit_write_is_told(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    put(s3, "e/1.jpg")

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Unavailable("Could not write the audit event: the endpoint cannot be reached.")

    monkeypatch.setattr(r2.objects, "record", broken)
    at = open_page(monkeypatch, s3, "admin", folder="e/", object="e/1.jpg")
    button(at, "Delete this object…").click().run()
    button(at, "Delete permanently").click().run()
    assert not at.exception
    assert "e/1.jpg" not in keys_in(s3)
    assert "not recorded in the audit log" in texts(at, "warning")


def test_empty_states(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    at = open_page(monkeypatch, s3)
    assert not at.exception and not at.error and "bucket is empty" in texts(at, "info")
    at = open_page(monkeypatch, s3, folder="nothing/")
    assert not at.error and "folder is empty" in texts(at, "info")
    put(s3, "f/a.jpg")
    at = open_page(monkeypatch, s3, q="zzz")
    assert not at.error and "starts with that text" in texts(at, "info")


def test_no_permission_to_list_is_a_state_not_a_crash(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    def denied(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AccessDenied("Could not list the bucket: access denied.", "The API token lacks the permission.")

    monkeypatch.setattr(r2.browse, "list_page", denied)
    at = open_page(monkeypatch, s3)
    assert not at.exception and not at.error
    assert "cannot list this bucket" in texts(at, "warning")


def test_share_link_lifetimes(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    put(s3, "s/p.jpg", b"x", ContentType="image/jpeg")
    at = open_page(monkeypatch, s3, object="s/p.jpg")
    lifetime = next(s for s in at.selectbox if s.label == "Lifetime")
    lifetime.set_value("1 day").run()
    button(at, "Create share link").click().run()
    assert any("X-Amz-Expires=86400" in c.value for c in at.code)
    next(s for s in at.selectbox if s.label == "Lifetime").set_value("Custom…").run()
    at.number_input[0].set_value(604801).run()
    button(at, "Create share link").click().run()
    assert not at.exception
    assert "7 days" in texts(at, "error") and not any("X-Amz-Expires=604801" in c.value for c in at.code)


def test_refresh_shows_changes_made_by_other_tools(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    put(s3, "r/1.jpg")
    at = open_page(monkeypatch, s3, folder="r/")
    put(s3, "r/2.jpg")  # written by another tool: this app's bucket version did not change
    at.run()
    assert 'data-key="r/2.jpg"' not in grid(at), "cached listing (within its 30 s)"
    next(b for b in at.button if b.help and "List again" in b.help).click().run()
    assert 'data-key="r/2.jpg"' in grid(at)


def test_make_missing_thumbnails_for_the_folder(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    from r2.local import sample_image

    big = sample_image(3, size=(1600, 1200)) + b"\0" * (300 * 1024)  # above the small-original limit
    put(s3, "g/big.jpg", big, ContentType="image/jpeg")
    put(s3, "g/other.jpg", big, ContentType="image/jpeg")
    put(s3, thumbnail_key("g/other.jpg"), b"already there")
    at = open_page(monkeypatch, s3, role="developer", folder="g/")
    assert 'data-source="thumbnail"' in grid(at)
    open_panel(at, "browse_thumbs_panel")
    button(at, "Make thumbnails").click().run(timeout=60)
    assert not at.exception
    assert "Made 1 thumbnail(s)." in texts(at, "success")
    assert thumbnail_key("g/big.jpg") in keys_in(s3)
    assert s3.get_object(Bucket=TEST_BUCKET, Key=thumbnail_key("g/other.jpg"))["Body"].read() == b"already there"
    (event,) = recent(s3, TEST_BUCKET)  # the run is audited
    assert (event.action, event.target, event.outcome, event.detail) == ("thumbnails", "g/", "ok", "made 1 of 1")


def test_members_cannot_make_thumbnails(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    # It downloads and decodes other people's objects in the server: developers and admins only.
    from r2.local import sample_image

    put(s3, "g/big.jpg", sample_image(3, size=(1600, 1200)) + b"\0" * (300 * 1024), ContentType="image/jpeg")
    at = open_page(monkeypatch, s3, role="member", folder="g/")
    assert not at.exception and 'data-source="thumbnail"' in grid(at)
    assert "Make thumbnails" not in [b.label for b in at.button]


def _download_names(at: AppTest) -> list[str]:
    """The file names the Download buttons' signed links make a browser save under."""
    found = []
    for element in at.get("link_button"):
        query = parse_qs(urlsplit(element.proto.url).query)
        found += [
            re.sub(r'^attachment; filename="(.*)"$', r"\1", v) for v in query.get("response-content-disposition", [])
        ]
    return found


@pytest.mark.parametrize(
    ("name", "expected"), [("report.html", "report.png"), ("notes", "notes.png"), ("holiday.PNG", "holiday.png")]
)
def test_download_name_gets_the_extension_of_the_detected_format(  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch, s3, settings, name: str, expected: str
) -> None:
    """A valid PNG carrying HTML in a text chunk, uploaded as report.html, must not download as .html
    (it would run as a web page when opened): the extension comes from the content, never the name."""
    image = corpus.plain("PNG")
    polyglot = image[:-12] + corpus.png_chunk(b"tEXt", b"Comment\x00" + corpus.HTML) + image[-12:]
    uploaded = upload_file(s3, settings, name, polyglot, actor="ana")
    assert isinstance(uploaded, Uploaded), uploaded
    at = open_page(monkeypatch, s3, folder=uploaded.key.rsplit("/", 1)[0] + "/", object=uploaded.key)
    assert not at.exception
    assert _download_names(at) == [expected]


def test_an_object_the_app_did_not_check_downloads_under_its_key_name() -> None:
    # original-name metadata written by some other tool is not ours: no detected format, the key's name
    details = r2.objects.ObjectDetails("x/file.bin", 1, "text/html", "e", None, (("original-name", "evil.html"),))
    assert details.download_name == "file.bin"


@pytest.mark.parametrize("key", [".dashboard/direct/0123456789abcdef0123456789abcdef/uploads/x.png", ".thumbs/a.webp"])
def test_a_deep_link_to_a_reserved_key_shows_and_signs_nothing(  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch, s3, page_calls, key: str
) -> None:
    """A staged direct upload is unchecked: whatever the URL says, Browse neither shows nor signs it."""
    put(s3, key, corpus.HTML, ContentType="image/png")
    put(s3, "visible.jpg")
    at = open_page(monkeypatch, s3, object=key)
    assert not at.exception
    assert key not in texts(at, "code") and not at.get("link_button")
    assert "HeadObject" not in page_calls.calls


def test_tiles_and_list_show_the_original_name_uploader_and_date_from_the_catalog(  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch, s3, page_calls
) -> None:
    from r2.catalog import Catalog
    from r2.uploads import upload_files
    from tests.support.env import settings_for

    settings = settings_for(s3.meta.endpoint_url)
    files = [("Clinic Front.jpg", corpus.jpeg_gps()), ("<i>back & side.png", corpus.plain("PNG"))]
    stored = upload_files(s3, settings, files, folder="uploads", actor="ann@example.com", catalog=Catalog(settings, s3))
    put(s3, "uploads/from-another-tool.jpg")  # no catalog row: shown by its key
    at = open_page(monkeypatch, s3, folder="uploads/")
    assert not at.exception
    html = grid(at)
    assert "Clinic Front.jpg" in html and "&lt;i&gt;back &amp; side.png" in html and "<i>back" not in html
    assert html.count("ann@example.com · ") == 2 and "from-another-tool.jpg" in html
    assert dict(page_calls.calls) == {"ListObjectsV2": 1}, "names come from the catalog, not a HEAD per tile"
    at.query_params["view"] = "list"
    at.run()
    (frame,) = at.dataframe
    table = frame.value
    assert set(table["name"]) == {"Clinic Front.jpg", "<i>back & side.png", "from-another-tool.jpg"}
    assert list(table["uploaded by"]).count("ann@example.com") == 2
    keys = {r.key for r in stored}  # type: ignore[union-attr]
    assert keys <= set(table["key"])  # the key stays visible (and in the details, with a copy button)


def test_closed_panels_draw_nothing_until_opened(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    """Browse's four panels start closed and send no widget: a browser landing on the page fetches no
    script for a date picker, a multiselect or radio buttons (docs/bench/page_speed.md). Opened, each
    shows its controls."""
    from r2.local import sample_image

    put(s3, "d/1.jpg", sample_image(1, size=(1600, 1200)) + b"\0" * (300 * 1024), ContentType="image/jpeg")
    at = open_page(monkeypatch, s3, "admin", folder="d/")
    labels = [e.label for e in at.expander]
    assert {"Filter this page (no request: only the items already loaded)", "Delete (admins)"} <= set(labels)
    assert "Make missing thumbnails for this folder" in labels and "Select many: move, copy, ZIP, delete" in labels
    assert not at.multiselect and not at.date_input and not at.radio
    at = open_panel(at, "browse_filters")
    assert [w.label for w in at.date_input] == ["Modified between"]
    at = open_panel(at, "bulk-panel")
    assert at.radio(key="bulk-scope").value == "Chosen items"
