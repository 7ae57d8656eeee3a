"""Sign-in and roles through Streamlit's AppTest: `at.user` and `at.secrets` as a real sign-in sets them."""

from __future__ import annotations

from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import ui.auth
from tests.support.apptest import PAGES, configure, rendered_text
from tests.support.env import ROOT, give_bucket_the_app_cors
from tests.support.fault_proxy import HangingServer

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret-0123456789abcdef",
    "client_id": "dashboard",
    "client_secret": "client-secret-SHOULD-NOT-RENDER",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ROLES_TABLE = {
    "default": "none",
    "admin": {"emails": ["ann@example.com"]},
    "developer": {"groups": ["engineering"]},
    "member": {"domains": ["example.com"]},
}
USERS: dict[str, dict[str, Any]] = {
    "admin": {"is_logged_in": True, "email": "ann@example.com", "email_verified": True, "name": "Ann"},
    "developer": {"is_logged_in": True, "email": "dev@other.org", "name": "Dev", "groups": ["Engineering"]},
    "member": {"is_logged_in": True, "email": "mem@example.com", "email_verified": True, "name": "Mem"},
    "none": {"is_logged_in": True, "email": "stranger@other.org", "email_verified": True, "name": "Stranger"},
    "anonymous": {"is_logged_in": False},
}
WEAKER = {"member": "none", "developer": "member", "admin": "developer"}
NAV = {
    "member": {"Browse", "Search", "Upload"},
    "developer": {"Browse", "Search", "Upload", "CORS", "Health"},
    "admin": {"Browse", "Search", "Upload", "CORS", "Health", "Usage", "Audit", "Lifecycle"},
    "none": {"No access"},
    "anonymous": {"Sign in"},
}
HEADER = "Cf-Access-Authenticated-User-Email"


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


@pytest.fixture
def nav_spy(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    seen: list[set[str]] = []
    real_navigation = st.navigation

    def spy(pages, **kwargs):  # type: ignore[no-untyped-def]
        seen.append({p.title for p in pages})
        return real_navigation(pages, **kwargs)

    monkeypatch.setattr(st, "navigation", spy)
    return seen


def app(path: str, user: dict[str, Any], secrets: dict[str, Any] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / path))
    at.secrets = {"auth": AUTH, "roles": ROLES_TABLE} if secrets is None else secrets
    at.user = dict(user)
    return at.run(timeout=30)


@pytest.mark.parametrize("who", USERS)
def test_navigation_offers_the_pages_of_the_signed_in_role(
    who: str,
    nav_spy: list[set[str]],
    monkeypatch: pytest.MonkeyPatch,
    s3,  # type: ignore[no-untyped-def]
) -> None:
    # R2_DEFAULT_ROLE=admin must not leak to anyone once sign-in is configured.
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    at = app("app.py", USERS[who])
    assert not at.exception
    assert nav_spy == [NAV[who]]
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    if who == "anonymous":
        assert sidebar == "**Not signed in**", "nothing about the account or bucket before sign-in"
        assert not at.sidebar.caption
        assert [b.label for b in at.button] == ["Sign in"]
        assert not at.sidebar.button
    else:
        assert f"role **{who}**" in sidebar and USERS[who]["name"] in sidebar
        assert [b.label for b in at.sidebar.button] == ["Sign out"]
    assert "SHOULD-NOT-RENDER" not in rendered_text(at)


@pytest.mark.parametrize(("page", "role"), PAGES.items())
def test_each_page_refuses_a_weaker_signed_in_role_without_any_s3_call(
    page: str, role: str, monkeypatch: pytest.MonkeyPatch, counting_server: HangingServer
) -> None:
    configure(monkeypatch, counting_server.endpoint, "admin")
    at = app(f"pages/{page}.py", USERS[WEAKER[role]])
    assert not at.exception
    assert len(at.error) == 1 and f"needs the **{role}** role" in at.error[0].value
    assert f"signed in as **{WEAKER[role]}**" in at.error[0].value
    assert not at.title, "nothing of the page may render"
    assert counting_server.connections == 0


@pytest.mark.parametrize("page", PAGES)
def test_each_page_asks_an_anonymous_visitor_to_sign_in(
    page: str, monkeypatch: pytest.MonkeyPatch, counting_server: HangingServer
) -> None:
    configure(monkeypatch, counting_server.endpoint, "admin")
    at = app(f"pages/{page}.py", USERS["anonymous"])
    assert not at.exception
    assert len(at.error) == 1 and "sign in first" in at.error[0].value
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.title
    assert counting_server.connections == 0


