"""What the dashboard relies on from R2, checked against a real bucket: `make test-live`.

Opt in with `R2_LIVE_TEST=1` and the `R2_*` settings of a test bucket (environment or `.env`); the
token needs Object Read & Write. Without it the same tests run against the local server on every
`make test`, so this suite cannot rot; where the local server (moto) differs from R2 (it checks no
signature or expiry), the test is a strict xfail locally and must pass on R2.

Everything the suite writes lives under one fresh prefix and is deleted again (with DeleteObjects,
whose checksum handling on R2 is one of the things checked, as is the conditional self-copy that
records a direct upload's metadata). The bucket's CORS policy is only read.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests
from PIL import ExifTags, Image

from r2 import cors
from r2.client import S3Client, make_client
from r2.errors import AlreadyExists, R2Error
from r2.health import Deps, run_all
from r2.images import ImagePolicy, clean
from r2.local import demo_cors_rules, sample_image
from r2.naming import thumbnail_key
from r2.objects import delete, head
from r2.preflight import preflight
from r2.presign import sign_get, sign_put
from r2.settings import Settings, load_settings
from r2.thumbnails import THUMB_SIZE, thumbnail_of
from r2.uploads import copy_new, store
from r2.usage.listing import make_lister
from tests.support.env import ROOT
from tests.support.live_env import LIVE_ENV, LIVE_TEST

LIVE = LIVE_TEST
LOCAL_GAP = pytest.mark.xfail(
    not LIVE,
    strict=True,
    reason="moto checks no presigned signature or expiry (R2 does; LocalStack proves it in test_presign_enforced.py)",
)
ORIGIN = "http://localhost:8501"  # the app's default origin; a preflight only reads the policy


@dataclass(frozen=True)
class Target:
    settings: Settings
    client: S3Client
    prefix: str  # everything this test writes, e.g. "live-test-1a2b3c/"


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if LIVE:
        settings = load_settings(LIVE_ENV, dotenv_path=ROOT / ".env", secrets_path=None)
        if urlsplit(settings.endpoint).hostname in ("127.0.0.1", "localhost", "::1"):
            pytest.fail("R2_LIVE_TEST=1 needs the R2_* settings of a real R2 bucket, not a local server")
        client = make_client(settings)
    else:
        settings = request.getfixturevalue("settings")
        client = request.getfixturevalue("s3")
        client.put_bucket_cors(Bucket=settings.bucket, CORSConfiguration={"CORSRules": demo_cors_rules(ORIGIN)})
    prefix = f"live-test-{uuid.uuid4().hex[:12]}/"
    yield Target(settings, client, prefix)
    left = [
        obj["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]
    if left:
        delete(client, settings.bucket, left)


def _keys(t: Target, prefix: str) -> list[str]:
    listing = t.client.list_objects_v2(Bucket=t.settings.bucket, Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def _photo() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Live test camera"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (46.0, 57.0, 0.0), 3: "E", 4: (7.0, 26.0, 0.0)}
    return sample_image(7, size=(640, 480), exif=exif.tobytes())


def test_health_finds_nothing_broken(target: Target) -> None:
    checks = run_all(Deps(target.settings))
    failed = [(c.name, c.message) for c in checks if c.status == "fail"]
    assert failed == []
    assert {c.name for c in checks if c.status == "ok"} >= {"Write object", "Read object", "Signed PUT URL"}


def test_an_upload_is_stored_with_its_thumbnail_without_gps_and_never_overwritten(target: Target) -> None:
    t = target
    image = clean(_photo(), ImagePolicy.from_settings(t.settings), thumb_size=THUMB_SIZE, thumbnail=thumbnail_of)
    key = f"{t.prefix}photo.jpg"
    thumb, problems = store(t.client, t.settings.bucket, key, image, original_name="photo.jpg", uploaded_by="live")
    assert problems == () and thumb == thumbnail_key(key)
    details = head(t.client, t.settings.bucket, key)
    assert (details.size, details.content_type) == (image.size, "image/jpeg")
    stored = t.client.get_object(Bucket=t.settings.bucket, Key=key)["Body"].read()
    assert stored == image.body and ExifTags.IFD.GPSInfo not in Image.open(io.BytesIO(stored)).getexif()
    assert t.client.head_object(Bucket=t.settings.bucket, Key=thumb)["ContentType"] == "image/webp"
    other = clean(sample_image(8, size=(64, 48)), ImagePolicy.from_settings(t.settings))
    with pytest.raises(AlreadyExists):  # another image for a taken key (the same bytes again count as stored)
        store(t.client, t.settings.bucket, key, other, original_name="other.jpg", uploaded_by="live")
    assert t.client.get_object(Bucket=t.settings.bucket, Key=key)["Body"].read() == stored


def test_a_signed_get_serves_the_private_object(target: Target) -> None:
    key = f"{target.prefix}shared.png"
    target.client.put_object(Bucket=target.settings.bucket, Key=key, Body=b"private bytes", ContentType="image/png")
    response = requests.get(sign_get(target.client, target.settings.bucket, key, 60), timeout=30)
    assert (response.status_code, response.content) == (200, b"private bytes")


def test_the_bucket_is_private_an_unsigned_get_is_refused(target: Target) -> None:
    key = f"{target.prefix}private.png"
    target.client.put_object(Bucket=target.settings.bucket, Key=key, Body=b"private bytes", ContentType="image/png")
    url = f"{target.settings.endpoint}/{target.settings.bucket}/{key}"
    assert requests.get(url, timeout=30).status_code in (400, 401, 403)


BODY = b"\x89PNG signed size"
HEADERS = {"Content-Type": "image/png", "If-None-Match": "*"}


def _signed_put(t: Target, key: str, expires: int = 60) -> str:
    return sign_put(t.client, t.settings.bucket, key, expires, content_type="image/png", content_length=len(BODY))


def test_a_signed_put_with_exactly_the_signed_headers_is_stored_once(target: Target) -> None:
    key = f"{target.prefix}exact.png"
    url = _signed_put(target, key)
    assert requests.put(url, data=BODY, headers=HEADERS, timeout=30).status_code == 200
    assert requests.put(url, data=b"X" * len(BODY), headers=HEADERS, timeout=30).status_code == 412
    assert target.client.get_object(Bucket=target.settings.bucket, Key=key)["Body"].read() == BODY


@LOCAL_GAP
@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (BODY + b"more", HEADERS),
        (BODY, {**HEADERS, "Content-Type": "text/html"}),
        (BODY, {"Content-Type": "image/png"}),
    ],
    ids=["larger-than-signed", "other-type", "no-if-none-match"],
)
def test_a_signed_put_refuses_any_other_request(target: Target, body: bytes, headers: dict[str, str]) -> None:
    key = f"{target.prefix}refused.png"
    response = requests.put(_signed_put(target, key), data=body, headers=headers, timeout=30)
    assert response.status_code in (400, 403)  # refused (the exact code for a length mismatch is R2's choice)
    assert _keys(target, key) == []


@LOCAL_GAP
def test_an_expired_signed_put_is_refused(target: Target) -> None:
    key = f"{target.prefix}late.png"
    url = _signed_put(target, key, expires=1)
    time.sleep(2.5)
    assert requests.put(url, data=BODY, headers=HEADERS, timeout=30).status_code in (400, 403)
    assert _keys(target, key) == []


def test_a_checked_direct_upload_is_copied_to_its_final_key_with_its_metadata(target: Target) -> None:
    t = target
    staged, key = f"{t.prefix}staged.png", f"{t.prefix}direct.png"
    etag = t.client.put_object(Bucket=t.settings.bucket, Key=staged, Body=b"as the browser sent it")["ETag"]
    copy_new(
        t.client,
        t.settings.bucket,
        key,
        source=staged,
        source_etag=etag,
        content_type="image/png",
        metadata={"original-name": "a.png"},
    )
    stored = t.client.get_object(Bucket=t.settings.bucket, Key=key)
    assert stored["Metadata"] == {"original-name": "a.png"} and stored["Body"].read() == b"as the browser sent it"


@pytest.mark.xfail(
    not LIVE, strict=True, reason="moto ignores both CopyObject conditions (CopySourceIfMatch, If-None-Match)"
)
@pytest.mark.parametrize("case", ["source-changed", "final-taken"])
def test_the_copy_to_the_final_key_refuses_a_changed_source_or_a_taken_key(target: Target, case: str) -> None:
    t = target
    staged, key = f"{t.prefix}{case}-staged.png", f"{t.prefix}{case}.png"
    checked = t.client.put_object(Bucket=t.settings.bucket, Key=staged, Body=b"checked")["ETag"]
    changed = key if case == "final-taken" else staged
    t.client.put_object(Bucket=t.settings.bucket, Key=changed, Body=b"written meanwhile")
    with pytest.raises(R2Error):
        copy_new(
            t.client, t.settings.bucket, key, source=staged, source_etag=checked, content_type="image/png", metadata={}
        )
    assert _keys(target, key) == ([key] if case == "final-taken" else [])
    if case == "final-taken":
        assert t.client.get_object(Bucket=t.settings.bucket, Key=key)["Body"].read() == b"written meanwhile"


def test_delete_objects_removes_every_key_and_its_thumbnail(target: Target) -> None:
    t = target
    keys = [f"{t.prefix}bulk/{i}.png" for i in range(5)]
    for key in keys:
        t.client.put_object(Bucket=t.settings.bucket, Key=key, Body=b"x")
    t.client.put_object(Bucket=t.settings.bucket, Key=thumbnail_key(keys[0]), Body=b"t")
    result = delete(t.client, t.settings.bucket, keys)
    assert result.ok and sorted(result.deleted) == sorted(keys)
    assert _keys(t, f"{t.prefix}bulk/") == [] and _keys(t, thumbnail_key(keys[0])) == []


def test_both_listers_see_the_same_objects(target: Target) -> None:
    t = target
    keys = sorted(f"{t.prefix}list/{name}" for name in ("a.png", "b c.png", "ü.png", "deep/d.png"))
    for key in keys:
        t.client.put_object(Bucket=t.settings.bucket, Key=key, Body=b"12345")
    seen = {}
    for engine in ("boto3", "obstore"):
        lister = make_lister(engine, t.settings, t.client)
        seen[engine] = sorted((e.key, e.size) for page in lister.pages(f"{t.prefix}list/") for e in page)
    assert seen["boto3"] == seen["obstore"] == [(k, 5) for k in keys]


def test_the_local_cors_evaluator_agrees_with_the_bucket(target: Target) -> None:
    """The CORS page explains a policy with a local evaluator; it must say what the bucket does."""
    t = target
    try:
        rules = t.client.get_bucket_cors(Bucket=t.settings.bucket)["CORSRules"]
    except t.client.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchCORSConfiguration":
            raise
        rules = []
    policy = cors.from_s3_response(rules) if rules else None
    for method, headers in (("PUT", ("content-type", "if-none-match")), ("GET", ()), ("DELETE", ())):
        local = cors.evaluate(policy, ORIGIN, method, headers)
        live = preflight(t.settings, ORIGIN, method, headers, key=f"{t.prefix}probe.png")
        assert live.error == ""
        assert (method, local.allowed) == (method, live.allowed)
