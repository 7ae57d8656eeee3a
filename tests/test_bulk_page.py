"""The Browse page's "Select many" panel through AppTest: rename, and roles checked when an action runs."""

from __future__ import annotations

import pytest

from r2.client import S3Client
from tests.support.apptest import button, open_panel, texts
from tests.support.apptest import open_browse as open_page
from tests.support.env import TEST_BUCKET

B = TEST_BUCKET


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def test_a_member_renames_one_object_in_their_folder(monkeypatch: pytest.MonkeyPatch, s3: S3Client) -> None:
    s3.put_object(Bucket=B, Key="uploads/a.png", Body=b"x", Metadata={"original-name": "old.png"})
    at = open_panel(open_page(monkeypatch, s3, "member", folder="uploads/"), "bulk-panel")
    at.multiselect(key="bulk-chosen").set_value(["uploads/a.png"]).run()
    at.text_input(key="bulk-rename-name").set_value("new name.png").run()
    at = button(at, "Rename").click().run()
    assert not at.exception
    assert "is now shown as new name\\.png" in texts(at, "success")  # markdown-escaped
    assert s3.head_object(Bucket=B, Key="uploads/a.png")["Metadata"]["original-name"] == "new%20name.png"


def test_a_member_cannot_move_outside_their_folders(monkeypatch: pytest.MonkeyPatch, s3: S3Client) -> None:
    s3.put_object(Bucket=B, Key="uploads/a.png", Body=b"x")
    at = open_panel(open_page(monkeypatch, s3, "member", folder="uploads/"), "bulk-panel")
    at.multiselect(key="bulk-chosen").set_value(["uploads/a.png"]).run()
    at.text_input(key="bulk-dest").set_value("private/").run()
    at = button(at, "Move").click().run()
    assert not at.exception
    assert "outside the folders members may change" in texts(at, "error")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=B).get("Contents", [])] == ["uploads/a.png"]
