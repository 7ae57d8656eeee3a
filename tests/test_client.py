"""The client factory against a real local S3 server."""

from r2.client import CallCounter, client_config, make_client
from r2.settings import Settings


def test_config_disables_default_checksums_and_bounds_retries() -> None:
    config = client_config()
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert config.region_name == "auto"
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert config.connect_timeout and config.read_timeout


def test_put_sends_no_checksum_header(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    sent: list[dict[str, str]] = []
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.append(dict(request.headers)))
    s3.put_object(Bucket=settings.bucket, Key="a.txt", Body=b"hello")
    assert sent and not any(h.lower().startswith("x-amz-checksum") for h in sent[0])
    assert "x-amz-sdk-checksum-algorithm" not in {h.lower() for h in sent[0]}


def test_call_counter_counts_operations(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    counter = CallCounter(s3)
    s3.put_object(Bucket=settings.bucket, Key="a", Body=b"1")
    s3.list_objects_v2(Bucket=settings.bucket)
    s3.list_objects_v2(Bucket=settings.bucket)
    assert counter.calls == {"PutObject": 1, "ListObjectsV2": 2}
    counter.close()
    s3.head_object(Bucket=settings.bucket, Key="a")
    assert counter.total == 3


def test_make_client_does_not_connect() -> None:
    # An endpoint nobody listens on: creating the client must not touch the network.
    settings = Settings(
        mode="custom", bucket="abc", endpoint="http://127.0.0.1:9", access_key_id="a", secret_access_key="b"
    )
    assert make_client(settings).meta.endpoint_url == "http://127.0.0.1:9"
