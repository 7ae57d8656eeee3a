"""Who is visiting and what they may do. Identity is resolved in one function so sign-in plugs in."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from r2.roles import allows, roles_for
from r2.settings import ROLES, Settings
from ui.state import base_settings


@dataclass(frozen=True)
class Visitor:
    name: str
    email: str
    roles: frozenset[str]

    @property
    def top_role(self) -> str:
        held = [r for r in ROLES if r in self.roles]
        return held[-1] if held else "none"


def current_visitor(settings: Settings) -> Visitor:
    """Local demo: the single local user holds every role. Otherwise: the configured default role."""
    if settings.is_local:
        return Visitor("Local user", "", frozenset(ROLES))
    return Visitor("Visitor", "", roles_for(settings.default_role))


def require(role: str) -> Visitor:
    """Stop the page unless the visitor holds `role`. Call first thing in every page file.

    Streamlit serves files in pages/ by URL before any session has run app.py, so hiding a page
    from navigation is not enough: each page guards itself.
    """
    visitor = current_visitor(base_settings())
    if not allows(visitor.roles, role):
        st.error(f"This page needs the **{role}** role; you are signed in as **{visitor.top_role}**.")
        st.caption("Ask an admin for access.")
        st.stop()
    return visitor
