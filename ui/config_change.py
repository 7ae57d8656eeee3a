"""Running a bucket configuration change (CORS policy, lifecycle rules) from a page: one way to say why
it was refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from r2.config_store import StaleEdit
from r2.errors import R2Error
from ui.feedback import show_error
from ui.freshness import bucket_changed
from ui.text import escape_md

R = TypeVar("R")


def attempt_change(make_change: Callable[[], R]) -> R | None:
    """The change's result, or None after showing why it was refused or failed: a stale edit (someone
    changed the configuration since it was loaded) also shows the difference."""
    try:
        result = make_change()
    except StaleEdit as err:
        show_error(err)
        st.code(err.difference, language="diff")
        return None
    except R2Error as err:
        show_error(err)
        return None
    bucket_changed()
    return result


def remember_done(key: str, done: str, version: str, audit_error: str) -> None:
    """Keep a change's outcome for the next run (the page reruns to show the new configuration)."""
    st.session_state[key] = (done, version, audit_error)


def show_done(key: str, previous: str, note: str = "") -> None:
    """The outcome `remember_done` kept, once: what was done, where the `previous` configuration is saved."""
    flash = st.session_state.pop(key, None)
    if flash:
        done, version, audit_error = flash
        st.success(f"{done}. The previous {previous} saved as history version {version}. {note}".strip())
        if audit_error:
            st.warning(escape_md(audit_error), icon=":material/warning:")
