"""Every presigned URL the app makes is signed here: GET links (previews, thumbnails, downloads,
shares, the health probe) and PUT links (direct uploads, the health probe).

Signing is local (about 0.2 ms per URL with boto3, half that with `UrlSigner`), no request to R2.
The URLs are credentials for their lifetime: never log them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode

from r2.client import S3Client
from r2.errors import InvalidInput
from r2.naming import check_key, check_visible
from r2.settings import MAX_PRESIGN_SECONDS, Settings


def check_expiry(seconds: int) -> int:
    if not 1 <= seconds <= MAX_PRESIGN_SECONDS:
        raise InvalidInput(
            f"A signed URL can live from 1 second to 7 days ({MAX_PRESIGN_SECONDS} s), not {seconds} s.",
            "Choose a shorter lifetime; R2 refuses longer ones.",
        )
    return seconds


def _readable(key: str, reserved_ok: bool) -> str:
    """The key a GET link may be signed for: reserved keys (`r2.naming.check_visible`) are refused
    unless `reserved_ok`, which only the app's own code passes (a visible key's thumbnail, a zip it
    wrote, a health probe)."""
    return check_key(key) if reserved_ok else check_visible(key)


def sign_get(
    client: S3Client,
    bucket: str,
    key: str,
    expires: int,
    *,
    download_name: str | None = None,
    reserved_ok: bool = False,
) -> str:
    """A GET URL for a private object. `download_name` makes browsers save it under that name."""
    params: dict[str, str] = {"Bucket": bucket, "Key": _readable(key, reserved_ok)}
    if download_name:
        safe = download_name.replace('"', "").replace("\\", "")
        params["ResponseContentDisposition"] = f'attachment; filename="{safe}"'
    return str(client.generate_presigned_url("get_object", Params=params, ExpiresIn=check_expiry(expires)))


def sign_put(
    client: S3Client,
    bucket: str,
    key: str,
    expires: int,
    *,
    content_type: str,
    content_length: int,
    if_none_match: bool = True,
) -> str:
    """A PUT URL that signs Content-Type, the exact Content-Length and (default) If-None-Match: *.

    R2 has no presigned POST, so signing the exact length is the only way to cap an upload's size;
    the browser must send exactly these headers (and CORS must allow content-type and if-none-match).
    """
    if content_length < 0:
        raise InvalidInput("The upload's size is negative.")
    params: dict[str, object] = {
        "Bucket": bucket,
        "Key": check_key(key),
        "ContentType": content_type,
        "ContentLength": content_length,
    }
    if if_none_match:
        params["IfNoneMatch"] = "*"
    return str(client.generate_presigned_url("put_object", Params=params, ExpiresIn=check_expiry(expires)))


@dataclass(frozen=True)
class UrlSigner:
    """Presigned GET URLs identical to `sign_get`'s (boto3's `generate_presigned_url` for this app's
    client: path-style, SigV4 query string), built with botocore's own signer but without the per-call
    endpoint-rule resolution and parameter validation: about half the CPU per URL (bench/browse.py).
    Browse signs a page of previews with it. A test compares its URLs with boto3's byte for byte."""

    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str = "auto"

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlSigner:
        return cls(settings.endpoint, settings.bucket, settings.access_key_id, settings.secret_access_key)

    def sign_get(self, key: str, expires: int, *, reserved_ok: bool = False) -> str:
        """Refuses reserved keys unless `reserved_ok`, as `sign_get` does."""
        path = percent_encode(_readable(key, reserved_ok), safe="/~")
        request = AWSRequest(method="GET", url=f"{self.endpoint.rstrip('/')}/{self.bucket}/{path}")
        credentials = Credentials(self.access_key_id, self.secret_access_key)
        S3SigV4QueryAuth(credentials, "s3", self.region, expires=check_expiry(expires)).add_auth(request)
        return str(request.prepare().url)
