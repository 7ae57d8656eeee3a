"""Apply, read back, history, rollback, delete and stale-edit refusal against the real local S3 server.

Failures are produced at the HTTP level through botocore's event hooks (the server really refuses or
really stores something else), never by mocking r2 itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

from r2 import cors, cors_store
from r2.audit import AUDIT_PREFIX, recent
from r2.client import CallCounter, S3Client, make_client
from r2.errors import AccessDenied, R2Error
from r2.settings import Settings

APP = "http://localhost:8501"
A = cors.preset(APP)
B = cors.parse([{"AllowedOrigins": ["https://b.example.com"], "AllowedMethods": ["GET"]}])
C = cors.parse([{"AllowedOrigins": ["https://c.example.com"], "AllowedMethods": ["PUT"], "MaxAgeSeconds": 5}])


def live(s3: S3Client, settings: Settings) -> cors.CorsPolicy | None:
    return cors_store.read_policy(s3, settings.bucket)


def once(client: S3Client, event: str, change: Any) -> None:
    """Run `change(params)` on the first request matching `event` only."""
    state = {"done": False}

    def hook(params: dict[str, Any], **_: Any) -> None:
        if not state["done"]:
            state["done"] = True
            change(params)

    client.meta.events.register(event, hook)


def test_no_policy_is_a_normal_state(s3: S3Client, settings: Settings) -> None:
    assert live(s3, settings) is None
    assert cors_store.history(s3, settings.bucket) == []


def test_apply_snapshots_writes_reads_back_and_audits(s3: S3Client, s3_calls: CallCounter, settings: Settings) -> None:
    result = cors_store.apply(s3, settings.bucket, A, actor="ana@example.com", reason="uploads", expected=None)
    # lease (read, take, release) + snapshot + audit
    assert s3_calls.calls == {"GetObject": 1, "GetBucketCors": 2, "PutObject": 4, "PutBucketCors": 1}
    assert live(s3, settings) == A
    assert result.before is None and result.after == A and result.audit_error == ""
    (entry,) = cors_store.history(s3, settings.bucket)
    assert (entry.version, entry.actor, entry.action, entry.reason) == (
        result.version,
        "ana@example.com",
        "cors.apply",
        "uploads",
    )
    assert entry.before is None and entry.after == A
    (event,) = recent(s3, settings.bucket)
    assert (event.actor, event.action, event.outcome) == ("ana@example.com", "cors.apply", "ok")
    assert result.version in event.detail


def test_history_keeps_every_version_and_rollback_restores_any(s3: S3Client, settings: Settings) -> None:
    v1 = cors_store.apply(s3, settings.bucket, A, actor="ana").version
    v2 = cors_store.apply(s3, settings.bucket, B, actor="bo", reason="try B").version
    v3 = cors_store.apply(s3, settings.bucket, C, actor="cy").version
    entries = cors_store.history(s3, settings.bucket)
    assert [e.version for e in entries] == [v3, v2, v1]
    assert [e.before for e in entries] == [B, A, None]

    undo = cors_store.rollback(s3, settings.bucket, actor="dee")  # default: undo the latest change
    assert live(s3, settings) == B and undo.before == C
    cors_store.rollback(s3, settings.bucket, v2, actor="dee")  # the policy before v2
    assert live(s3, settings) == A
    cors_store.rollback(s3, settings.bucket, v1, actor="dee")  # before v1 there was none
    assert live(s3, settings) is None
    assert len(cors_store.history(s3, settings.bucket)) == 6
    assert [e.action for e in recent(s3, settings.bucket)][:3] == ["cors.rollback"] * 3


def test_delete_is_snapshotted_and_can_be_rolled_back(s3: S3Client, settings: Settings) -> None:
    cors_store.apply(s3, settings.bucket, A, actor="ana")
    result = cors_store.delete(s3, settings.bucket, actor="ana", reason="cleanup", expected=A)
    assert live(s3, settings) is None and result.before == A
    cors_store.rollback(s3, settings.bucket, result.version, actor="ana")
    assert live(s3, settings) == A


def test_an_invalid_policy_is_never_sent(s3: S3Client, s3_calls: CallCounter, settings: Settings) -> None:
    bad = cors.parse([{"AllowedOrigins": ["http://localhost:8501/"], "AllowedMethods": ["OPTIONS"]}])
    with pytest.raises(cors.InvalidPolicy) as info:
        cors_store.apply(s3, settings.bucket, bad, actor="ana")
    assert len(info.value.problems) == 2
    assert s3_calls.total == 0


def test_stale_edit_is_refused_and_shows_the_difference(
    s3: S3Client, s3_calls: CallCounter, settings: Settings
) -> None:
    cors_store.apply(s3, settings.bucket, A, actor="ana")
    loaded = live(s3, settings)  # the editor loads A
    cors_store.apply(s3, settings.bucket, B, actor="bo")  # another admin changes it meanwhile
    s3_calls.reset()
    with pytest.raises(cors_store.StaleEdit) as info:
        cors_store.apply(s3, settings.bucket, C, actor="ana", expected=loaded)
    assert live(s3, settings) == B
    assert info.value.live == B and "b.example.com" in info.value.difference
    assert "PutBucketCors" not in s3_calls.calls
    assert recent(s3, settings.bucket)[0].outcome == "refused"


def test_stale_edit_when_a_policy_appeared_after_loading_none(s3: S3Client, settings: Settings) -> None:
    cors_store.apply(s3, settings.bucket, B, actor="bo")
    with pytest.raises(cors_store.StaleEdit):
        cors_store.apply(s3, settings.bucket, A, actor="ana", expected=None)


def test_read_back_mismatch_restores_the_snapshot(s3: S3Client, settings: Settings) -> None:
    cors_store.apply(s3, settings.bucket, A, actor="ana")

    def store_something_else(params: dict[str, Any]) -> None:
        params["CORSConfiguration"]["CORSRules"][0]["MaxAgeSeconds"] = 1

    once(s3, "before-parameter-build.s3.PutBucketCors", store_something_else)
    with pytest.raises(R2Error) as info:
        cors_store.apply(s3, settings.bucket, C, actor="ana")
    assert "read back differs" in str(info.value) and "previous policy was restored" in str(info.value)
    assert live(s3, settings) == A
    assert recent(s3, settings.bucket)[0].outcome == "failed"


def test_a_failed_put_restores_the_snapshot(s3: S3Client, settings: Settings) -> None:
    cors_store.apply(s3, settings.bucket, A, actor="ana")

    def server_refuses(params: dict[str, Any]) -> None:  # the server answers 400 InvalidRequest
        params["CORSConfiguration"]["CORSRules"][0]["AllowedMethods"] = ["OPTIONS"]

    once(s3, "before-parameter-build.s3.PutBucketCors", server_refuses)
    with pytest.raises(R2Error) as info:
        cors_store.apply(s3, settings.bucket, C, actor="ana")
    assert "previous policy was restored" in str(info.value)
    assert live(s3, settings) == A


def test_an_audit_failure_is_reported_not_hidden(s3: S3Client, settings: Settings) -> None:
    def break_audit(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", "").startswith(AUDIT_PREFIX):
            params["Bucket"] = "no-such-bucket-for-audit"

    s3.meta.events.register("before-parameter-build.s3.PutObject", break_audit)
    result = cors_store.apply(s3, settings.bucket, A, actor="ana")
    assert live(s3, settings) == A  # the change itself happened
    assert "audit log could not be written" in result.audit_error


def test_unknown_rollback_version_is_not_found(s3: S3Client, settings: Settings) -> None:
    with pytest.raises(R2Error, match="no CORS history version"):
        cors_store.rollback(s3, settings.bucket, "20990101T000000000000Z-deadbeef", actor="ana")
    with pytest.raises(R2Error, match="no CORS history yet"):
        cors_store.rollback(s3, settings.bucket, actor="ana")


def test_access_denied_explains_the_admin_token(settings: Settings) -> None:
    client = make_client(settings)
    with Stubber(client) as stub:
        stub.add_client_error("get_bucket_cors", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(AccessDenied) as info:
            cors_store.read_policy(client, settings.bucket)
    assert "Admin" in info.value.fix and "Object Read & Write" in info.value.fix


def test_a_write_the_server_keeps_refusing_leaves_the_previous_policy_and_says_so(
    s3: S3Client, settings: Settings
) -> None:
    """Every PutBucketCors attempt fails (an outage of writes): the old policy never left, so the
    message must say it is in place, not ask for a manual rollback."""
    from r2.client import make_client
    from tests.support.env import settings_for
    from tests.support.fault_proxy import Fault, FaultProxy, call

    cors_store.apply(s3, settings.bucket, A, actor="ana")
    with FaultProxy(settings.endpoint) as proxy:
        proxy.inject(Fault("status", 503, "SlowDown", match=call("PUT", "cors")))
        with pytest.raises(R2Error) as info:
            cors_store.apply(make_client(settings_for(proxy.url)), settings.bucket, C, actor="ana")
    assert "previous policy was restored" in str(info.value) and "NOT" not in str(info.value)
    assert live(s3, settings) == A


def test_history_entries_stored_before_the_shared_store_still_load(s3: S3Client, settings: Settings) -> None:
    """The exact layout `cors_store` wrote before CORS and lifecycle shared `r2.config_store`."""
    stored = {
        "version": "20261101T000000000000Z-0123abcd",
        "at": "2026-11-01T00:00:00+00:00",
        "actor": "ana",
        "action": "cors.apply",
        "reason": "uploads",
        "before": None,
        "after": A.to_s3(),
    }
    key = f".dashboard/cors/history/{stored['version']}.json"
    s3.put_object(Bucket=settings.bucket, Key=key, Body=json.dumps(stored, indent=2).encode())
    (entry,) = cors_store.history(s3, settings.bucket)
    assert (entry.version, entry.before, entry.after, entry.reason) == (stored["version"], None, A, "uploads")
    assert entry.to_dict() == stored
    cors_store.apply(s3, settings.bucket, B, actor="bo")
    cors_store.rollback(s3, settings.bucket, stored["version"], actor="ana")
    assert live(s3, settings) is None
