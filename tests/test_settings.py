from pathlib import Path

import pytest

from r2.errors import SettingsError
from r2.settings import load_settings, mask, parse_settings

ACCOUNT = "0123456789abcdef0123456789abcdef"
SECRET = "s3cr3t-VALUE-that-must-never-show-9f8e7d"


def r2_raw(**extra: str) -> dict[str, str]:
    return {
        "R2_ACCOUNT_ID": ACCOUNT,
        "R2_ACCESS_KEY_ID": "AKIDEXAMPLE1234567890",
        "R2_SECRET_ACCESS_KEY": SECRET,
        "R2_BUCKET": "app-images",
        **extra,
    }


def problems_of(raw: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as info:
        parse_settings(raw)
    return info.value.problems


def test_no_credentials_means_local_demo_mode() -> None:
    settings = parse_settings({})
    assert settings.mode == "local"
    assert settings.bucket == "app-images"
    assert settings.endpoint == ""


def test_endpoint_is_derived_from_account_id() -> None:
    settings = parse_settings(r2_raw())
    assert settings.mode == "r2"
    assert settings.endpoint == f"https://{ACCOUNT}.r2.cloudflarestorage.com"


@pytest.mark.parametrize("jurisdiction", ["eu", "fedramp", "us"])
def test_jurisdiction_endpoints(jurisdiction: str) -> None:
    settings = parse_settings(r2_raw(R2_JURISDICTION=jurisdiction))
    assert settings.endpoint == f"https://{ACCOUNT}.{jurisdiction}.r2.cloudflarestorage.com"


def test_account_id_is_taken_from_an_r2_endpoint() -> None:
    raw = r2_raw(R2_ENDPOINT=f"https://{ACCOUNT}.eu.r2.cloudflarestorage.com/")
    del raw["R2_ACCOUNT_ID"]
    settings = parse_settings(raw)
    assert (settings.account_id, settings.jurisdiction, settings.mode) == (ACCOUNT, "eu", "r2")


def test_custom_endpoint_needs_no_account_id() -> None:
    settings = parse_settings(
        {
            "R2_ENDPOINT": "http://127.0.0.1:9000",
            "R2_ACCESS_KEY_ID": "a",
            "R2_SECRET_ACCESS_KEY": "b",
            "R2_BUCKET": "b1b",
        }
    )
    assert settings.mode == "custom"
    assert settings.describe_target() == "Custom S3 endpoint http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (r2_raw(R2_ACCOUNT_ID="not-hex"), "32 hexadecimal"),
        (r2_raw(R2_SECRET_ACCESS_KEY=""), "R2_SECRET_ACCESS_KEY is missing"),
        (r2_raw(R2_ACCESS_KEY_ID=""), "R2_ACCESS_KEY_ID is missing"),
        (r2_raw(R2_BUCKET="Bad_Bucket"), "not a valid bucket name"),
        (r2_raw(R2_BUCKET=""), "R2_BUCKET is missing"),
        (r2_raw(R2_ENDPOINT=f"http://{ACCOUNT}.r2.cloudflarestorage.com"), "https"),
        (r2_raw(R2_ENDPOINT="https://ffffffffffffffffffffffffffffffff.r2.cloudflarestorage.com"), "does not match"),
        (r2_raw(R2_ENDPOINT="https://example.com/bucket"), "must not contain a path"),
        (r2_raw(R2_ENDPOINT="http://storage.example.com"), "plain http"),
        (r2_raw(R2_ENDPOINT="ftp://x"), "must be a URL"),
        (r2_raw(R2_JURISDICTION="mars"), "R2_JURISDICTION"),
        (r2_raw(R2_JURISDICTION="eu", R2_ENDPOINT=f"https://{ACCOUNT}.r2.cloudflarestorage.com"), "jurisdiction"),
        (r2_raw(R2_MAX_UPLOAD_MB="ten"), "must be a number"),
        (r2_raw(R2_PREVIEW_TTL_SECONDS="700000"), "between"),
        (r2_raw(R2_FOLDERS="../etc"), "R2_FOLDERS"),
        (r2_raw(R2_IMAGE_FORMATS="png,svg"), "SVG"),
        (r2_raw(R2_STRIP_METADATA="some"), "R2_STRIP_METADATA"),
        (r2_raw(R2_APP_ORIGIN="https://app.example.com/path"), "R2_APP_ORIGIN"),
        (r2_raw(R2_DEFAULT_ROLE="root"), "R2_DEFAULT_ROLE"),
        ({"R2_ACCESS_KEY_ID": "a", "R2_SECRET_ACCESS_KEY": "b", "R2_BUCKET": "abc"}, "Set R2_ACCOUNT_ID"),
    ],
)
def test_each_problem_has_an_actionable_message(raw: dict[str, str], expected: str) -> None:
    problems = problems_of(raw)
    assert any(expected in p for p in problems), problems
    assert all(SECRET not in p for p in problems)


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(
        {"R2_ACCOUNT_ID": "xyz", "R2_ACCESS_KEY_ID": "a", "R2_BUCKET": "B", "R2_MAX_UPLOAD_MB": "-1"}
    )
    assert len(problems) == 4, problems


def test_secrets_are_masked_in_repr_and_masked_view() -> None:
    settings = parse_settings(r2_raw(CLOUDFLARE_API_TOKEN="cf-token-value-123456789"))
    for text in (repr(settings), str(settings), str(settings.masked())):
        assert SECRET not in text
        assert "cf-token-value-123456789" not in text
    assert settings.masked()["secret_access_key"] == mask(SECRET) == "s3cr…8e7d"


def test_mask_never_reveals_short_values() -> None:
    assert mask("short") == "………"
    assert mask("") == ""


def test_precedence_env_over_dotenv_over_secrets_toml(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[r2]\nbucket = "from-secrets"\nR2_ACCOUNT_ID = "{ACCOUNT}"\nfolders = ["a", "b"]\n')
    dotenv = tmp_path / ".env"
    dotenv.write_text("R2_BUCKET=from-dotenv\nR2_ACCESS_KEY_ID=k\nR2_SECRET_ACCESS_KEY=s\n")
    from_files = load_settings({}, dotenv, secrets)
    assert from_files.bucket == "from-dotenv"
    assert from_files.folders == ("a", "b")
    assert from_files.account_id == ACCOUNT
    from_env = load_settings({"R2_BUCKET": "from-env"}, dotenv, secrets)
    assert from_env.bucket == "from-env"


def test_broken_secrets_toml_is_a_clear_problem(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[r2\nR2_SECRET_ACCESS_KEY = "leak-me"\n')
    with pytest.raises(SettingsError) as info:
        load_settings({}, None, secrets)
    assert "not valid TOML" in str(info.value)
    assert "leak-me" not in str(info.value)
