"""Who gets which role: the pure rules of r2.roles (no Streamlit, no network)."""

from __future__ import annotations

import pytest

from r2.errors import SettingsError
from r2.roles import (
    Identity,
    RoleConfig,
    decide,
    email_from_header,
    identity_from_claims,
    parse_role_config,
    resolve_roles,
    top_role,
)
from r2.settings import parse_settings

TABLE = {
    "default": "member",
    "admin": {"emails": ["Ann@Example.com"], "groups": ["r2-admins"]},
    "developer": {"domains": ["@dev.example.com"], "groups": ["Engineering"]},
    "member": {"domains": ["example.com"]},
}
CONFIG = parse_role_config(TABLE)
HEADER = "Cf-Access-Authenticated-User-Email"


def role_of(identity: Identity | None, config: RoleConfig = CONFIG) -> str:
    return top_role(resolve_roles(identity, config))


@pytest.mark.parametrize(
    ("identity", "role"),
    [
        (Identity(email="ann@example.com"), "admin"),  # email, case-insensitive
        (Identity(email="bob@dev.example.com"), "developer"),  # domain (written with @)
        (Identity(email="cy@example.com"), "member"),  # domain
        (Identity(email="dee@other.org", groups=("R2-Admins",)), "admin"),  # group, case-insensitive
        (Identity(email="eve@other.org", groups=("engineering", "sales")), "developer"),
        (Identity(email="cy@example.com", groups=("engineering",)), "developer"),  # highest rule wins
        (Identity(email="fay@other.org"), "member"),  # no rule: the default
        (Identity(email="gus@sub.example.com"), "member"),  # exact domains only: the default applies
        (None, "none"),  # not signed in
    ],
)
def test_roles_from_emails_domains_and_groups(identity: Identity | None, role: str) -> None:
    assert role_of(identity) == role


def test_default_is_none_unless_the_table_says_otherwise() -> None:
    strict = parse_role_config({"admin": {"emails": ["ann@example.com"]}})
    assert role_of(Identity(email="stranger@example.com"), strict) == "none"
    assert role_of(Identity(email="ann@example.com"), strict) == "admin"
    assert role_of(Identity(email="x@example.com"), parse_role_config(None)) == "none"


def test_unverified_email_matches_no_email_or_domain_rule() -> None:
    claims = {"is_logged_in": True, "email": "ann@example.com", "email_verified": False, "groups": ["sales"]}
    identity = identity_from_claims(claims, CONFIG)
    assert identity.email == "ann@example.com" and not identity.email_verified
    assert role_of(identity) == "member"  # the default, not admin
    assert role_of(identity_from_claims({**claims, "email_verified": "false"}, CONFIG)) == "member"
    assert role_of(identity_from_claims({**claims, "email_verified": True}, CONFIG)) == "admin"


def test_groups_claim_is_configurable_and_may_be_a_string() -> None:
    config = parse_role_config({"admin": {"groups": ["ops"]}, "groups_claim": "roles"})
    identity = identity_from_claims({"email": "x@y.org", "roles": "dev, ops", "groups": ["other"]}, config)
    assert identity.groups == ("dev", "ops")
    assert role_of(identity, config) == "admin"


def test_bad_roles_table_lists_every_problem() -> None:
    with pytest.raises(SettingsError) as info:
        parse_role_config(
            {
                "default": "owner",
                "superuser": {"emails": ["a@b.c"]},
                "admin": {"emails": ["not-an-email"], "domains": ["nodot"], "teams": ["x"]},
                "member": {"groups": [1, 2]},
            }
        )
    text = "\n".join(info.value.problems)
    for expected in ("default must be", "[roles.superuser] is not a role", "not-an-email", "'nodot'", "teams"):
        assert expected in text
    assert "member.groups must be a list of strings" in text


@pytest.mark.parametrize(
    ("value", "email"),
    [
        ("ann@example.com", "ann@example.com"),
        ("  ann@example.com ", "ann@example.com"),
        ("", ""),
        (None, ""),
        ("ann", ""),
        ("a@b@example.com", ""),
        ("ann@example.com, eve@example.com", ""),
        ("<script>@example.com", ""),
        ("ann@localhost", ""),
    ],
)
def test_email_from_header_accepts_only_one_address(value: str | None, email: str) -> None:
    assert email_from_header(value) == email


def test_trusted_header_is_honoured_only_when_the_mode_is_on() -> None:
    headers = {HEADER.lower(): "ann@example.com"}  # header names are case-insensitive
    on = decide(local=False, default_role="member", config=CONFIG, trusted_header=HEADER, headers=headers)
    assert on.source == "header" and on.signed_in and on.identity is not None
    assert on.identity.email == "ann@example.com" and top_role(on.roles) == "admin"

    off = decide(local=False, default_role="member", config=CONFIG, headers=headers)
    assert off.source == "open" and not off.signed_in
    assert top_role(off.roles) == "member", "the header must be ignored when the mode is off"
    assert off.identity is not None and off.identity.email == ""


def test_trusted_header_mode_without_the_header_grants_nothing() -> None:
    for headers in ({}, {HEADER: ""}, {HEADER: "not an email"}, {"X-Other": "ann@example.com"}):
        decision = decide(local=False, default_role="admin", config=CONFIG, trusted_header=HEADER, headers=headers)
        assert decision.source == "anonymous" and decision.roles == frozenset()


def test_oidc_sign_in_and_its_absence() -> None:
    claims = {"is_logged_in": True, "email": "bob@dev.example.com", "email_verified": True, "name": "Bob"}
    signed_in = decide(local=False, default_role="admin", config=CONFIG, oidc_configured=True, claims=claims)
    assert signed_in.source == "oidc" and signed_in.identity is not None and signed_in.identity.name == "Bob"
    assert top_role(signed_in.roles) == "developer"
    for claims in ({}, {"is_logged_in": False, "email": "ann@example.com"}, {"email": "ann@example.com"}):
        out = decide(local=False, default_role="admin", config=CONFIG, oidc_configured=True, claims=claims)
        assert out.source == "anonymous" and out.roles == frozenset()
    # Claims without [auth] configured (AppTest's default user) are not a sign-in.
    unconfigured = decide(local=False, default_role="member", config=CONFIG, claims={"is_logged_in": True})
    assert unconfigured.source == "open" and top_role(unconfigured.roles) == "member"


def test_local_demo_grants_every_role_whatever_else_is_set() -> None:
    decision = decide(
        local=True, default_role="none", config=CONFIG, oidc_configured=True, trusted_header=HEADER, headers={}
    )
    assert decision.source == "local" and top_role(decision.roles) == "admin"


def test_trusted_header_setting_is_validated() -> None:
    base = {"R2_ENDPOINT": "http://127.0.0.1:9", "R2_ACCESS_KEY_ID": "k", "R2_SECRET_ACCESS_KEY": "s"}
    base["R2_BUCKET"] = "bucket"
    assert parse_settings(base).trusted_email_header == ""
    assert parse_settings({**base, "R2_TRUSTED_EMAIL_HEADER": HEADER}).trusted_email_header == HEADER
    with pytest.raises(SettingsError, match="R2_TRUSTED_EMAIL_HEADER"):
        parse_settings({**base, "R2_TRUSTED_EMAIL_HEADER": "X-Email: evil"})
