"""Shared fixtures: a real local S3 server over HTTP, clients, call counting, settings."""

from __future__ import annotations

import os

# Before moto is imported anywhere: enforce bucket CORS as R2 does (else every preflight passes).
os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
import tests.live_env  # noqa: F401  the opt-in live suite keeps the R2_* values it was started with

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

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from r2.client import CallCounter, S3Client, make_client
from r2.local import LocalServer
from r2.settings import Settings, parse_settings

if TYPE_CHECKING:
    from tests.fault_proxy import HangingServer

# These machines are noisy (2 cores shared with browsers and servers): judge properties, not speed.
hypothesis_settings.register_profile(
    "project", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
hypothesis_settings.load_profile("project")

ROOT = Path(__file__).resolve().parent.parent
TEST_BUCKET = "test-bucket"


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


def env_for(endpoint: str, **extra: str) -> dict[str, str]:
    """The R2_* settings of the test bucket on `endpoint`, as environment values (for an app or the CLI)."""
    return {
        "R2_ENDPOINT": endpoint,
        "R2_ACCESS_KEY_ID": "test-access-key",
        "R2_SECRET_ACCESS_KEY": "test-secret-key-0123456789",
        "R2_BUCKET": TEST_BUCKET,
        **extra,
    }


def settings_for(endpoint: str, **extra: str) -> Settings:
    return parse_settings(env_for(endpoint, **extra))


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


def give_bucket_the_app_cors(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch, origin: str = "http://localhost:8501"
) -> None:
    """Health runs its checks on open, and a bucket WITHOUT a CORS policy for the app is a real failure
    there (direct uploads would be blocked). Tests that only need the page to render healthy give the
    bucket the app's policy, as the demo bucket has."""
    from r2.local import demo_cors_rules

    monkeypatch.setenv("R2_APP_ORIGIN", origin)
    s3.put_bucket_cors(Bucket=TEST_BUCKET, CORSConfiguration={"CORSRules": demo_cors_rules(origin)})


def require_tool(message: str) -> None:
    """Skip a test whose external tool is missing, but fail in CI (CI=true or R2_REQUIRE_BROWSER=1)."""
    if os.environ.get("CI") == "true" or os.environ.get("R2_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (required here: CI=true or R2_REQUIRE_BROWSER=1)")
    pytest.skip(message)


@pytest.fixture
def counting_server() -> Iterator[HangingServer]:
    """A listener that only counts connections (and closes each at once): proves no S3 call was made."""
    from tests.fault_proxy import HangingServer

    with HangingServer(close_at_once=True) as server:
        yield server


def wait_until_up(
    url: str,
    proc: subprocess.Popen[bytes],
    log: Path | None = None,
    *,
    what: str,
    timeout: float = 60,
    port: int | None = None,
) -> None:
    """Poll `url` until it answers 2xx; raise with the end of the child's log if it exits or never does.

    With `port`, the answer counts only once `proc` itself listens there: on a machine shared with other
    test runs, another process may hold the port that `free_port()` gave us and answer instead."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=5).ok and (port is None or listens(proc.pid, port)):
                return
        except requests.RequestException:  # not listening yet, or too busy to answer in time
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log is not None else "(no log kept)"
            raise RuntimeError(f"{what} did not start:\n{tail}")
        time.sleep(0.1)


def listens(pid: int, port: int) -> bool:
    """Does process `pid` hold a listening TCP socket on `port`?"""
    import psutil

    try:
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in psutil.Process(pid).net_connections("tcp")
        )
    except psutil.Error:
        return False


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """End a child server: politely, then for sure."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the whole run (Playwright's sync API allows one per thread)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.browser import launch, require_chromium

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
    from tests.browser import streamlit_app

    with streamlit_app() as url:
        yield url


@pytest.fixture(scope="session")
def localstack_endpoint() -> Iterator[str]:
    """LocalStack's S3, which (unlike moto) enforces presigned signatures, expiry and signed headers."""
    from tests.localstack import running_localstack

    with running_localstack() as endpoint:
        yield endpoint
