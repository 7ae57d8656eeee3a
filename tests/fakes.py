"""Kept so branches written against it still import: everything lives in `tests/fault_proxy.py`."""

from tests.fault_proxy import (
    FakeCloudflareAPI,
    FaultProxy,
    HangingServer,
    closed_endpoint,
    object_read_write,
    read_only,
    s3_error,
    unknown_key_id,
    wrong_secret,
)

__all__ = [
    "FakeCloudflareAPI",
    "FaultProxy",
    "HangingServer",
    "closed_endpoint",
    "object_read_write",
    "read_only",
    "s3_error",
    "unknown_key_id",
    "wrong_secret",
]
