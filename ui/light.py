"""Drawing that keeps a page light: what the browser shows without first loading a widget type's script.

A data grid, `st.table`, a code block or a chart each make the browser fetch and compile 0.8-1.5 MB of
script the first time a page shows one (docs/bench/page_speed.md); a Markdown table loads nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

if TYPE_CHECKING:
    from streamlit.elements.lib.mutable_expander_container import ExpanderContainer

from ui.text import markdown_table

# Up to this many rows a read-only table is plain Markdown; longer ones get the data grid, which scrolls
# and sorts.
MARKDOWN_ROWS = 50


def show_rows(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    *,
    links: Mapping[str, str] | None = None,
    limit: int = MARKDOWN_ROWS,
) -> None:
    """A read-only table of `rows` (dicts with `columns`): Markdown while it is short, else a data grid.

    `links`: columns holding URLs, with the text each link shows."""
    if len(rows) > limit:
        config = {c: st.column_config.LinkColumn(c, display_text=text) for c, text in (links or {}).items()}
        frame = pd.DataFrame(list(rows), columns=list(columns))
        st.dataframe(frame, hide_index=True, width="stretch", column_config=config)
        return
    if not rows:
        st.caption("None.")
        return
    st.markdown(markdown_table([{c: row.get(c, "") for c in columns} for row in rows], links))


def drawn_when_open(label: str, key: str, icon: str | None = None) -> ExpanderContainer:
    """An expander whose content the caller draws only `if box.open`; opening or closing it reruns the page.

    A collapsed expander's content is otherwise sent and drawn hidden, and every widget type in it makes the
    browser fetch that widget's script on landing (Browse's four panels: 0.14 s of every visit). What was
    chosen inside is forgotten when it is closed."""
    return st.expander(label, key=key, icon=icon, on_change="rerun")


@st.fragment
def on_demand(label: str, key: str, draw: Callable[[], object], icon: str | None = None) -> None:
    """An expander whose content `draw` draws only once it is opened. It is a fragment: opening it reruns
    this part alone, so the rest of the page (a health run, a report's figures) is not computed again."""
    with drawn_when_open(label, key, icon) as box:
        if box.open:
            draw()
