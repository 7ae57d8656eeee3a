"""The preflight judge (`r2.preflight.judge`) agrees with real Chromium on the same answers.

A loopback "endpoint" answers every preflight with fixed Access-Control headers taken from the URL;
a page on another loopback origin sends a PUT with some request headers through `fetch`. Chromium's
verdict (the PUT reached the server or "Failed to fetch") must equal the judge's verdict on exactly
those answer headers. No request routing (Playwright would answer preflights itself).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from urllib.parse import quote, unquote, urlsplit

import pytest

from r2.preflight import judge
from tests.support.browser import page_origin

pytestmark = pytest.mark.browser

PAGE = b"""<!doctype html><title>caller</title><script>
async function put(url, headers) {
  try { const r = await fetch(url, {method: "PUT", body: "x", headers}); return {status: r.status}; }
  catch (e) { return {error: String(e)}; }
}
</script>"""


def answer_headers(path: str, origin: str) -> dict[str, str]:
    """The preflight answer for /allow-headers/<value>: the page's origin, PUT, that Allow-Headers."""
    allow = unquote(urlsplit(path).path.rsplit("/", 1)[1])
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "PUT",
        "Access-Control-Allow-Headers": allow,
        "Access-Control-Max-Age": "0",  # no preflight cache between cases
    }


class _Endpoint(http.server.BaseHTTPRequestHandler):
    puts: list[str]

    def do_OPTIONS(self) -> None:
        self.send_response(200)
        for name, value in answer_headers(self.path, self.headers.get("Origin", "")).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.puts.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", ""))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.puts = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str, http.server.ThreadingHTTPServer]]:
    endpoint = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    endpoint.puts = []  # type: ignore[attr-defined]
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    with page_origin(PAGE) as origin:
        yield origin, f"http://127.0.0.1:{endpoint.server_address[1]}", endpoint
    endpoint.shutdown()
    endpoint.server_close()


@pytest.mark.parametrize(
    ("allow_headers", "request_headers", "allowed"),
    [
        ("*", ["x-custom"], True),
        pytest.param(
            "*",
            ["authorization"],
            False,  # the Fetch standard: "*" never covers Authorization; the judge follows it
            marks=pytest.mark.xfail(
                strict=True,
                reason="Chromium (156 here) still lets '*' cover Authorization, a deprecated exception to the "
                "Fetch standard (Firefox too; chromestatus 5742041264816128): the judge warns by the standard",
            ),
        ),
        ("*, authorization", ["authorization", "x-custom"], True),
        ("content-type", ["content-type", "if-none-match"], False),
        ("content-type, if-none-match", ["content-type", "if-none-match"], True),
    ],
)
def test_the_judge_agrees_with_chromium(
    browser,  # type: ignore[no-untyped-def]
    servers: tuple[str, str, http.server.ThreadingHTTPServer],
    allow_headers: str,
    request_headers: list[str],
    allowed: bool,
) -> None:
    origin, endpoint, endpoint_server = servers
    path = f"/allow-headers/{quote(allow_headers, safe='')}"
    verdict = not judge(200, answer_headers(path, origin), origin, "PUT", request_headers)
    page = browser.new_page()
    try:
        page.goto(f"{origin}/")
        sent = {name: "image/png" if name == "content-type" else "x" for name in request_headers}
        result = page.evaluate("([url, headers]) => put(url, headers)", [f"{endpoint}{path}", sent])
    finally:
        page.close()
    assert verdict is allowed, judge(200, answer_headers(path, origin), origin, "PUT", request_headers)
    assert (result.get("status") == 200) is allowed, result
    assert (path in endpoint_server.puts) is allowed  # a blocked PUT never reaches the server
