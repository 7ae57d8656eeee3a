"""Health checks against the real local S3 server and loopback fakes of every failure they name."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from r2.client import CallCounter, S3Client
from r2.health import CHECK_NAMES, PROBE_PREFIX, Check, Deps, health_client, overall, report, run_all, run_checks
from r2.local import demo_cors_rules
from r2.settings import RESERVED_PREFIX, Settings
from tests.support.cli import run as cli
from tests.support.env import settings_for
from tests.support.fault_proxy import (
    FakeCloudflareAPI,
    FaultProxy,
    HangingServer,
    closed_endpoint,
    object_read_write,
    read_only,
    unknown_key_id,
    wrong_secret,
)

ORIGIN = "http://localhost:8501"
SECRET = "test-secret-key-0123456789"
S3_CHECKS = CHECK_NAMES[3:12]  # Authentication .. Token tier: everything that needs signed S3 calls


def run(settings: Settings | None, **kw: Any) -> dict[str, Check]:
    deps = Deps(settings=settings, **{"connect_timeout": 2.0, "read_timeout": 2.0, **kw})
    return {c.name: c for c in run_all(deps)}


def statuses(checks: dict[str, Check]) -> dict[str, str]:
    return {name: c.status for name, c in checks.items()}


def put_cors(s3: S3Client, bucket: str, **changes: Any) -> None:
    rule = {**demo_cors_rules(ORIGIN)[0], **changes}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})


def probe_keys(s3: S3Client, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=RESERVED_PREFIX).get("Contents", [])]


@pytest.fixture
def healthy(s3: S3Client, settings: Settings) -> Settings:
    """The test bucket with the app's CORS policy (what the demo bucket has)."""
    put_cors(s3, settings.bucket)
    return settings


def test_all_green_against_the_local_server_and_probes_cleaned_up(healthy: Settings, s3: S3Client) -> None:
    counters: list[CallCounter] = []

    def counted(settings: Settings, **kw: float) -> S3Client:
        client = health_client(settings, **kw)
        counters.append(CallCounter(client))
        return client

    checks = run(healthy, client_factory=counted)
    assert tuple(checks) == CHECK_NAMES
    expected = dict.fromkeys(CHECK_NAMES, "ok")
    expected["Cloudflare API token"] = "skip"  # not configured: says what it would add
    expected["S3 keys derive from token"] = "skip"
    assert statuses(checks) == expected
    assert overall(list(checks.values())) == "ok"
    assert "CLOUDFLARE_API_TOKEN" in checks["Cloudflare API token"].detail
    assert (
        "Object Read & Write" not in checks["Token tier"].detail and "Admin Read & Write" in checks["Token tier"].detail
    )
    # One signed call per permission probed; signed URLs are fetched with plain HTTP, not the client.
    assert dict(counters[0].calls) == {
        "ListObjectsV2": 1,
        "PutObject": 1,
        "GetObject": 1,
        "DeleteObject": 2,
        "GetBucketCors": 1,
        "ListBuckets": 1,
    }
    assert probe_keys(s3, healthy.bucket) == []
    assert all(c.ms >= 0 for c in checks.values())


def test_independent_probes_run_at_the_same_time_on_one_client(healthy: Settings) -> None:
    """The write probe and the two Admin probes depend only on authentication: they meet at a barrier,
    which a run that makes them wait for each other never reaches (each wait would break)."""
    meet = threading.Barrier(3, timeout=20)
    met: list[str] = []
    clients: list[S3Client] = []

    def rendezvous(model: Any, **kwargs: Any) -> None:
        meet.wait()
        met.append(model.name)

    def meeting(settings: Settings, **kw: float) -> S3Client:
        client = health_client(settings, **kw)
        for operation in ("PutObject", "GetBucketCors", "ListBuckets"):
            client.meta.events.register(f"before-call.s3.{operation}", rendezvous)
        clients.append(client)
        return client

    checks = run(healthy, client_factory=meeting)
    assert sorted(met) == ["GetBucketCors", "ListBuckets", "PutObject"]
    assert len(clients) == 1
    assert {n: c.status for n, c in checks.items() if c.status == "fail"} == {}


