"""The fault proxy itself: it must really inject what the reliability tests rely on."""

import pytest
import requests
from botocore.exceptions import ClientError, ReadTimeoutError

from r2.client import make_client
from r2.errors import Unavailable, translate
from r2.settings import Settings
from tests.support.env import settings_for
from tests.support.fault_proxy import Fault, HangingServer, fault_proxy


def test_passes_requests_through_and_counts_them(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=settings.bucket, Key="k", Body=b"v")
    with fault_proxy(settings.endpoint) as proxy:
        client = make_client(settings_for(proxy.endpoint))
        assert client.get_object(Bucket=settings.bucket, Key="k")["Body"].read() == b"v"
        assert proxy.seen["GET"] == 1


def test_slowdown_burst_is_retried_by_reads(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    with fault_proxy(settings.endpoint) as proxy:
        proxy.inject(Fault("status", 503, "SlowDown", times=2))
        client = make_client(settings_for(proxy.endpoint))
        assert client.list_objects_v2(Bucket=settings.bucket)["KeyCount"] == 0
        assert proxy.seen["GET"] == 3  # two refused, the third (a standard-mode retry) passed


def test_persistent_errors_become_unavailable(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    with fault_proxy(settings.endpoint) as proxy:
        proxy.inject(Fault("status", 500, "InternalError"))
        client = make_client(settings_for(proxy.endpoint))
        with pytest.raises(ClientError) as info:
            client.list_objects_v2(Bucket=settings.bucket)
        assert isinstance(translate(info.value, action="list"), Unavailable)
        assert proxy.seen["GET"] == 3  # bounded: max_attempts


def test_hang_ends_with_a_timeout() -> None:
    silent = HangingServer()
    try:
        client = make_client(settings_for(silent.endpoint), read_timeout=0.5, max_attempts=1)
        with pytest.raises(ReadTimeoutError):
            client.list_objects_v2(Bucket="b")
    finally:
        silent.close()


def test_cut_response_is_an_error_for_the_client(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=settings.bucket, Key="big", Body=b"x" * 100_000)
    with fault_proxy(settings.endpoint) as proxy:
        proxy.inject(Fault("cut", match=lambda method, path: method == "GET"))
        with pytest.raises(requests.RequestException):
            response = requests.get(f"{proxy.endpoint}/{settings.bucket}/big", timeout=5)
            response.raise_for_status()
            assert len(response.content) == 100_000
