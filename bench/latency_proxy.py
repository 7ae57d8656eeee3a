"""A TCP proxy on loopback that adds latency to every request, like a far-away R2 (reusable).

    with LatencyProxy("127.0.0.1", upstream_port, delay=0.1) as proxy:
        endpoint = proxy.endpoint   # http://127.0.0.1:<port>

Each burst of bytes from the client (an HTTP request on a kept-alive connection) is held `delay`
seconds before it is forwarded; answers flow back at once. So one request/response round trip
costs `delay` more, whatever the client. Only loopback addresses, ever.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType

_BURST_GAP = 0.005  # bytes closer together than this belong to the same request


class LatencyProxy:
    def __init__(self, upstream_host: str, upstream_port: int, delay: float = 0.1) -> None:
        if not upstream_host.startswith("127.") and upstream_host != "localhost":
            raise ValueError("the latency proxy forwards to loopback only")
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.requests = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, delayed: bool) -> None:
        last = 0.0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                now = time.monotonic()
                if delayed and now - last > _BURST_GAP:
                    self.requests += 1
                    time.sleep(self.delay)
                last = time.monotonic()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._closed = True
        self.sock.close()

    def __enter__(self) -> LatencyProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def main() -> None:
    """`python -m bench.latency_proxy UPSTREAM_PORT DELAY`: run in its own process; prints the port."""
    import sys

    proxy = LatencyProxy("127.0.0.1", int(sys.argv[1]), float(sys.argv[2]))
    print(proxy.port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
