"""Reusable loopback test servers for fault tests: real HTTP/TCP, never mocks of `r2` itself.

- `HangingServer`: accepts TCP connections and never answers (a stuck endpoint).
- `closed_endpoint()`: a loopback URL where nothing listens (connection refused).
- `FaultProxy`: forwards to an upstream S3 server (moto) but answers chosen requests with an S3 error
  XML, e.g. AccessDenied to writes (a read-only token) or SignatureDoesNotMatch to every signed
  request (a wrong secret: moto itself checks no signatures).
- `FakeCloudflareAPI`: the `/user/tokens/verify` (and `/accounts/{id}/tokens/verify`) endpoint of
  Cloudflare's API, answering for the tokens it was given.

Each is a context manager and serves from daemon threads on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import free_port

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients closing kept-alive connections are normal here, not test failures


class _Server:
    """Start/stop plumbing shared by the HTTP fakes."""

    handler: type[BaseHTTPRequestHandler]

    def start(self) -> Any:
        self.httpd = _QuietServer(("127.0.0.1", 0), self.handler)
        self.httpd.daemon_threads = True
        self.httpd.fake = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # signed URLs must never be logged
        pass


class HangingServer:
    """Accepts TCP connections and never sends a byte: the endpoint that must not hang a health run."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.connections = 0
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._held.append(conn)  # keep it open, say nothing

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __enter__(self) -> HangingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        for conn in self._held:
            conn.close()


def closed_endpoint() -> str:
    """A loopback URL on a port nobody listens on (bound once, then released)."""
    return f"http://127.0.0.1:{free_port()}"


# A rule sees (method, path, query, headers) and returns an S3 error code to answer with, or None.
Rule = Callable[[str, str, str, dict[str, str]], str | None]


def s3_error(code: str, status: int = 403) -> tuple[int, bytes]:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{code} (from the test proxy)</Message></Error>"
    ).encode()
    return status, body


def read_only(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
    """What an Object Read token meets: writes, deletes, CORS and ListBuckets are refused."""
    if method in ("PUT", "DELETE", "POST"):
        return "AccessDenied"
    if method == "OPTIONS":
        return None
    params = {p.split("=")[0] for p in query.split("&") if p}
    if "cors" in params or path.rstrip("/") == "":
        return "AccessDenied"
    return None


def object_read_write(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
    """What the guide's bucket-scoped Object Read & Write token meets: CORS and ListBuckets refused."""
    if method == "OPTIONS":
        return None
    params = {p.split("=")[0] for p in query.split("&") if p}
    if "cors" in params or path.rstrip("/") == "":
        return "AccessDenied"
    return None


def wrong_secret(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
    """Every signed request fails as with a wrong secret; unsigned ones (preflights, probes) pass."""
    lower = {k.lower() for k in headers}
    if "authorization" in lower or "X-Amz-Signature=" in query:
        return "SignatureDoesNotMatch"
    return None


def unknown_key_id(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
    lower = {k.lower() for k in headers}
    if "authorization" in lower or "X-Amz-Signature=" in query:
        return "InvalidAccessKeyId"
    return None


class _ProxyHandler(_Quiet):
    def _handle(self) -> None:
        fake: FaultProxy = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        headers = {k: v for k, v in self.headers.items()}
        code = fake.rule(self.command, parts.path, parts.query, headers)
        fake.seen.append((self.command, parts.path, parts.query, code))
        if code is not None:
            status, payload = s3_error(code)
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        upstream = urlsplit(fake.upstream)
        conn = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port, timeout=30)
        try:
            forward = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(self.command, self.path, body=body or None, headers=forward)
            response = conn.getresponse()
            payload = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP and key.lower() not in ("content-length", "date", "server"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        finally:
            conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = _handle


class FaultProxy(_Server):
    """A loopback proxy in front of `upstream` that answers requests picked by `rule` with an S3 error."""

    handler = _ProxyHandler

    def __init__(self, upstream: str, rule: Rule) -> None:
        self.upstream = upstream
        self.rule = rule
        self.seen: list[tuple[str, str, str, str | None]] = []


class _CloudflareHandler(_Quiet):
    def do_GET(self) -> None:
        fake: FakeCloudflareAPI = self.server.fake  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        fake.paths.append(path)
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        record = fake.tokens.get(token)
        account_path = f"/client/v4/accounts/{fake.account_id}/tokens/verify"
        expected = account_path if fake.account_owned else "/client/v4/user/tokens/verify"
        ok = path == expected and record is not None
        if ok:
            status, data = 200, {"success": True, "errors": [], "messages": [], "result": record}
        else:
            status = 401
            data = {"success": False, "errors": [{"code": 1000, "message": "Invalid API Token"}], "result": None}
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class FakeCloudflareAPI(_Server):
    """`tokens` maps a token value to its verify result: {"id", "status", "expires_on"?}.

    `account_owned=True` answers only under `/accounts/{account_id}/tokens/verify`, as Cloudflare does
    for account-owned tokens. `base` is what CLOUDFLARE_API_BASE should be set to.
    """

    handler = _CloudflareHandler

    def __init__(self, tokens: dict[str, dict[str, Any]], *, account_owned: bool = False, account_id: str = "") -> None:
        self.tokens = tokens
        self.account_owned = account_owned
        self.account_id = account_id
        self.paths: list[str] = []

    @property
    def base(self) -> str:
        return f"{self.url}/client/v4"
