"""Issue #16, items 1-7: what a member acting in bad faith tried, and what now holds (docs/reliability.md,
Access). Browser halves of items 1 and 5 are in tests/test_access_browser.py."""

from __future__ import annotations

import csv
import io
import logging

import pandas as pd

from ui.usage_view import csv_bytes


# ---- 7. every CSV the app writes is spreadsheet-safe ------------------------------------------------
def test_usage_csv_neutralises_formulas_in_keys_written_by_other_tools() -> None:
    frame = pd.DataFrame(
        {
            "key": ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "plain.jpg"],
            "bytes": [1, 2, 3, 4, 5],
        }
    )
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode("utf-8"))))
    assert rows[0] == ["key", "bytes"]
    assert [r[0] for r in rows[1:]] == [
        '\'=HYPERLINK("http://evil","x")',
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "'@SUM(A1)",
        "plain.jpg",
    ]
    assert [r[1] for r in rows[1:]] == ["1", "2", "3", "4", "5"], "numbers stay numbers"


# ---- 6. one redaction for every outward text ----------------------------------------------------------
TOKEN = "cf-token-value-0123456789abcdefXYZ"


def leaks(text: str, secret: str) -> bool:
    """True when `text` holds the secret or any 8-character piece of it (a truncated echo leaks too)."""
    return any(secret[i : i + 8] in text for i in range(len(secret) - 7))


def test_health_and_cli_never_print_a_token_that_the_api_echoes(s3_endpoint: str) -> None:
    from r2.cli import Context, main
    from r2.health import Deps, report, run_all
    from tests.conftest import env_for, settings_for
    from tests.fault_proxy import FakeCloudflareAPI

    with FakeCloudflareAPI({}) as cloudflare:
        # Some APIs (and proxies in front of them) echo the credential they refused, padded to push it
        # past a 200-character cut: the cut must not leave a piece of it either.
        cloudflare.error_message = "Invalid API Token " + "x" * 190 + " Authorization: Bearer {token}"
        extra = {"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_API_BASE": cloudflare.base}
        checks = run_all(Deps(settings=settings_for(s3_endpoint, **extra), connect_timeout=2.0, read_timeout=2.0))
        token_check = next(c for c in checks if c.name == "Cloudflare API token")
        assert token_check.status == "fail" and "Invalid API Token" in token_check.detail
        assert not leaks(str(report(checks)), TOKEN)

        cloudflare.error_message = "Invalid API Token {token}"
        out, err = io.StringIO(), io.StringIO()
        main(["health"], Context(out=out, err=err, environ=env_for(s3_endpoint, **extra)))
        assert "Invalid API Token" in out.getvalue()
        assert not leaks(out.getvalue() + err.getvalue(), TOKEN)


