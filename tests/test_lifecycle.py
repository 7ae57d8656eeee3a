"""Lifecycle rules: R2's subset validated before sending, round trip on the local
server, history and rollback, and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from r2 import lifecycle
from r2.audit import recent
from r2.client import CallCounter, S3Client
from r2.errors import Conflict, InvalidInput
from tests.support.cli import run
from tests.support.env import TEST_BUCKET, env_for

B = TEST_BUCKET
ARCHIVE = {"ID": "old-archive", "Status": "Enabled", "Filter": {"Prefix": "archive/"}, "Expiration": {"Days": 365}}
COLD = {
    "ID": "cold",
    "Status": "Enabled",
    "Filter": {"Prefix": "raw/"},
    "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
}


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({**ARCHIVE, "Filter": {"Prefix": ""}}, "app's own data"),
        ({**ARCHIVE, "Filter": {"Prefix": ".dashboard/audit/"}}, "app's own data"),
        ({**ARCHIVE, "Filter": {"Tag": {"Key": "a", "Value": "b"}}}, "prefix only"),
        ({**ARCHIVE, "Expiration": {"Days": 0}}, "1 or more"),
        ({**COLD, "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}, "STANDARD_IA"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": "a/"}}, "no action"),
        ({**ARCHIVE, "Status": "On"}, "Enabled or Disabled"),
        ({**ARCHIVE, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}, "does not support"),
    ],
)
def test_rules_r2_would_refuse_are_refused_before_sending(rule: dict[str, object], says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        lifecycle.require_valid([rule])


def test_the_apps_zips_and_the_abort_rule_are_allowed() -> None:
    zips = {**ARCHIVE, "ID": "zips", "Filter": {"Prefix": ".dashboard/zips/"}, "Expiration": {"Days": 1}}
    assert lifecycle.problems_of([zips, lifecycle.abort_uploads_rule(7), COLD]) == []


def test_the_backstop_for_unchecked_direct_uploads_that_the_guide_recommends_is_allowed() -> None:
    staged = {**ARCHIVE, "ID": "staged", "Filter": {"Prefix": ".dashboard/direct/"}, "Expiration": {"Days": 2}}
    assert lifecycle.problems_of([staged]) == []
    whole_reserved = {**staged, "Filter": {"Prefix": ".dashboard/"}}
    assert lifecycle.problems_of([whole_reserved])
    assert lifecycle.problems_of([ARCHIVE, ARCHIVE]) == ["rule 'old-archive': the ID is used twice"]


def test_rules_round_trip_with_history_and_rollback(s3: S3Client) -> None:
    assert lifecycle.read(s3, B) == []
    first = lifecycle.apply(s3, B, [ARCHIVE, lifecycle.abort_uploads_rule(7)], actor="ann")
    assert first.before == [] and lifecycle.diff(first.after, [ARCHIVE, lifecycle.abort_uploads_rule(7)]) == ""
    second = lifecycle.apply(s3, B, [COLD], actor="ann")
    assert "old-archive" in lifecycle.diff(second.before, second.after)
    assert [e.version for e in lifecycle.history(s3, B)] == [second.version, first.version]
    lifecycle.rollback(s3, B, actor="ann")
    assert lifecycle.diff(lifecycle.read(s3, B), [ARCHIVE, lifecycle.abort_uploads_rule(7)]) == ""
    lifecycle.rollback(s3, B, actor="ann", version=first.version)
    assert lifecycle.read(s3, B) == []


def test_a_stale_edit_is_refused_with_the_difference(s3: S3Client, s3_calls: CallCounter) -> None:
    """Two admins (two replicas, two tabs) loaded the same rules; the second to apply is refused and shown
    what the first one set, instead of silently undoing it."""
    lifecycle.apply(s3, B, [ARCHIVE], actor="ann")
    loaded = lifecycle.read(s3, B)
    lifecycle.apply(s3, B, [COLD], actor="bo", expected=loaded)  # bo applies first
    s3_calls.reset()
    with pytest.raises(lifecycle.StaleEdit) as refused:
        lifecycle.apply(s3, B, [ARCHIVE, lifecycle.abort_uploads_rule(7)], actor="ann", expected=loaded)
    assert "cold" in refused.value.difference and "changed since you loaded it" in str(refused.value)
    assert "PutBucketLifecycleConfiguration" not in s3_calls.calls
    assert lifecycle.diff(lifecycle.read(s3, B), [COLD]) == ""
    assert recent(s3, B)[0].outcome == "refused"


def test_a_change_in_progress_elsewhere_holds_the_lease(s3: S3Client) -> None:
    lease = lifecycle.STORE._take_lease(s3, B, "v-other", [COLD], None, "other replica", "lifecycle.apply")
    with pytest.raises(Conflict, match="Another lifecycle change is in progress"):
        lifecycle.apply(s3, B, [ARCHIVE], actor="ann")
    with pytest.raises(lifecycle.StaleEdit) as refused:
        lifecycle.apply(s3, B, [ARCHIVE], actor="ann", expected=[])
    assert "cold" in refused.value.difference  # what the other change is setting
    assert lifecycle.read(s3, B) == []
    lifecycle.STORE._release_lease(s3, B, lease)
    assert lifecycle.apply(s3, B, [ARCHIVE], actor="ann", expected=[]).after == [ARCHIVE]


def test_history_written_before_the_shared_store_still_loads_and_rolls_back(s3: S3Client) -> None:
    old = {"version": "20261101T000000000000Z", "at": "2026-11-01T00:00:00+00:00", "actor": "ann", "reason": ""}
    key = f"{lifecycle.HISTORY_PREFIX}{old['version']}.json"
    s3.put_object(Bucket=B, Key=key, Body=json.dumps(old | {"before": [COLD]}))
    (entry,) = lifecycle.history(s3, B)
    assert (entry.version, entry.action, entry.before) == (old["version"], "lifecycle.apply", [COLD])
    lifecycle.rollback(s3, B, actor="ann", version=old["version"])
    assert lifecycle.diff(lifecycle.read(s3, B), [COLD]) == ""


def test_cli_lifecycle_set_get_rollback(s3: S3Client, s3_endpoint: str, tmp_path: Path) -> None:
    env = env_for(s3_endpoint)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"Rules": [{**ARCHIVE, "Filter": {"Prefix": ""}}]}))
    code, _, err = run(["lifecycle", "set", str(path)], env)
    assert code == 1 and "app's own data" in err and lifecycle.read(s3, B) == []
    path.write_text(json.dumps({"Rules": [COLD]}))
    code, out, _ = run(["lifecycle", "set", str(path), "--dry-run"], env)
    assert code == 0 and "+" in out and lifecycle.read(s3, B) == []
    assert run(["lifecycle", "set", str(path)], env)[0] == 0
    code, out, _ = run(["lifecycle", "get"], env)
    assert code == 0 and json.loads(out)["Rules"][0]["ID"] == "cold"
    assert run(["lifecycle", "rollback"], env)[0] == 0 and lifecycle.read(s3, B) == []


def test_incomplete_uploads_are_counted_with_their_bytes_then_aborted(s3: S3Client) -> None:
    for key in ("a/big.bin", "b/other.bin"):
        upload = s3.create_multipart_upload(Bucket=B, Key=key)
        s3.upload_part(Bucket=B, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1000)
    found = lifecycle.find_incomplete(s3, B)
    assert found.count == 2 and found.bytes == 2000
    assert lifecycle.abort_incomplete(s3, B, found) == (2, [])
    assert lifecycle.find_incomplete(s3, B).count == 0


def test_usage_page_links_incomplete_uploads_to_the_rule_and_aborts_them_now(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client
) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.support.apptest import button, configure
    from tests.support.env import ROOT

    st.cache_resource.clear()
    st.cache_data.clear()
    s3.put_object(Bucket=B, Key="photos/a.jpg", Body=b"x")
    upload = s3.create_multipart_upload(Bucket=B, Key="photos/big.bin")
    s3.upload_part(Bucket=B, Key="photos/big.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"y" * 2048)
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    at = AppTest.from_file(str(ROOT / "pages" / "usage.py")).run(timeout=30)
    at = button(at, "Scan now").click().run(timeout=60)
    assert any("](/lifecycle)" in m.value for m in at.markdown), "the figure links to the Lifecycle page"
    at = button(at, "Add a rule: abort incomplete uploads after 7 days").click().run(timeout=30)
    assert not at.exception and lifecycle.read(s3, B) == [lifecycle.abort_uploads_rule(7)]
    at = button(at, "Abort the incomplete uploads now…").click().run(timeout=30)
    assert any("1 incomplete upload(s) holding 2.0 KiB" in w.value for w in at.warning), [w.value for w in at.warning]
    assert lifecycle.find_incomplete(s3, B).count == 1, "nothing aborted before the second click"
    at = button(at, "Abort 1 upload(s)").click().run(timeout=30)
    assert not at.exception and lifecycle.find_incomplete(s3, B).count == 0
