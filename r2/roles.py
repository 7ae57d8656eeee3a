"""Roles: member (upload, browse) < developer (+ CORS, Health) < admin (everything, deletes).

Who holds which role is decided here, by pure functions (no Streamlit): `ui/auth.py` reads the
signed-in user (`st.user`), the trusted proxy header and the `[roles]` table of
`.streamlit/secrets.toml`, and passes plain values in.

The `[roles]` table::

    [roles]
    default = "member"          # role of signed-in users matched by no rule ("none" when absent)
    groups_claim = "groups"     # the ID-token claim that lists the user's groups

    [roles.admin]
    emails = ["ann@example.com"]
    groups = ["r2-admins"]

    [roles.developer]
    domains = ["dev.example.com"]

    [roles.member]
    domains = ["example.com"]

A visitor gets the highest role any rule gives them (roles are cumulative). Email and domain rules
apply only to an email the provider marked verified (`email_verified` is `true` or `"true"`; missing,
`"0"`, `"no"` and anything else count as unverified); a domain matches exactly (`example.com` does not
cover `dev.example.com`).

Emails, domains and groups are compared after lower-casing ASCII letters only, and an email or domain
that is not ASCII is refused (internationalised hosts must be written IDNA-encoded, `xn--...`):
Python's `str.lower()` maps the Kelvin sign U+212A onto `k`, which would let `\u212aim@example.com`
match a rule for `kim@example.com`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from r2.errors import SettingsError
from r2.settings import ROLES

PAGE_ROLES: dict[str, str] = {
    "browse": "member",
    "search": "member",
    "upload": "member",
    "cors": "developer",
    "health": "developer",
    "usage": "admin",
    "audit": "admin",
    "lifecycle": "admin",
}

NO_ROLE = "none"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """Lower-case ASCII letters only (never `str.lower()`, which maps some non-ASCII letters to ASCII)."""
    return text.strip().translate(_ASCII_LOWER)


def valid_email(email: str) -> bool:
    """One printable-ASCII address with a dotted domain: the only kind an email or domain rule matches."""
    if not email.isascii() or email.count("@") != 1:
        return False
    if any(not c.isprintable() or c.isspace() or c in "<>,;\"'()[]\\" for c in email):
        return False
    local, domain = email.split("@")
    return bool(local) and "." in domain and not domain.startswith(".") and not domain.endswith(".")


def roles_for(role: str) -> frozenset[str]:
    """The roles a visitor with `role` holds (roles are cumulative); `none` holds nothing."""
    if role not in ROLES:
        return frozenset()
    return frozenset(ROLES[: ROLES.index(role) + 1])


def allows(held: frozenset[str], needed: str) -> bool:
    return needed in held


def top_role(held: Iterable[str]) -> str:
    """The strongest role in `held`, or `none`."""
    held = set(held)
    ranked = [r for r in ROLES if r in held]
    return ranked[-1] if ranked else NO_ROLE


@dataclass(frozen=True)
class RoleRule:
    """Who gets one role: exact emails, email domains, group names (all lower-cased)."""

    role: str
    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RoleConfig:
    """The parsed `[roles]` table. `default` is the role of a signed-in user no rule matches."""

    rules: tuple[RoleRule, ...] = ()
    default: str = NO_ROLE
    groups_claim: str = "groups"


@dataclass(frozen=True)
class Identity:
    """Who the visitor is, as far as sign-in says. `email_verified=False` disables email rules."""

    email: str = ""
    name: str = ""
    groups: tuple[str, ...] = ()
    email_verified: bool = True


def _strings(value: Any, where: str, problems: list[str]) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        problems.append(f"[roles] {where} must be a list of strings")
        return []
    return [fold(v) for v in value if v.strip()]


def parse_role_config(table: Mapping[str, Any] | None) -> RoleConfig:
    """Validate the `[roles]` table. Raises `SettingsError` listing every problem."""
    if not table:
        return RoleConfig()
    problems: list[str] = []
    rules: list[RoleRule] = []
    default = fold(str(table.get("default", NO_ROLE)))
    if default not in (*ROLES, NO_ROLE):
        problems.append(f"[roles] default must be one of {', '.join(ROLES)} or none, not {default!r}")
    claim = table.get("groups_claim", "groups")
    if not isinstance(claim, str) or not claim.strip():
        problems.append("[roles] groups_claim must be the name of a claim, such as groups")
        claim = "groups"
    for key, value in table.items():
        if key in ("default", "groups_claim"):
            continue
        if key not in ROLES:
            problems.append(f"[roles.{key}] is not a role: use {', '.join(ROLES)}")
            continue
        if not isinstance(value, Mapping):
            problems.append(f"[roles.{key}] must be a table with emails, domains and/or groups")
            continue
        unknown = sorted(set(value) - {"emails", "domains", "groups"})
        if unknown:
            problems.append(f"[roles.{key}] knows only emails, domains and groups, not {', '.join(unknown)}")
        emails = _strings(value.get("emails", []), f"{key}.emails", problems)
        domains = [d.lstrip("@") for d in _strings(value.get("domains", []), f"{key}.domains", problems)]
        groups = _strings(value.get("groups", []), f"{key}.groups", problems)
        problems.extend(
            f"[roles.{key}] emails: {e!r} is not an ASCII email address (write a non-ASCII host IDNA-encoded, xn--…)"
            for e in emails
            if not valid_email(e)
        )
        problems.extend(
            f"[roles.{key}] domains: {d!r} is not an ASCII domain (write a non-ASCII host IDNA-encoded, xn--…)"
            for d in domains
            if not valid_email(f"x@{d}")
        )
        rules.append(RoleRule(key, frozenset(emails), frozenset(domains), frozenset(groups)))
    if problems:
        raise SettingsError(problems)
    return RoleConfig(tuple(rules), default, claim.strip())


def groups_from_claims(claims: Mapping[str, Any], config: RoleConfig) -> tuple[str, ...]:
    """The groups in the configured claim: a list, or one comma-separated string."""
    value = claims.get(config.groups_claim)
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        return ()
    return tuple(str(v).strip() for v in value if str(v).strip())


def identity_from_claims(claims: Mapping[str, Any], config: RoleConfig) -> Identity:
    """An `Identity` from the ID-token claims that `st.user` holds."""
    email = str(claims.get("email") or "").strip()
    name = str(claims.get("name") or claims.get("preferred_username") or email)
    verified = claims.get("email_verified")
    # Only a true boolean, or the string "true" that some providers send, is a verified email.
    is_verified = verified is True or (isinstance(verified, str) and verified == "true")
    return Identity(email, name, groups_from_claims(claims, config), is_verified)


def email_from_header(value: str | None) -> str:
    """The email a trusted proxy put in its header, or "" when it is absent or not an address."""
    email = (value or "").strip()
    return email if valid_email(email) else ""


def matched_roles(identity: Identity, config: RoleConfig) -> frozenset[str]:
    """The roles the rules give `identity`, without the default (empty when no rule matches)."""
    email = fold(identity.email) if identity.email_verified and valid_email(identity.email.strip()) else ""
    domain = email.rpartition("@")[2] if email else ""
    groups = {fold(g) for g in identity.groups}
    held: set[str] = set()
    for rule in config.rules:
        if (email and email in rule.emails) or (domain and domain in rule.domains) or groups & rule.groups:
            held |= roles_for(rule.role)
    return frozenset(held)


def resolve_roles(identity: Identity | None, config: RoleConfig) -> frozenset[str]:
    """The roles of a signed-in visitor (`identity`), or none for a visitor who is not signed in."""
    if identity is None:
        return frozenset()
    matched = matched_roles(identity, config)
    return matched if matched else roles_for(config.default)


@dataclass(frozen=True)
class Decision:
    """Who the visitor is and what they hold. `source`: local, open, header, oidc or anonymous.
    `refusal` says why a request was refused outright (shown on the sign-in page)."""

    identity: Identity | None
    roles: frozenset[str]
    source: str
    refusal: str = ""

    @property
    def signed_in(self) -> bool:
        return self.source in ("header", "oidc")


def decide(
    *,
    local: bool,
    default_role: str,
    config: RoleConfig,
    oidc_configured: bool = False,
    claims: Mapping[str, Any] | None = None,
    trusted_header: str = "",
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> Decision:
    """Resolve the visitor, in this order:

    1. local demo mode: the single local user holds every role;
    2. trusted-header mode (only when `trusted_header` is set): the proxy's email header. `headers`
       are the request's (name, value) pairs, every copy kept: a request that carries the header more
       than once is refused (a proxy that appends its own copy after a client-sent one would
       otherwise let the client's value win);
    3. OIDC sign-in (`[auth]` configured) with `claims` from `st.user`;
    4. sign-in configured (either way) but not signed in: no role at all;
    5. no sign-in configured: every visitor gets `default_role` (R2_DEFAULT_ROLE).
    """
    if local:
        return Decision(Identity(name="Local user"), frozenset(ROLES), "local")
    if trusted_header:
        pairs = (headers or {}).items() if isinstance(headers, Mapping) else (headers or ())
        values = [v for k, v in pairs if k.lower() == trusted_header.lower()]
        if len(values) > 1:
            why = f"The request carried the {trusted_header} header more than once, so it was refused."
            return Decision(None, frozenset(), "anonymous", why)
        email = email_from_header(values[0] if values else None)
        if email:
            identity = Identity(email=email, name=email)
            return Decision(identity, resolve_roles(identity, config), "header")
    claims = claims or {}
    if oidc_configured and claims.get("is_logged_in") is True:
        identity = identity_from_claims(claims, config)
        return Decision(identity, resolve_roles(identity, config), "oidc")
    if trusted_header or oidc_configured:
        return Decision(None, frozenset(), "anonymous")
    return Decision(Identity(name="Visitor"), roles_for(default_role), "open")
