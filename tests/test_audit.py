"""The audit log: reading newest first, filters, costs (counted S3 calls), CSV, the page, write failures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from r2 import audit
from r2.client import CallCounter
from r2.settings import Settings
from tests.support.apptest import configure, markdown_rows, open_panel, texts
from tests.support.cli import run as run_cli
from tests.support.env import ROOT, TEST_BUCKET, env_for

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret-0123456789abcdef",
    "client_id": "dashboard",
    "client_secret": "x",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ADMIN = {"is_logged_in": True, "email": "ann@example.com", "email_verified": True, "name": "Ann"}


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def at_(when: str) -> datetime:
    return datetime.fromisoformat(when).replace(tzinfo=UTC)


def write(s3, events: list[audit.AuditEvent]) -> None:  # type: ignore[no-untyped-def]
    for event in events:
        audit.record(s3, TEST_BUCKET, event)


def test_events_are_listed_newest_first_across_days_months_and_years(s3) -> None:  # type: ignore[no-untyped-def]
    times = ["2025-12-31T23:59:59", "2026-01-01T00:00:00", "2026-01-02T08:00:00", "2026-01-02T09:30:00"]
    times += ["2026-01-02T09:30:00.000001", "2026-02-10T12:00:00"]
    write(s3, [audit.AuditEvent("ann@x.org", "upload", f"uploads/{i}.png", at=at_(t)) for i, t in enumerate(times)])
    events = audit.recent(s3, TEST_BUCKET)
    assert [e.target for e in events] == [f"uploads/{i}.png" for i in (5, 4, 3, 2, 1, 0)]
    assert [e.at for e in events] == sorted((at_(t) for t in times), reverse=True)


def test_the_newest_events_cost_one_get_each_and_never_list_older_folders(s3, s3_calls: CallCounter) -> None:  # type: ignore[no-untyped-def]
    start = at_("2026-03-05T10:00:00")
    write(s3, [audit.AuditEvent("a@x.org", "delete", f"k{i}", at=start + timedelta(seconds=i)) for i in range(30)])
    write(s3, [audit.AuditEvent("a@x.org", "delete", f"old{i}", at=at_("2025-06-01T00:00:00")) for i in range(5)])
    s3_calls.reset()
    page = audit.query(s3, TEST_BUCKET, limit=10)
    assert [e.target for e in page.events] == [f"k{i}" for i in range(29, 19, -1)]
    assert page.complete and page.scanned == 10
    # years + months of 2026 + days of March + one listing of the newest day; 2025 is never opened.
    assert s3_calls.calls == {"ListObjectsV2": 4, "GetObject": 10}


def test_events_already_read_are_not_fetched_again(s3, s3_calls: CallCounter) -> None:  # type: ignore[no-untyped-def]
    write(s3, [audit.AuditEvent("a@x.org", "upload", f"k{i}", at=at_(f"2026-01-0{1 + i}T00:00:00")) for i in range(5)])
    cache: dict[str, audit.AuditEvent] = {}
    first = audit.query(s3, TEST_BUCKET, cache=cache)
    s3_calls.reset()
    second = audit.query(s3, TEST_BUCKET, cache=cache)
    assert second == first and len(second.events) == 5
    assert s3_calls.calls["GetObject"] == 0


def test_filters_by_date_user_action_and_outcome(s3, s3_calls: CallCounter) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ("ann@example.com", "upload", "ok", "2026-01-01T10:00:00"),
        ("bob@example.com", "delete", "ok", "2026-01-02T10:00:00"),
        ("ann@example.com", "cors.apply", "failed", "2026-01-03T10:00:00"),
        ("bob@example.com", "upload", "refused", "2026-02-01T10:00:00"),
        ("ann@example.com", "delete", "ok", "2026-03-01T10:00:00"),
    ]
    write(s3, [audit.AuditEvent(a, act, f"t-{d[:10]}", out, at=at_(d)) for a, act, out, d in rows])

    def targets(**kwargs) -> list[str]:  # type: ignore[no-untyped-def]
        return [e.target for e in audit.query(s3, TEST_BUCKET, **kwargs).events]

    assert targets(since=date(2026, 1, 2), until=date(2026, 2, 1)) == ["t-2026-02-01", "t-2026-01-03", "t-2026-01-02"]
    assert targets(since=date(2026, 1, 3), until=date(2026, 1, 3)) == ["t-2026-01-03"]
    assert targets(keep=lambda e: e.actor.startswith("bob")) == ["t-2026-02-01", "t-2026-01-02"]
    assert targets(keep=lambda e: e.action == "delete") == ["t-2026-03-01", "t-2026-01-02"]
    assert targets(keep=lambda e: e.outcome != "ok", limit=1) == ["t-2026-02-01"]
    s3_calls.reset()
    assert targets(since=date(2026, 3, 1)) == ["t-2026-03-01"]
    assert s3_calls.calls["GetObject"] == 1, "a date filter reads only that date's events"


def test_the_page_and_the_command_line_filter_events_alike() -> None:
    events = [
        audit.AuditEvent("Ann@x.org", "delete", "a", "ok"),
        audit.AuditEvent("bob@x.org", "delete", "b", "failed"),
        audit.AuditEvent("bob@x.org", "upload", "c", "ok"),
    ]

    def kept(**filters: object) -> list[str]:
        keep = audit.matching(**filters)  # type: ignore[arg-type]
        return [e.target for e in events if keep(e)]

    assert kept() == ["a", "b", "c"]
    assert kept(actor="ANN") == ["a"]  # a case-insensitive part of the user
    assert kept(actions=("delete",)) == ["a", "b"] and kept(actions=("delete", "upload"), outcome="ok") == ["a", "c"]
    assert kept(actor="bob", outcome="failed") == ["b"]


def test_a_scan_cap_says_the_result_is_incomplete(s3) -> None:  # type: ignore[no-untyped-def]
    write(s3, [audit.AuditEvent("a@x.org", "upload", f"k{i}", at=at_("2026-01-01T00:00:00")) for i in range(6)])
    page = audit.query(s3, TEST_BUCKET, keep=lambda e: e.action == "delete", max_reads=4)
    assert page.events == () and page.scanned == 4 and not page.complete
    assert audit.query(s3, TEST_BUCKET, keep=lambda e: e.action == "delete").complete


def test_objects_that_are_not_events_are_skipped_and_counted(s3) -> None:  # type: ignore[no-untyped-def]
    write(s3, [audit.AuditEvent("a@x.org", "upload", "good", at=at_("2026-01-01T00:00:00"))])
    s3.put_object(Bucket=TEST_BUCKET, Key=f"{audit.AUDIT_PREFIX}2026/01/01/zzz.json", Body=b"{not json")
    s3.put_object(Bucket=TEST_BUCKET, Key=f"{audit.AUDIT_PREFIX}2026/13/40/x.json", Body=b"{}")  # not a date
    page = audit.query(s3, TEST_BUCKET)
    assert [e.target for e in page.events] == ["good"] and page.unreadable == 1


def test_csv_export_keeps_every_field_and_neutralises_formulas() -> None:
    events = [
        audit.AuditEvent("ann@example.com", "upload", '=HYPERLINK("http://evil")', "ok", 'a, "quoted"\nline'),
        audit.AuditEvent("@bob", "delete", "-rm.png", "failed", "+1", at=at_("2026-01-02T03:04:05")),
    ]
    rows = list(csv.reader(io.StringIO(audit.to_csv(events))))
    assert rows[0] == list(audit.CSV_COLUMNS)
    assert rows[1][1:] == ["ann@example.com", "upload", '\'=HYPERLINK("http://evil")', "ok", 'a, "quoted"\nline']
    assert rows[2] == ["2026-01-02T03:04:05+00:00", "'@bob", "delete", "'-rm.png", "failed", "'+1"]


def audit_page(monkeypatch: pytest.MonkeyPatch, settings: Settings, **query: str) -> AppTest:
    configure(monkeypatch, settings.endpoint, "none")
    at = AppTest.from_file(str(ROOT / "pages" / "audit.py"))
    at.secrets = {"auth": AUTH, "roles": {"admin": {"emails": ["ann@example.com"]}}}
    at.user = dict(ADMIN)
    at.query_params = dict(query)
    return at.run(timeout=30)


def test_audit_page_lists_filters_and_exports(monkeypatch: pytest.MonkeyPatch, settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC).replace(microsecond=0)
    write(
        s3,
        [
            audit.AuditEvent("ann@example.com", "upload", "uploads/<img src=x onerror=alert(1)>.png", at=now),
            audit.AuditEvent("bob@example.com", "delete", "uploads/b.png", "failed", at=now + timedelta(seconds=1)),
            audit.AuditEvent("bob@example.com", "cors.apply", "bucket CORS", at=now + timedelta(seconds=2)),
        ],
    )
    at = audit_page(monkeypatch, settings)
    assert not at.exception and not at.error
    assert at.title[0].value == "Audit"
    table = markdown_rows(at, "Action")
    assert [row["Action"] for row in table] == ["cors.apply", "delete", "upload"]
    assert table[2]["Target"] == "uploads/<img src=x onerror=alert(1)>.png"  # shown literally
    assert "\\<img src" in texts(at, "markdown")  # escaped: Markdown never draws it as HTML
    assert at.get("download_button"), "CSV export offered"

    at.text_input[0].set_value("BOB").run(timeout=30)
    assert [row["User"] for row in markdown_rows(at, "Action")] == ["bob@example.com", "bob@example.com"]
    assert at.query_params["user"] == "BOB"  # a deep link to this view
    at.multiselect[0].set_value(["delete"]).run(timeout=30)
    assert [row["Target"] for row in markdown_rows(at, "Action")] == ["uploads/b.png"]
    at.text_input[0].set_value("nobody").run(timeout=30)
    assert not markdown_rows(at, "Action") and "No event matches" in at.info[0].value

    linked = audit_page(monkeypatch, settings, user="bob", action="cors.apply")  # a shared link
    assert linked.text_input[0].value == "bob" and linked.multiselect[0].value == ["cors.apply"]
    assert [row["Target"] for row in markdown_rows(linked, "Action")] == ["bucket CORS"]


def test_the_newest_events_are_a_plain_table_and_all_of_them_a_click_away(  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch, settings: Settings, s3
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    keys = " ".join(f"uploads/{n:04d}.png" for n in range(100))  # a bulk action's detail: every key
    events = [
        audit.AuditEvent("ann@example.com", "upload", f"uploads/{n}.png", at=start + timedelta(seconds=n))
        for n in range(70)
    ]
    events.append(
        audit.AuditEvent("ann@example.com", "bulk.delete", "100 objects", detail=keys, at=start + timedelta(minutes=5))
    )
    write(s3, events)
    at = audit_page(monkeypatch, settings)
    rows = markdown_rows(at, "Action")
    assert len(rows) == 50 and rows[0]["Target"] == "100 objects" and rows[1]["Target"] == "uploads/69.png"
    assert rows[0]["Detail"].startswith("uploads/0000.png") and rows[0]["Detail"].endswith("…")
    assert len(rows[0]["Detail"]) == 160
    assert "The newest 50 of 71 events" in texts(at, "caption") and not at.dataframe
    at = open_panel(at, "audit_all")
    grid = at.dataframe[0].value
    assert len(grid) == 71 and grid["Detail"].iloc[0] == keys  # every event, the detail whole


def test_more_filters_are_drawn_when_opened(monkeypatch: pytest.MonkeyPatch, settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    """User and action are in view; dates, outcome and how many events sit under More filters (no date
    picker or drop-down script for a browser landing on the page). Opened, they filter."""
    now = datetime.now(UTC).replace(microsecond=0)
    write(
        s3,
        [
            audit.AuditEvent("ann@example.com", "upload", "uploads/a.png", at=now),
            audit.AuditEvent("bob@example.com", "delete", "uploads/b.png", "failed", at=now + timedelta(seconds=1)),
        ],
    )
    at = audit_page(monkeypatch, settings)
    assert not at.date_input and not at.selectbox and len(markdown_rows(at, "Action")) == 2
    at = open_panel(at, "audit_more")
    assert [w.label for w in at.selectbox] == ["Outcome", "Events to show"] and at.date_input
    at.selectbox[0].set_value("failed").run(timeout=30)
    assert [row["Target"] for row in markdown_rows(at, "Action")] == ["uploads/b.png"]


def test_audit_page_on_an_empty_log_explains_itself(monkeypatch: pytest.MonkeyPatch, settings: Settings, s3) -> None:  # type: ignore[no-untyped-def]
    at = audit_page(monkeypatch, settings)
    assert not at.exception and not at.error
    assert "No events yet" in at.info[0].value


def _record_into_missing_bucket(endpoint: str) -> None:
    import streamlit as st

    from r2.client import make_client
    from tests.support.env import settings_for
    from ui.audit import log_event
    from ui.auth import Visitor

    client = make_client(settings_for(endpoint))
    ok = log_event(client, "no-such-bucket", Visitor("Ann", "ann@example.com", frozenset()), "delete", "uploads/a.png")
    st.text(f"recorded={ok}")


def test_an_event_that_cannot_be_written_is_reported_to_the_user(s3_endpoint: str) -> None:
    at = AppTest.from_function(_record_into_missing_bucket, args=(s3_endpoint,)).run(timeout=30)
    assert not at.exception
    assert at.text[0].value == "recorded=False"
    assert "audit log could not record it" in at.warning[0].value


def test_log_event_writes_who_what_and_outcome(s3, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    def script(endpoint: str) -> None:
        from r2.client import make_client
        from tests.support.env import settings_for
        from ui.audit import log_event
        from ui.auth import Visitor

        visitor = Visitor("Ann", "ann@example.com", frozenset(), "oidc")
        log_event(make_client(settings_for(endpoint)), "test-bucket", visitor, "cors.rollback", "CORS", "ok", "to v3")

    at = AppTest.from_function(script, args=(settings.endpoint,)).run(timeout=30)
    assert not at.exception and not at.warning
    (event,) = audit.recent(s3, TEST_BUCKET)
    assert (event.actor, event.action, event.target, event.outcome, event.detail) == (
        "ann@example.com",
        "cors.rollback",
        "CORS",
        "ok",
        "to v3",
    )
    assert abs(event.at - datetime.now(UTC)) < timedelta(minutes=5)


def test_command_line_lists_filters_and_exports(s3, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    from r2.cli import Context, main

    write(
        s3,
        [
            audit.AuditEvent("ann@example.com", "upload", "uploads/a.png", at=at_("2026-01-01T10:00:00")),
            audit.AuditEvent("bob@example.com", "delete", "=cmd.png", "failed", at=at_("2026-01-02T10:00:00")),
        ],
    )
    environ = env_for(settings.endpoint)

    def run(*argv: str) -> tuple[int, str, str]:
        return run_cli(["audit", *argv], environ)

    code, out, _ = run()
    assert code == 0 and out.index("bob@example.com") < out.index("ann@example.com")
    code, out, _ = run("--user", "ANN", "--csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and [r[1] for r in rows[1:]] == ["ann@example.com"]
    code, out, _ = run("--action", "delete", "--csv")
    assert list(csv.reader(io.StringIO(out)))[1][3] == "'=cmd.png"
    code, out, _ = run("--since", "2026-01-02", "--json")
    assert code == 0 and '"target": "=cmd.png"' in out and '"complete": true' in out
    assert run("--since", "yesterday")[0] == 2  # argparse's usage error
    assert main(["audit"], Context(out=io.StringIO(), err=io.StringIO(), environ={})) == 2  # no bucket configured


def test_an_event_deleted_between_listing_and_reading_is_skipped_not_an_error(s3, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    from r2.client import make_client

    write(s3, [audit.AuditEvent("a@x.org", "upload", t, at=at_("2026-01-01T00:00:00")) for t in ("kept", "gone")])
    gone = next(e["Key"] for e in s3.list_objects_v2(Bucket=TEST_BUCKET)["Contents"] if b'"gone"' in _body(s3, e))
    reader = make_client(settings)
    reader.meta.events.register(
        "before-parameter-build.s3.GetObject",
        lambda params, **_: s3.delete_object(Bucket=TEST_BUCKET, Key=gone) if params["Key"] == gone else None,
    )
    page = audit.query(reader, TEST_BUCKET, workers=1)
    assert [e.target for e in page.events] == ["kept"] and page.unreadable == 1


def _body(s3, listed) -> bytes:  # type: ignore[no-untyped-def]
    return bytes(s3.get_object(Bucket=TEST_BUCKET, Key=listed["Key"])["Body"].read())
