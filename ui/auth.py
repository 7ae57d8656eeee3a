"""Who is visiting and what they may do. Identity is resolved in one function, `current_visitor`.

This module only reads Streamlit's inputs (`st.user`, `st.context.headers`, `st.secrets`); the
decision itself is `r2.roles.decide`, a pure function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit import config

from r2.errors import SettingsError
from r2.roles import PAGE_ROLES, RoleConfig, allows, decide, parse_role_config, top_role
from r2.settings import Settings, unreadable_secrets
from ui.state import base_settings
from ui.text import escape_md
from ui.upload_gate import gate_uploads

# Keys of an [auth] table (or [auth.<name>] subsection) that make it a provider.
_PROVIDER_KEYS = ("client_id", "server_metadata_url")


@dataclass(frozen=True)
class Visitor:
    name: str
    email: str
    roles: frozenset[str]
    source: str = "open"  # local | open | header | oidc | anonymous (see r2.roles.decide)
    groups: tuple[str, ...] = ()
    refusal: str = ""  # why the request was refused outright (r2.roles.Decision.refusal)

    @property
    def top_role(self) -> str:
        return top_role(self.roles)

    @property
    def signed_in(self) -> bool:
        return self.source in ("header", "oidc")

    @property
    def actor(self) -> str:
        """The name written to the audit log."""
        return self.email or self.name


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _closed(problems: list[str]) -> None:
    st.error("The sign-in configuration cannot be read, so the dashboard stays closed:")
    st.markdown("\n".join(f"- {escape_md(p)}" for p in problems))
    st.info("Fix the file (or remove it), then reload. Without it the dashboard would be open to anyone.")
    st.stop()


def secret_table(name: str) -> dict[str, Any]:
    """A table of the secrets files as a plain dict; {} when absent or when no secrets file exists.

    A secrets file that exists but cannot be read stops the app with the reason: it may hold the
    `[auth]` or `[roles]` table, and treating it as absent would open the dashboard to anyone (fail
    closed, never open). That includes the user-level `~/.streamlit/secrets.toml`.
    """
    files = [Path(p) for p in config.get_option("secrets.files") or []]
    problems = unreadable_secrets(files)
    if problems:
        _closed(problems)
    try:
        value = st.secrets.get(name)
    except Exception as exc:  # with no secrets file at all, st.secrets raises instead of returning None
        if any(p.exists() for p in files):
            _closed([f"Streamlit could not load its secrets files ({type(exc).__name__})."])
        return {}
    return _plain(value) if isinstance(value, Mapping) else {}


def providers(auth: Mapping[str, Any]) -> list[str]:
    """Provider names for `st.login(name)`: "default" for a flat [auth], plus each [auth.<name>]."""
    names = ["default"] if any(k in auth for k in _PROVIDER_KEYS) else []
    names += [k for k, v in auth.items() if isinstance(v, Mapping) and any(p in v for p in _PROVIDER_KEYS)]
    return names


def role_config() -> RoleConfig:
    """The `[roles]` table, validated; on a problem, show every problem and stop the page."""
    try:
        return parse_role_config(secret_table("roles"))
    except SettingsError as exc:
        st.error("The `[roles]` table in `.streamlit/secrets.toml` has problems:")
        st.markdown("\n".join(f"- {escape_md(p)}" for p in exc.problems))
        st.stop()
        raise  # unreachable: st.stop() raises


def _request_headers() -> list[tuple[str, str]]:
    """The headers of the request that opened this session, every copy of each (read only in
    trusted-header mode, where a duplicated identity header must be seen to be refused)."""
    try:
        headers = st.context.headers
        return [(name, value) for name in headers for value in headers.get_all(name)]
    except Exception:  # no request (bare script run)
        return []


def _user_claims() -> dict[str, Any]:
    try:
        return dict(st.user.to_dict())
    except Exception:  # no script context
        return {}


def current_visitor(settings: Settings) -> Visitor:
    """Local demo: the local user holds every role. Trusted header or OIDC sign-in: roles from
    `[roles]`. Sign-in configured but not signed in: nothing. Otherwise: `R2_DEFAULT_ROLE`."""
    auth = secret_table("auth")
    oidc = bool(providers(auth))
    config = role_config() if (oidc or settings.trusted_email_header) else RoleConfig()
    decision = decide(
        local=settings.is_local,
        default_role=settings.default_role,
        config=config,
        oidc_configured=oidc,
        claims=_user_claims() if oidc else None,
        trusted_header=settings.trusted_email_header,
        headers=_request_headers() if settings.trusted_email_header else None,
    )
    gate_uploads(allows(decision.roles, PAGE_ROLES["upload"]))
    identity = decision.identity
    if identity is None:
        return Visitor("Not signed in", "", frozenset(), decision.source, refusal=decision.refusal)
    return Visitor(identity.name or identity.email, identity.email, decision.roles, decision.source, identity.groups)


def sign_in_buttons(key: str = "sign-in", refusal: str = "") -> None:
    """One "Sign in" button per configured provider; explains the proxy when that is the only way."""
    if refusal:
        st.error(refusal + " Open the dashboard through its usual address (the one behind the proxy).")
        return
    names = providers(secret_table("auth"))
    for name in names:
        label = "Sign in" if name == "default" else f"Sign in with {name.replace('-', ' ').title()}"
        if st.button(label, key=f"{key}-{name}", type="primary", icon=":material/login:"):
            st.login(name)
    if not names:
        st.info(
            "This dashboard takes your identity from its access proxy, and this request came without it. "
            "Open the dashboard through its usual address (the one behind the proxy)."
        )


def sign_in_page() -> None:
    """The only page a visitor who is not signed in sees once sign-in is configured."""
    st.title("R2 images")
    st.markdown("Sign in to upload, browse and manage the team's images.")
    sign_in_buttons(refusal=current_visitor(base_settings()).refusal)


def require(role: str) -> Visitor:
    """Stop the page unless the visitor holds `role`. Call first thing in every page file.

    Streamlit serves files in pages/ by URL before any session has run app.py, so hiding a page
    from navigation is not enough: each page guards itself. Such a run first gets app.py's frame.
    """
    from ui.frame import enter_frame  # ui.frame imports this module

    enter_frame()
    visitor = current_visitor(base_settings())
    if not allows(visitor.roles, role):
        if visitor.source == "anonymous":
            st.error(f"This page needs the **{role}** role: sign in first.")
            sign_in_buttons(key="require-sign-in", refusal=visitor.refusal)
        else:
            st.error(f"This page needs the **{role}** role; you are signed in as **{visitor.top_role}**.")
            st.caption("Ask an admin for access.")
        st.stop()
    return visitor
