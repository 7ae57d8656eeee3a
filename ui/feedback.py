"""How errors reach the user: the message and the fix, never a traceback or a secret."""

from __future__ import annotations

import streamlit as st

from r2.errors import R2Error, redact
from ui.state import secret_values
from ui.text import escape_md


def show_error(err: R2Error) -> None:
    secrets = secret_values()
    st.error(escape_md(redact(err.message, secrets)), icon=":material/error:")
    if err.fix:
        st.caption(escape_md(redact(err.fix, secrets)))
