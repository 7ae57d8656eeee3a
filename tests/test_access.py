"""What a member acting in bad faith tries, and what holds (docs/reliability.md, Access). The browser
halves (deep links into reserved prefixes, the upload endpoint) are in tests/test_access_browser.py."""

from __future__ import annotations

import csv
import io
import logging

import pandas as pd
import pytest

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
    from tests.support.env import env_for, settings_for
    from tests.support.fault_proxy import FakeCloudflareAPI

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


# ---- 1. reserved prefixes are unreachable from every member-facing path --------------------------------
AUDIT_KEY = ".dashboard/audit/2026/11/29/20261129T010203Z-ann-delete.json"
RESERVED_KEYS = (AUDIT_KEY, ".dashboard/cors/lease.json", ".thumbs/uploads/a.jpg.webp")


def seed_reserved(s3) -> None:  # type: ignore[no-untyped-def]
    from tests.support.env import TEST_BUCKET

    for key in (*RESERVED_KEYS, "uploads/a.jpg", "zz.jpg"):
        s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=b'{"actor": "ann@example.com"}')


def all_text(at) -> str:  # type: ignore[no-untyped-def]
    kinds = ("markdown", "error", "info", "warning", "caption", "title", "success", "code", "subheader")
    parts = [str(e.value) for kind in kinds for e in getattr(at, kind)]
    parts += [str(e.proto.body) for e in at.get("html")] + [str(b.proto.url) for b in at.get("link_button")]
    parts += [str(df.value.to_dict()) for df in at.dataframe]
    return "\n".join(parts)


def test_browse_deep_links_never_open_reserved_objects_or_folders(monkeypatch, s3) -> None:  # type: ignore[no-untyped-def]
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.support.apptest import configure
    from tests.support.env import ROOT

    seed_reserved(s3)
    for role in ("member", "admin"):  # the Audit page is the only reader of audit events, even for admins
        for key in RESERVED_KEYS:
            st.cache_data.clear()
            configure(monkeypatch, s3.meta.endpoint_url, role)
            at = AppTest.from_file(str(ROOT / "pages" / "browse.py"), default_timeout=30)
            at.query_params["object"] = key
            at.run(timeout=30)
            assert not at.exception
            text = all_text(at)
            assert "reserved for the app" in text
            assert not at.get("link_button"), "no Download link"
            assert not any(b.label == "Create share link" for b in at.button)
            assert key.rsplit("/", 1)[1] not in text, "the key is in no signed URL"
            assert "ann@example.com" not in text, "nothing of the object is shown"
        for folder in (".dashboard/audit/2026/11/29/", ".thumbs/uploads/", ".dashboard/"):
            st.cache_data.clear()
            at = AppTest.from_file(str(ROOT / "pages" / "browse.py"), default_timeout=30)
            at.query_params["folder"] = folder
            at.query_params["size"] = "30"
            at.run(timeout=30)
            assert not at.exception and "reserved for the app" in all_text(at)
            assert ".dashboard/audit" not in str(dict(at.query_params)) and AUDIT_KEY not in all_text(at)


def test_next_link_is_built_from_visible_entries_only(s3) -> None:  # type: ignore[no-untyped-def]
    from r2.browse import list_page
    from r2.errors import InvalidInput
    from tests.support.env import TEST_BUCKET

    seed_reserved(s3)
    # Root, one entry per page: the first page holds only the hidden `.dashboard/` prefix.
    first = list_page(s3, TEST_BUCKET, "", page_size=1)
    assert first.is_empty and first.hidden == 1
    assert first.last_key.startswith(".dashboard/") and first.last_key == ".dashboard/\U0010ffff"
    # A value sent back inside a reserved prefix is refused before any request.
    import pytest

    for bad in (AUDIT_KEY, ".thumbs/uploads/a.jpg.webp", "zz.jpg"):
        with pytest.raises(InvalidInput):
            list_page(s3, TEST_BUCKET, "uploads/", start_after=bad)
    with pytest.raises(InvalidInput, match="reserved"):
        list_page(s3, TEST_BUCKET, "", start_after=AUDIT_KEY)
    # Walking the root with `after` values reaches every visible entry and nothing else.
    seen, after = [], None
    for _ in range(10):
        page = list_page(s3, TEST_BUCKET, "", page_size=1, start_after=after)
        seen += [e.key for e in page.entries]
        if page.next_token is None:
            break
        after = page.last_key
    assert seen == ["uploads/", "zz.jpg"]


