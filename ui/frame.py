"""The frame around every page: navigation filtered by role, and the sidebar."""

from __future__ import annotations

import streamlit as st

from r2.local import LOCAL_BANNER
from r2.roles import PAGE_ROLES, allows
from r2.settings import Settings
from ui.auth import Visitor

PAGES = (
    ("browse", "Browse", ":material/photo_library:"),
    ("upload", "Upload", ":material/upload:"),
    ("cors", "CORS", ":material/policy:"),
    ("health", "Health", ":material/monitor_heart:"),
    ("usage", "Usage", ":material/bar_chart:"),
)


def navigation(visitor: Visitor) -> st.navigation:  # type: ignore[valid-type]
    pages = [
        st.Page(f"pages/{name}.py", title=title, icon=icon, url_path=name, default=(i == 0))
        for i, (name, title, icon) in enumerate(p for p in PAGES if allows(visitor.roles, PAGE_ROLES[p[0]]))
    ]
    return st.navigation(pages)


def sidebar(settings: Settings, visitor: Visitor) -> None:
    with st.sidebar:
        if settings.is_local:
            st.warning(LOCAL_BANNER, icon=":material/science:")
        else:
            st.caption(settings.describe_target())
        st.markdown(f"**Bucket** `{settings.bucket}`")
        st.markdown(f"**Signed in** {visitor.name} · role **{visitor.top_role}**")
