"""Access in a real headless Chromium: a member's deep links into reserved prefixes, and Streamlit's
upload endpoint for visitors without a role and above the app's limit.

The memory claim is measured, not timed: Streamlit's own `/_stcore/metrics` reports the bytes its
uploaded-file manager holds (`cache_memory_bytes{cache_type="UploadedFileManager"}`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.support.browser import expect, streamlit_app
from tests.support.env import TEST_BUCKET, env_for

pytestmark = pytest.mark.browser

HEADER = "X-Test-Email"
MIB = 1024 * 1024
AUDIT_DAY = ".dashboard/audit/2026/11/29/"


def held_upload_bytes(base: str) -> int:
    """What Streamlit's uploaded-file manager holds in memory right now, from its metrics endpoint."""
    text = requests.get(f"{base}/_stcore/metrics", headers={"Accept": "text/plain"}, timeout=30).text
    match = re.search(r'cache_memory_bytes\{cache_type="UploadedFileManager"[^}]*\}\s+(\d+)', text)
    return int(match.group(1)) if match else 0


@contextmanager
def session(browser: Any, url: str, path: str, **context: Any) -> Iterator[tuple[Any, str]]:
    """A page whose Streamlit session id was read from the server's first message (as the frontend does)."""
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    ids: list[str] = []

    def frame(payload: bytes | str) -> None:
        if isinstance(payload, bytes):
            msg = ForwardMsg.FromString(payload)
            if msg.WhichOneof("type") == "new_session" and msg.new_session.initialize.session_id:
                ids.append(msg.new_session.initialize.session_id)

    page.on("websocket", lambda ws: ws.on("framereceived", frame))
    page.goto(url + path)
    page.wait_for_function("() => document.cookie.includes('_streamlit_xsrf=')", timeout=30_000)
    expect(page.locator("[data-testid='stApp']")).to_be_visible()
    deadline = 300
    while not ids and deadline:
        page.wait_for_timeout(100)  # frames arrive on this thread's event loop: let it run, bounded
        deadline -= 1
    assert ids, "the session id never arrived"
    try:
        yield page, ids[0]
    finally:
        ctx.close()


def put_file(page: Any, session_id: str, file_id: str, size: int) -> int:
    """PUT a file to Streamlit's upload endpoint from inside the page, with the page's XSRF token."""
    return int(
        page.evaluate(
            """async ([sid, fid, size]) => {
                const xsrf = document.cookie.split('; ').find(c => c.startsWith('_streamlit_xsrf=')).slice(16);
                const form = new FormData();
                form.append('UploadedFile', new Blob([new Uint8Array(size)], {type: 'image/png'}), 'x.png');
                const r = await fetch(`/_stcore/upload_file/${sid}/${fid}`,
                    {method: 'PUT', body: form, headers: {'X-Xsrftoken': xsrf}, credentials: 'same-origin'});
                return r.status;
            }""",
            [session_id, file_id, size],
        )
    )


def test_uploads_need_a_role_and_stay_within_the_apps_limit(browser, s3) -> None:  # type: ignore[no-untyped-def]
    env = env_for(s3.meta.endpoint_url, R2_TRUSTED_EMAIL_HEADER=HEADER, R2_MAX_UPLOAD_MB="2")
    with streamlit_app(env, secrets=lambda _: '[roles]\ndefault = "member"\n') as url:
        # A visitor who is not signed in (no proxy header): the sign-in page, and no upload at all.
        with session(browser, url, "/") as (page, sid):
            expect(page.get_by_text("came without it")).to_be_visible()
            statuses = [put_file(page, sid, f"forged-{i}", 1 * MIB) for i in range(3)]
            held = held_upload_bytes(url)
            print(f"anonymous: statuses {statuses}, server holds {held} bytes")
            assert statuses == [400, 400, 400]
            assert held == 0
        # A member: uploads within R2_MAX_UPLOAD_MB are accepted, larger ones refused by the server.
        with session(browser, url, "/upload", extra_http_headers={HEADER: "mem@example.com"}) as (page, sid):
            expect(page.get_by_text("Images", exact=True).first).to_be_visible()
            assert put_file(page, sid, "small", 1 * MIB) == 204
            assert put_file(page, sid, "large", 3 * MIB) == 413, "above R2_MAX_UPLOAD_MB (2)"
            held = held_upload_bytes(url)
            print(f"member: server holds {held} bytes")
            # The small file may already be gone (a rerun drops files no widget holds); the large never came.
            assert held < 2 * MIB


def test_a_member_cannot_open_reserved_keys_by_deep_link(browser, s3) -> None:  # type: ignore[no-untyped-def]
    for i in range(40):
        s3.put_object(Bucket=TEST_BUCKET, Key=f"{AUDIT_DAY}{i:03d}-ann@example.com-delete.json", Body=b"{}")
    s3.put_object(Bucket=TEST_BUCKET, Key="uploads/a.jpg", Body=b"x")
    env = env_for(s3.meta.endpoint_url, R2_DEFAULT_ROLE="member")
    with streamlit_app(env) as url:
        page = browser.new_page()
        page.goto(f"{url}/browse?object={AUDIT_DAY}001-ann@example.com-delete.json")
        expect(page.get_by_text("reserved for the app").first).to_be_visible()
        expect(page.get_by_text("Share link")).to_have_count(0)
        expect(page.get_by_role("link", name="Download")).to_have_count(0)
        assert "ann@example.com" not in page.locator("[data-testid='stMain']").inner_text()

        page.goto(f"{url}/browse?folder={AUDIT_DAY}&size=30")
        expect(page.get_by_text("reserved for the app").first).to_be_visible()
        expect(page.locator('[data-key="uploads/a.jpg"]')).to_have_count(0)  # the root: a folder, no objects
        next_button = page.get_by_role("button", name="Next →")
        if next_button.count() and next_button.is_enabled():
            next_button.click()
            page.wait_for_url(re.compile(r"page=2"))
        assert ".dashboard" not in page.url and "ann@example.com" not in page.url
        page.close()


def test_a_broken_user_level_secrets_file_keeps_the_dashboard_closed(browser, s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    (home / ".streamlit").mkdir(parents=True)
    (home / ".streamlit" / "secrets.toml").write_text('[auth]\nclient_id = "x"\nserver_metadata_url = \n')
    s3.put_object(Bucket=TEST_BUCKET, Key="uploads/a.jpg", Body=b"x")
    with streamlit_app(env_for(s3.meta.endpoint_url, HOME=str(home))) as url:
        page = browser.new_page()
        page.goto(url + "/browse")
        expect(page.get_by_text("cannot be read, so the dashboard stays closed")).to_be_visible()
        expect(page.get_by_role("heading", name="Browse")).to_have_count(0)
        expect(page.locator('[data-key="uploads/a.jpg"]')).to_have_count(0)
        page.close()
