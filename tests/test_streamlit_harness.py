"""The `streamlit run` helper of the browser tests on a shared machine: a port taken between
`free_port()` and Streamlit's bind (by another test run's app, say) neither fails the test nor
lets it talk to the other app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

import tests.browser
from tests.browser import streamlit_app
from tests.conftest import free_port
from tests.fault_proxy import _Quiet, _Server


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


@pytest.fixture
def taken_port() -> Iterator[int]:
    with ImpostorApp() as impostor:
        yield int(impostor.httpd.server_address[1])


def test_a_port_taken_before_streamlit_binds_it_starts_the_app_on_another(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = iter([taken_port])
    monkeypatch.setattr(tests.browser, "free_port", lambda: next(ports, None) or free_port())
    with streamlit_app() as url:
        assert not url.endswith(f":{taken_port}")  # not the other app's port
        answer = requests.get(f"{url}/_stcore/health", timeout=30)
        assert answer.ok and answer.text == "ok"  # Streamlit's own answer, not the impostor's
