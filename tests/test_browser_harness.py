"""Helpers of the browser tests on a shared, busy machine: a port taken between `free_port()` and
Streamlit's bind (by another test run's app, say) neither fails the test nor lets it talk to the other
app; and "no script ran" is judged after the page's images have failed, not after a fixed wait."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

import tests.support.browser
from tests.support.browser import Page, images_settled, streamlit_app
from tests.support.fault_proxy import _Quiet, _Server
from tests.support.servers import free_port


class _Impostor(_Quiet):
    """Another app on the port: answers Streamlit's health check, and says whose it is."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "8")
        self.end_headers()
        self.wfile.write(b"impostor")


class ImpostorApp(_Server):
    handler = _Impostor


class _SlowMissing(_Quiet):
    """A page with an image whose request fails only after 1.5 s (a busy machine), with an onerror."""

    def do_GET(self) -> None:
        if self.path == "/missing.png":
            time.sleep(1.5)  # the slow answer itself (as the fault proxy's delay), not a wait for something
            self.send_response(404)
            body = b""
        else:
            self.send_response(200)
            body = b'<!doctype html><img src="/missing.png" onerror="window.__xss = 1">'
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SlowMissingImage(_Server):
    handler = _SlowMissing


@pytest.fixture
def taken_port() -> Iterator[int]:
    with ImpostorApp() as impostor:
        yield int(impostor.httpd.server_address[1])


def test_a_port_taken_before_streamlit_binds_it_starts_the_app_on_another(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = iter([taken_port])
    monkeypatch.setattr(tests.support.browser, "free_port", lambda: next(ports, None) or free_port())
    with streamlit_app() as url:
        assert not url.endswith(f":{taken_port}")  # not the other app's port
        answer = requests.get(f"{url}/_stcore/health", timeout=30)
        assert answer.ok and answer.text == "ok"  # Streamlit's own answer, not the impostor's


@pytest.mark.browser
def test_images_settled_waits_for_a_late_onerror(browser) -> None:  # type: ignore[no-untyped-def]
    with SlowMissingImage() as server:
        page: Page = browser.new_page()
        page.goto(server.url, wait_until="commit")
        images_settled(page)
        assert page.evaluate("window.__xss") == 1  # the handler ran before the check (700 ms would not do)
        page.close()
