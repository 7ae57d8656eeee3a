"""How errors and progress reach the user: the message and the fix, never a traceback or a secret."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from r2.errors import R2Error, redact
from ui.state import secret_values
from ui.text import escape_md


def show_error(err: R2Error) -> None:
    secrets = secret_values()
    st.error(escape_md(redact(err.message, secrets)), icon=":material/error:")
    if err.fix:
        st.caption(escape_md(redact(err.fix, secrets)))


def progress_of(bar: DeltaGenerator, text: Callable[[int, int], str]) -> Callable[[int, int], None]:
    """A library progress callback (`done`, `total`) that moves `bar` and says `text(done, total)`."""

    def update(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=text(done, total))

    return update