@pytest.mark.parametrize(("page", "role"), PAGES.items())
def test_each_page_opens_for_its_signed_in_role(page: str, role: str, monkeypatch: pytest.MonkeyPatch, s3) -> None:  # type: ignore[no-untyped-def]
    configure(monkeypatch, s3.meta.endpoint_url, "none")
    if page == "health":
        give_bucket_the_app_cors(s3, monkeypatch)
    at = app(f"pages/{page}.py", USERS[role])
    assert not at.exception and not at.error
    assert at.title


def test_named_providers_get_one_button_each(
    monkeypatch: pytest.MonkeyPatch,
    s3,  # type: ignore[no-untyped-def]
) -> None:
    configure(monkeypatch, s3.meta.endpoint_url, "member")
    provider = {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    secrets = {
        "auth": {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"], "google": provider},
        "roles": ROLES_TABLE,
    }
    secrets["auth"]["microsoft-entra"] = provider
    at = app("app.py", USERS["anonymous"], secrets)
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in with Google", "Sign in with Microsoft Entra"]


def test_names_from_the_provider_render_literally(
    monkeypatch: pytest.MonkeyPatch,
    s3,  # type: ignore[no-untyped-def]
) -> None:
    configure(monkeypatch, s3.meta.endpoint_url, "member")
    user = {**USERS["member"], "name": "**Mallory** <img src=x onerror=alert(1)>"}
    at = app("app.py", user)
    assert not at.exception
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    assert "\\*\\*Mallory\\*\\* \\<img src=x onerror=alert\\(1\\)\\>" in sidebar


def test_a_bad_roles_table_is_explained_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
    s3,  # type: ignore[no-untyped-def]
) -> None:
    configure(monkeypatch, s3.meta.endpoint_url, "member")
    at = app("app.py", USERS["admin"], {"auth": AUTH, "roles": {"owner": {"emails": ["ann@example.com"]}}})
    assert not at.exception
    assert "[roles]" in at.error[0].value
    assert "roles\\.owner\\] is not a role" in rendered_text(at)


def test_without_auth_the_default_role_applies_and_st_user_is_ignored(
    nav_spy: list[set[str]],
    monkeypatch: pytest.MonkeyPatch,
    s3,  # type: ignore[no-untyped-def]
) -> None:
    configure(monkeypatch, s3.meta.endpoint_url, "developer")
    at = app("app.py", USERS["admin"], secrets={})
    assert not at.exception
    assert nav_spy == [NAV["developer"]]


@pytest.mark.parametrize("mode_on", [True, False])
def test_trusted_header_mode_on_and_off(
    mode_on: bool,
    nav_spy: list[set[str]],
    monkeypatch: pytest.MonkeyPatch,
    s3,  # type: ignore[no-untyped-def]
) -> None:
    configure(monkeypatch, s3.meta.endpoint_url, "member")
    if mode_on:
        monkeypatch.setenv("R2_TRUSTED_EMAIL_HEADER", HEADER)
    # AppTest cannot send request headers: stand in for the proxy's request.
    monkeypatch.setattr(ui.auth, "_request_headers", lambda: {HEADER.lower(): "ann@example.com"})
    at = app("app.py", {"email": "test@example.com"}, secrets={"roles": ROLES_TABLE})
    assert not at.exception
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    if mode_on:
        assert nav_spy == [NAV["admin"]] and "ann@example\\.com" in sidebar
        assert any("access proxy" in c.value for c in at.sidebar.caption)
    else:
        assert nav_spy == [NAV["member"]] and "ann@" not in sidebar, "the header must be ignored when off"


def test_trusted_header_mode_without_the_header_shows_only_the_sign_in_page(
    nav_spy: list[set[str]],
    monkeypatch: pytest.MonkeyPatch,
    s3,  # type: ignore[no-untyped-def]
) -> None:
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    monkeypatch.setenv("R2_TRUSTED_EMAIL_HEADER", HEADER)
    monkeypatch.setattr(ui.auth, "_request_headers", lambda: {"X-Forwarded-For": "10.0.0.1"})
    at = app("app.py", {"email": "test@example.com"}, secrets={"roles": ROLES_TABLE})
    assert not at.exception
    assert nav_spy == [NAV["anonymous"]]
    assert any("access proxy" in i.value for i in at.info)
