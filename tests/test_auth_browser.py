"""A real sign-in in Chromium: Streamlit's st.login against a fake OIDC provider on loopback."""

from __future__ import annotations

import pytest

from r2.client import make_client
from tests.support.browser import expect, streamlit_app
from tests.support.env import TEST_BUCKET, env_for, settings_for
from tests.support.fake_oidc import FakeOIDCProvider

pytestmark = pytest.mark.browser

ROLES = """
[roles]
default = "none"
[roles.admin]
emails = ["ann@example.com"]
[roles.developer]
groups = ["engineering"]
"""


def test_sign_in_with_oidc_gives_the_role_of_the_group_claim_then_sign_out(browser, s3_endpoint: str) -> None:  # type: ignore[no-untyped-def]
    make_client(settings_for(s3_endpoint)).create_bucket(
        Bucket=TEST_BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"}
    )
    env = env_for(s3_endpoint, R2_DEFAULT_ROLE="admin")  # the default role must not apply once sign-in is configured
    user = {"email": "dev@other.org", "email_verified": True, "name": "Dee Veloper", "groups": ["Engineering"]}
    with FakeOIDCProvider(user) as idp, streamlit_app(env, secrets=lambda base: idp.auth_toml(base) + ROLES) as url:
        page = browser.new_page()
        page.goto(url)
        # Not signed in: only the sign-in page.
        sign_in = page.get_by_role("button", name="Sign in")
        expect(sign_in).to_be_visible(timeout=30_000)
        expect(page.locator('[data-testid="stSidebarNavLink"]')).to_have_count(0)
        page.goto(f"{url}/cors")  # a deep link does not get past it either
        expect(page.get_by_text("Page not found")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Not signed in")).to_be_visible()
        page.goto(url)

        page.get_by_role("button", name="Sign in").click()
        # Streamlit -> /authorize -> /oauth2callback -> token exchange -> back to the app, signed in.
        expect(page.get_by_text("Dee Veloper")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("role developer")).to_be_visible()
        links = page.locator('[data-testid="stSidebarNavLink"]')
        expect(links).to_have_count(5)
        expect(links).to_contain_text(["Browse", "Search", "Upload", "CORS", "Health"])
        assert idp.requests[:1] == ["/.well-known/openid-configuration"]
        assert {"/authorize", "/token", "/jwks"} <= set(idp.requests)

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Dee Veloper")).to_have_count(0)
        page.close()


def test_trusted_header_mode_reads_the_proxy_header_of_the_real_request(browser, s3_endpoint: str) -> None:  # type: ignore[no-untyped-def]
    make_client(settings_for(s3_endpoint)).create_bucket(
        Bucket=TEST_BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"}
    )
    env = env_for(s3_endpoint, R2_TRUSTED_EMAIL_HEADER="Cf-Access-Authenticated-User-Email")
    with streamlit_app(env, secrets=lambda base: ROLES) as url:
        # As the proxy would send it (Playwright adds the header to every request, WebSocket included).
        proxied = browser.new_context(extra_http_headers={"Cf-Access-Authenticated-User-Email": "ann@example.com"})
        page = proxied.new_page()
        page.goto(url)
        expect(page.get_by_text("role admin")).to_be_visible(timeout=30_000)
        expect(page.locator('[data-testid="stSidebarNavLink"]')).to_contain_text(["Audit"])
        proxied.close()

        direct = browser.new_context()  # reaching the app without the proxy: no identity, nothing shown
        page = direct.new_page()
        page.goto(url)
        expect(page.get_by_text("access proxy")).to_be_visible(timeout=30_000)
        expect(page.locator('[data-testid="stSidebarNavLink"]')).to_have_count(0)
        direct.close()
