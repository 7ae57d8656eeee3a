"""The CORS page through AppTest, against the real local S3 server."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2 import cors, cors_store
from r2.audit import recent
from r2.client import S3Client
from r2.settings import Settings
from tests.support.apptest import configure, open_panel, rendered_text
from tests.support.env import ROOT
from ui.text import escape_md

APP = "http://localhost:8501"
OTHER = cors.parse([{"AllowedOrigins": ["https://b.example.com"], "AllowedMethods": ["GET"]}])


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


@pytest.fixture
def page(s3: S3Client, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    configure(monkeypatch, settings.endpoint, "developer")
    monkeypatch.setenv("R2_APP_ORIGIN", APP)
    at = AppTest.from_file(str(ROOT / "pages" / "cors.py")).run(timeout=30)
    assert not at.exception
    return at


def test_no_policy_is_explained_and_the_editor_starts_from_the_preset(page: AppTest) -> None:
    text = rendered_text(page)
    assert "has no CORS policy" in text and "normal state" in text
    assert not page.error
    assert cors.parse(page.text_area(key="cors_text").value) == cors.preset(APP)
    assert "Valid: 1 rule(s), 0 warning(s)" in text


def test_apply_through_the_page(page: AppTest, s3: S3Client, settings: Settings) -> None:
    page.text_input(key="cors_reason").input("allow direct uploads")
    page.button(key="cors_apply").click().run(timeout=30)
    assert not page.exception
    assert cors_store.read_policy(s3, settings.bucket) == cors.preset(APP)
    assert "Applied and read back" in rendered_text(page) and "30 seconds" in rendered_text(page)
    (entry,) = cors_store.history(s3, settings.bucket)
    assert (entry.actor, entry.reason) == ("Visitor", "allow direct uploads")
    assert escape_md(f"{APP}, {APP.replace('localhost', '127.0.0.1')}") in rendered_text(page)  # the rules table
    assert page.button(key="cors_apply").disabled  # nothing left to apply


def test_invalid_json_shows_each_problem_and_cannot_be_applied(page: AppTest, s3: S3Client, settings: Settings) -> None:
    bad = [{"AllowedOrigins": ["http://localhost:8501/"], "AllowedMethods": ["GET", "OPTIONS"], "MaxAge": 5}]
    page.text_area(key="cors_text").input(json.dumps(bad)).run(timeout=30)
    errors = [e.value for e in page.error]
    assert any("Invalid: 3 problem(s)" in e for e in errors)
    assert any("Rule 1, AllowedMethods" in e for e in errors) and any("Rule 1, MaxAge" in e for e in errors)
    assert page.button(key="cors_apply").disabled
    assert cors_store.read_policy(s3, settings.bucket) is None


def test_a_stale_edit_is_refused_with_the_difference(page: AppTest, s3: S3Client, settings: Settings) -> None:
    cors_store.apply(s3, settings.bucket, OTHER, actor="another admin")  # after the page loaded "no policy"
    page.button(key="cors_apply").click().run(timeout=30)
    assert not page.exception
    assert any("changed since you loaded it" in e.value for e in page.error)
    assert any("b.example.com" in c.value for c in page.code)
    assert cors_store.read_policy(s3, settings.bucket) == OTHER
    # The way out: load the live policy, edit again, apply.
    page.button(key="cors_load").click().run(timeout=30)
    assert cors.parse(page.text_area(key="cors_text").value) == OTHER
    page.button(key="cors_preset").click().run(timeout=30)
    page.button(key="cors_apply").click().run(timeout=30)
    assert not page.exception
    assert cors_store.read_policy(s3, settings.bucket) == cors.preset(APP)
    assert cors_store.history(s3, settings.bucket)[0].before == OTHER


def test_preflight_from_the_page_and_the_local_verdict(page: AppTest, s3: S3Client, settings: Settings) -> None:
    assert any("Allowed by rule 1 of the edited policy" in s.value for s in page.success)
    page.button(key="cors_send").click().run(timeout=30)
    assert any("Blocked: a browser at" in e.value for e in page.error)
    cors_store.apply(s3, settings.bucket, cors.preset(APP), actor="t")
    st.cache_data.clear()
    page.text_input(key="cors_test_headers").input("content-type, if-none-match")
    page.button(key="cors_send").click().run(timeout=30)
    assert any("Allowed: a browser at" in s.value and "rule 1 of the live policy" in s.value for s in page.success)


def test_delete_needs_confirmation_then_rollback_restores(
    s3: S3Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cors_store.apply(s3, settings.bucket, cors.preset(APP), actor="t")
    configure(monkeypatch, settings.endpoint, "developer")
    monkeypatch.setenv("R2_APP_ORIGIN", APP)
    at = AppTest.from_file(str(ROOT / "pages" / "cors.py")).run(timeout=30)
    at.button(key="cors_delete").click().run(timeout=30)
    assert cors_store.read_policy(s3, settings.bucket) is not None  # only asked
    at.button(key="cors_delete_yes").click().run(timeout=30)
    assert not at.exception
    assert cors_store.read_policy(s3, settings.bucket) is None
    assert "Deleted the CORS policy" in rendered_text(at)
    at = open_panel(at, "cors_versions")
    assert at.selectbox(key="cors_history_version").value == cors_store.history(s3, settings.bucket)[0].version
    at.button(key="cors_rollback").click().run(timeout=30)
    assert not at.exception
    assert cors_store.read_policy(s3, settings.bucket) == cors.preset(APP)
    assert [e.action for e in recent(s3, settings.bucket)][:2] == ["cors.rollback", "cors.delete"]


def test_bucket_text_renders_literally(page: AppTest) -> None:
    hostile = [{"AllowedOrigins": ["<img src=x onerror=alert(1)>"], "AllowedMethods": ["**GET**"]}]
    page.text_area(key="cors_text").input(json.dumps(hostile)).run(timeout=30)
    assert not page.exception
    shown = "\n".join(e.value for e in page.error)
    assert r"\<img src=x onerror=alert\(1\)\>" in shown and r"\*\*GET\*\*" in shown


def test_the_first_view_needs_no_code_block_or_data_grid(
    s3: S3Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A policy with history, opened: every tab (Streamlit sends the hidden ones too) shows its tables and
    editor without a code block or data grid, each of which makes the browser load over 1 MB of script
    (docs/bench/page_speed.md). The JSON and the comparison with an old version are drawn when asked for."""
    cors_store.apply(s3, settings.bucket, OTHER, actor="t")
    cors_store.apply(s3, settings.bucket, cors.preset(APP), actor="t", reason="the preset")
    configure(monkeypatch, settings.endpoint, "developer")
    monkeypatch.setenv("R2_APP_ORIGIN", APP)
    at = AppTest.from_file(str(ROOT / "pages" / "cors.py")).run(timeout=30)
    assert not at.exception
    assert not at.code and not at.dataframe and not at.table and not at.selectbox  # no drop-down script either
    assert at.segmented_control(key="cors_test_method").value == "PUT"
    text = rendered_text(at)
    assert escape_md(f"{APP}, {APP.replace('localhost', '127.0.0.1')}") in text  # the live rules
    assert "the preset" in text and "No difference from the live policy" in text  # history, editor
    at.session_state["cors_json"] = True  # "As JSON" opened
    at.session_state["cors_versions"] = True  # the comparison with the newest history version opened
    at.run(timeout=30)
    json_block, compared = (c.value for c in at.code)
    assert cors.parse(json_block) == cors.preset(APP)
    assert "b.example.com" in compared  # the policy before the newest change
