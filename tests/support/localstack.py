"""LocalStack's S3 on loopback: unlike moto it enforces presigned signatures, expiry and signed headers.

It runs from its own virtual environment (`.venv-localstack`, made by `make test`), because its pins
conflict with the app's. Like R2 (and unlike moto), a presigned PUT with another body length,
Content-Type or an expired signature is refused.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.env import ROOT, require_tool
from tests.support.servers import free_port, stop_process, wait_until_up

LOCALSTACK_PYTHON = ROOT / ".venv-localstack" / "bin" / "python"


@contextmanager
def running_localstack() -> Iterator[str]:
    """Start LocalStack on a free loopback port; yields its endpoint. Used by the conftest fixture."""
    if not LOCALSTACK_PYTHON.exists():
        require_tool("LocalStack is not installed: run `make .venv-localstack/.installed` (make test does)")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="localstack-"))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "SERVICES": "s3",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DNS_ADDRESS": "0",
        "S3_SKIP_SIGNATURE_VALIDATION": "0",  # the point of using it: check presigned signatures
        "LOCALSTACK_VOLUME_DIR": str(workdir / "volume"),
        "TMPDIR": str(workdir),
    }
    log = (workdir / "localstack.log").open("wb")
    proc = subprocess.Popen(
        [str(LOCALSTACK_PYTHON), "-m", "localstack.runtime.main"], cwd=workdir, env=env, stdout=log, stderr=log
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{endpoint}/_localstack/health", proc, workdir / "localstack.log", what="LocalStack")
        yield endpoint
    finally:
        stop_process(proc, timeout=15)
        log.close()
