"""`python -m r2 usage` and the Cloudflare GraphQL analytics client (against a local fake)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from r2.client import S3Client
from r2.errors import AccessDenied, InvalidInput, Unavailable
from r2.settings import Settings, parse_settings
from r2.usage.analytics import enabled, fetch
from tests.support.cli import run
from tests.support.env import TEST_BUCKET, env_from
from tests.support.fake_graphql import ACCOUNT, ANSWER, TOKEN, FakeGraphQL
from tests.support.seeding import seed


def test_cli_usage_json_has_the_documented_fields(s3: S3Client, settings: Settings) -> None:
    seed(settings.bucket, [("a/b/one.jpg", 100), ("a/c/two.png", 50), ("b/three.jpg", 7), (".thumbs/a.webp", 3)])
    s3.create_multipart_upload(Bucket=settings.bucket, Key="a/big.mov")
    code, out, err = run(["usage", "--json", "--depth", "2"], env_from(settings))
    assert code == 0, err
    data = json.loads(out)
    assert data["objects"] == 4 and data["bytes"] == 160
    assert data["by_prefix"] == {
        "a/b/": {"objects": 1, "bytes": 100},
        "a/c/": {"objects": 1, "bytes": 50},
        "b/": {"objects": 1, "bytes": 7},
    }
    assert data["by_type"]["jpg"] == {"objects": 2, "bytes": 107}
    assert list(data["by_month"]) == [datetime.now(UTC).strftime("%Y-%m")]
    assert (data["largest"][0]["key"], data["largest"][0]["bytes"]) == ("a/b/one.jpg", 100)
    assert [u["key"] for u in data["incomplete_uploads"]] == ["a/big.mov"]
    assert data["estimated_monthly_cost_usd"] == 0.0
    assert data["reserved"] == {".thumbs/": {"objects": 1, "bytes": 3}}


def test_cli_usage_text_and_bad_depth(s3: S3Client, settings: Settings) -> None:
    seed(settings.bucket, [("x/<b>bold</b>.jpg", 10)])
    code, out, _ = run(["usage"], env_from(settings))
    assert code == 0 and "objects: 1" in out and "x/<b>bold</b>.jpg" in out
    code, _, err = run(["usage", "--depth", "0"], env_from(settings))
    assert code == 2 and "--depth" in err


def test_cli_usage_save_keeps_the_snapshot_and_audits_it_as_the_page_does(s3: S3Client, settings: Settings) -> None:
    from r2.audit import AuditEvent, recent
    from r2.usage.snapshots import history

    seed(settings.bucket, [("a/one.jpg", 100), ("b/two.png", 50)])
    code, _, err = run(["usage", "--json", "--save"], env_from(settings))
    assert code == 0, err
    assert [(i.objects, i.bytes) for i in history(s3, settings.bucket)] == [(2, 150)]
    events: list[AuditEvent] = recent(s3, settings.bucket)
    assert [(e.action, e.target, e.outcome) for e in events] == [("usage.scan", settings.bucket, "ok")]
    assert events[0].actor.startswith("cli") and "2 objects, 150 bytes" in events[0].detail


def test_cli_usage_without_credentials_exits_2() -> None:
    code, _, err = run(["usage", "--json"], {})
    assert code == 2 and "R2_ACCESS_KEY_ID" in err


def test_cli_usage_missing_bucket_fails_cleanly(s3_endpoint: str) -> None:
    env = {
        "R2_ENDPOINT": s3_endpoint,
        "R2_ACCESS_KEY_ID": "k",
        "R2_SECRET_ACCESS_KEY": "s" * 20,
        "R2_BUCKET": "no-such-bucket",
    }
    code, _, err = run(["usage"], env)
    assert code == 1 and "does not exist" in err and "Traceback" not in err


def test_a_missing_bucket_is_reported_as_missing_whatever_port_the_endpoint_has() -> None:
    """obstore's message holds the endpoint's URL: a port such as 40312 is no 403 status (this test
    server's random port made the missing bucket read as "access denied" now and then)."""
    from r2.errors import NotFound
    from r2.usage.listing import translate_obstore

    message = "Generic S3 error: http://127.0.0.1:40312/no-such-bucket: <Code>NoSuchBucket</Code>"
    assert isinstance(translate_obstore(RuntimeError(message)), NotFound)
    assert isinstance(translate_obstore(RuntimeError("status 403 Forbidden at http://127.0.0.1:51234/b")), AccessDenied)


# ------------------------------------------------------------------------------- GraphQL fake


def analytics_settings(base: str, **extra: str) -> Settings:
    raw = {
        "R2_ACCOUNT_ID": ACCOUNT,
        "R2_ACCESS_KEY_ID": "k",
        "R2_SECRET_ACCESS_KEY": "s" * 20,
        "R2_BUCKET": TEST_BUCKET,
        "CLOUDFLARE_API_TOKEN": TOKEN,
        "CLOUDFLARE_API_BASE": base,
        **extra,
    }
    return parse_settings(raw)


def test_graphql_reads_storage_and_operations(graphql: FakeGraphQL) -> None:
    graphql.answer = ANSWER
    settings = analytics_settings(graphql.base, R2_JURISDICTION="eu")
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    usage = fetch(settings, now=now)
    assert (usage.objects, usage.bytes) == (1234, 5_001_000)
    assert (usage.class_a, usage.class_b, usage.free_ops) == (320, 9040, 5)
    request = graphql.requests[0]
    assert request["path"] == "/client/v4/graphql" and request["auth"] == f"Bearer {TOKEN}"
    variables = request["body"]["variables"]
    assert variables["accountTag"] == ACCOUNT and variables["bucket"] == f"eu_{TEST_BUCKET}"
    assert variables["start"] == "2026-10-27T12:00:00Z" and variables["end"] == "2026-11-27T12:00:00Z"
    assert "r2StorageAdaptiveGroups" in request["body"]["query"]
    assert "r2OperationsAdaptiveGroups" in request["body"]["query"]


def test_graphql_refused_token_and_errors_never_show_the_token(graphql: FakeGraphQL) -> None:
    settings = analytics_settings(graphql.base)
    graphql.status = 403
    with pytest.raises(AccessDenied) as denied:
        fetch(settings)
    graphql.status = 200
    graphql.answer = {"data": None, "errors": [{"message": f"not authorized for token {TOKEN}"}]}
    with pytest.raises(AccessDenied) as graphql_error:
        fetch(settings)
    for err in (denied.value, graphql_error.value):
        assert TOKEN not in str(err)


def test_graphql_unreachable_and_not_configured(s3_endpoint: str) -> None:
    from tests.support.servers import free_port

    settings = analytics_settings(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Unavailable):
        fetch(settings, timeout=2)
    plain = parse_settings(
        {
            "R2_ENDPOINT": s3_endpoint,
            "R2_ACCESS_KEY_ID": "k",
            "R2_SECRET_ACCESS_KEY": "s" * 20,
            "R2_BUCKET": TEST_BUCKET,
            "CLOUDFLARE_API_TOKEN": TOKEN,
        }
    )
    assert not enabled(plain)  # a token without an account id
    with pytest.raises(InvalidInput):
        fetch(plain)
