"""Loopback fault injection for tests: real HTTP/TCP in front of the local S3 server, never mocks of `r2`.

One proxy, one hanging server, used by every reliability and health test:

- `FaultProxy(upstream, rule=None, delay=0.0)`: a reverse proxy on 127.0.0.1 in front of an S3 server
  (moto). It can
  - answer requests picked by a `rule` (method, path, query, headers) -> S3 error code, with that error
    (e.g. `read_only`: AccessDenied to writes; `wrong_secret`: SignatureDoesNotMatch to every signed
    request, since moto itself checks no signature), and
  - inject `Fault`s: a `status` burst (500/503 SlowDown/429...), a `hang` with no answer, a `cut` of
    the response body half way, a `close` of the connection before anything is forwarded (a cut
    mid-upload: the server never gets the object), a `drop` (forwarded and stored upstream, then the
    connection closes before the answer: the client cannot know it succeeded), a `delay` of some
    requests only (a slow upload). Faults apply to some
    requests (`match`) and to a number of requests (`times`).
  - add latency (`delay`) before each request is forwarded.
  It counts every request by method (`seen`) and keeps each one (`log`: method, path, query, code).
  Use `with FaultProxy(...) as proxy` or `with fault_proxy(upstream) as proxy`; `proxy.endpoint`
  (alias `proxy.url`) is what R2_ENDPOINT should be.
- `HangingServer`: accepts TCP connections and never sends a byte (a stuck endpoint).
- `closed_endpoint()`: a loopback URL where nothing listens (connection refused).
- `FakeCloudflareAPI`: Cloudflare's `/user/tokens/verify` (and `/accounts/{id}/tokens/verify`),
  answering for the tokens it was given.

Everything serves from daemon threads on 127.0.0.1 and never logs requests (signed URLs carry
signatures).
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.support.servers import free_port

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}

Match = Callable[[str, str], bool]  # (method, path with query) -> apply the fault?
# A rule sees (method, path, query, headers) and returns an S3 error code to answer with, or None.
Rule = Callable[[str, str, str, dict[str, str]], str | None]


def s3_error(code: str, status: int = 403) -> tuple[int, bytes]:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{code} (from the test proxy)</Message></Error>"
    ).encode()
    return status, body


# ------------------------------------------------------------------------------------------ rules


def _params(query: str) -> set[str]:
    return {p.split("=")[0] for p in query.split("&") if p}


def read_only(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
    """What an Object Read token meets: writes, deletes, CORS and ListBuckets are refused."""
    if method in ("PUT", "DELETE", "POST"):
        return "AccessDenied"
    if method == "OPTIONS":
        return None
    if "cors" in _params(query) or path.rstrip("/") == "":
        return "AccessDenied"
    return None


def object_read_write(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
    """What the guide's bucket-scoped Object Read & Write token meets: CORS and ListBuckets refused."""
    if method == "OPTIONS":
        return None
    if "cors" in _params(query) or path.rstrip("/") == "":
        return "AccessDenied"
    return None


def _signed(query: str, headers: dict[str, str]) -> bool:
    return "authorization" in {k.lower() for k in headers} or "X-Amz-Signature=" in query


