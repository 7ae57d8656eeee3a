"""The Lifecycle page through AppTest, against the real local S3 server.

Table edits are seeded the way the browser sends them: the data editor's edit state (edited_rows,
added_rows, deleted_rows) under its key in session state, before the run.
"""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from r2 import lifecycle
from r2.audit import recent
from r2.client import S3Client
from r2.lifecycle_table import ABORT, COLD, ENABLED, EXPIRE, ID, PREFIX
from r2.settings import Settings
from tests.support.apptest import configure, markdown_rows, open_panel, rendered_text
from tests.support.env import ROOT

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")

PAGE = str(ROOT / "pages" / "lifecycle.py")
ARCHIVE = {"ID": "old-archive", "Status": "Enabled", "Filter": {"Prefix": "archive/"}, "Expiration": {"Days": 365}}
RAW = {
    "ID": "raw",
    "Status": "Enabled",
    "Filter": {"Prefix": "raw/"},
    "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
}


def open_page(monkeypatch: pytest.MonkeyPatch, settings: Settings, role: str = "admin") -> AppTest:
    """The page with its editor open (with rules live, it starts closed: see the landing test)."""
    configure(monkeypatch, settings.endpoint, role)
    at = AppTest.from_file(PAGE).run(timeout=30)
    at.session_state["lc_edit"] = True
    return at.run(timeout=30)


def edit(at: AppTest, **state: Any) -> AppTest:
    """Seed the table's edits as the browser would send them, and rerun."""
    at.session_state["lc_rules"] = {"edited_rows": {}, "added_rows": [], "deleted_rows": []} | state
    return at.run(timeout=30)


def live(s3: S3Client, settings: Settings) -> lifecycle.Rules:
    return lifecycle.read(s3, settings.bucket)


def test_lands_on_the_rules_as_a_plain_table_and_edits_on_request(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings
) -> None:
    """With rules live, the page opens on them and their history as plain tables: no data grid, code block
    or drop-down, whose scripts the browser would fetch first. The editor and the comparison are a click away."""
    lifecycle.apply(s3, settings.bucket, [ARCHIVE, RAW], actor="t", reason="<b>why</b>")
    configure(monkeypatch, settings.endpoint, "admin")
    at = AppTest.from_file(PAGE).run(timeout=30)
    assert not at.exception and not at.error
    rules = markdown_rows(at, PREFIX)
    assert [(r[ID], r[PREFIX], r[EXPIRE], r[COLD], r[ENABLED]) for r in rules] == [
        ("old-archive", "archive/", "365", "", "yes"),
        ("raw", "raw/", "", "30", "yes"),
    ]
    assert [r["Why"] for r in markdown_rows(at, "Why")] == ["<b>why</b>"]  # shown literally
    assert not at.data_editor and not at.code and not at.selectbox and not at.dataframe
    at = open_panel(at, "lc_edit")
    assert list(at.data_editor(key="lc_rules").value[ID]) == ["old-archive", "raw"]


def test_shows_the_live_rules_in_the_table(monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings) -> None:
    lifecycle.apply(s3, settings.bucket, [ARCHIVE, RAW], actor="t")
    at = open_page(monkeypatch, settings)
    assert not at.exception and not at.error
    table = at.data_editor(key="lc_rules").value
    assert list(table[ID]) == ["old-archive", "raw"] and list(table[PREFIX]) == ["archive/", "raw/"]
    assert table[EXPIRE][0] == 365 and table[COLD][1] == 30 and bool(table[ENABLED][0])
    assert "No difference from the live rules" in rendered_text(at)
    assert at.button(key="lc_apply").disabled


def test_empty_state_explains_and_the_preset_applies_with_read_back(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings
) -> None:
    at = open_page(monkeypatch, settings)
    assert "has no lifecycle rules" in rendered_text(at) and "bills" in rendered_text(at)
    at.button(key="lc_preset").click().run(timeout=30)
    assert any("abort-incomplete-uploads-7d" in c.value for c in at.code)  # the diff, before sending
    assert live(s3, settings) == []
    at.text_input(key="lc_reason").input("stop paying for stale parts")
    at.button(key="lc_apply").click().run(timeout=30)
    assert not at.exception
    assert live(s3, settings) == [lifecycle.abort_uploads_rule(7)]
    assert "Applied and read back" in rendered_text(at)
    (entry,) = lifecycle.history(s3, settings.bucket)
    assert (entry.actor, entry.reason, entry.before) == ("Visitor", "stop paying for stale parts", None)
    assert recent(s3, settings.bucket)[0].action == "lifecycle.apply"