def test_the_probe_objects_are_deleted_at_the_same_time(healthy: Settings, s3: S3Client) -> None:
    """The write probe and the signed-PUT probe are deleted in one round trip's time, not two."""
    meet = threading.Barrier(2, timeout=20)
    met: list[str] = []

    def rendezvous(params: dict[str, Any], **kwargs: Any) -> None:
        meet.wait()
        met.append(params["Key"])

    def meeting(settings: Settings, **kw: float) -> S3Client:
        client = health_client(settings, **kw)
        client.meta.events.register("before-parameter-build.s3.DeleteObject", rendezvous)
        return client

    checks = run(healthy, client_factory=meeting)
    assert checks["Delete object"].status == "ok", checks["Delete object"].detail
    assert len(met) == 2 and all(key.startswith(PROBE_PREFIX) for key in met)
    assert probe_keys(s3, healthy.bucket) == []


def test_report_json_shape_and_no_secret(healthy: Settings) -> None:
    data = report(list(run(healthy).values()))
    text = json.dumps(data)
    assert data["status"] == "ok"
    assert {tuple(sorted(c)) for c in data["checks"]} == {("detail", "fix", "ms", "name", "status")}
    assert SECRET not in text and "X-Amz-Signature" not in text


def test_cors_missing_for_the_apps_origin_fails_with_the_rule_to_add(s3: S3Client, settings: Settings) -> None:
    checks = run(settings)
    cors = checks["CORS for this app"]
    assert cors.status == "fail"
    assert "no CORS policy" in cors.detail and ORIGIN in cors.detail and "AllowedMethods" not in cors.detail
    assert f'AllowedOrigins ["{ORIGIN}"]' in cors.fix and '"if-none-match"' in cors.fix
    assert checks["Read CORS policy (Admin)"].status == "ok"
    assert overall(list(checks.values())) == "fail"


def test_another_origin_only_fails(s3: S3Client, settings: Settings) -> None:
    put_cors(s3, settings.bucket, AllowedOrigins=["https://elsewhere.example"])
    cors = run(settings)["CORS for this app"]
    assert cors.status == "fail" and ORIGIN in cors.detail
    assert "AllowedHeaders" not in cors.detail  # no rule for the origin: its methods and headers are noise


def test_missing_allowed_header_fails_naming_it(s3: S3Client, settings: Settings) -> None:
    put_cors(s3, settings.bucket, AllowedHeaders=["content-type"])
    cors = run(settings)["CORS for this app"]
    assert cors.status == "fail"
    assert "if-none-match" in cors.detail and "AllowedHeaders" in cors.detail


def test_put_missing_from_methods_fails(s3: S3Client, settings: Settings) -> None:
    put_cors(s3, settings.bucket, AllowedMethods=["GET", "HEAD"])
    cors = run(settings)["CORS for this app"]
    assert cors.status == "fail" and "PUT" in cors.detail


def test_etag_not_exposed_warns(s3: S3Client, settings: Settings) -> None:
    put_cors(s3, settings.bucket, ExposeHeaders=[])
    cors = run(settings)["CORS for this app"]
    assert cors.status == "warn" and "ETag" in cors.detail and "ExposeHeaders" in cors.fix


def test_wrong_secret_names_the_cause_and_skips_what_depends_on_it(healthy: Settings) -> None:
    with FaultProxy(healthy.endpoint, wrong_secret) as proxy:
        checks = run(settings_for(proxy.url))
    auth = checks["Authentication (list)"]
    assert auth.status == "fail" and "SignatureDoesNotMatch" in auth.detail
    assert "SHA-256" in auth.fix
    for name in S3_CHECKS[1:]:
        assert checks[name].status == "skip", name
        assert "authentication failed" in checks[name].detail
    # Unsigned steps still ran: the endpoint answers and the preflight passes (ETag unknown: no signed GET).
    assert checks["Endpoint reachable"].status == "ok"
    cors = checks["CORS for this app"]
    assert cors.status == "warn" and "allowed" in cors.detail and "could not be read" in cors.detail


def test_unknown_access_key_id(healthy: Settings) -> None:
    with FaultProxy(healthy.endpoint, unknown_key_id) as proxy:
        auth = run(settings_for(proxy.url))["Authentication (list)"]
    assert auth.status == "fail" and "InvalidAccessKeyId" in auth.detail and "R2_ACCESS_KEY_ID" in auth.fix


def test_unknown_bucket(s3: S3Client, settings: Settings) -> None:
    checks = run(settings_for(settings.endpoint, R2_BUCKET="no-such-bucket"))
    auth = checks["Authentication (list)"]
    assert auth.status == "fail" and "no-such-bucket" in auth.detail and "NoSuchBucket" in auth.detail
    assert "R2_BUCKET" in auth.fix
    assert checks["Write object"].status == "skip"


