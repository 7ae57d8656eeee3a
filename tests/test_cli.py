"""The command line's frame: help, settings errors, exit codes, masked output."""

import json
import subprocess
import sys

import pytest

from r2.cli import Context, UsageError
from tests.support.cli import run
from tests.support.env import ROOT

SECRET = "cli-secret-value-never-printed-123"


def test_help_lists_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "r2", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "config" in result.stdout and "Exit status" in result.stdout


def test_config_masks_secrets() -> None:
    environ = {
        "R2_ENDPOINT": "http://127.0.0.1:9",
        "R2_ACCESS_KEY_ID": "key-id-12345678",
        "R2_SECRET_ACCESS_KEY": SECRET,
        "R2_BUCKET": "abc",
    }
    code, out, _ = run(["config", "--json"], environ)
    assert code == 0
    data = json.loads(out)
    assert data["target"] == "Custom S3 endpoint http://127.0.0.1:9"
    assert SECRET not in out and "key-id-12345678" not in out


def test_settings_problems_exit_2_with_one_line_each() -> None:
    code, out, err = run(["config"], {"R2_ACCOUNT_ID": "bad", "R2_SECRET_ACCESS_KEY": SECRET})
    assert code == 2
    assert "32 hexadecimal" in err and "R2_ACCESS_KEY_ID is missing" in err and "R2_BUCKET is missing" in err
    assert "Traceback" not in err and SECRET not in err + out


def test_commands_needing_the_bucket_refuse_without_credentials() -> None:
    with pytest.raises(UsageError) as info:
        Context(environ={}).connect()
    for name in ("R2_ACCOUNT_ID", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_BUCKET"):
        assert name in str(info.value)


def test_unknown_command_is_a_usage_error() -> None:
    code, _, _ = run(["frobnicate"], {})
    assert code == 2
