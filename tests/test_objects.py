"""Deleting objects as one action: the objects and their thumbnails go, and one audit event says so."""

from __future__ import annotations

import json

import pytest

import r2.objects
from r2.audit import recent
from r2.client import make_client
from r2.errors import InvalidInput, Unavailable
from r2.naming import thumbnail_key
from r2.objects import delete, delete_with_audit
from r2.settings import Settings
from tests.support.env import settings_for
from tests.support.fault_proxy import FaultProxy


def keys_in(s3, settings: Settings) -> set[str]:  # type: ignore[no-untyped-def]
    return {o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket).get("Contents", [])}


def test_a_delete_removes_objects_and_thumbnails_and_records_one_event(settings: Settings, s3, s3_calls) -> None:  # type: ignore[no-untyped-def]
    for key in ("x/1.jpg", thumbnail_key("x/1.jpg"), "x/2.jpg", "x/keep.jpg"):
        s3.put_object(Bucket=settings.bucket, Key=key, Body=b"x")
    s3_calls.reset()
    outcome = delete_with_audit(s3, settings.bucket, ["x/1.jpg", "x/2.jpg"], actor="ann@example.com")
    assert outcome.result.ok and outcome.result.deleted == ("x/1.jpg", "x/2.jpg")
    assert outcome.audit_error == ""
    assert dict(s3_calls.calls) == {"DeleteObjects": 1, "PutObject": 1}  # the delete, the audit event
    assert {k for k in keys_in(s3, settings) if not k.startswith(".dashboard/")} == {"x/keep.jpg"}
    (event,) = recent(s3, settings.bucket)
    assert (event.actor, event.action, event.target, event.outcome) == ("ann@example.com", "delete", "2 objects", "ok")
    assert json.loads(event.detail)["deleted"] == ["x/1.jpg", "x/2.jpg"]


def test_a_delete_whose_audit_event_cannot_be_written_is_done_and_says_why(  # type: ignore[no-untyped-def]
    settings: Settings, s3, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=settings.bucket, Key="e/1.jpg", Body=b"x")

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Unavailable("Could not write the audit event: the endpoint cannot be reached.")

    monkeypatch.setattr(r2.objects, "record", broken)
    outcome = delete_with_audit(s3, settings.bucket, ["e/1.jpg"], actor="ann@example.com")
    assert outcome.result.deleted == ("e/1.jpg",)
    assert "e/1.jpg" not in keys_in(s3, settings)
    assert "the endpoint cannot be reached" in outcome.audit_error


def test_a_refused_delete_deletes_nothing_and_records_nothing(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        delete_with_audit(s3, settings.bucket, [".dashboard/audit/x.json"], actor="ann@example.com")
    with pytest.raises(InvalidInput):
        delete_with_audit(s3, settings.bucket, [], actor="ann@example.com")
    assert recent(s3, settings.bucket) == []


def test_a_server_that_refuses_the_batch_delete_gets_one_delete_per_key(settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    # Servers that reject DeleteObjects' checksum header answer NotImplemented (or InvalidRequest, ...):
    # the delete then goes key by key instead of failing.
    for key in ("x/1.jpg", thumbnail_key("x/1.jpg")):
        s3.put_object(Bucket=settings.bucket, Key=key, Body=b"x")

    def refuse_batch_delete(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
        return "NotImplemented" if method == "POST" and "delete" in query else None

    with FaultProxy(settings.endpoint, rule=refuse_batch_delete) as proxy:
        result = delete(make_client(settings_for(proxy.url)), settings.bucket, ["x/1.jpg"])
    assert result.ok and result.deleted == ("x/1.jpg",)
    assert keys_in(s3, settings) == set()
    assert proxy.count("POST", "delete") == 1 and proxy.count("DELETE") == 2  # the original, its thumbnail
