"""What a presigned PUT promises, proven on a server that checks signatures (LocalStack), as R2 does.

moto accepts any presigned request, so these guarantees cannot be tested there.
"""

import contextlib
import time

import pytest
import requests

from r2.client import S3Client, make_client
from r2.presign import sign_put
from tests.support.env import settings_for

BODY = b"\x89PNG fake but sized"
HEADERS = {"Content-Type": "image/png", "If-None-Match": "*"}


@pytest.fixture
def ls_client(localstack_endpoint: str) -> S3Client:
    client = make_client(settings_for(localstack_endpoint, R2_ACCESS_KEY_ID="test", R2_SECRET_ACCESS_KEY="test"))
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket="signed")
    return client


def signed(client: S3Client, key: str, expires: int = 60) -> str:
    return sign_put(client, "signed", key, expires, content_type="image/png", content_length=len(BODY))


def test_exact_request_is_accepted_and_never_overwrites(ls_client: S3Client) -> None:
    url = signed(ls_client, "ok.png")
    assert requests.put(url, data=BODY, headers=HEADERS, timeout=10).status_code == 200
    again = requests.put(url, data=b"X" * len(BODY), headers=HEADERS, timeout=10)
    assert again.status_code == 412
    assert ls_client.get_object(Bucket="signed", Key="ok.png")["Body"].read() == BODY


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (BODY + b"more", HEADERS),  # larger than signed: the size cap
        (BODY[:-1], HEADERS),  # smaller than signed
        (BODY, {**HEADERS, "Content-Type": "text/html"}),  # another type
        (BODY, {"Content-Type": "image/png"}),  # without If-None-Match: could overwrite
    ],
    ids=["larger", "smaller", "other-type", "no-if-none-match"],
)
def test_any_other_request_is_refused(ls_client: S3Client, body: bytes, headers: dict[str, str]) -> None:
    url = signed(ls_client, "refused.png")
    response = requests.put(url, data=body, headers=headers, timeout=10)
    assert response.status_code == 403
    assert "SignatureDoesNotMatch" in response.text
    with pytest.raises(ls_client.exceptions.ClientError):
        ls_client.head_object(Bucket="signed", Key="refused.png")


def test_expired_url_is_refused(ls_client: S3Client) -> None:
    url = signed(ls_client, "late.png", expires=1)
    time.sleep(2.1)
    response = requests.put(url, data=BODY, headers=HEADERS, timeout=10)
    assert response.status_code == 403 and "expired" in response.text.lower()
