"""The Usage page through AppTest against the real local S3 server."""

from __future__ import annotations

import json
import re

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from r2.audit import AUDIT_PREFIX, AuditEvent
from r2.client import S3Client
from r2.settings import Settings
from r2.usage import ScanStopped, UsageScan
from r2.usage.listing import Boto3Lister
from r2.usage.snapshots import history
from tests.support.apptest import button, configure, markdown_rows, markdown_tables, rendered_text
from tests.support.env import ROOT
from tests.support.fake_graphql import ACCOUNT, ANSWER, TOKEN, FakeGraphQL
from tests.support.seeding import seed

PAGE = str(ROOT / "pages" / "usage.py")
XSS = "weird/<img src=x onerror=alert(1)>.png"


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_empty_bucket_shows_how_to_start(monkeypatch: pytest.MonkeyPatch, s3: S3Client) -> None:
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    at = AppTest.from_file(PAGE).run(timeout=30)
    assert not at.exception and not at.error
    assert "No scan yet" in rendered_text(at)
    assert "one LIST call (Class A) per 1,000 objects" in rendered_text(at)
    button(at, "Scan now")


def test_scan_now_shows_results_saves_a_snapshot_and_audits(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings
) -> None:
    seed(settings.bucket, [("photos/a.jpg", 3000), ("photos/b.png", 1000), (XSS, 5), (".thumbs/photos/a.jpg.webp", 7)])
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    at = AppTest.from_file(PAGE).run(timeout=30)
    at = button(at, "Scan now").click().run(timeout=60)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert metrics(at)["Objects"] == "4"
    assert "Latest scan just now" in rendered_text(at)
    snapshots = history(s3, settings.bucket)
    assert len(snapshots) == 1 and (snapshots[0].objects, snapshots[0].bytes) == (4, 4012)
    audit_keys = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket, Prefix=AUDIT_PREFIX)["Contents"]]
    event = AuditEvent.from_json(s3.get_object(Bucket=settings.bucket, Key=audit_keys[0])["Body"].read())
    assert (event.action, event.target, event.outcome) == ("usage.scan", settings.bucket, "ok")
    assert "4 objects" in event.detail

    largest = markdown_rows(at, "open")
    assert [row["key"] for row in largest][:3] == ["photos/a.jpg", "photos/b.png", XSS]  # the key shown literally
    assert all(row["open"].startswith(f"[open](<{s3.meta.endpoint_url}") for row in largest)
    assert not re.search(r"(?<!\\)<img", "\n".join(m.value for m in at.markdown))  # escaped: shown as text
    assert "SHOULD-NOT-RENDER" not in rendered_text(at)
    downloads = [e for e in at.get("download_button")]
    assert len(downloads) == 4

    # A new visit opens on the saved snapshot without scanning
    st.cache_data.clear()
    again = AppTest.from_file(PAGE).run(timeout=30)
    assert not again.exception and metrics(again)["Objects"] == "4"
    assert "Latest scan" in rendered_text(again)


def test_the_first_view_needs_no_data_grid_or_chart_and_charts_open_on_demand(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings
) -> None:
    """A saved snapshot opens with its figures as plain tables: a data grid or a chart makes the browser
    load over 1 MB of script first (docs/bench/page_speed.md). A chart is one click away."""
    seed(settings.bucket, [("photos/a.jpg", 3000), ("docs/b.png", 1000), ("c.gif", 5)])
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    at = AppTest.from_file(PAGE).run(timeout=30)
    button(at, "Scan now").click().run(timeout=60)
    st.cache_data.clear()
    at = AppTest.from_file(PAGE).run(timeout=30)
    assert not at.exception and not at.error
    assert not at.dataframe and not at.get("vega_lite_chart")
    folders = markdown_rows(at, "folder")
    assert {row["folder"]: row["objects"] for row in folders} == {"photos/": "1", "docs/": "1", "(top level)": "1"}
    at.session_state["usage_chart_folders"] = True  # "Chart" opened in the Folders tab
    at.run(timeout=30)
    assert not at.exception and len(at.get("vega_lite_chart")) == 1


def test_catalog_figures_are_computed_once_per_catalog_version(monkeypatch: pytest.MonkeyPatch, s3: S3Client) -> None:
    """The catalog's totals and duplicates (DuckDB over every row) are not queried again on each visit."""
    import r2.catalog_reports

    calls: list[str] = []
    real = r2.catalog_reports.stats

    def counted(*args: object, **kwargs: object) -> object:
        calls.append("stats")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(r2.catalog_reports, "stats", counted)
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    for _ in range(2):
        assert not AppTest.from_file(PAGE).run(timeout=30).exception
    assert calls == ["stats"]


