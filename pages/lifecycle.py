"""Lifecycle: the bucket's lifecycle rules as a table (admins): validate, diff, apply with read-back,
history and rollback. The logic is r2.lifecycle (through r2.config_store, as CORS); the glue ui.lifecycle_view."""

from typing import Any

import streamlit as st

from r2 import lifecycle, lifecycle_table
from r2.errors import R2Error
from ui.auth import require
from ui.feedback import show_error
from ui.lifecycle_view import (
    editor,
    history,
    history_rows,
    live_rules,
    load_editor,
    reload_live,
    rule_rows,
    run_change,
    show_flash,
)
from ui.light import drawn_when_open, show_rows
from ui.state import connection
from ui.text import escape_md

require("admin")
settings, client = connection()

st.title("Lifecycle")
st.caption(
    "R2 acts on objects by age, on its own schedule: it can **expire** (delete) objects under a prefix, "
    "**abort incomplete multipart uploads** (their parts are billed as storage until then) and move objects "
    "to **Infrequent Access** (cheaper storage, dearer reads) after N days. Rules filter by prefix only."
)
live, live_error = live_rules(client, settings)
if "lc_loaded" not in st.session_state:
    load_editor(live)
show_flash()
if live_error is not None:
    show_error(live_error)


def edit_rules(loaded: lifecycle.Rules) -> None:
    """The editable table, its check, the difference from the live rules, and Apply."""
    start, reload = st.columns(2)
    if start.button("Add the preset: abort incomplete uploads after 7 days", key="lc_preset"):
        rows = [r for r in st.session_state.lc_base if r[lifecycle_table.ID] != "abort-incomplete-uploads-7d"]
        st.session_state.lc_base = rows + lifecycle_table.rows_of([lifecycle.abort_uploads_rule(7)])
        st.session_state.pop("lc_rules", None)
    if reload.button("Load the live rules", icon=":material/refresh:", key="lc_load"):
        reload_live(client, settings)
    hidden = lifecycle_table.not_in_table(loaded)
    rows = editor(st.session_state.lc_base, disabled=bool(hidden))
    if hidden:
        st.info(
            "These rules cannot be edited in the table without losing something: "
            + escape_md("; ".join(hidden))
            + ". Edit them as JSON with `python -m r2 lifecycle set FILE`.",
            icon=":material/info:",
        )
    edited = loaded if hidden else lifecycle_table.rules_of(rows)
    problems = lifecycle.problems_of(edited)
    if problems:
        st.error(f"Invalid: {len(problems)} problem(s). Nothing will be sent.", icon=":material/block:")
        st.markdown("\n".join(f"- {escape_md(p)}" for p in problems))
    difference = lifecycle.diff(loaded, edited, "live", "edited")
    if difference:
        st.code(difference, language="diff")
    else:
        st.caption("No difference from the live rules.")
    reason = st.text_input("Why (kept in the history)", key="lc_reason")
    if st.button(
        "Apply",
        type="primary",
        icon=":material/publish:",
        key="lc_apply",
        disabled=bool(problems) or not difference,
    ):
        with st.spinner("Snapshotting, applying and reading back…"):
            run_change(
                client,
                settings,
                "Applied and read back the lifecycle rules",
                lambda actor: lifecycle.apply(
                    client, settings.bucket, edited, actor=actor, reason=reason, expected=loaded
                ),
            )


def compare_or_roll_back(entries: list[dict[str, Any]]) -> None:
    chosen = st.selectbox("Version", [e["version"] for e in entries], key="lc_history_version")
    entry = next(e for e in entries if e["version"] == chosen)
    before = lifecycle.STORE.load(entry["before"]) if entry["before"] else []
    st.caption("The rules that were live before this change, compared with the live ones:")
    st.code(lifecycle.diff(live, before, "live", f"before {chosen}") or "(same)", language="diff")
    if st.button("Roll back to this version", icon=":material/history:", key="lc_rollback"):
        with st.spinner("Snapshotting, restoring and reading back…"):
            run_change(
                client,
                settings,
                f"Rolled back to the rules before version {chosen}",
                lambda actor: lifecycle.rollback(client, settings.bucket, actor=actor, version=chosen, expected=live),
            )


tab_rules, tab_history = st.tabs(["Rules", "History"])

with tab_rules:
    loaded: lifecycle.Rules = st.session_state.lc_loaded
    if live:
        show_rows(rule_rows(live), lifecycle_table.COLUMNS)
        if lifecycle_table.not_in_table(live):
            st.caption("Some rules have parts this table does not show: `python -m r2 lifecycle get` prints them.")
    elif live_error is None:
        st.info(
            "The bucket has no lifecycle rules: nothing is deleted, moved or aborted automatically. Multipart "
            "uploads that were never completed (a closed tab, a killed command) keep their parts, and R2 bills "
            "them as storage until someone aborts them. The preset adds a rule that aborts them after 7 days; "
            "or add a row to the table.",
            icon=":material/info:",
        )
    # The editable table is a data grid (over a megabyte of script for the browser): drawn when asked for,
    # at once when there is nothing to read yet.
    st.session_state.setdefault("lc_edit", not live)
    with drawn_when_open("Edit the rules", "lc_edit", icon=":material/edit:") as panel:
        if panel.open:
            edit_rules(loaded)


with tab_history:
    try:
        entries = history(client, settings)
    except R2Error as err:
        show_error(err)
        entries = []
    if not entries:
        st.info("No history yet. Every change made here or with `python -m r2 lifecycle` is snapshotted first.")
    else:
        history_table = history_rows(entries)
        show_rows(history_table, list(history_table[0]))
        with drawn_when_open("Compare a version with the live rules, or roll back", "lc_compare") as box:
            if box.open:
                compare_or_roll_back(entries)
