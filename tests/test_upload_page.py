"""The Upload page through AppTest: file_uploader values in, results table and stored objects out."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from r2.audit import AUDIT_PREFIX
from r2.catalog import CATALOG_PREFIX
from r2.naming import thumbnail_key
from tests.support import corpus
from tests.support.apptest import configure, rendered_text, texts
from tests.support.env import ROOT, TEST_BUCKET

PAGE = str(ROOT / "pages" / "upload.py")
# Every run, the later `.run()`s included, gets 30 s: AppTest's own default is 3 s, which a loaded
# 2-core machine can exceed.


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def test_page_shows_limits_before_any_file(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    configure(monkeypatch, s3.meta.endpoint_url, "member")
    monkeypatch.setenv("R2_MAX_UPLOAD_MB", "2")
    monkeypatch.setenv("R2_FOLDERS", "clinics,products")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception and not at.error
    text = rendered_text(at)
    assert "up to 2 MiB" in text and "50 megapixels" in text and "GPS" in text
    assert at.selectbox[0].options == ["clinics", "products"]
    assert not at.button  # nothing to upload yet


def test_a_single_folder_is_stated_not_offered(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    configure(monkeypatch, s3.meta.endpoint_url, "member")
    monkeypatch.setenv("R2_FOLDERS", "clinics")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception and not at.selectbox
    assert "**Folder** clinics/" in texts(at, "markdown")


def test_upload_batch_stores_good_files_and_lists_rejections_literally(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    configure(monkeypatch, s3.meta.endpoint_url, "member")
    monkeypatch.setenv("R2_FOLDERS", "clinics,products")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.selectbox[0].set_value("products").run()
    hostile = "<img src=x onerror=alert(1)>**bold**.png"
    at.file_uploader[0].set_value(
        [
            ("photo.jpg", corpus.jpeg_gps(), "image/jpeg"),
            (hostile, corpus.HTML, "image/png"),
            ("cut.jpg", corpus.truncated_jpeg(), "image/jpeg"),
        ]
    ).run()
    at.button[0].click().run(timeout=30)
    assert not at.exception

    assert "1 of 3 uploaded" in at.success[0].value
    assert "2 of 3 rejected" in at.error[0].value
    table = at.dataframe[0].value
    assert list(table["Status"]) == ["uploaded", "rejected", "rejected"]
    assert table["File"][1] == hostile  # a dataframe cell: rendered literally
    assert "HTML page" in table["Reason"][1] and "truncated" in table["Reason"][2]
    key = table["Key"][0]
    assert key.startswith("products/") and key.endswith(".jpg")
    assert table["Removed"][0] == "XMP, GPS location"
    assert "X-Amz-Signature" in table["Preview"][0] and "X-Amz-Expires=300" in table["Preview"][0]
    assert "X-Amz-Expires=3600" in table["Link"][0]
    assert any("X-Amz-Expires=3600" in c.value for c in at.code)  # the copy-link field

    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=TEST_BUCKET)["Contents"]]
    app_data = (AUDIT_PREFIX, CATALOG_PREFIX)
    assert sorted(k for k in listed if not k.startswith(app_data)) == sorted([key, thumbnail_key(key)])
    assert len([k for k in listed if k.startswith(AUDIT_PREFIX)]) == 1

    # The uploader was reset: a rerun uploads nothing twice.
    assert not at.file_uploader[0].value
    at.run()
    assert len(s3.list_objects_v2(Bucket=TEST_BUCKET)["Contents"]) == len(listed)


def test_upload_bumps_the_bucket_version(monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    from ui.freshness import bucket_version

    configure(monkeypatch, s3.meta.endpoint_url, "member")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    before = bucket_version()
    at.file_uploader[0].set_value([("a.png", corpus.plain("PNG"), "image/png")]).run()
    at.button[0].click().run(timeout=30)
    assert not at.exception
    assert bucket_version() == before + 1
