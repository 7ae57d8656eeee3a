"""Errors from a real server are translated into messages that say what to do, secrets scrubbed."""

import pytest
from botocore.exceptions import ClientError

from r2.client import S3Client, make_client
from r2.errors import (
    AccessDenied,
    AlreadyExists,
    Conflict,
    NotFound,
    R2Error,
    Unavailable,
    redact,
    s3_errors,
    translate,
)
from tests.support.env import settings_for
from tests.support.servers import free_port


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    ("code", "status", "cls", "words"),
    [
        ("SignatureDoesNotMatch", 403, AccessDenied, "secret key does not match"),
        ("InvalidAccessKeyId", 403, AccessDenied, "access key id is unknown"),
        ("AccessDenied", 403, AccessDenied, "Admin"),
        ("NoSuchBucket", 404, NotFound, "R2_BUCKET"),
        ("PreconditionFailed", 412, AlreadyExists, "already exists"),
        ("SlowDown", 503, Unavailable, "slow down"),
        ("Whatever", 500, Unavailable, "internal error"),
        ("Whatever", 429, Unavailable, "too many"),
    ],
)
def test_client_errors_become_actionable(code: str, status: int, cls: type, words: str) -> None:
    err = translate(client_error(code, status), action="list the bucket")
    assert isinstance(err, cls)
    assert words.lower() in str(err).lower()
    assert str(err).startswith("Could not list the bucket") or code == "NoSuchCORSConfiguration"


def test_a_real_412_reads_as_the_condition_that_was_sent(s3: S3Client) -> None:
    client = s3
    client.put_object(Bucket="test-bucket", Key="taken.txt", Body=b"x")
    stored = s3_errors("store the image", target="taken.txt", precondition="if-none-match")
    with pytest.raises(AlreadyExists, match="already exists") as taken, stored:
        client.put_object(Bucket="test-bucket", Key="taken.txt", Body=b"y", IfNoneMatch="*")
    assert isinstance(taken.value.__cause__, ClientError)
    saved = s3_errors("save the policy", target="taken.txt", precondition="if-match")
    with pytest.raises(Conflict, match="changed since it was read"), saved:
        client.put_object(Bucket="test-bucket", Key="taken.txt", Body=b"z", IfMatch='"0000"')
    assert client.get_object(Bucket="test-bucket", Key="taken.txt")["Body"].read() == b"x"


def test_a_call_can_word_a_code_its_own_way() -> None:
    own = {"NoSuchLifecycleConfiguration": (NotFound, "The bucket has no lifecycle rules.", "")}
    with pytest.raises(NotFound, match="no lifecycle rules"), s3_errors("read the lifecycle rules", messages=own):
        raise client_error("NoSuchLifecycleConfiguration", 404)
    denied = pytest.raises(AccessDenied, match="Could not read the lifecycle rules: access denied")
    with denied, s3_errors("read the lifecycle rules", messages=own):
        raise client_error("AccessDenied", 403)


def test_unknown_code_still_gives_a_message() -> None:
    err = translate(client_error("Teapot", 418), action="do it")
    assert type(err) is R2Error
    assert "Teapot" in err.message


def test_no_such_bucket_from_a_real_server(s3_endpoint: str) -> None:
    client = make_client(settings_for(s3_endpoint))
    with pytest.raises(ClientError) as info:
        client.list_objects_v2(Bucket="missing-bucket", MaxKeys=1)
    err = translate(info.value, action="list the bucket")
    assert isinstance(err, NotFound)
    assert "R2_BUCKET" in err.fix


def test_closed_port_is_unavailable_with_a_fix() -> None:
    client = make_client(settings_for(f"http://127.0.0.1:{free_port()}"), max_attempts=1, connect_timeout=1)
    with pytest.raises(Exception) as info:
        client.list_objects_v2(Bucket="b", MaxKeys=1)
    err = translate(info.value, action="list the bucket")
    assert isinstance(err, Unavailable)
    assert "R2_ENDPOINT" in err.fix


def test_scrub_removes_signatures_and_credentials() -> None:
    url = "https://h/b/k?X-Amz-Credential=AKID%2F2026&X-Amz-Signature=abcdef0123&X-Amz-Expires=60"
    cleaned = redact(url)
    assert "AKID" not in cleaned and "abcdef0123" not in cleaned
    assert "X-Amz-Expires=60" in cleaned
