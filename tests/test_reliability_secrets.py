"""Secrets and signed URLs never leak: distinctive secret values, every page and CLI command (working and
failing), and a search of everything they produced: rendered elements, stdout/stderr, log records.
Plus the server-side settings that keep the web surface safe (.streamlit/config.toml).
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2 import cors
from r2.client import S3Client
from r2.local import demo_cors_rules
from r2.settings import Settings
from tests.support import corpus
from tests.support.cli import run
from tests.support.env import ROOT, TEST_BUCKET
from tests.support.fault_proxy import FakeCloudflareAPI, FaultProxy, closed_endpoint, wrong_secret

SECRET = "SECRETaccessKEY-0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # R2_SECRET_ACCESS_KEY
TOKEN = "CLOUDFLAREapiTOKEN-zz99yy88xx77ww66vv55uu44tt33"  # CLOUDFLARE_API_TOKEN
LEAKS = (SECRET, TOKEN, SECRET[6:30], TOKEN[10:34])  # whole values and long fragments
APP = "http://localhost:8501"
PAGES = ("browse", "upload", "cors", "health", "usage", "audit", "lifecycle")


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


@pytest.fixture
def cloudflare() -> Iterator[FakeCloudflareAPI]:
    with FakeCloudflareAPI({TOKEN: {"id": "test-access-key", "status": "active"}}) as fake:
        yield fake


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="r2")
    caplog.set_level(logging.DEBUG, logger="ui")
    caplog.set_level(logging.INFO)  # everything else at the app's configured level (info)
    return caplog


def environ(endpoint: str, cloudflare: FakeCloudflareAPI) -> dict[str, str]:
    return {
        "R2_ENDPOINT": endpoint,
        "R2_ACCESS_KEY_ID": "test-access-key",
        "R2_SECRET_ACCESS_KEY": SECRET,
        "R2_BUCKET": TEST_BUCKET,
        "R2_APP_ORIGIN": APP,
        "R2_DEFAULT_ROLE": "admin",
        "CLOUDFLARE_API_TOKEN": TOKEN,
        "CLOUDFLARE_API_BASE": cloudflare.base,
    }


def everything_rendered(at: AppTest) -> str:
    """Every element of the page as its protobuf text: values, labels, dataframe bytes, HTML bodies."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def assert_clean(text: str, where: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"a secret appeared in {where}"


def seed(s3: S3Client) -> None:
    s3.put_bucket_cors(Bucket=TEST_BUCKET, CORSConfiguration={"CORSRules": demo_cors_rules(APP)})
    s3.put_object(Bucket=TEST_BUCKET, Key="uploads/a.png", Body=corpus.plain("PNG"), ContentType="image/png")


def run_pages(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    shown = []
    for page in PAGES:
        st.cache_resource.clear()
        st.cache_data.clear()
        at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=60).run()
        assert not at.exception, (page, at.exception)
        if page == "upload":
            at.file_uploader[0].set_value([("x.png", corpus.plain("PNG"), "image/png")]).run()
            at.button[0].click().run()
        if page == "cors":
            at.button(key="cors_send").click().run()
            at.text_area(key="cors_text").input(f'[{{"AllowedOrigins": ["{SECRET}"]}}]').run()  # echoed: typed
        assert not at.exception, (page, at.exception)
        shown.append(everything_rendered(at).replace(SECRET, "") if page == "cors" else everything_rendered(at))
    return "\n".join(shown)


def test_pages_never_show_secrets_working_or_failing(
    monkeypatch: pytest.MonkeyPatch,
    s3: S3Client,
    settings: Settings,
    cloudflare: FakeCloudflareAPI,
    logs: pytest.LogCaptureFixture,
) -> None:
    seed(s3)
    text = run_pages(monkeypatch, environ(settings.endpoint, cloudflare))
    assert "Browse" in text and "Health" in text  # the pages really rendered
    with FaultProxy(settings.endpoint, wrong_secret) as proxy:
        text += run_pages(monkeypatch, environ(proxy.url, cloudflare))
    assert "SignatureDoesNotMatch" in text  # the failures really happened
    text += run_pages(monkeypatch, environ(closed_endpoint(), cloudflare))
    assert "cannot be reached" in text
    assert_clean(text, "a page")
    assert_clean(logs.text, "the logs")
    assert "X-Amz-Signature" not in logs.text and "Signature=" not in logs.text


def cli(argv: list[str], env: dict[str, str]) -> str:
    _, out, err = run(argv, env)
    return out + err


def test_cli_never_prints_secrets_working_or_failing(
    s3: S3Client,
    settings: Settings,
    cloudflare: FakeCloudflareAPI,
    tmp_path: Path,
    logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(s3)
    policy = tmp_path / "policy.json"
    policy.write_text(cors.preset(APP).to_json("dashboard"))
    image = tmp_path / "x.png"
    image.write_bytes(corpus.plain("PNG"))
    commands = [
        ["config"],
        ["config", "--json"],
        ["health"],
        ["health", "--json"],
        ["cors", "get"],
        ["cors", "get", "--json"],
        ["cors", "lint", str(policy)],
        ["cors", "set", str(policy), "--yes"],
        ["cors", "check", "--origin", APP, "--method", "PUT", "--header", "content-type"],
        ["cors", "history", "--json"],
        ["cors", "rollback", "--yes"],
        ["cors", "delete", "--yes"],
        ["upload", str(image)],
        ["upload", "--json", str(image)],
        ["audit"],
        ["audit", "--json"],
        ["audit", "--csv"],
        ["ls"],
        ["ls", "uploads/"],
        ["sign", "uploads/a.png"],
        ["usage"],
        ["usage", "--json", "--save"],
    ]
    text = ""
    with FaultProxy(settings.endpoint, wrong_secret) as proxy:
        for endpoint in (settings.endpoint, proxy.url, closed_endpoint()):
            env = environ(endpoint, cloudflare)
            for argv in commands:
                text += cli(argv, env)
    assert "SignatureDoesNotMatch" in text and "cannot be reached" in text and "X-Amz-Signature=" in text
    captured = capsys.readouterr()
    assert_clean(text + captured.out + captured.err, "the command line's output")
    assert_clean(logs.text, "the logs")
    assert "X-Amz-Signature" not in logs.text and "Signature=" not in logs.text


def test_bad_settings_never_echo_the_secret(monkeypatch: pytest.MonkeyPatch, cloudflare: FakeCloudflareAPI) -> None:
    env = environ("not a url", cloudflare) | {"R2_BUCKET": "Not_A_Bucket", "R2_MAX_UPLOAD_MB": "lots"}
    text = cli(["config"], env) + cli(["health", "--json"], env)
    assert "problems" in text
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    text += everything_rendered(at)
    assert "settings have problems" in text
    assert_clean(text, "a settings error")


# ------------------------------------------------------------------------------------------ config.toml


def test_streamlit_config_keeps_xsrf_on_and_hides_error_details() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"].get("enableCORS", True) is True  # Streamlit's own CORS guard stays on
    assert "secrets.toml" in (ROOT / ".gitignore").read_text()
