"""`python -m r2 cors ...` against the real local S3 server."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from r2 import cors, cors_store
from r2.cli import Context, main
from r2.client import S3Client
from r2.settings import Settings
from tests.support.cli import run as run_cli
from tests.support.env import env_from
from tests.support.fault_proxy import fault_proxy

APP = "http://localhost:8501"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(argv: list[str], settings: Settings) -> tuple[int, str, str]:
    return run_cli(argv, env_from(settings, R2_APP_ORIGIN=APP))


@pytest.fixture
def preset_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(cors.preset(APP).to_json("dashboard"))
    return path


def test_get_with_no_policy_is_a_normal_state(s3: S3Client, settings: Settings) -> None:
    code, out, _ = run(["cors", "get"], settings)
    assert code == 0 and "has no CORS policy" in out
    code, out, _ = run(["cors", "get", "--json"], settings)
    assert code == 0 and json.loads(out) is None


def test_set_then_get_both_formats(s3: S3Client, settings: Settings, preset_file: Path) -> None:
    code, out, err = run(["cors", "set", str(preset_file), "--yes", "--reason", "uploads"], settings)
    assert code == 0, err
    assert "saved as version" in out and "30 seconds" in out
    assert cors_store.read_policy(s3, settings.bucket) == cors.preset(APP)
    code, out, _ = run(["cors", "get", "--json"], settings)
    assert json.loads(out) == cors.preset(APP).to_s3()
    code, out, _ = run(["cors", "get", "--json", "--format", "dashboard"], settings)
    assert json.loads(out) == json.loads(preset_file.read_text())
    code, out, _ = run(["cors", "get"], settings)
    assert "Methods: GET, PUT, HEAD" in out


def test_set_refuses_an_invalid_policy_with_its_problems(s3: S3Client, settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"AllowedOrigins": ["http://localhost:8501/"], "AllowedMethods": ["OPTIONS"]}]))
    code, out, _ = run(["cors", "set", str(bad), "--yes"], settings)
    assert code == 1
    assert "Rule 1, AllowedOrigins" in out and "Rule 1, AllowedMethods" in out and "nothing was sent" in out
    assert cors_store.read_policy(s3, settings.bucket) is None


def test_destructive_commands_refuse_without_a_terminal_or_yes(
    s3: S3Client, settings: Settings, preset_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = run(["cors", "set", str(preset_file)], settings)
    assert code == 1 and "--yes" in err
    assert cors_store.read_policy(s3, settings.bucket) is None
    cors_store.apply(s3, settings.bucket, cors.preset(APP), actor="t")
    for argv in (["cors", "delete"], ["cors", "rollback"]):
        code, _, err = run(argv, settings)
        assert code == 1 and "not a terminal" in err
    assert cors_store.read_policy(s3, settings.bucket) == cors.preset(APP)


def test_a_terminal_answer_decides(
    s3: S3Client, settings: Settings, preset_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", Tty("n\n"))
    code, _, err = run(["cors", "set", str(preset_file)], settings)
    assert code == 1 and "cancelled" in err and cors_store.read_policy(s3, settings.bucket) is None
    monkeypatch.setattr("sys.stdin", Tty("y\n"))
    code, _, _ = run(["cors", "set", str(preset_file)], settings)
    assert code == 0 and cors_store.read_policy(s3, settings.bucket) == cors.preset(APP)


def test_lint_exit_codes(settings: Settings, tmp_path: Path, preset_file: Path) -> None:
    code, out, _ = run(["cors", "lint", str(preset_file)], settings)
    assert code == 0 and "valid: 1 rule(s), 0 warning(s)" in out
    weak = tmp_path / "weak.json"
    weak.write_text(json.dumps([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"]}]))
    code, out, _ = run(["cors", "lint", str(weak)], settings)
    assert code == 0 and "warning: Rule 1, AllowedHeaders: allows PUT but not the header content-type" in out
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    code, out, _ = run(["cors", "lint", str(broken)], settings)
    assert code == 1 and "not valid JSON" in out
    code, _, err = run(["cors", "lint", str(tmp_path / "missing.json")], settings)
    assert code == 2 and "cannot read" in err


def test_check_sends_a_real_preflight(s3: S3Client, settings: Settings) -> None:
    code, out, _ = run(["cors", "check", "--origin", APP, "--method", "PUT", "--header", "content-type"], settings)
    assert code == 1 and "blocked" in out and "no CORS policy" in out
    cors_store.apply(s3, settings.bucket, cors.preset(APP), actor="t")
    argv = [
        "cors",
        "check",
        "--origin",
        APP,
        "--method",
        "PUT",
        "--header",
        "content-type",
        "--header",
        "if-none-match",
    ]
    code, out, _ = run(argv, settings)
    assert code == 0 and "allowed" in out and "matching rule: 1" in out
    code, out, _ = run(["cors", "check", "--origin", "https://evil.example", "--method", "PUT"], settings)
    assert code == 1 and "no rule lists the origin https://evil.example" in out


def test_history_rollback_and_delete(s3: S3Client, settings: Settings, preset_file: Path) -> None:
    code, out, _ = run(["cors", "history"], settings)
    assert code == 0 and "No CORS history yet" in out
    run(["cors", "set", str(preset_file), "--yes", "--reason", "first"], settings)
    code, out, _ = run(["cors", "delete", "--yes"], settings)
    assert code == 0 and cors_store.read_policy(s3, settings.bucket) is None
    code, out, _ = run(["cors", "history", "--json"], settings)
    entries = json.loads(out)
    assert [e["action"] for e in entries] == ["cors.delete", "cors.apply"]
    assert entries[1]["reason"] == "first" and entries[1]["actor"].startswith("cli")
    code, out, _ = run(["cors", "rollback", entries[0]["version"], "--yes"], settings)
    assert code == 0 and cors_store.read_policy(s3, settings.bucket) == cors.preset(APP)
    code, out, _ = run(["cors", "history"], settings)
    assert out.count("cors.") == 3 and "why: first" in out
    code, _, err = run(["cors", "rollback", "nope", "--yes"], settings)
    assert code == 1 and "no CORS history version" in err


def test_cli_refuses_a_policy_file_that_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_bytes(b"\xff\xfe\x80binary")
    out, err = io.StringIO(), io.StringIO()
    code = main(["cors", "lint", str(path)], Context(out=out, err=err, environ={}))
    assert code == 2 and "not UTF-8 text" in err.getvalue()


def test_check_splits_a_comma_list_of_headers(s3: S3Client, settings: Settings) -> None:
    cors_store.apply(s3, settings.bucket, cors.preset(APP), actor="t")
    argv = ["cors", "check", "--origin", APP, "--method", "PUT", "--header", "content-type, if-none-match"]
    code, out, _ = run(argv, settings)
    assert code == 0 and out.startswith("allowed") and "matching rule: 1" in out, out


def r2_refuses_delete(method: str, path: str, query: str, headers: dict[str, str]) -> str | None:
    """R2 refuses a preflight whose method no rule allows (403); moto checks only the origin."""
    asked = {k.lower(): v for k, v in headers.items()}.get("access-control-request-method")
    return "AccessForbidden" if method == "OPTIONS" and asked == "DELETE" else None


def test_check_says_what_failed_when_the_server_refuses_the_preflight(s3: S3Client, settings: Settings) -> None:
    cors_store.apply(s3, settings.bucket, cors.preset(APP), actor="t")
    with fault_proxy(settings.endpoint, rule=r2_refuses_delete) as proxy:
        via_proxy = settings.with_endpoint(proxy.endpoint, settings.access_key_id, settings.secret_access_key)
        code, out, _ = run(["cors", "check", "--origin", APP, "--method", "DELETE"], via_proxy)
    assert code == 1 and "HTTP 403" in out, out
    assert "matched the origin" not in out and "no rule lists the origin" not in out, out
    assert "DELETE is not in its AllowedMethods" in out, out


@pytest.mark.parametrize("method", ["", " "])
def test_check_refuses_an_empty_method_before_sending_anything(settings: Settings, method: str) -> None:
    with fault_proxy(settings.endpoint) as proxy:
        via_proxy = settings.with_endpoint(proxy.endpoint, settings.access_key_id, settings.secret_access_key)
        code, _, err = run(["cors", "check", "--origin", APP, "--method", method], via_proxy)
        sent = sum(proxy.seen.values())
    assert code == 2 and "method" in err, err
    assert sent == 0
