"""The Health page through AppTest against the real local S3 server."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from r2.client import S3Client
from r2.health import CHECK_NAMES
from r2.local import demo_cors_rules
from tests.support.apptest import configure, markdown_rows, rendered_text
from tests.support.env import ROOT, TEST_BUCKET

ORIGIN = "http://localhost:8501"


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def open_page(monkeypatch: pytest.MonkeyPatch, s3: S3Client, *, report_open: bool = True) -> AppTest:
    """The page as a developer opens it; `report_open`: with "Copy report" opened (its JSON drawn)."""
    configure(monkeypatch, s3.meta.endpoint_url, "developer")
    monkeypatch.setenv("R2_APP_ORIGIN", ORIGIN)
    at = AppTest.from_file(str(ROOT / "pages" / "health.py"))
    if report_open:
        at.session_state["health_report"] = True
    return at.run(timeout=60)


def put_app_cors(s3: S3Client) -> None:
    s3.put_bucket_cors(Bucket=TEST_BUCKET, CORSConfiguration={"CORSRules": demo_cors_rules(ORIGIN)})


def test_healthy_bucket_shows_every_check_and_overall_ok(monkeypatch: pytest.MonkeyPatch, s3: S3Client) -> None:
    put_app_cors(s3)
    at = open_page(monkeypatch, s3)
    assert not at.exception and not at.error and not at.warning
    assert "Everything works" in at.success[0].value
    text = rendered_text(at)
    for name in CHECK_NAMES:
        assert f"**{name.replace('(', chr(92) + '(').replace(')', chr(92) + ')')}**" in text, name
    report = json.loads(at.code[0].value)
    assert report["status"] == "ok" and len(report["checks"]) == len(CHECK_NAMES)
    assert report["settings"]["secret_access_key"] == "test…NDER"
    assert "SHOULD-NOT-RENDER" not in at.code[0].value + text
    known = markdown_rows(at, "Caught by")
    assert len(known) == 4 and "CORS for this app" in {row["Caught by"] for row in known}
    assert s3.list_objects_v2(Bucket=TEST_BUCKET).get("KeyCount") == 0  # probes removed


def test_missing_cors_is_an_error_with_its_fix_and_run_again_sees_the_repair(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client
) -> None:
    at = open_page(monkeypatch, s3)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 2  # the overall status and the one failed check
    assert "Something is broken" in errors[0]
    assert "CORS for this app" in errors[1] and "Fix:" in errors[1] and "AllowedOrigins" in errors[1]
    assert json.loads(at.code[0].value)["status"] == "fail"

    put_app_cors(s3)  # repaired meanwhile: "Run again" checks afresh
    at.button[0].click().run(timeout=60)
    assert not at.exception and not at.error
    assert "Everything works" in at.success[0].value


def test_a_repeat_visit_reuses_the_health_client(monkeypatch: pytest.MonkeyPatch, s3: S3Client) -> None:
    """Making a client costs 0.1-0.2 s of every visit: the page makes one per settings, not per run."""
    import r2.health.model

    made: list[object] = []
    real = r2.health.model.make_client

    def counted(*args: object, **kwargs: object) -> object:
        made.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(r2.health.model, "make_client", counted)
    put_app_cors(s3)
    for _ in range(2):
        at = open_page(monkeypatch, s3)
        assert not at.exception and "Everything works" in at.success[0].value
    assert len(made) == 1


def test_the_first_view_needs_no_code_block_or_table(monkeypatch: pytest.MonkeyPatch, s3: S3Client) -> None:
    """The known problems are a plain table and the report's JSON is drawn when asked for: a code block or
    `st.table` makes the browser load over 1 MB of script first (docs/bench/page_speed.md)."""
    put_app_cors(s3)
    at = open_page(monkeypatch, s3, report_open=False)
    assert not at.exception and "Everything works" in at.success[0].value
    assert not at.code and not at.table and not at.dataframe
    assert len(markdown_rows(at, "Caught by")) == 4
    at.session_state["health_report"] = True
    at.run(timeout=60)
    assert not at.exception
    assert json.loads(at.code[0].value)["status"] == "ok"
