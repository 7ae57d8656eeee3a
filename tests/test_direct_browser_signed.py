"""The browser's PUT against a server that checks presigned signatures (LocalStack), as R2 does.

moto accepts any signature, so only here does a test prove that what Chromium sends (the file's
Content-Length, the Content-Type and If-None-Match set by the component) is exactly what was signed,
and that a refused signature (403 with an S3 error body) is told apart from a CORS block.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from PIL import Image

from r2.client import S3Client, make_client
from tests.support.browser import expect, streamlit_app
from tests.support.env import settings_for

pytestmark = pytest.mark.browser

BUCKET = "direct-browser"
INPUT = '[data-testid="r2-direct-input"]'
ROWS = '[data-testid="r2-direct-files"] li'


@pytest.fixture
def ls_s3(localstack_endpoint: str) -> S3Client:
    client = make_client(
        settings_for(localstack_endpoint, R2_ACCESS_KEY_ID="test", R2_SECRET_ACCESS_KEY="test", R2_BUCKET=BUCKET)
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)
    return client


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), "purple").save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("secret", ["test", "not-the-secret-0123"], ids=["signed", "wrong-key"])
def test_browser_put_on_a_signature_checking_server(  # type: ignore[no-untyped-def]
    browser,
    localstack_endpoint: str,
    ls_s3: S3Client,
    secret: str,
) -> None:
    env = {"R2_ENDPOINT": localstack_endpoint, "R2_ACCESS_KEY_ID": "test", "R2_SECRET_ACCESS_KEY": secret}
    with streamlit_app({**env, "R2_BUCKET": BUCKET}) as url:
        rule = {"AllowedOrigins": [url], "AllowedMethods": ["PUT", "GET", "HEAD"]}
        # LocalStack 4.3.0 splits Access-Control-Request-Headers on ", " only, and Chromium sends
        # "content-type,if-none-match": with the two names listed it refuses every preflight. R2 wants
        # them listed (README); here "*" sidesteps LocalStack's parser, as this test is about signatures.
        rule["AllowedHeaders"] = ["*"]
        ls_s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [rule]})
        before = {o["Key"] for o in ls_s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
        page = browser.new_page()
        page.goto(f"{url}/upload")
        page.locator(INPUT).wait_for(state="attached", timeout=30_000)
        page.set_input_files(INPUT, files=[{"name": "p.png", "mimeType": "image/png", "buffer": png()}])
        row = page.locator(ROWS).first
        if secret == "test":
            expect(row).to_contain_text("Stored and checked.", timeout=30_000)
            after = {o["Key"] for o in ls_s3.list_objects_v2(Bucket=BUCKET, Prefix="uploads/").get("Contents", [])}
            (key,) = after - before
            assert ls_s3.head_object(Bucket=BUCKET, Key=key)["ContentType"] == "image/png"
        else:
            expect(row).to_contain_text("refused the signature (403 SignatureDoesNotMatch)", timeout=30_000)
            expect(row).to_contain_text("This is not CORS")
            after = {o["Key"] for o in ls_s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
            assert not {k for k in after - before if k.startswith("uploads/")}
        page.close()
