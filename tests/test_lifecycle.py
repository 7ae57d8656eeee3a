"""Lifecycle rules (issue #18 item 6): R2's subset validated before sending, round trip on the local
server, history and rollback, and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from r2 import lifecycle
from r2.client import S3Client
from r2.errors import InvalidInput
from tests.conftest import TEST_BUCKET, env_for
from tests.test_cli import run

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
    assert lifecycle.problems_of([ARCHIVE, ARCHIVE]) == ["rule 'old-archive': the ID is used twice"]


def test_rules_round_trip_with_history_and_rollback(s3: S3Client) -> None:
    assert lifecycle.read(s3, B) == []
    first = lifecycle.apply(s3, B, [ARCHIVE, lifecycle.abort_uploads_rule(7)], actor="ann")
    assert first.before == [] and lifecycle.diff(first.after, [ARCHIVE, lifecycle.abort_uploads_rule(7)]) == ""
    second = lifecycle.apply(s3, B, [COLD], actor="ann")
    assert "old-archive" in lifecycle.diff(second.before, second.after)
    assert [e["version"] for e in lifecycle.history(s3, B)] == [second.version, first.version]
    lifecycle.rollback(s3, B, actor="ann")
    assert lifecycle.diff(lifecycle.read(s3, B), [ARCHIVE, lifecycle.abort_uploads_rule(7)]) == ""
    lifecycle.rollback(s3, B, actor="ann", version=first.version)
    assert lifecycle.read(s3, B) == []


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
