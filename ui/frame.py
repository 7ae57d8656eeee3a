"""The frame around every page: navigation filtered by role, and the sidebar."""

from __future__ import annotations

import streamlit as st

from r2.local import LOCAL_BANNER
from r2.roles import PAGE_ROLES, allows
from r2.settings import Settings
from ui.auth import Visitor, sign_in_page
from ui.text import escape_md

PAGES = (
    ("browse", "Browse", ":material/photo_library:"),
    ("search", "Search", ":material/search:"),
    ("upload", "Upload", ":material/upload:"),
    ("cors", "CORS", ":material/policy:"),
    ("health", "Health", ":material/monitor_heart:"),
    ("usage", "Usage", ":material/bar_chart:"),
    ("audit", "Audit", ":material/history:"),
)


def no_access_page() -> None:
    """A signed-in visitor whom no `[roles]` rule (and no default role) lets in."""
    st.title("No access yet")
    st.markdown("You are signed in, but no role has been given to you. Ask an admin to add you to `[roles]`.")


def navigation(visitor: Visitor) -> st.navigation:  # type: ignore[valid-type]
    if visitor.source == "anonymous":
        return st.navigation([st.Page(sign_in_page, title="Sign in", icon=":material/login:", url_path="sign-in")])
    allowed = [p for p in PAGES if allows(visitor.roles, PAGE_ROLES[p[0]])]
    if not allowed:
        page = st.Page(no_access_page, title="No access", icon=":material/block:", url_path="no-access")
        return st.navigation([page])
    pages = [
        st.Page(f"pages/{name}.py", title=title, icon=icon, url_path=name, default=(i == 0))
        for i, (name, title, icon) in enumerate(allowed)
    ]
    return st.navigation(pages)


def sidebar(settings: Settings, visitor: Visitor) -> None:
    with st.sidebar:
        if visitor.source == "anonymous":  # tell a stranger nothing about the account or bucket
            st.markdown("**Not signed in**")
            return
        if settings.is_local:
            st.warning(LOCAL_BANNER, icon=":material/science:")
        else:
            st.caption(settings.describe_target())
        st.markdown(f"**Bucket** `{settings.bucket}`")
        st.markdown(f"**Signed in** {escape_md(visitor.name)} · role **{visitor.top_role}**")
        if visitor.email and visitor.email != visitor.name:
            st.caption(escape_md(visitor.email))
        if visitor.source == "oidc":
            if st.button("Sign out", icon=":material/logout:", key="sign-out"):
                st.logout()
        elif visitor.source == "header":
            st.caption("Signed in through the access proxy.")