def test_errors_shown_on_pages_and_logs_never_carry_the_secret_key(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    secret = "test-secret-key-SHOULD-NOT-RENDER"

    def script() -> None:
        import logging

        from r2.errors import Unavailable
        from ui.feedback import show_error
        from ui.state import base_settings

        base_settings()
        show_error(Unavailable("The proxy said: bad key test-secret-key-SHOULD-NOT-RENDER", "fix it"))
        logging.getLogger("streamlit.access-test").warning("echoed: %s", "test-secret-key-SHOULD-NOT-RENDER")

    for name, value in {
        "R2_ENDPOINT": "http://127.0.0.1:9",
        "R2_ACCESS_KEY_ID": "k",
        "R2_BUCKET": "test-bucket",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", secret)
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    logging.getLogger("streamlit.access-test").addHandler(handler)
    factory = logging.getLogRecordFactory()
    try:
        at = AppTest.from_function(script).run(timeout=30)
    finally:
        logging.setLogRecordFactory(factory)
        logging.getLogger("streamlit.access-test").removeHandler(handler)
    assert not at.exception
    shown = at.error[0].value.replace("\\", "")  # Markdown escapes removed
    assert "The proxy said" in shown and secret not in shown
    assert records and all(secret not in r for r in records)


# ---- 2. trusted header: a request that carries the header twice is refused ----------------------------
HEADER = "Cf-Access-Authenticated-User-Email"
ROLE_TABLE = {"default": "member", "admin": {"emails": ["kim@example.com"], "groups": ["kube-admins"]}}


def test_a_second_copy_of_the_trusted_header_is_refused_whichever_comes_first() -> None:
    from r2.roles import decide, parse_role_config

    config = parse_role_config(ROLE_TABLE)
    forged_first = [(HEADER, "kim@example.com"), ("Accept", "*/*"), (HEADER.lower(), "mallory@example.com")]
    for headers in (forged_first, list(reversed(forged_first))):
        decision = decide(local=False, default_role="admin", config=config, trusted_header=HEADER, headers=headers)
        assert decision.source == "anonymous" and decision.roles == frozenset() and decision.identity is None
        assert "more than once" in decision.refusal
    one = decide(local=False, default_role="member", config=config, trusted_header=HEADER, headers=forged_first[:2])
    assert one.source == "header" and "admin" in one.roles and not one.refusal


def test_the_apps_request_headers_keep_every_copy(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from streamlit.runtime.context import StreamlitHeaders

    import ui.auth

    raw = [(HEADER, "mallory@example.com"), (HEADER, "kim@example.com")]
    monkeypatch.setattr(ui.auth.st, "context", SimpleNamespace(headers=StreamlitHeaders(raw)))
    pairs = [(k.lower(), v) for k, v in ui.auth._request_headers()]
    assert pairs == [(HEADER.lower(), "mallory@example.com"), (HEADER.lower(), "kim@example.com")]


# ---- 3. OIDC: only a true email_verified counts, emails compared as validated ASCII ---------------------
def role_for_claims(**claims: object) -> str:
    from r2.roles import identity_from_claims, parse_role_config, resolve_roles, top_role

    config = parse_role_config(ROLE_TABLE)
    return top_role(resolve_roles(identity_from_claims({"is_logged_in": True, **claims}, config), config))


def test_email_rules_need_email_verified_to_be_true() -> None:
    assert role_for_claims(email="kim@example.com", email_verified=True) == "admin"
    assert role_for_claims(email="kim@example.com", email_verified="true") == "admin"
    for unverified in ("missing", "0", "no", "False", "yes please", 1, None, "TRUE "):
        claims = {} if unverified == "missing" else {"email_verified": unverified}
        assert role_for_claims(email="kim@example.com", **claims) == "member", unverified
    # Groups do not depend on the email.
    assert role_for_claims(email="x@other.org", groups=["Kube-Admins"]) == "admin"


def test_lookalike_unicode_emails_and_groups_do_not_map_onto_ascii_rules() -> None:
    kelvin = "\u212a"  # KELVIN SIGN: "\u212a".lower() == "k"
    assert role_for_claims(email=f"{kelvin}im@example.com", email_verified=True) == "member"
    assert role_for_claims(email="kim@exampl\u0435.com", email_verified=True) == "member"  # Cyrillic e
    assert role_for_claims(email="KIM@EXAMPLE.COM", email_verified=True) == "admin", "ASCII case still folds"
    assert role_for_claims(email="x@other.org", groups=[f"{kelvin}ube-admins"]) == "member"


def test_header_and_role_table_refuse_non_ascii_addresses_unless_idna_encoded() -> None:
    import pytest

    from r2.errors import SettingsError
    from r2.roles import email_from_header, parse_role_config

    assert email_from_header("\u212aim@example.com") == ""
    assert email_from_header("kim@b\u00fccher.example") == ""
    assert email_from_header("kim@xn--bcher-kva.example") == "kim@xn--bcher-kva.example"
    with pytest.raises(SettingsError, match="ASCII"):
        parse_role_config({"admin": {"emails": ["\u212aim@example.com"]}})
    with pytest.raises(SettingsError, match="ASCII"):
        parse_role_config({"member": {"domains": ["b\u00fccher.example"]}})
