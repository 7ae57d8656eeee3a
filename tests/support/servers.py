"""Child servers on loopback: a free port, waiting until one answers, stopping it for sure."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
