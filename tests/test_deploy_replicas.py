"""Two replicas of the app behind the shipped nginx config share one bucket, and survive losing one.

The design's promise: the app is stateless (everything it keeps lives in the bucket), so any number of
replicas can run behind a proxy with sticky sessions. Here two `streamlit run` processes serve one local
S3 bucket behind deploy/nginx.conf, and browser sessions pinned to different replicas check what users
rely on: each other's uploads, one audit log, one CORS policy (a stale edit refused across replicas),
usage snapshots, and a replica dying under its users.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from r2 import audit, cors_store
from r2.catalog import Catalog
from r2.client import S3Client, make_client
from r2.naming import is_hidden
from r2.usage import snapshots as usage_snapshots
from tests.support import corpus
from tests.support.browser import expect, streamlit_process
from tests.support.env import TEST_BUCKET, env_for, settings_for
from tests.support.fake_oidc import FakeOIDCProvider
from tests.support.nginx import nginx_in_front, route_keys
from tests.support.servers import free_port

pytestmark = pytest.mark.browser


class Cluster:
    def __init__(
        self, proxy: str, replicas: dict[int, Any], keys: dict[int, str], client: S3Client, endpoint: str
    ) -> None:
        self.proxy, self.replicas, self.keys, self.client = proxy, replicas, keys, client
        self.settings = settings_for(endpoint)

    def session(self, browser: Any, port: int) -> Any:
        """A browser session that the proxy pins to the replica on `port`."""
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_cookies([{"name": "r2_route", "value": self.keys[port], "url": self.proxy}])
        page = context.new_page()
        page.set_default_timeout(60_000)
        return page

    def served_by(self, page: Any) -> int:
        answer = page.request.get(f"{self.proxy}/")
        return int(answer.headers["x-upstream"].rsplit(":", 1)[1])


@contextmanager
def two_replicas(
    endpoint: str, listen: int, env: dict[str, str], secrets: Callable[[str], str] | None = None
) -> Iterator[Cluster]:
    """Two `streamlit run` replicas on one bucket behind deploy/nginx.conf listening on `listen`."""
    client = make_client(settings_for(endpoint))
    with contextlib.suppress(ClientError):  # the module's first test made it already
        client.create_bucket(Bucket=TEST_BUCKET, CreateBucketConfiguration={"LocationConstraint": "auto"})
    with ExitStack() as stack:
        replicas = {}
        for _ in range(2):
            base, proc = stack.enter_context(streamlit_process(env, secrets=secrets))
            replicas[int(base.rsplit(":", 1)[1])] = proc
        proxy = stack.enter_context(nginx_in_front(sorted(replicas), listen=listen))
        yield Cluster(proxy, replicas, route_keys(proxy, sorted(replicas)), client, endpoint)


@pytest.fixture(scope="module")
def cluster(s3_server: Any) -> Iterator[Cluster]:
    endpoint = s3_server.endpoint
    requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
    listen = free_port()
    # Both replicas know the origin people use (the proxy's), and every visitor is an admin here so
    # that one session can reach every page (roles have their own tests).
    env = env_for(endpoint, R2_APP_ORIGIN=f"http://localhost:{listen}", R2_DEFAULT_ROLE="admin")
    with two_replicas(endpoint, listen, env) as running:
        yield running


def _upload(page: Any, proxy: str, path: Any) -> None:
    page.goto(f"{proxy}/upload")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(path)])
    page.get_by_role("button", name="Upload 1 file").click()
    expect(page.get_by_text("1 of 1 uploaded")).to_be_visible()


def _see(page: Any, text: str) -> None:
    try:
        expect(page.get_by_text(text).first).to_be_visible()
    except AssertionError:
        page.screenshot(path="/tmp/see-fail.png", full_page=True)
        raise


def _tile(page: Any, key: str) -> None:
    """The grid shows the object (its tile carries the key; the caption shows the original name)."""
    try:
        expect(page.locator(f'[data-key="{key}"]').first).to_be_visible()
    except AssertionError:
        page.screenshot(path="/tmp/see-fail.png", full_page=True)
        raise


def _key_named(client: S3Client, name: str) -> str:
    for item in client.list_objects_v2(Bucket=TEST_BUCKET, Prefix="uploads/").get("Contents", []):
        head = client.head_object(Bucket=TEST_BUCKET, Key=item["Key"])
        if head["Metadata"].get("original-name") == name:
            return str(item["Key"])
    raise AssertionError(f"no stored object has the original name {name!r}")


def test_replicas_share_uploads_audit_cors_and_usage(cluster: Cluster, browser: Any, tmp_path: Any) -> None:
    first, second = sorted(cluster.replicas)
    ann, bob = cluster.session(browser, first), cluster.session(browser, second)
    assert (cluster.served_by(ann), cluster.served_by(bob)) == (first, second)

    # Ann looks at the folder before Bob uploads: her replica has listed it once already.
    a_photo, b_photo = tmp_path / "ann.jpg", tmp_path / "bob.jpg"
    a_photo.write_bytes(corpus.jpeg_gps((320, 240)))
    b_photo.write_bytes(corpus.jpeg_gps((240, 320)))
    _upload(ann, cluster.proxy, a_photo)
    ann.goto(f"{cluster.proxy}/?folder=uploads/")
    a_key = _key_named(cluster.client, "ann.jpg")
    _tile(ann, a_key)

    _upload(bob, cluster.proxy, b_photo)
    b_key = _key_named(cluster.client, "bob.jpg")
    # Bob's replica lists the folder fresh and sees both; Ann's sees Bob's upload after a refresh (the
    # listing cache is per process: other writers show within 30 s, or at once with the button).
    bob.goto(f"{cluster.proxy}/?folder=uploads/")
    for name in (a_key, b_key):
        _tile(bob, name)
    ann.get_by_role("button", name="refresh icon").click()  # "List again (changes made outside this app)"
    _tile(ann, b_key)

    # One audit log: both replicas' uploads are in it.
    events = audit.query(cluster.client, TEST_BUCKET, limit=50).events
    assert {e.target for e in events if e.action == "upload"} >= {a_key, b_key}
    # One catalog: each replica recorded its own upload in the shared table, which matches the bucket.
    listed = {o["Key"] for o in cluster.client.list_objects_v2(Bucket=TEST_BUCKET).get("Contents", [])}
    catalogued = set(Catalog(cluster.settings, cluster.client, fresh_seconds=0).data().column("key").to_pylist())
    assert catalogued == {k for k in listed if not is_hidden(k)} and {a_key, b_key} <= catalogued

    # One CORS policy: both open the editor on "no policy"; Ann applies; Bob's apply is refused as stale.
    for page in (ann, bob):
        page.goto(f"{cluster.proxy}/cors")
        page.get_by_role("tab", name="Edit").click()
        page.get_by_role("button", name="Start from the preset").click()
        expect(page.get_by_text("Valid: 1 rule(s)").first).to_be_visible()
    ann.get_by_role("button", name="Apply").click()
    expect(ann.get_by_text("Applied and read back the CORS policy").first).to_be_visible()
    assert cors_store.read_policy(cluster.client, TEST_BUCKET) is not None
    bob.get_by_role("button", name="Apply").click()
    expect(bob.get_by_text("changed since you loaded it").first).to_be_visible()
    # What the refusal tells Bob to do: load the live policy, which is Ann's, although his replica had
    # cached "no policy" (CORS reads are cached 30 s per process; the button reads again).
    bob.get_by_role("button", name="Load the live policy").click()
    _see(bob, f'"{cluster.proxy}"')

    # Usage: Bob's replica has shown "no scan yet"; a scan saved on Ann's replica reaches him within the
    # 30 s that pages keep a bucket read (he reloads as a user would).
    bob.goto(f"{cluster.proxy}/usage")
    _see(bob, "No scan yet")
    ann.goto(f"{cluster.proxy}/usage")
    ann.get_by_role("button", name="Scan now").click()
    _see(ann, "Scanned ")
    assert usage_snapshots.history(cluster.client, TEST_BUCKET), "the scan saved no snapshot in the bucket"
    deadline = time.monotonic() + 45
    while True:
        bob.reload()
        expect(bob.get_by_text("Latest scan").or_(bob.get_by_text("No scan yet")).first).to_be_visible()
        if bob.get_by_text("Latest scan").count():
            break
        assert time.monotonic() < deadline, "Bob's replica still shows no scan 45 s after Ann's"
        bob.wait_for_timeout(3000)


def test_uploads_up_to_the_limit_pass_the_proxy(cluster: Cluster, browser: Any, tmp_path: Any) -> None:
    """R2_MAX_UPLOAD_MB (10 by default) through nginx: a photo of ~8 MB is stored, nothing cut short."""
    from PIL import Image

    noise = Image.frombytes("RGB", (1600, 1700), os.urandom(1600 * 1700 * 3))  # incompressible: ~8 MB as PNG
    big = tmp_path / "big.png"
    noise.save(big, "PNG", compress_level=1)
    assert 7_000_000 < big.stat().st_size < 10 * 1024 * 1024
    page = cluster.session(browser, sorted(cluster.replicas)[0])
    _upload(page, cluster.proxy, big)
    key = _key_named(cluster.client, "big.png")
    assert cluster.client.head_object(Bucket=TEST_BUCKET, Key=key)["ContentLength"] == big.stat().st_size
    page.context.close()


def test_sign_in_through_the_proxy_holds_on_every_replica(s3_server: Any, browser: Any) -> None:
    """OIDC sign-in redirects go through the proxy, and a visitor sent to the other replica (a deploy, a
    failover) stays signed in: both replicas share the [auth] cookie_secret, as docs/deploy.md says."""
    listen = free_port()
    proxy = f"http://localhost:{listen}"
    user = {"email": "ann@example.com", "email_verified": True, "name": "Ann Admin"}
    roles = '\n[roles]\ndefault = "none"\n[roles.admin]\nemails = ["ann@example.com"]\n'
    with FakeOIDCProvider(user) as idp:
        shared = idp.auth_toml(proxy) + roles  # one cookie_secret for both replicas
        env = env_for(s3_server.endpoint, R2_APP_ORIGIN=proxy)
        with two_replicas(s3_server.endpoint, listen, env, secrets=lambda _own_url: shared) as signed:
            first, second = sorted(signed.replicas)
            page = signed.session(browser, first)
            page.goto(signed.proxy)
            page.get_by_role("button", name="Sign in").click()
            _see(page, "Ann Admin")
            _see(page, "role admin")
            assert signed.served_by(page) == first
            page.context.add_cookies([{"name": "r2_route", "value": signed.keys[second], "url": signed.proxy}])
            page.reload()
            _see(page, "role admin")
            assert signed.served_by(page) == second
            page.context.close()


def test_a_replica_that_dies_hands_its_users_to_the_other(cluster: Cluster, browser: Any, tmp_path: Any) -> None:
    """Last in this module: it stops a replica. Its users reconnect through the proxy to the other one,
    losing only what was on their screen; everything stored stays."""
    doomed, survivor = sorted(cluster.replicas)
    carol = cluster.session(browser, doomed)
    photo = tmp_path / "carol.jpg"
    photo.write_bytes(corpus.jpeg_gps((200, 150)))
    _upload(carol, cluster.proxy, photo)
    key = _key_named(cluster.client, "carol.jpg")
    stored_before = {o["Key"] for o in cluster.client.list_objects_v2(Bucket=TEST_BUCKET)["Contents"]}

    cluster.replicas[doomed].kill()  # no goodbye: as a crash or a lost machine
    cluster.replicas[doomed].wait(timeout=30)
    # The open tab, not a new one: Streamlit's page reconnects its WebSocket by itself and the proxy sends
    # it to the surviving replica, so in-app navigation works again without a reload (the uploads table
    # that was on screen is gone, the image is not).
    carol.get_by_role("link", name="Browse", exact=True).click()
    _see(carol, "Search by key prefix")
    assert cluster.served_by(carol) == survivor
    carol.goto(f"{cluster.proxy}/?folder=uploads/")
    _tile(carol, key)
    stored_after = {o["Key"] for o in cluster.client.list_objects_v2(Bucket=TEST_BUCKET)["Contents"]}
    assert stored_after == stored_before
