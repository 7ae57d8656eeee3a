"""The boto3 S3 client factory. Create one per process and inject it; nothing connects at import."""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from r2.errors import SettingsError
from r2.settings import Settings

if TYPE_CHECKING:  # the stubs type-check every S3 call (requirements-dev.txt); boto3 is untyped at runtime
    from mypy_boto3_s3 import S3Client as S3Client
else:
    S3Client = Any

CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 30
MAX_ATTEMPTS = 3


def client_config(
    *,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    read_timeout: float = READ_TIMEOUT_S,
    max_attempts: int = MAX_ATTEMPTS,
) -> Config:
    return Config(
        region_name="auto",
        signature_version="s3v4",
        # boto3 >= 1.36 adds CRC32 checksums by default; R2 rejects them (NotImplemented/Unauthorized).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # total_max_attempts counts the first try; the older "max_attempts" key means retries (one more).
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        # Path-style works on R2 and on local servers without wildcard DNS.
        s3={"addressing_style": "path"},
        max_pool_connections=32,
    )


def make_client(settings: Settings, **config: Any) -> S3Client:
    """A new S3 client for `settings` (~100 ms: cache it). `config` overrides timeouts/attempts."""
    if not settings.endpoint:
        raise SettingsError(["No endpoint: set R2_ACCOUNT_ID or R2_ENDPOINT (or start the local demo bucket)"])
    session = boto3.session.Session()
    return session.client(  # type: ignore[no-any-return]  # boto3 itself is untyped
        "s3",
        endpoint_url=settings.endpoint,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        config=client_config(**config),
    )


class CallCounter:
    """Counts S3 API operations a client makes, by operation name (a botocore event hook).

    Retries count once per attempt-group (one logical call). Used by tests to assert costs such as
    "one LIST per browse page and no HEAD per row", and by pages to show what an action cost.
    """

    def __init__(self, client: S3Client) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()  # calls may come from several threads (concurrent reads)
        self._client = client
        client.meta.events.register("before-call.s3", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1

    def close(self) -> None:
        self._client.meta.events.unregister("before-call.s3", self._count)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()
