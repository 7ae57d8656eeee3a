"""The app frame and the role guard, through Streamlit's AppTest (no browser)."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.support.apptest import PAGES, configure, rendered_text
from tests.support.env import ROOT, TEST_BUCKET, give_bucket_the_app_cors
from tests.support.fault_proxy import HangingServer

WEAKER = {"member": "none", "developer": "member", "admin": "developer"}


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


@pytest.mark.parametrize(("page", "role"), PAGES.items())
def test_page_run_directly_refuses_a_weaker_role_without_any_s3_call(
    page: str, role: str, monkeypatch: pytest.MonkeyPatch, counting_server: HangingServer
) -> None:
    configure(monkeypatch, counting_server.endpoint, WEAKER[role])
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py")).run(timeout=30)
    assert not at.exception
    assert len(at.error) == 1 and f"needs the **{role}** role" in at.error[0].value
    assert not at.title, "nothing of the page may render"
    assert counting_server.connections == 0


@pytest.mark.parametrize(("page", "role"), PAGES.items())
def test_page_renders_for_its_role(page: str, role: str, monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    configure(monkeypatch, s3.meta.endpoint_url, role)
    if page == "health":
        give_bucket_the_app_cors(s3, monkeypatch)
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py")).run(timeout=30)
    assert not at.exception
    assert not at.error
    assert at.title
    assert "SHOULD-NOT-RENDER" not in rendered_text(at)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("member", {"Browse", "Search", "Upload"}),
        ("developer", {"Browse", "Search", "Upload", "CORS", "Health"}),
        ("admin", {"Browse", "Search", "Upload", "CORS", "Health", "Usage", "Audit", "Lifecycle"}),
    ],
)
def test_navigation_offers_only_the_pages_of_the_role(
    role: str,
    expected: set[str],
    monkeypatch: pytest.MonkeyPatch,
    s3,  # type: ignore[no-untyped-def]
) -> None:
    configure(monkeypatch, s3.meta.endpoint_url, role)
    seen: list[set[str]] = []
    real_navigation = st.navigation

    def spy(pages, **kwargs):  # type: ignore[no-untyped-def]
        seen.append({p.title for p in pages})
        return real_navigation(pages, **kwargs)

    monkeypatch.setattr(st, "navigation", spy)
    at = AppTest.from_file(str(ROOT / "app.py")).run(timeout=30)
    assert not at.exception
    assert seen == [expected]
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    assert f"role **{role}**" in sidebar and TEST_BUCKET in sidebar
    assert "SHOULD-NOT-RENDER" not in rendered_text(at)


def test_local_mode_labels_the_demo_bucket(s3_endpoint: str) -> None:
    at = AppTest.from_file(str(ROOT / "app.py")).run(timeout=60)
    assert not at.exception
    assert any("Local demo bucket" in w.value for w in at.sidebar.warning)
    assert "role **admin**" in "\n".join(m.value for m in at.sidebar.markdown)


def test_bad_settings_show_every_problem_and_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("R2_ACCOUNT_ID", "nope")
    monkeypatch.setenv("R2_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", "secret-SHOULD-NOT-RENDER")
    at = AppTest.from_file(str(ROOT / "app.py")).run(timeout=30)
    assert not at.exception
    assert "settings have problems" in at.error[0].value
    text = rendered_text(at)
    assert "32 hexadecimal" in text and "R2\\_BUCKET is missing" in text
    assert "SHOULD-NOT-RENDER" not in text