def test_edit_and_apply(monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings) -> None:
    lifecycle.apply(s3, settings.bucket, [ARCHIVE], actor="t")
    at = open_page(monkeypatch, settings)
    at = edit(
        at,
        edited_rows={0: {EXPIRE: 30}},
        added_rows=[{ID: "raw", PREFIX: "raw/", COLD: 30, ENABLED: True}, {ID: "parts", ABORT: 3}],
    )
    assert not at.exception and not at.error
    shown = "\n".join(c.value for c in at.code)
    assert '-      "Days": 365' in shown and '+      "Days": 30' in shown and '"ID": "parts"' in shown
    at.button(key="lc_apply").click().run(timeout=30)
    assert not at.exception
    parts = {
        "ID": "parts",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
    }
    wanted = [{**ARCHIVE, "Expiration": {"Days": 30}}, RAW, parts]
    assert lifecycle.diff(live(s3, settings), wanted) == ""
    assert at.button(key="lc_apply").disabled  # the table now shows the applied rules: nothing left to apply


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ({ID: "everything", EXPIRE: 30}, "would delete the app's own data"),
        ({ID: "", PREFIX: "tmp/", EXPIRE: 30}, "an ID of 1 to 255 characters is needed"),
        ({ID: "nothing", PREFIX: "tmp/"}, "no action"),
        ({ID: "old-archive", PREFIX: "tmp/", EXPIRE: 1}, "the ID is used twice"),
    ],
)
def test_invalid_rules_are_refused_in_words_and_nothing_is_sent(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings, row: dict[str, Any], says: str
) -> None:
    lifecycle.apply(s3, settings.bucket, [ARCHIVE], actor="t")
    at = edit(open_page(monkeypatch, settings), added_rows=[row])
    assert not at.exception
    assert any("Invalid: 1 problem(s). Nothing will be sent." in e.value for e in at.error)
    assert says.replace("'", "\\'") in rendered_text(at) or says in rendered_text(at)
    assert at.button(key="lc_apply").disabled
    assert live(s3, settings) == [ARCHIVE] and len(lifecycle.history(s3, settings.bucket)) == 1


def test_a_stale_edit_is_refused_with_the_difference(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings
) -> None:
    lifecycle.apply(s3, settings.bucket, [ARCHIVE], actor="t")
    at = open_page(monkeypatch, settings)
    lifecycle.apply(s3, settings.bucket, [RAW], actor="another admin")  # another tab or replica
    at = edit(at, edited_rows={0: {EXPIRE: 30}})
    at.button(key="lc_apply").click().run(timeout=30)
    assert not at.exception
    assert any("changed since you loaded it" in e.value for e in at.error)
    assert any('"ID": "raw"' in c.value for c in at.code)  # what the other admin set
    assert live(s3, settings) == [RAW]
    at.button(key="lc_load").click().run(timeout=30)  # the way out: load the live rules, edit again
    assert list(at.data_editor(key="lc_rules").value[ID]) == ["raw"]


def test_rollback_from_the_history(monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings) -> None:
    first = lifecycle.apply(s3, settings.bucket, [ARCHIVE], actor="t")
    second = lifecycle.apply(s3, settings.bucket, [RAW], actor="t")
    at = open_panel(open_page(monkeypatch, settings), "lc_compare")
    assert at.selectbox(key="lc_history_version").value == second.version
    at.selectbox(key="lc_history_version").select(first.version).run(timeout=30)
    at.button(key="lc_rollback").click().run(timeout=30)
    assert not at.exception
    assert live(s3, settings) == []  # the rules before the first change: none
    assert f"Rolled back to the rules before version {first.version}" in rendered_text(at)
    assert recent(s3, settings.bucket)[0].action == "lifecycle.rollback"


def test_a_role_lost_after_the_page_was_drawn_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, s3: S3Client, settings: Settings
) -> None:
    at = open_page(monkeypatch, settings)
    at.button(key="lc_preset").click().run(timeout=30)
    monkeypatch.setenv("R2_DEFAULT_ROLE", "developer")  # an admin demoted meanwhile
    at.button(key="lc_apply").click().run(timeout=30)
    assert not at.exception
    assert any("needs the **admin** role" in e.value for e in at.error)
    assert live(s3, settings) == [] and lifecycle.history(s3, settings.bucket) == []
