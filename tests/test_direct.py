"""Direct upload's library (r2/direct/) against the real local S3 server: plan, sign, CORS, verify."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from r2.client import CallCounter, S3Client
from r2.direct import (
    PUT_HEADERS,
    BrowserReport,
    Offer,
    Ticket,
    classify,
    cors_check,
    explain_failure,
    pipeline_check,
    plan,
    record_key,
    renew,
    renew_margin,
    verify,
)
from r2.errors import InvalidInput
from r2.images import CleanFile
from r2.local import demo_cors_rules
from r2.naming import thumbnail_key
from r2.settings import Settings
from tests.support.corpus import HTML, jpeg_gps
from tests.support.env import settings_for

ORIGIN = "http://localhost:8599"
KEY_SHAPE = re.compile(r"^uploads/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.(png|jpg)$")


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "PNG")
    return out.getvalue()


def offer(name: str = "a.png", size: int = 100, type_: str = "image/png", id_: str = "b-0") -> Offer:
    return Offer(id_, name, size, type_)


# ---------------------------------------------------------------- plan and sign


def test_plan_refuses_before_signing_and_writes_only_the_batch_record(settings: Settings, s3: S3Client) -> None:
    calls = CallCounter(s3)
    limit = settings.max_upload_bytes
    offers = [
        offer("ok.png", 100, id_="b-0"),
        offer("big.png", limit + 1, id_="b-1"),
        offer("empty.png", 0, id_="b-2"),
        offer("page.html", 100, "text/html", "b-3"),
        offer("photo.JPG", 100, "", "b-4"),  # no browser type: the extension decides
    ]
    tickets, refusals = plan(s3, settings, offers, "uploads", actor="t")
    assert [t.id for t in tickets] == ["b-0", "b-4"]
    assert {r.id: r.reason for r in refusals}.keys() == {"b-1", "b-2", "b-3"}
    reasons = {r.id: r.reason for r in refusals}
    assert "the limit is 10 MiB" in reasons["b-1"] and "Nothing was uploaded" in reasons["b-1"]
    assert "empty" in reasons["b-2"]
    assert "text/html" in reasons["b-3"] and "not an accepted image type" in reasons["b-3"]
    assert all(KEY_SHAPE.match(t.key) for t in tickets)
    assert tickets[0].content_type == "image/png" and tickets[1].content_type == "image/jpeg"
    assert tickets[1].key.endswith(".jpg")
    # the PUTs go to hidden staging keys; only the server writes the final key, after the check
    assert {t.staged for t in tickets} == {f".dashboard/direct/{tickets[0].batch}/{t.key}" for t in tickets}
    assert dict(calls.calls) == {"PutObject": 1}  # signing is local; one batch record (who, which names)
    record = json.loads(s3.get_object(Bucket=settings.bucket, Key=record_key(tickets[0].batch))["Body"].read())
    assert record == {"actor": "t", "files": {tickets[0].key: "ok.png", tickets[1].key: "photo.JPG"}}
    calls.reset()
    assert plan(s3, settings, offers[1:4], "uploads", actor="t")[0] == []
    assert dict(calls.calls) == {}  # nothing signed: nothing written
    calls.close()


def test_plan_refuses_formats_not_allowed_and_foreign_folders(s3_endpoint: str, s3: S3Client) -> None:
    settings = settings_for(s3_endpoint, R2_IMAGE_FORMATS="JPEG")
    tickets, refusals = plan(s3, settings, [offer("a.png")], "uploads", actor="t")
    assert not tickets and "not an accepted image type" in refusals[0].reason
    with pytest.raises(InvalidInput, match="may not go to the folder"):
        plan(s3, settings, [offer()], "../etc", actor="t")


def test_signed_url_signs_length_type_and_if_none_match_and_expires_as_configured(
    s3_endpoint: str, s3: S3Client
) -> None:
    settings = settings_for(s3_endpoint, R2_UPLOAD_URL_TTL_SECONDS="45")
    (ticket,), _ = plan(s3, settings, [offer(size=1234)], "uploads", actor="t")
    query = {k: v[0] for k, v in parse_qs(urlsplit(ticket.url).query).items()}
    assert query["X-Amz-SignedHeaders"].split(";") == ["content-length", "content-type", "host", "if-none-match"]
    assert query["X-Amz-Expires"] == "45"
    assert ticket.headers == {"Content-Type": "image/png", "If-None-Match": "*"}
    assert urlsplit(ticket.url).path == f"/{settings.bucket}/{ticket.staged}"  # never the final key
    assert ticket.url not in repr(ticket)  # never in logs by accident


def test_renew_signs_the_same_put_afresh_for_the_configured_lifetime(s3_endpoint: str, s3: S3Client) -> None:
    settings = settings_for(s3_endpoint, R2_UPLOAD_URL_TTL_SECONDS="30")
    (ticket,), _ = plan(s3, settings, [offer(size=1234)], "uploads", actor="t", now=lambda: 1000.0)
    fresh = renew(s3, settings, ticket, now=lambda: 1100.0)
    same = ("id", "name", "key", "staged", "size", "format", "content_type")
    assert [getattr(fresh, f) for f in same] == [getattr(ticket, f) for f in same]
    assert (ticket.expires_at, fresh.expires_at) == (1030.0, 1130.0)
    assert (ticket.signing, fresh.signing, renew(s3, settings, fresh).signing) == (0, 1, 2)
    query = {k: v[0] for k, v in parse_qs(urlsplit(fresh.url).query).items()}
    assert query["X-Amz-SignedHeaders"].split(";") == ["content-length", "content-type", "host", "if-none-match"]
    assert query["X-Amz-Expires"] == "30"
    sent = fresh.for_browser(now=1120.0)
    assert (sent["ttl"], sent["signing"], sent["size"]) == (10.0, 1, 1234)
    assert ticket.for_browser(now=1100.0)["ttl"] == 0.0  # expired: never negative


def test_the_browser_renews_a_link_with_less_than_a_third_of_its_life_left_at_most_10_s(s3_endpoint: str) -> None:
    assert renew_margin(settings_for(s3_endpoint, R2_UPLOAD_URL_TTL_SECONDS="6")) == 2.0
    assert renew_margin(settings_for(s3_endpoint)) == 10.0  # the default 60 s


def test_offer_from_browser_refuses_malformed_input() -> None:
    assert Offer.from_browser({"id": "x-1", "name": "a.png", "size": 3, "type": "IMAGE/PNG"}).type == "image/png"
    for raw in ({"id": "../x", "name": "a", "size": 1}, {"id": "x", "name": "a", "size": -1}, {"name": "a"}):
        with pytest.raises(InvalidInput):
            Offer.from_browser(raw)
    with pytest.raises(InvalidInput):
        Offer.from_browser({"id": "x", "name": "a", "size": True})


# ---------------------------------------------------------------- what the browser reports


def test_cors_block_is_told_apart_from_signature_and_permission_errors() -> None:
    blocked = BrowserReport("a", ok=False, status=0)
    signature = BrowserReport("a", ok=False, status=403, code="SignatureDoesNotMatch", message="The request signature")
    expired = BrowserReport("a", ok=False, status=403, code="AccessDenied", message="Request has expired")
    denied = BrowserReport("a", ok=False, status=403, code="AccessDenied", message="Access Denied")
    exists = BrowserReport("a", ok=False, status=412, code="PreconditionFailed")
    assert [classify(r) for r in (blocked, signature, expired, denied, exists)] == [
        "cors",
        "signature",
        "expired",
        "permission",
        "exists",
    ]
    assert "CORS block" in explain_failure(blocked) and "CORS page" in explain_failure(blocked)
    for report in (signature, denied):
        text = explain_failure(report)
        assert "This is not CORS" in text and report.code in text
    assert "expired" in explain_failure(expired)


def test_browser_report_is_validated() -> None:
    report = BrowserReport.from_browser({"id": "b-1", "ok": False, "status": 403, "code": "X" * 100})
    assert report.status == 403 and len(report.code) == 64
    assert BrowserReport.from_browser({"id": "b-1", "ok": True, "status": "200"}).status == 0
    leaky = BrowserReport.from_browser({"id": "b-1", "ok": False, "message": "bad X-Amz-Signature=abc123&x=1"})
    assert "abc123" not in leaky.message and "abc123" not in explain_failure(leaky)
    with pytest.raises(InvalidInput):
        BrowserReport.from_browser({"id": "<script>", "ok": True})


# ---------------------------------------------------------------- the CORS precheck (a real preflight)


def _cors(s3: S3Client, settings: Settings, **rule: object) -> None:
    base = {"AllowedOrigins": [ORIGIN], "AllowedMethods": ["PUT"], "AllowedHeaders": list(PUT_HEADERS)}
    s3.put_bucket_cors(Bucket=settings.bucket, CORSConfiguration={"CORSRules": [{**base, **rule}]})


@pytest.fixture
def origin_settings(s3_endpoint: str) -> Settings:
    return settings_for(s3_endpoint, R2_APP_ORIGIN=ORIGIN)


def test_cors_check_allows_a_matching_rule(origin_settings: Settings, s3: S3Client) -> None:
    _cors(s3, origin_settings)
    assert cors_check(origin_settings).allowed


@pytest.mark.parametrize(
    ("rule", "missing"),
    [
        (None, "no CORS rule lists the origin http://localhost:8599"),
        # A refusal (403, as R2 and moto answer here) does not say which part failed: the check says so.
        ({"AllowedOrigins": ["https://elsewhere.example"]}, "origin http://localhost:8599, method PUT"),
        ({"AllowedMethods": ["GET"]}, "PUT is not in AllowedMethods"),
        ({"AllowedHeaders": ["content-type"]}, "if-none-match are not in AllowedHeaders"),
    ],
    ids=["no-rule", "wrong-origin", "no-put", "no-if-none-match"],
)
def test_cors_check_says_which_part_is_missing(
    origin_settings: Settings, s3: S3Client, rule: dict[str, object] | None, missing: str
) -> None:
    if rule is not None:
        _cors(s3, origin_settings, **rule)
    check = cors_check(origin_settings)
    assert not check.allowed
    assert any(missing in p for p in check.problems), check.problems
    if rule is None or "AllowedOrigins" in rule:  # the origin is the whole story: no noise about headers
        assert not any("AllowedHeaders" in p for p in check.problems), check.problems
    assert ORIGIN in check.fix and "if-none-match" in check.fix


def test_demo_policy_allows_direct_upload(origin_settings: Settings, s3: S3Client) -> None:
    s3.put_bucket_cors(Bucket=origin_settings.bucket, CORSConfiguration={"CORSRules": demo_cors_rules(ORIGIN)})
    assert cors_check(origin_settings).allowed


# ---------------------------------------------------------------- verification (the real pipeline)


def _stored(s3: S3Client, settings: Settings, body: bytes, name: str = "pic.png", type_: str = "image/png") -> Ticket:
    """What a browser's PUT leaves behind: the bytes under the ticket's key, with the signed type."""
    (ticket,), _ = plan(s3, settings, [Offer("b-0", name, len(body), type_)], "uploads", actor="t")
    s3.put_object(Bucket=settings.bucket, Key=ticket.staged, Body=body, ContentType=ticket.content_type)
    return ticket


def _keys(s3: S3Client, settings: Settings) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket).get("Contents", [])}


def test_verify_streams_to_a_file_and_stores_metadata_and_thumbnail(settings: Settings, s3: S3Client) -> None:
    body = png()
    ticket = _stored(s3, settings, body, "Überweisung (1).png")
    seen: list[bytes] = []

    def spy(path: Path, s: Settings) -> CleanFile:
        assert path.is_file()  # a temporary file on disk, not bytes in memory
        seen.append(path.read_bytes())
        return pipeline_check(path, s)

    calls = CallCounter(s3)
    outcome = verify(s3, settings, ticket, spy, actor="ana@example.com")
    assert seen == [body]
    assert outcome.status == "stored" and outcome.thumbnail_key == thumbnail_key(ticket.key)
    assert (outcome.width, outcome.height, outcome.format) == (40, 30, "PNG")
    # HEAD, one GET, the thumbnail and the audit event; nothing to remove, so the original is not sent
    # again: a server-side copy of the staged object to the final key, then the staged one is deleted
    assert dict(calls.calls) == {"HeadObject": 1, "GetObject": 1, "PutObject": 2, "CopyObject": 1, "DeleteObject": 1}
    calls.close()
    assert not any(k.startswith(".dashboard/direct/") and k.endswith(".png") for k in _keys(s3, settings))
    head = s3.head_object(Bucket=settings.bucket, Key=ticket.key)
    assert head["ContentType"] == "image/png"
    assert head["Metadata"]["original-name"] == "%C3%9Cberweisung%20(1).png"
    assert head["Metadata"]["thumbnail"] == "yes" and head["Metadata"]["width"] == "40"
    thumb = s3.head_object(Bucket=settings.bucket, Key=thumbnail_key(ticket.key))
    assert thumb["ContentType"] == "image/webp"


def test_verify_removes_gps_keeping_orientation(settings: Settings, s3: S3Client) -> None:
    ticket = _stored(s3, settings, jpeg_gps(), "photo.jpg", "image/jpeg")
    outcome = verify(s3, settings, ticket, actor="a")
    assert outcome.status == "stored" and "GPS location" in outcome.removed
    stored = s3.get_object(Bucket=settings.bucket, Key=ticket.key)["Body"].read()
    with Image.open(io.BytesIO(stored)) as image:
        exif = image.getexif()
        assert exif.get(0x0112) == 6  # orientation kept
        assert not exif.get_ifd(0x8825)  # no GPS IFD


def test_verify_publishes_only_what_it_checked(settings: Settings, s3: S3Client) -> None:
    ticket = _stored(s3, settings, jpeg_gps(), "photo.jpg", "image/jpeg")
    other = png((7, 7))

    def check_while_someone_writes(path: Path, s: Settings) -> CleanFile:
        clean = pipeline_check(path, s)
        s3.put_object(Bucket=settings.bucket, Key=ticket.staged, Body=other, ContentType="image/jpeg")
        return clean

    outcome = verify(s3, settings, ticket, check_while_someone_writes, actor="a")
    assert outcome.status == "stored"  # the cleaned copy of what was checked, from disk ...
    with Image.open(io.BytesIO(s3.get_object(Bucket=settings.bucket, Key=ticket.key)["Body"].read())) as image:
        assert image.size == (64, 48) and not image.getexif().get_ifd(0x8825)  # ... never the other bytes
    assert ticket.staged not in _keys(s3, settings)


def test_verify_never_overwrites_the_final_key(settings: Settings, s3: S3Client) -> None:
    ticket = _stored(s3, settings, jpeg_gps(), "photo.jpg", "image/jpeg")
    s3.put_object(Bucket=settings.bucket, Key=ticket.key, Body=b"already here")
    outcome = verify(s3, settings, ticket, actor="a")
    assert outcome.status == "failed" and "changed after it was checked" in outcome.message
    assert s3.get_object(Bucket=settings.bucket, Key=ticket.key)["Body"].read() == b"already here"
    assert thumbnail_key(ticket.key) not in _keys(s3, settings)  # nothing half-done


def test_verify_removes_a_renamed_html_file_and_says_why(settings: Settings, s3: S3Client) -> None:
    ticket = _stored(s3, settings, HTML, "cat.png")
    outcome = verify(s3, settings, ticket, actor="a")
    assert outcome.status == "removed"
    assert "HTML" in outcome.message and "removed from the bucket" in outcome.message
    assert not _keys(s3, settings) - {k for k in _keys(s3, settings) if k.startswith(".dashboard/")}
    assert ticket.staged not in _keys(s3, settings)


def test_verify_removes_content_of_another_format(settings: Settings, s3: S3Client) -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    ticket = _stored(s3, settings, out.getvalue(), "really-a-jpeg.png")
    outcome = verify(s3, settings, ticket, actor="a")
    assert outcome.status == "removed" and "content is JPEG" in outcome.message and ".jpg" in outcome.message
    assert not {ticket.key, ticket.staged} & _keys(s3, settings)


def test_verify_removes_an_object_that_is_not_what_was_signed(settings: Settings, s3: S3Client) -> None:
    # moto does not enforce the signed length (R2 does): the check on the server side catches it anyway
    (ticket,), _ = plan(s3, settings, [offer(size=10)], "uploads", actor="t")
    s3.put_object(Bucket=settings.bucket, Key=ticket.staged, Body=b"x" * 11, ContentType="image/png")
    outcome = verify(s3, settings, ticket, lambda p, s: pytest.fail("must not be checked"), actor="a")
    assert outcome.status == "removed" and "not the 10 bytes" in outcome.message
    assert not {ticket.key, ticket.staged} & _keys(s3, settings)


def test_verify_reports_a_missing_object(settings: Settings, s3: S3Client) -> None:
    (ticket,), _ = plan(s3, settings, [offer()], "uploads", actor="t")
    outcome = verify(s3, settings, ticket, lambda p, s: pytest.fail("must not be checked"), actor="a")
    assert outcome.status == "failed" and "not in the bucket: it never arrived" in outcome.message


def test_verify_is_audited(settings: Settings, s3: S3Client) -> None:
    ticket = _stored(s3, settings, png())
    verify(s3, settings, ticket, actor="ana")
    audit = [k for k in _keys(s3, settings) if k.startswith(".dashboard/audit/")]
    assert len(audit) == 1
    text = s3.get_object(Bucket=settings.bucket, Key=audit[0])["Body"].read().decode()
    assert '"action": "upload.direct"' in text and ticket.key in text and "X-Amz" not in text


def test_a_refused_preflight_is_not_blamed_on_the_origin(origin_settings: Settings) -> None:
    """R2 answers a preflight it refuses with 403 and no CORS headers, whatever failed:
    the direct-upload check must not claim the origin is unlisted when the method may be the cause."""
    from r2.preflight import PreflightResult

    def refused(settings: Settings, origin: str, method: str, headers: list[str]) -> PreflightResult:
        reasons = ("the server refused the preflight (403): the origin, the method or a header is not allowed",)
        return PreflightResult(False, origin, method, tuple(headers), status=403, reasons=reasons)

    check = cors_check(origin_settings, probe=refused)
    assert not check.allowed
    assert not any("no CORS rule lists the origin" in p for p in check.problems), check.problems
    assert any("method" in p for p in check.problems)
