"""A fault-injecting HTTP reverse proxy on loopback, in front of the local S3 server.

Tests put it between the app (or the CLI, or a client) and the server to reproduce what R2 and
networks do: latency, bursts of 500/503 SlowDown/429, a hang with no answer, a connection cut in the
middle of a response, refused connections. Faults can be limited to some requests (`match`) and to a
number of requests (`times`). It counts every request it sees by method, and can report each one
(`on_request`): the benchmarks use it, with `delay`, as the latency proxy (bench/common.py).
"""

from __future__ import annotations

import http.client
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Match = Callable[[str, str], bool]  # (method, path) -> apply the fault?

_ERROR_XML = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
    "<Message>injected by the test proxy</Message></Error>"
)


@dataclass
class Fault:
    kind: str  # "status" | "hang" | "cut" | "close"
    status: int = 503
    code: str = "SlowDown"
    times: int | None = None  # how many matching requests; None = all
    match: Match | None = None

    def applies(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return self.match is None or self.match(method, path)


class _QuietServer(ThreadingHTTPServer):
    """A client that goes away mid-answer (a browser closing its tab) is normal here: no traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


@dataclass
class FaultProxy:
    upstream: str
    delay: float = 0.0  # seconds added before each request is forwarded
    faults: list[Fault] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    on_request: Callable[[str, str], None] | None = None  # (method, path) of every request, under the lock
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm and the client's delayed ACK
            # each answer then waited ~40 ms (measured: 49 ms per GET through the proxy vs 5 ms direct).
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # quiet: URLs carry signatures
                pass

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = _handle

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.seen[method] += 1
            if self.on_request is not None:
                self.on_request(method, path)
            for fault in self.faults:
                if fault.applies(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        fault = self._take_fault(handler.command, handler.path)
        if self.delay:
            time.sleep(self.delay)
        if fault is not None and fault.kind == "hang":
            time.sleep(3600)  # the client's timeout ends it; daemon thread
            return
        if fault is not None and fault.kind == "close":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "status":
            payload = _ERROR_XML.format(code=fault.code).encode()
            handler.send_response(fault.status)
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(payload)
            return
        upstream = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # same stall on the upstream side
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("connection", "keep-alive")}
        conn.request(handler.command, handler.path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        handler.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                handler.send_header(name, value)
        if handler.command == "HEAD":  # no body, but the length of the object, as the server said
            handler.send_header("Content-Length", response.getheader("Content-Length") or "0")
        else:
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            if fault is not None and fault.kind == "cut":
                handler.wfile.write(data[: len(data) // 2])
                handler.wfile.flush()
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
            else:
                handler.wfile.write(data)
        conn.close()


@contextmanager
def fault_proxy(upstream: str, delay: float = 0.0) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream, delay=delay).start()
    try:
        yield proxy
    finally:
        proxy.stop()


class SilentServer:
    """Accepts TCP connections and never answers: an endpoint that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()
        for conn in self._held:
            conn.close()


def main(argv: list[str] | None = None) -> None:
    """`python -m tests.fault_proxy UPSTREAM_PORT DELAY`: the latency proxy in its own process (its own GIL,
    so it takes no CPU from what is being measured) in front of 127.0.0.1:UPSTREAM_PORT; prints its port."""
    args = sys.argv[1:] if argv is None else argv
    proxy = FaultProxy(f"http://127.0.0.1:{int(args[0])}", delay=float(args[1])).start()
    print(proxy.endpoint.rsplit(":", 1)[1], flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
