"""The frame around every page: navigation filtered by role, and the sidebar.

`run_app()` is all of app.py. Two things about Streamlit 1.67's URLs shape it (docs/reliability.md,
"Frame and page URLs"):

- Until some session has run app.py, a fresh server serves each file in `pages/` by its URL with
  Streamlit's own list of every file as the menu (its "MPA v1" fallback for a folder named `pages/`).
  Every page calls `ui.auth.require` first, which calls `enter_frame()`: a page run outside the frame
  runs the frame instead (app.py's navigation then resolves the same URL and runs the page inside it).
- Streamlit serves the default page only at `/`. The role's first page is the default (at `/`, where
  the menu links to it) and also answers at its own path (`/browse?folder=…`) through a hidden twin.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.scriptrunner import get_script_run_ctx

from r2.local import LOCAL_BANNER
from r2.roles import PAGE_ROLES, allows
from r2.settings import Settings
from ui.auth import Visitor, current_visitor, sign_in_page
from ui.state import connection
from ui.text import escape_md

APP_SCRIPT = Path(__file__).resolve().parent.parent / "app.py"
_in_frame: ContextVar[bool] = ContextVar("r2_in_frame", default=False)

PAGES = (
    ("browse", "Browse", ":material/photo_library:"),
    ("search", "Search", ":material/search:"),
    ("upload", "Upload", ":material/upload:"),
    ("cors", "CORS", ":material/policy:"),
    ("health", "Health", ":material/monitor_heart:"),
    ("usage", "Usage", ":material/bar_chart:"),
    ("audit", "Audit", ":material/history:"),
    ("lifecycle", "Lifecycle", ":material/event_repeat:"),
)


# WCAG 2 AA contrast fixes Streamlit's theme options cannot reach (docs/accessibility.md). Style-only
# st.html takes no space on the page.
# - Captions are drawn at 60% opacity: their grey text, links and code fell to 2.8-3.9:1 (axe-core). At
#   80% they keep their lighter look and pass (6.7:1 text on white; 5:1 for the theme's link and code
#   colours on the sidebar's grey).
# - Code blocks (CORS JSON, diffs) use a fixed syntax palette of 2.8-3.8:1 on their background: the same
#   hues, darker (all >= 6.5:1).
# - Keyboard users see where the focus is: a ring on every focused control.
_TOKENS = {
    "#075985": ("attr-name", "property", "variable"),
    "#166534": ("string", "char", "attr-value", "boolean", "constant", "symbol", "inserted"),
    "#115E59": ("number", "regex"),
    "#9A3412": ("operator", "entity", "decorator", "atrule"),
    "#B91C1C": ("deleted", "important"),
    "#1E40AF": ("keyword", "tag", "function", "class-name", "selector"),
    "#6B21A8": ("url",),
    "#4B5563": ("comment", "prolog", "doctype", "cdata", "punctuation", "unchanged"),
}
FRAME_CSS = (
    "<style>\n"
    '[data-testid="stCaptionContainer"] { opacity: .8 !important; }\n'
    ":focus-visible { outline: 2px solid #1E40AF !important; outline-offset: 2px; }\n"
    + "".join(
        ", ".join(f".stCode .token.{name}" for name in names) + f" {{ color: {colour} !important; }}\n"
        for colour, names in _TOKENS.items()
    )
    + "</style>"
)


def frame_style() -> None:
    st.html(FRAME_CSS)


def no_access_page() -> None:
    """A signed-in visitor whom no `[roles]` rule (and no default role) lets in."""
    st.title("No access yet")
    st.markdown("You are signed in, but no role has been given to you. Ask an admin to add you to `[roles]`.")


def navigation(visitor: Visitor) -> StreamlitPage:
    if visitor.source == "anonymous":
        return st.navigation([st.Page(sign_in_page, title="Sign in", icon=":material/login:", url_path="sign-in")])
    allowed = [p for p in PAGES if allows(visitor.roles, PAGE_ROLES[p[0]])]
    if not allowed:
        page = st.Page(no_access_page, title="No access", icon=":material/block:", url_path="no-access")
        return st.navigation([page])
    (first, title, icon), *rest = allowed
    pages = [
        st.Page(f"pages/{first}.py", title=title, icon=icon, url_path="", default=True),  # `/`, in the menu
        *(st.Page(f"pages/{name}.py", title=title, icon=icon, url_path=name) for name, title, icon in rest),
        # The same page at its own path, so `/browse?folder=…` opens it instead of "Page not found".
        st.Page(f"pages/{first}.py", title=title, icon=icon, url_path=first, visibility="hidden"),
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


def run_app() -> None:
    """All of app.py: page config, settings, the visitor, navigation by role, the sidebar, the page."""
    marker = _in_frame.set(True)
    try:
        st.set_page_config(page_title="R2 images", page_icon=":material/cloud:", layout="wide")
        frame_style()
        settings, _ = connection()
        visitor = current_visitor(settings)
        page = navigation(visitor)
        sidebar(settings, visitor)
        page.run()
    finally:
        _in_frame.reset(marker)


def enter_frame() -> None:
    """Run first by every page. A page that `streamlit run app.py` ran outside app.py's frame (the
    pages/ fallback of a fresh server) runs the frame instead, which runs this page by its URL inside
    it, and the bare run stops. A page file run on its own (AppTest) is left alone."""
    if _in_frame.get():
        return
    ctx = get_script_run_ctx()
    if ctx is None or Path(ctx.main_script_path).resolve() != APP_SCRIPT:
        return
    run_app()
    st.stop()
