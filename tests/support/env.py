"""Where the project is, the test bucket (its settings, its keys), and the rule for a missing outside tool."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from r2.settings import Settings, parse_settings

if TYPE_CHECKING:
    from r2.client import S3Client

ROOT = Path(__file__).resolve().parent.parent.parent
TEST_BUCKET = "test-bucket"


def env_for(endpoint: str, **extra: str) -> dict[str, str]:
    """The R2_* settings of the test bucket on `endpoint`, as environment values (for an app or the CLI)."""
    return {
        "R2_ENDPOINT": endpoint,
        "R2_ACCESS_KEY_ID": "test-access-key",
        "R2_SECRET_ACCESS_KEY": "test-secret-key-0123456789",
        "R2_BUCKET": TEST_BUCKET,
        **extra,
    }


def env_from(settings: Settings, **extra: str) -> dict[str, str]:
    """The R2_* environment values that give `settings` (its endpoint, keys and bucket) back."""
    return {
        "R2_ENDPOINT": settings.endpoint,
        "R2_ACCESS_KEY_ID": settings.access_key_id,
        "R2_SECRET_ACCESS_KEY": settings.secret_access_key,
        "R2_BUCKET": settings.bucket,
        **extra,
    }


def settings_for(endpoint: str, **extra: str) -> Settings:
    return parse_settings(env_for(endpoint, **extra))


def required_here() -> bool:
    """Must a missing browser or outside tool fail the run instead of skipping? (CI=true, or
    R2_REQUIRE_BROWSER=1, which .ci/run sets.)"""
    return os.environ.get("CI") == "true" or os.environ.get("R2_REQUIRE_BROWSER") == "1"


def require_tool(message: str) -> None:
    """Skip a test whose external tool is missing, but fail in CI (CI=true or R2_REQUIRE_BROWSER=1)."""
    if required_here():
        pytest.fail(message + " (required here: CI=true or R2_REQUIRE_BROWSER=1)")
    pytest.skip(message)


def give_bucket_the_app_cors(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch, origin: str = "http://localhost:8501"
) -> None:
    """Health runs its checks on open, and a bucket WITHOUT a CORS policy for the app is a real failure
    there (direct uploads would be blocked). Tests that only need the page to render healthy give the
    bucket the app's policy, as the demo bucket has."""
    from r2.local import demo_cors_rules

    monkeypatch.setenv("R2_APP_ORIGIN", origin)
    s3.put_bucket_cors(Bucket=TEST_BUCKET, CORSConfiguration={"CORSRules": demo_cors_rules(origin)})


def keys_in(s3: S3Client) -> set[str]:
    """Every key in the test bucket (up to 1,000: one LIST)."""
    return {o["Key"] for o in s3.list_objects_v2(Bucket=TEST_BUCKET).get("Contents", [])}
