"""The Lifecycle page's Streamlit glue: the live rules (cached per bucket change), the table editor,
changes with the admin role re-checked when they run, and the history table.

Rule IDs and prefixes come from the bucket: they are shown in tables and code blocks (plain text) or
escaped, never as Markdown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from r2 import lifecycle, lifecycle_table
from r2.client import S3Client
from r2.errors import R2Error
from r2.roles import allows
from r2.settings import Settings
from ui.auth import current_visitor
from ui.config_change import attempt_change, remember_done, show_done
from ui.feedback import show_error
from ui.freshness import bucket_version

EDITOR = "lc_rules"  # the data editor's key: its edits live in session state under it
ROLE = "admin"


@st.cache_data(ttl=30, show_spinner=False)
def _live_json(_client: S3Client, bucket: str, version: int) -> str:
    return json.dumps(lifecycle.read(_client, bucket))


@st.cache_data(ttl=30, show_spinner=False)
def _history(_client: S3Client, bucket: str, version: int) -> list[dict[str, Any]]:
    return [entry.to_dict() for entry in lifecycle.history(_client, bucket)]


def live_rules(client: S3Client, settings: Settings) -> tuple[lifecycle.Rules, R2Error | None]:
    """The live rules ([] when none), or [] and the error that prevented reading them."""
    try:
        return json.loads(_live_json(client, settings.bucket, bucket_version())), None
    except R2Error as err:
        return [], err


def history(client: S3Client, settings: Settings) -> list[dict[str, Any]]:
    return _history(client, settings.bucket, bucket_version())


def load_editor(rules: lifecycle.Rules) -> None:
    """Start editing from `rules`: they become what a change is checked against (the stale-edit check)."""
    st.session_state.lc_loaded = rules
    st.session_state.lc_base = lifecycle_table.rows_of(rules)
    st.session_state.pop(EDITOR, None)  # forget the edits made to the previous table


def reload_live(client: S3Client, settings: Settings) -> None:
    _live_json.clear()
    rules, err = live_rules(client, settings)
    if err is not None:
        show_error(err)
    else:
        load_editor(rules)


def _days_column(help_text: str) -> Any:
    return st.column_config.NumberColumn(help=help_text, min_value=1, step=1, format="%d")


def editor(rows: list[dict[str, Any]], *, disabled: bool) -> list[dict[str, Any]]:
    """The rules table; returns the edited rows (empty cells as None)."""
    frame = pd.DataFrame(rows, columns=list(lifecycle_table.COLUMNS)).astype(
        {c: "Int64" for c in lifecycle_table.DAY_COLUMNS} | {lifecycle_table.ENABLED: "boolean"}
    )
    edited = st.data_editor(
        frame,
        key=EDITOR,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        disabled=disabled,
        placeholder="",  # an empty cell: the rule does not have that action
        column_config={
            lifecycle_table.ID: st.column_config.TextColumn(required=True, max_chars=255, help="Unique name"),
            lifecycle_table.PREFIX: st.column_config.TextColumn(help="Empty: the whole bucket"),
            lifecycle_table.EXPIRE: _days_column("Delete objects this old"),
            lifecycle_table.ABORT: _days_column("Abort uploads never completed"),
            lifecycle_table.COLD: _days_column("Move to Infrequent Access"),
            lifecycle_table.ENABLED: st.column_config.CheckboxColumn(default=True),
        },
    )
    records = edited.astype(object).where(edited.notna(), None).to_dict("records")
    return [{str(column): value for column, value in row.items()} for row in records]


def run_change(
    client: S3Client, settings: Settings, done: str, make_change: Callable[[str], lifecycle.Applied]
) -> None:
    """Run a change as the visitor of this moment (the admin role is read again now: a role removed since
    the page was drawn is refused); on success reload the editor and rerun, else show why."""
    visitor = current_visitor(settings)
    if not allows(visitor.roles, ROLE):
        st.error(f"Changing lifecycle rules needs the **{ROLE}** role; you are **{visitor.top_role}** now.")
        return
    applied = attempt_change(lambda: make_change(visitor.actor))
    if applied is None:
        return
    _live_json.clear()
    _history.clear()
    load_editor(applied.after)
    remember_done("lc_flash", done, applied.version, applied.audit_error)
    st.session_state.pop("lc_history_version", None)
    st.rerun()


def show_flash() -> None:
    show_done("lc_flash", "rules are")


def rule_rows(rules: lifecycle.Rules) -> list[dict[str, Any]]:
    """The rules as the read-only table shows them: an action a rule does not have is blank."""

    def shown(value: Any) -> Any:
        return "" if value is None else ("yes" if value is True else "no" if value is False else value)

    return [{column: shown(value) for column, value in row.items()} for row in lifecycle_table.rows_of(rules)]


def history_rows(entries: list[dict[str, Any]]) -> list[dict[str, str]]:
    def count(rules: Any) -> str:
        return f"{len(lifecycle.STORE.load(rules))} rule(s)" if rules else "none"

    return [
        {
            "Version": e["version"],
            "When (UTC)": e["at"][:19].replace("T", " "),
            "Who": e["actor"],
            "Change": e["action"],
            "Why": e["reason"],
            "Rules before": count(e["before"]),
        }
        for e in entries
    ]