def test_read_only_token(healthy: Settings, s3: S3Client) -> None:
    s3.put_object(Bucket=healthy.bucket, Key="uploads/a.png", Body=b"png")
    with FaultProxy(healthy.endpoint, read_only) as proxy:
        checks = run(settings_for(proxy.url))
    assert statuses(checks) | {} == {
        "Settings": "ok",
        "Endpoint reachable": "ok",
        "Clock": "ok",
        "Authentication (list)": "ok",
        "Write object": "fail",
        "Read object": "skip",
        "Signed GET URL": "ok",  # signed for an object the listing showed
        "Signed PUT URL": "skip",
        "Delete object": "fail",
        "Read CORS policy (Admin)": "warn",
        "List buckets (Admin)": "warn",
        "Token tier": "warn",
        "CORS for this app": "ok",  # ETag exposure read from a real GET's answer instead of the policy
        "Cloudflare API token": "skip",
        "S3 keys derive from token": "skip",
    }
    assert "Object Read:" in checks["Token tier"].detail
    assert "by hand" not in checks["Delete object"].fix  # nothing was written
    assert probe_keys(s3, healthy.bucket) == []


def test_the_guides_object_read_write_token_passes_with_warnings(healthy: Settings, s3: S3Client) -> None:
    with FaultProxy(healthy.endpoint, object_read_write) as proxy:
        checks = run(settings_for(proxy.url))
    assert checks["Token tier"].status == "ok"
    assert "Object Read & Write (bucket-scoped)" in checks["Token tier"].detail
    assert checks["Read CORS policy (Admin)"].status == "warn" and "Admin" in checks["Read CORS policy (Admin)"].fix
    assert checks["CORS for this app"].status == "ok"
    assert overall(list(checks.values())) == "warn"
    assert probe_keys(s3, healthy.bucket) == []


