"""Usage page: incomplete uploads, fixed in one click (a lifecycle rule) or now (with count and bytes first).

Admins only: the Usage page requires the admin role on every run, so a click is checked when it runs.
"""

from __future__ import annotations

import streamlit as st

from r2 import lifecycle
from r2.bulk_actions import audit_quietly
from r2.client import S3Client
from r2.errors import R2Error
from r2.settings import Settings
from ui.auth import current_visitor
from ui.feedback import show_error
from ui.text import escape_md, human_bytes

LIFECYCLE_URL = "/lifecycle"


def add_abort_rule(client: S3Client, settings: Settings, actor: str) -> None:
    """The one-click preset: the live rules plus "abort incomplete uploads after 7 days" (refused, with the
    difference, if someone changes the rules between the read and the write)."""
    preset = lifecycle.abort_uploads_rule(7)
    try:
        live = lifecycle.read(client, settings.bucket)
        rules = [r for r in live if r.get("ID") != preset["ID"]]
        applied = lifecycle.apply(client, settings.bucket, [*rules, preset], actor=actor, expected=live)
    except lifecycle.StaleEdit as err:
        show_error(err)
        st.code(err.difference, language="diff")
    except R2Error as err:
        show_error(err)
    else:
        st.success("Rule applied and read back: R2 aborts uploads left incomplete for 7 days.")
        if applied.audit_error:
            st.warning(escape_md(applied.audit_error), icon=":material/warning:")


def incomplete_upload_actions(client: S3Client, settings: Settings) -> None:
    visitor = current_visitor(settings)
    if "admin" not in visitor.roles:
        return
    st.markdown(f"[Open the Lifecycle page]({LIFECYCLE_URL}): every rule of the bucket, its history and rollback.")
    left, right = st.columns(2)
    if left.button("Add a rule: abort incomplete uploads after 7 days", key="lc-abort-rule"):
        add_abort_rule(client, settings, visitor.actor)
    if right.button("Abort the incomplete uploads now…", key="lc-abort-find"):
        try:
            st.session_state["lc-found"] = lifecycle.find_incomplete(client, settings.bucket)
        except R2Error as err:
            show_error(err)
    found: lifecycle.Incomplete | None = st.session_state.get("lc-found")
    if found is not None:
        st.warning(
            f"{found.count} incomplete upload(s) holding {human_bytes(found.bytes)} will be aborted; their parts "
            "are deleted (permanent).",
            icon=":material/warning:",
        )
        if st.button(f"Abort {found.count} upload(s)", key="lc-abort-run", type="primary", disabled=not found.count):
            aborted, failures = lifecycle.abort_incomplete(client, settings.bucket, found)
            audit_quietly(
                client, settings.bucket, visitor.actor, "multipart.abort", f"{aborted} uploads", failed=failures
            )
            st.session_state.pop("lc-found", None)
            st.success(f"Aborted {aborted} upload(s).")
            for failure in failures[:20]:
                st.error(escape_md(failure))
