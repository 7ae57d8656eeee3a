"""Presigning, key checks, the preflight probe and the audit log, against the real local server."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from r2 import audit
from r2.errors import InvalidInput
from r2.naming import check_key, is_hidden, thumbnail_key
from r2.preflight import judge, preflight
from r2.presign import sign_get, sign_put
from r2.settings import Settings


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_signed_put_signs_type_length_and_if_none_match(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    url = sign_put(s3, settings.bucket, "uploads/a.png", 60, content_type="image/png", content_length=1234)
    q = query(url)
    assert q["X-Amz-SignedHeaders"].split(";") == ["content-length", "content-type", "host", "if-none-match"]
    assert q["X-Amz-Expires"] == "60"


def test_signed_get_downloads_the_object(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=settings.bucket, Key="f/ü x.png", Body=b"pixels", ContentType="image/png")
    url = sign_get(s3, settings.bucket, "f/ü x.png", 300, download_name='ü "x".png')
    response = requests.get(url, timeout=5)
    assert response.content == b"pixels"
    assert "attachment" in response.headers["Content-Disposition"]


@pytest.mark.parametrize("seconds", [0, -5, 604_801])
def test_expiry_outside_one_second_to_seven_days_is_refused(settings: Settings, s3, seconds: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="7 days"):
        sign_get(s3, settings.bucket, "a.png", seconds)


@pytest.mark.parametrize("key", ["", "a/../b.png", "./x", "/abs.png", "bad\x00key", "x" * 1025, "é" * 513])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput):
        check_key(key)


def test_keys_are_normalised_to_nfc() -> None:
    assert check_key("cafe\u0301.png") == "caf\u00e9.png"


def test_thumbnails_and_app_data_are_hidden() -> None:
    assert thumbnail_key("uploads/a.jpg") == ".thumbs/uploads/a.jpg.webp"
    assert is_hidden(thumbnail_key("uploads/a.jpg")) and is_hidden(".dashboard/audit/x.json")
    assert not is_hidden("uploads/a.jpg")


def test_judge_like_a_browser() -> None:
    ok = {
        "Access-Control-Allow-Origin": "https://app",
        "Access-Control-Allow-Methods": "PUT, GET",
        "Access-Control-Allow-Headers": "content-type",
    }
    assert judge(200, ok, "https://app", "PUT", ["content-type"]) == ()
    assert "if-none-match" in judge(200, ok, "https://app", "PUT", ["content-type", "if-none-match"])[0]
    assert "DELETE" in judge(200, ok, "https://app", "DELETE", [])[0]
    assert "not https://other" in judge(200, ok, "https://other", "PUT", [])[0]
    assert judge(403, {}, "https://app", "PUT", [])


def test_live_preflight_against_the_local_server(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    assert not preflight(settings, "https://app.example").allowed  # no policy at all
    rule = {"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["content-type"]}
    s3.put_bucket_cors(Bucket=settings.bucket, CORSConfiguration={"CORSRules": [rule]})
    result = preflight(settings, "https://app.example", "PUT", ["content-type"])
    assert result.allowed and result.status == 200
    missing_header = preflight(settings, "https://app.example", "PUT", ["content-type", "if-none-match"])
    assert not missing_header.allowed and "if-none-match" in missing_header.reasons[0]
    assert not preflight(settings, "https://evil.example", "PUT").allowed


def test_preflight_to_a_closed_port_reports_an_error(settings: Settings) -> None:
    from tests.support.env import settings_for
    from tests.support.servers import free_port

    result = preflight(settings_for(f"http://127.0.0.1:{free_port()}"), "https://a", timeout=1)
    assert not result.allowed and "could not be sent" in result.error


def test_audit_events_are_append_only_and_newest_first(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for i in range(3):
        event = audit.AuditEvent("ann@example.com", "upload", f"uploads/{i}.png", at=start + timedelta(seconds=i))
        key = audit.record(s3, settings.bucket, event)
        assert key.startswith(".dashboard/audit/2026/01/02/")
    events = audit.recent(s3, settings.bucket)
    assert [e.target for e in events] == ["uploads/2.png", "uploads/1.png", "uploads/0.png"]
    assert events[0].actor == "ann@example.com" and events[0].at == start + timedelta(seconds=2)
    only_one = audit.recent(s3, settings.bucket, keep=lambda e: e.target.endswith("1.png"))
    assert [e.target for e in only_one] == ["uploads/1.png"]
