"""Shared fixtures: a real local S3 server over HTTP, clients, call counting, settings.

Fixtures only: the helpers tests and benchmarks share live in `tests/support/`."""

from __future__ import annotations

import os

import pytest

# The helpers' own asserts (tests/support) explain a failure as a test's do.
pytest.register_assert_rewrite("tests.support")
# Before moto is imported anywhere: enforce bucket CORS as R2 does (else every preflight passes).
os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
import tests.support.live_env  # noqa: F401  the opt-in live suite keeps the R2_* values it was started with

# Switches of the test suite itself, not settings of the app: they must survive the clean-up below
# (R2_REQUIRE_BROWSER=1 is how .ci/run makes a missing browser or tool fail instead of skip).
TEST_SWITCHES = (
    "R2_REQUIRE_BROWSER",
    "R2_PILLOW_CORPUS",
    "R2_LIVE_TEST",
    "R2_LOAD_SESSIONS",
    "R2_LOAD_SECONDS",
    "R2_LOAD_RAMP",
)
for _name in list(os.environ):  # tests must never pick up a developer's real credentials
    if (_name.startswith("R2_") and _name not in TEST_SWITCHES) or _name == "CLOUDFLARE_API_TOKEN":
        del os.environ[_name]

from collections.abc import Iterator
from typing import TYPE_CHECKING

import requests
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from r2.client import CallCounter, S3Client, make_client
from r2.local import LocalServer
from r2.settings import Settings
from tests.support.env import (  # the names test modules of the old layout import from here
    settings_for,
)

if TYPE_CHECKING:
    from tests.support.fake_graphql import FakeGraphQL
    from tests.support.fault_proxy import HangingServer

# These machines are noisy (2 cores shared with browsers and servers): judge properties, not speed.
hypothesis_settings.register_profile(
    "project", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
hypothesis_settings.load_profile("project")


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each test where no .env or secrets.toml of the developer can leak in."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[LocalServer]:
    server = LocalServer().start()
    yield server
    server.stop()


@pytest.fixture
def s3_endpoint(s3_server: LocalServer) -> Iterator[str]:
    """The server's endpoint, with every bucket and object wiped before the test."""
    # Under heavy load the threaded server has dropped a request's connection: try again, bounded.
    for attempt in range(3):
        try:
            requests.post(f"{s3_server.endpoint}/moto-api/reset", timeout=30).raise_for_status()
            break
        except requests.ConnectionError:
            if attempt == 2:
                raise
    yield s3_server.endpoint


@pytest.fixture
def settings(s3_endpoint: str) -> Settings:
    return settings_for(s3_endpoint)


@pytest.fixture
def s3(settings: Settings) -> S3Client:
    """A client on an empty, freshly created test bucket."""
    client = make_client(settings)
    client.create_bucket(Bucket=settings.bucket, CreateBucketConfiguration={"LocationConstraint": "auto"})
    return client


@pytest.fixture
def s3_calls(s3: S3Client) -> Iterator[CallCounter]:
    """Counts the S3 operations made through the `s3` client during the test."""
    counter = CallCounter(s3)
    yield counter
    counter.close()


@pytest.fixture
def counting_server() -> Iterator[HangingServer]:
    """A listener that only counts connections (and closes each at once): proves no S3 call was made."""
    from tests.support.fault_proxy import HangingServer

    with HangingServer(close_at_once=True) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the whole run (Playwright's sync API allows one per thread)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.support.browser import launch, require_chromium

    require_chromium()
    # The default 5 s is too short on a loaded 2-core machine: Streamlit pages then render late.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def demo_app() -> Iterator[str]:
    """One `streamlit run app.py` in local demo mode (embedded bucket) for the browser tests that leave
    its demo bucket as they found it for each other (the frame, Health, the Usage scan): one start
    instead of three. Each test opens its own page, a new Streamlit session. A test that changes the
    demo bucket (the Upload test adds an image) starts its own app."""
    from tests.support.browser import streamlit_app

    with streamlit_app() as url:
        yield url


@pytest.fixture(scope="session")
def localstack_endpoint() -> Iterator[str]:
    """LocalStack's S3, which (unlike moto) enforces presigned signatures, expiry and signed headers."""
    from tests.support.localstack import running_localstack

    with running_localstack() as endpoint:
        yield endpoint


@pytest.fixture
def fresh_streamlit_caches() -> None:
    """Empty Streamlit's caches before a test that runs pages (AppTest): a client or a listing cached
    by an earlier test, against another endpoint or bucket, must not answer for this one."""
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def page_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[CallCounter]:
    """Counts the S3 calls of the client a page run through AppTest creates itself (ui.state's cached
    client); `.calls` insists the page made exactly one."""
    import ui.state

    counters: list[CallCounter] = []
    real = ui.state.make_client

    def counting(settings, **config):  # type: ignore[no-untyped-def]
        client = real(settings, **config)
        counters.append(CallCounter(client))
        return client

    monkeypatch.setattr(ui.state, "make_client", counting)

    class Lazy(CallCounter):
        def __init__(self) -> None:
            pass

        @property
        def calls(self):  # type: ignore[no-untyped-def, override]
            assert len(counters) == 1, "the page should create exactly one client"
            return counters[0].calls

        def reset(self) -> None:
            if counters:
                counters[0].reset()

    yield Lazy()
    for counter in counters:
        counter.close()


@pytest.fixture
def graphql() -> Iterator[FakeGraphQL]:
    """A local stand-in for Cloudflare's GraphQL Analytics API (set `.answer` and `.status`)."""
    from tests.support.fake_graphql import FakeGraphQL

    fake = FakeGraphQL()
    yield fake
    fake.close()
