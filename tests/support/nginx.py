"""The shipped nginx configuration (deploy/nginx.conf), run for real on loopback in front of replicas."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.env import ROOT, require_tool
from tests.support.servers import free_port, stop_process, wait_until_up

SHIPPED = ROOT / "deploy" / "nginx.conf"
EXAMPLE_SERVER = re.compile(r"(?m)^ *server 127\.0\.0\.1:850\d .*\n")


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        require_tool("nginx is not installed (apt-get install nginx-light)")
        raise AssertionError("unreachable")
    return found


def site_config(listen: int, replicas: list[int]) -> str:
    """deploy/nginx.conf with its listen port and replica list rewritten; nothing else changes, except a
    test-only header naming the replica that answered (X-Upstream), so tests can tell replicas apart."""
    text = SHIPPED.read_text(encoding="utf-8")
    assert len(EXAMPLE_SERVER.findall(text)) == 2, "deploy/nginx.conf's upstream changed shape"
    text = EXAMPLE_SERVER.sub("", text)
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;\n" for port in replicas)
    text = text.replace("hash $r2_route consistent;\n", "hash $r2_route consistent;\n" + servers)
    text = text.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};")
    return text.replace("location / {\n", "location / {\n        add_header X-Upstream $upstream_addr always;\n")


@contextmanager
def nginx_in_front(replicas: list[int], listen: int | None = None) -> Iterator[str]:
    """Run nginx (foreground, its own prefix) with the shipped site config; yields the proxy's base URL."""
    listen = listen or free_port()
    prefix = Path(tempfile.mkdtemp(prefix="nginx-"))
    (prefix / "site.conf").write_text(site_config(listen, replicas), encoding="utf-8")
    user = "user root;" if os.geteuid() == 0 else ""
    temp = " ".join(
        f"{kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"{user}\nworker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
        "daemon off;\nevents { worker_connections 512; }\n"
        f"http {{\n  access_log {prefix / 'access.log'};\n  {temp}\n  include {prefix / 'site.conf'};\n}}\n",
        encoding="utf-8",
    )
    log = (prefix / "stdout.log").open("wb")
    proc = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-c", str(prefix / "nginx.conf")], stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://localhost:{listen}"
    try:
        wait_until_up(f"{base}/_stcore/health", proc, prefix / "error.log", what="nginx")
        yield base
    finally:
        stop_process(proc)
        log.close()


def route_keys(base: str, replicas: list[int], tries: int = 200) -> dict[int, str]:
    """A routing-cookie value for each replica port: the proxy's own hash decides, the test only asks."""
    keys: dict[int, str] = {}
    for n in range(tries):
        key = f"test-route-{n}"
        answer = requests.get(f"{base}/", cookies={"r2_route": key}, timeout=30)
        port = int(answer.headers["X-Upstream"].rsplit(":", 1)[1])
        keys.setdefault(port, key)
        if len(keys) == len(replicas):
            return keys
    raise AssertionError(f"the proxy sent {tries} keys to only {sorted(keys)} of {replicas}")