def test_refused_signed_urls_are_named_without_leaking_the_url(healthy: Settings) -> None:
    def presigned_refused(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
        return "SignatureDoesNotMatch" if "X-Amz-Signature=" in query else None

    with FaultProxy(healthy.endpoint, presigned_refused) as proxy:
        checks = run(settings_for(proxy.url))
    for name in ("Signed GET URL", "Signed PUT URL"):
        assert checks[name].status == "fail" and "HTTP 403 (SignatureDoesNotMatch)" in checks[name].detail, name
    text = json.dumps(report(list(checks.values())))
    assert "X-Amz-" not in text and "Signature=" not in text


def test_delete_refused_after_a_write_is_reported_with_the_leftover(healthy: Settings, s3: S3Client) -> None:
    def no_delete(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
        return "AccessDenied" if method == "DELETE" else None

    with FaultProxy(healthy.endpoint, no_delete) as proxy:
        checks = run(settings_for(proxy.url))
    left = probe_keys(s3, healthy.bucket)
    assert len(left) == 2  # the probe and the signed-PUT probe could not be removed
    assert checks["Delete object"].status == "fail" and all(k in checks["Delete object"].fix for k in left)
    assert checks["Cleanup"].status == "warn" and all(k in checks["Cleanup"].detail for k in left)


def test_hanging_endpoint_ends_within_its_timeouts_and_says_why() -> None:
    with HangingServer() as server:
        checks = run(settings_for(server.url), connect_timeout=0.5, read_timeout=0.5)
        connections = server.connections
    reach = checks["Endpoint reachable"]
    assert reach.status == "fail" and "sent no answer" in reach.detail
    for name in (*S3_CHECKS, "Clock", "CORS for this app"):
        assert checks[name].status == "skip" and "does not answer" in checks[name].detail, name
    assert connections == 1  # one attempt, no retries piling up


def test_closed_port() -> None:
    checks = run(settings_for(closed_endpoint()))
    reach = checks["Endpoint reachable"]
    assert reach.status == "fail" and "refused" in reach.detail and "R2_ENDPOINT" in reach.fix
    assert checks["Authentication (list)"].detail == "Skipped: the endpoint refused the connection."


@pytest.mark.parametrize(
    ("offset", "status"), [(0, "ok"), (+300, "warn"), (-300, "warn"), (+3600, "fail"), (-16 * 60, "fail")]
)
def test_skewed_clock(healthy: Settings, offset: float, status: str) -> None:
    clock = run(healthy, clock=lambda: time.time() + offset)["Clock"]
    assert clock.status == status
    if status != "ok":
        assert ("ahead of" if offset > 0 else "behind") in clock.detail and "NTP" in clock.fix


def test_budget_spent_skips_the_remaining_checks(healthy: Settings, s3: S3Client) -> None:
    ticks = itertools.count(step=10)  # every reading of the clock is 10 s later

    checks = run(healthy, monotonic=lambda: float(next(ticks)), budget_s=45)
    skipped = [n for n, c in checks.items() if "budget" in c.detail]
    assert skipped and skipped[-1] == CHECK_NAMES[-1]
    assert checks["Settings"].status == "ok"
    assert probe_keys(s3, healthy.bucket) == []  # cleanup still ran


def test_settings_problems_fail_the_first_check_and_skip_the_rest() -> None:
    checks = run(None, problems=("R2_BUCKET is missing",))
    assert checks["Settings"].status == "fail" and "R2_BUCKET is missing" in checks["Settings"].detail
    assert {c.status for n, c in checks.items() if n != "Settings"} == {"skip"}


def test_stopping_early_still_removes_the_probe(healthy: Settings, s3: S3Client) -> None:
    checks = run_checks(Deps(settings=healthy))
    for check in checks:
        if check.name == "Write object":
            assert probe_keys(s3, healthy.bucket)  # the probe exists now
            break
    checks.close()
    assert probe_keys(s3, healthy.bucket) == []


# --- Cloudflare API token ------------------------------------------------------------------

TOKEN = "cf-token-value-0123456789abcdefXYZ"
TOKEN_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture
def cloudflare() -> Iterator[FakeCloudflareAPI]:
    in_60_days = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with FakeCloudflareAPI({TOKEN: {"id": TOKEN_ID, "status": "active", "expires_on": in_60_days}}) as fake:
        yield fake


def token_settings(endpoint: str, fake: FakeCloudflareAPI, **extra: str) -> Settings:
    values = {
        "R2_ACCESS_KEY_ID": TOKEN_ID,
        "R2_SECRET_ACCESS_KEY": hashlib.sha256(TOKEN.encode()).hexdigest(),
        "CLOUDFLARE_API_TOKEN": TOKEN,
        "CLOUDFLARE_API_BASE": fake.base,
        **extra,
    }
    return settings_for(endpoint, **values)


def test_token_active_and_keys_derived(healthy: Settings, cloudflare: FakeCloudflareAPI) -> None:
    checks = run(token_settings(healthy.endpoint, cloudflare))
    assert checks["Cloudflare API token"].status == "ok" and "in 6" in checks["Cloudflare API token"].detail
    assert checks["S3 keys derive from token"].status == "ok"
    assert cloudflare.paths == ["/client/v4/user/tokens/verify"]
    text = json.dumps(report(list(checks.values())))
    assert TOKEN not in text and hashlib.sha256(TOKEN.encode()).hexdigest() not in text


def test_token_expiring_soon_warns(healthy: Settings, cloudflare: FakeCloudflareAPI) -> None:
    cloudflare.tokens[TOKEN]["expires_on"] = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    check = run(token_settings(healthy.endpoint, cloudflare))["Cloudflare API token"]
    assert check.status == "warn" and "expires on" in check.detail


def test_token_expired_fails(healthy: Settings, cloudflare: FakeCloudflareAPI) -> None:
    cloudflare.tokens[TOKEN]["status"] = "expired"
    checks = run(token_settings(healthy.endpoint, cloudflare))
    assert checks["Cloudflare API token"].status == "fail" and "expired" in checks["Cloudflare API token"].detail
    assert "new R2 API token" in checks["Cloudflare API token"].fix
    # The keys are still compared: it tells whether these keys belong to the expired token.
    assert checks["S3 keys derive from token"].status == "ok"


def test_token_past_its_expiry_date_fails(healthy: Settings, cloudflare: FakeCloudflareAPI) -> None:
    fake_now = (datetime.now(UTC) + timedelta(days=61)).timestamp()
    check = run(token_settings(healthy.endpoint, cloudflare), clock=lambda: fake_now)["Cloudflare API token"]
    assert check.status == "fail" and "expired on" in check.detail


def test_keys_from_another_token_fail(healthy: Settings, cloudflare: FakeCloudflareAPI) -> None:
    settings = token_settings(
        healthy.endpoint, cloudflare, R2_ACCESS_KEY_ID="other-key-id-123456", R2_SECRET_ACCESS_KEY=SECRET
    )
    check = run(settings)["S3 keys derive from token"]
    assert check.status == "fail"
    assert "R2_ACCESS_KEY_ID" in check.detail and "SHA-256" in check.detail
    assert "other-key-id-123456" not in check.detail and SECRET not in check.detail


def test_unknown_token_fails_with_cloudflares_message(healthy: Settings, cloudflare: FakeCloudflareAPI) -> None:
    check = run(token_settings(healthy.endpoint, cloudflare, CLOUDFLARE_API_TOKEN="not-a-known-token-42"))[
        "Cloudflare API token"
    ]
    assert check.status == "fail" and "Invalid API Token" in check.detail


def test_account_owned_token_verifies_under_the_account(healthy: Settings) -> None:
    account = "0123456789abcdef0123456789abcdef"
    with FakeCloudflareAPI({TOKEN: {"id": TOKEN_ID, "status": "active"}}, account_owned=True, account_id=account) as cf:
        checks = run(token_settings(healthy.endpoint, cf, R2_ACCOUNT_ID=account))
    assert checks["Cloudflare API token"].status == "ok"
    assert checks["S3 keys derive from token"].status == "ok"
    assert cf.paths == ["/client/v4/user/tokens/verify", f"/client/v4/accounts/{account}/tokens/verify"]


# --- Command line ----------------------------------------------------------------------------


def environ_for(endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "R2_ENDPOINT": endpoint,
        "R2_ACCESS_KEY_ID": "test-access-key",
        "R2_SECRET_ACCESS_KEY": SECRET,
        "R2_BUCKET": "test-bucket",
        "R2_APP_ORIGIN": ORIGIN,
        **extra,
    }


def test_cli_json_all_green_exits_0(healthy: Settings) -> None:
    code, out, _ = cli(["health", "--json"], environ_for(healthy.endpoint))
    data = json.loads(out)
    assert code == 0 and data["status"] == "ok"
    assert [c["name"] for c in data["checks"]] == list(CHECK_NAMES)
    assert set(data["checks"][0]) == {"name", "status", "detail", "fix", "ms"}
    assert SECRET not in out


def test_cli_warnings_alone_exit_0(s3: S3Client, settings: Settings) -> None:
    put_cors(s3, settings.bucket, ExposeHeaders=[])
    code, out, _ = cli(["health", "--json"], environ_for(settings.endpoint))
    assert code == 0 and json.loads(out)["status"] == "warn"


def test_cli_text_prints_each_check_and_its_fix_and_exits_1_on_failure(s3: S3Client, settings: Settings) -> None:
    code, out, _ = cli(["health"], environ_for(settings.endpoint))  # no CORS policy
    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == "health: fail"
    assert any(line.startswith("[FAIL] CORS for this app:") for line in lines)
    assert any(line.strip().startswith("fix: Add a CORS rule") for line in lines)
    assert SECRET not in out


def test_cli_closed_port_exits_1() -> None:
    code, out, _ = cli(["health", "--json"], environ_for(closed_endpoint()))
    assert code == 1 and "refused" in out


def test_cli_settings_problems_exit_2_with_the_report() -> None:
    code, out, _ = cli(["health", "--json"], {"R2_ACCOUNT_ID": "bad", "R2_SECRET_ACCESS_KEY": SECRET})
    data = json.loads(out)
    assert code == 2 and data["status"] == "fail"
    assert data["checks"][0]["name"] == "Settings" and "32 hexadecimal" in data["checks"][0]["detail"]
    assert SECRET not in out


def test_cli_usage_errors_exit_2() -> None:
    assert cli(["health", "--bogus"], {})[0] == 2
    code, _, err = cli(["health"], {})  # no credentials: the command line has no embedded bucket
    assert code == 2 and "R2_ACCESS_KEY_ID" in err


def test_a_wildcard_origin_is_matched_as_the_cors_evaluator_matches_it(s3: S3Client, settings: Settings) -> None:
    """health.py had its own origin matcher, in which "*" had to stand for at least one character, so a
    rule for "http://localhost:8501*" that exposes ETag was reported as not exposing it."""
    put_cors(s3, settings.bucket, AllowedOrigins=[f"{ORIGIN}*"])
    check = run(settings)["CORS for this app"]
    assert check.status == "ok", check


def test_a_refused_preflight_is_explained_from_the_policy(s3: S3Client, settings: Settings) -> None:
    """R2 refuses a preflight with one 403 whatever failed (moto checks only the origin: the proxy plays
    R2): the check must not blame the origin but say, from the policy it read, that PUT is missing."""
    put_cors(s3, settings.bucket, AllowedMethods=["GET", "HEAD"])

    def r2_refuses_preflights(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
        return "AccessForbidden" if method == "OPTIONS" else None

    with FaultProxy(settings.endpoint, r2_refuses_preflights) as proxy:
        cors = run(settings_for(proxy.url))["CORS for this app"]
    assert cors.status == "fail" and "HTTP 403" in cors.detail
    assert "PUT is not in its AllowedMethods" in cors.detail, cors.detail
    assert "no rule lists" not in cors.detail and "matched the origin" not in cors.detail