def wrong_secret(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
    """Every signed request fails as with a wrong secret; unsigned ones (preflights, probes) pass."""
    return "SignatureDoesNotMatch" if _signed(query, headers) else None


def unknown_key_id(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
    return "InvalidAccessKeyId" if _signed(query, headers) else None


# ------------------------------------------------------------------------------------------ faults


@dataclass
class Fault:
    kind: str  # "status" | "hang" | "cut" | "close" | "drop" | "delay"
    status: int = 503
    code: str = "SlowDown"
    times: int | None = None  # how many matching requests; None = all
    match: Match | None = None
    seconds: float = 0.0  # for "delay": wait this long, then forward as usual (a slow request)

    def applies(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return self.match is None or self.match(method, path)


def call(method: str, param: str | None = None) -> Match:
    """A `match` for requests with `method` (and the query parameter `param`: "cors", "list-type"...)."""

    def matches(m: str, path: str) -> bool:
        return m == method and (param is None or param in _params(urlsplit(path).query))

    return matches


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients closing kept-alive or cut connections are normal here, not test failures


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm and the client's delayed ACK each
    # answer then waited ~40 ms (measured: 49 ms per GET through the proxy vs 5 ms direct).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # signed URLs must never be logged
        pass


class _Server:
    """Start/stop plumbing shared by the HTTP fakes; each is a context manager."""

    handler: type[BaseHTTPRequestHandler]

    def start(self) -> Any:
        self.httpd = _QuietServer(("127.0.0.1", 0), self.handler)
        self.httpd.fake = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    endpoint = url

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _ProxyHandler(_Quiet):
    def _send(self, status: int, payload: bytes, content_type: str = "application/xml") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _drop(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _handle(self) -> None:
        proxy: FaultProxy = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        headers = dict(self.headers.items())
        code = proxy.rule(self.command, parts.path, parts.query, headers) if proxy.rule else None
        fault = proxy._take_fault(self.command, self.path, parts, code)
        if proxy.delay:
            time.sleep(proxy.delay)
        if code is not None:
            self._send(*s3_error(code))
            return
        if fault is not None:
            if fault.kind == "hang":
                proxy._stopping.wait(3600)  # the client's timeout ends it; stop() releases the thread
                self._drop()
                return
            if fault.kind == "close":
                self._drop()
                return
            if fault.kind == "status":
                self._send(*s3_error(fault.code, fault.status))
                return
            if fault.kind == "delay":
                time.sleep(fault.seconds)
        status, response_headers, payload = proxy._forward(self.command, self.path, body, headers)
        if fault is not None and fault.kind == "drop":
            self._drop()  # the upstream did the work; the client never hears of it
            return
        self.send_response(status)
        head = self.command == "HEAD"  # a HEAD answer has no body but the object's Content-Length
        for key, value in response_headers:
            skip = ("date", "server") if head else ("content-length", "date", "server")
            if key.lower() not in _HOP_BY_HOP and key.lower() not in skip:
                self.send_header(key, value)
        if not head:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if fault is not None and fault.kind == "cut":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self._drop()
        else:
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = _handle


class FaultProxy(_Server):
    """A loopback proxy in front of `upstream`: error rules, injected faults, latency, request counts."""

    handler = _ProxyHandler

    def __init__(
        self,
        upstream: str,
        rule: Rule | None = None,
        *,
        delay: float = 0.0,
        on_request: Callable[[str, str], None] | None = None,
    ) -> None:
        self.upstream = upstream
        self.rule = rule
        self.delay = delay  # seconds added before each request is answered
        self.on_request = on_request  # (method, path) of every request, under the lock (benchmarks count)
        self.faults: list[Fault] = []
        self.seen: Counter[str] = Counter()  # requests by method
        self.log: list[tuple[str, str, str, str | None]] = []  # (method, path, query, rule's code)
        self._lock = threading.RLock()  # a fault's `match` may call count()
        self._stopping = threading.Event()

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def count(self, method: str, param: str | None = None, path_contains: str = "") -> int:
        """How many `method` requests arrived (with the query parameter `param`, e.g. "cors")."""
        with self._lock:
            return sum(
                1
                for m, p, q, _ in self.log
                if m == method and path_contains in p and (param is None or param in _params(q))
            )

    def stop(self) -> None:
        self._stopping.set()
        super().stop()

    def _take_fault(self, method: str, raw_path: str, parts: Any, code: str | None) -> Fault | None:
        with self._lock:
            self.seen[method] += 1
            self.log.append((method, parts.path, parts.query, code))
            if self.on_request is not None:
                self.on_request(method, raw_path)
            if code is not None:
                return None
            for fault in self.faults:
                if fault.applies(method, raw_path):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _forward(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        upstream = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port, timeout=60)
        try:
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # same stall upstream
            forward = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(method, path, body=body or None, headers=forward)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()


@contextmanager
def fault_proxy(upstream: str, delay: float = 0.0, rule: Rule | None = None) -> Iterator[FaultProxy]:
    with FaultProxy(upstream, rule, delay=delay) as proxy:
        yield proxy


# ------------------------------------------------------------------------------------------ dead endpoints


class HangingServer:
    """Accepts TCP connections and never sends a byte: a stuck endpoint. Counts connections.

    `close_at_once` closes each connection instead of holding it: a client then fails fast, which suits
    tests that only prove no connection was made at all (`connections == 0`)."""

    def __init__(self, *, close_at_once: bool = False) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.connections = 0
        self.close_at_once = close_at_once
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.close_at_once:
                conn.close()
            else:
                self._held.append(conn)  # keep it open, say nothing

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    endpoint = url

    def close(self) -> None:
        self.sock.close()
        for conn in self._held:
            conn.close()

    def __enter__(self) -> HangingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def closed_endpoint() -> str:
    """A loopback URL on a port nobody listens on (bound once, then released)."""
    return f"http://127.0.0.1:{free_port()}"


# ------------------------------------------------------------------------------------------ Cloudflare API


class _CloudflareHandler(_Quiet):
    def do_GET(self) -> None:
        fake: FakeCloudflareAPI = self.server.fake  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        fake.paths.append(path)
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        record = fake.tokens.get(token)
        account_path = f"/client/v4/accounts/{fake.account_id}/tokens/verify"
        expected = account_path if fake.account_owned else "/client/v4/user/tokens/verify"
        if path == expected and record is not None:
            status, data = 200, {"success": True, "errors": [], "messages": [], "result": record}
        else:
            status = 401
            message = fake.error_message.format(token=token)
            data = {"success": False, "errors": [{"code": 1000, "message": message}], "result": None}
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class FakeCloudflareAPI(_Server):
    """`tokens` maps a token value to its verify result: {"id", "status", "expires_on"?}.

    `account_owned=True` answers only under `/accounts/{account_id}/tokens/verify`, as Cloudflare does
    for account-owned tokens. `base` is what CLOUDFLARE_API_BASE should be set to. `error_message` is
    what a refusal says; `{token}` in it echoes the token sent, as some APIs and proxies do.
    """

    handler = _CloudflareHandler

    def __init__(self, tokens: dict[str, dict[str, Any]], *, account_owned: bool = False, account_id: str = "") -> None:
        self.tokens = tokens
        self.account_owned = account_owned
        self.account_id = account_id
        self.error_message = "Invalid API Token"
        self.paths: list[str] = []

    @property
    def base(self) -> str:
        return f"{self.url}/client/v4"


def main(argv: list[str] | None = None) -> None:
    """`python -m tests.support.fault_proxy UPSTREAM_PORT DELAY`: the latency proxy in its own process (its own
    GIL, so it takes no CPU from what is measured) in front of 127.0.0.1:UPSTREAM_PORT; prints its port."""
    args = sys.argv[1:] if argv is None else argv
    proxy = FaultProxy(f"http://127.0.0.1:{int(args[0])}", delay=float(args[1])).start()
    print(proxy.endpoint.rsplit(":", 1)[1], flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