def test_cli_sign_and_ls_refuse_reserved_keys(s3) -> None:  # type: ignore[no-untyped-def]
    from r2.cli import Context, main
    from tests.support.env import env_for

    seed_reserved(s3)
    for argv in (["sign", AUDIT_KEY], ["sign", ".thumbs/uploads/a.jpg.webp"], ["ls", ".dashboard/audit/"]):
        out, err = io.StringIO(), io.StringIO()
        code = main(argv, Context(out=out, err=err, environ=env_for(s3.meta.endpoint_url)))
        assert code == 1 and "reserved for the app" in err.getvalue(), argv
        assert "X-Amz-Signature" not in out.getvalue() and "audit" not in out.getvalue()
    out = io.StringIO()
    assert main(["sign", "uploads/a.jpg"], Context(out=out, environ=env_for(s3.meta.endpoint_url))) == 0
    assert "X-Amz-Signature" in out.getvalue()


def test_signing_refuses_reserved_keys_unless_the_app_signs_its_own_thumbnail(s3) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from r2.errors import InvalidInput
    from r2.naming import check_visible
    from r2.presign import UrlSigner, sign_get
    from tests.support.env import TEST_BUCKET, settings_for

    signer = UrlSigner.from_settings(settings_for(s3.meta.endpoint_url))
    for key in RESERVED_KEYS:
        with pytest.raises(InvalidInput, match="reserved"):
            check_visible(key)
        with pytest.raises(InvalidInput, match="reserved"):
            sign_get(s3, TEST_BUCKET, key, 60)
        with pytest.raises(InvalidInput, match="reserved"):
            signer.sign_get(key, 60)
    assert "X-Amz-Signature" in sign_get(s3, TEST_BUCKET, ".thumbs/uploads/a.jpg.webp", 60, reserved_ok=True)


# ---- 5. the server's upload limit is the app's ------------------------------------------------------
def test_config_file_limit_is_the_default_app_limit_and_follows_the_setting() -> None:
    import os

    from streamlit import config

    from r2.settings import parse_settings
    from tests.support.env import ROOT
    from ui.upload_gate import follow_upload_limit, server_limit_mb

    before = os.getcwd()
    os.chdir(ROOT)
    try:
        config.get_config_options(force_reparse=True)
        default = parse_settings({})
        assert config.get_option("server.maxUploadSize") == server_limit_mb(default) == 10
        follow_upload_limit(parse_settings({"R2_MAX_UPLOAD_MB": "2.5"}))
        assert config.get_option("server.maxUploadSize") == 3, "whole MB, rounded up"
    finally:
        os.chdir(before)
        config.get_config_options(force_reparse=True)


# ---- 4. a sign-in configuration that cannot be read stops the app -------------------------------------
BROKEN_AUTH = '[auth]\nclient_id = "dashboard"\nclient_secret = "s3cr3t-value"\nserver_metadata_url = \n'


@pytest.mark.parametrize("where", ["user", "project"])
def test_an_unreadable_secrets_file_stops_the_app_instead_of_opening_it(
    where: str, tmp_path, monkeypatch, counting_server
) -> None:  # type: ignore[no-untyped-def]
    import streamlit as st
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    from tests.support.apptest import configure
    from tests.support.env import ROOT

    broken = tmp_path / where / ".streamlit" / "secrets.toml"
    broken.parent.mkdir(parents=True)
    broken.write_text(BROKEN_AUTH, encoding="utf-8")
    files = [str(broken), str(tmp_path / "absent" / "secrets.toml")]
    configure(monkeypatch, counting_server.endpoint, "member")  # no sign-in would mean: everyone a member
    st.cache_resource.clear()
    before = config.get_option("secrets.files")
    config.set_option("secrets.files", files if where == "user" else files[::-1])
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run(timeout=30)
    finally:
        config.set_option("secrets.files", before)
    assert not at.exception
    errors = "\n".join(str(e.value) for e in (*at.error, *at.markdown)).replace("\\", "")
    assert "cannot be read" in errors and f"{broken} is not valid TOML" in errors
    assert "s3cr3t" not in errors
    assert not at.title and not at.dataframe, "no page ran"
    assert counting_server.connections == 0