def test_a_paused_scan_can_be_resumed(monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings) -> None:
    seed(settings.bucket, [(f"p{p}/k{i:04d}.jpg", 2) for p in range(3) for i in range(1100)])
    job = UsageScan(Boto3Lister(s3, settings.bucket), settings.bucket, workers=1, client=s3)
    with pytest.raises(ScanStopped):
        job.run(should_stop=lambda: True)
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    at = AppTest.from_file(PAGE)
    at.session_state["usage_job"] = job
    at.run(timeout=30)
    assert not at.exception
    assert "A scan is paused at" in rendered_text(at)
    at = button(at, "Resume scan").click().run(timeout=60)
    assert not at.exception and not at.error
    assert metrics(at)["Objects"] == "3,300"
    assert "usage_job" not in at.session_state


def test_account_numbers_from_graphql(
    monkeypatch: pytest.MonkeyPatch,
    s3: S3Client,
    settings: Settings,
    graphql: FakeGraphQL,
) -> None:
    graphql.answer = ANSWER
    seed(settings.bucket, [("a/b.jpg", 1)])
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    monkeypatch.setenv("R2_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    monkeypatch.setenv("CLOUDFLARE_API_BASE", graphql.base)
    at = AppTest.from_file(PAGE).run(timeout=30)
    at = button(at, "Scan now").click().run(timeout=60)
    assert not at.exception and not at.error
    shown = metrics(at)
    assert shown["Class A, 31 days"] == "320" and shown["Objects (analytics)"] == "1,234"
    assert TOKEN not in rendered_text(at)
    assert json.loads(json.dumps(graphql.requests[0]["body"]["variables"]))["accountTag"] == ACCOUNT


def test_a_failed_audit_write_is_told_and_the_results_stay(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings
) -> None:
    import r2.audit
    from r2.errors import AccessDenied

    def refuse(*args: object, **kwargs: object) -> str:
        raise AccessDenied("Could not write the audit event: access denied.", "Check the token.")

    monkeypatch.setattr(r2.audit, "record", refuse)
    seed(settings.bucket, [("a/b.jpg", 5)])
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    at = AppTest.from_file(PAGE).run(timeout=30)
    at = button(at, "Scan now").click().run(timeout=60)
    assert not at.exception
    assert any("audit log could not record it" in w.value for w in at.warning)
    assert any("audit event" in e.value for e in at.error)
    assert metrics(at)["Objects"] == "1"


def test_a_scan_saved_by_a_replica_that_died_is_resumed_on_this_one(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings
) -> None:
    """The scan's state lives in the bucket, so a restart does not lose it."""
    from r2.usage import checkpoint as usage_checkpoint

    seed(settings.bucket, [(f"f{n % 2}/{n:04d}.jpg", 10) for n in range(2500)])
    dead = UsageScan(Boto3Lister(s3, settings.bucket), settings.bucket, client=s3, workers=1)
    calls = iter(range(100))
    with pytest.raises(ScanStopped):
        dead.run(should_stop=lambda: next(calls) >= 2)
    usage_checkpoint.save(s3, dead, actor="ann@example.com")  # what the other replica's page saved
    counted = dead.progress().objects  # how far it got depends on when the stop landed: read, not assumed
    assert 0 < counted < 2500
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    at = AppTest.from_file(PAGE).run(timeout=30)
    assert not at.exception
    assert f"A scan stopped at {counted:,} objects" in rendered_text(at) and "ann@example\\.com" in rendered_text(at)
    at = button(at, "Resume saved scan").click().run(timeout=60)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert metrics(at)["Objects"] == "2,500"
    assert usage_checkpoint.load(s3, settings.bucket) is None  # finished: nothing left to offer


def test_usage_opens_on_catalog_figures_with_their_age_without_a_scan(monkeypatch, s3) -> None:  # type: ignore[no-untyped-def]
    from r2.catalog import Catalog
    from r2.uploads import upload_files
    from tests.support import corpus
    from tests.support.env import settings_for

    settings = settings_for(s3.meta.endpoint_url)
    photo = corpus.plain("PNG")
    files = [("a.png", photo), ("b.jpg", corpus.jpeg_gps())]
    upload_files(s3, settings, files, actor="ann@example.com", catalog=Catalog(settings, s3))
    upload_files(
        s3, settings, [("a.png", photo)], actor="bob@example.com", catalog=Catalog(settings, s3), duplicates=True
    )
    configure(monkeypatch, s3.meta.endpoint_url, "admin")
    at = AppTest.from_file(str(ROOT / "pages" / "usage.py")).run(timeout=30)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Objects"] == "3" and metrics["Wasted by duplicates"] != "0 B"
    assert any("Catalog updated" in c.value for c in at.caption)
    uploaders = next(
        rows for rows in markdown_tables(at, "name") if any(row["name"] == "ann@example.com" for row in rows)
    )
    assert {row["name"]: row["objects"] for row in uploaders} == {"ann@example.com": "2", "bob@example.com": "1"}
