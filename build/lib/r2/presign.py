"""Presigned URLs (signed locally, ~0.2 ms each, no request to R2). Never log the URLs they return."""

from __future__ import annotations

from r2.client import S3Client
from r2.errors import InvalidInput
from r2.naming import check_key, check_visible
from r2.settings import MAX_PRESIGN_SECONDS


def check_expiry(seconds: int) -> int:
    if not 1 <= seconds <= MAX_PRESIGN_SECONDS:
        raise InvalidInput(
            f"A signed URL can live from 1 second to 7 days ({MAX_PRESIGN_SECONDS} s), not {seconds} s.",
            "Choose a shorter lifetime; R2 refuses longer ones.",
        )
    return seconds


def sign_get(
    client: S3Client,
    bucket: str,
    key: str,
    expires: int,
    *,
    download_name: str | None = None,
    reserved_ok: bool = False,
) -> str:
    """A GET URL for a private object. `download_name` makes browsers save it under that name.

    Keys under the reserved prefixes are refused (`r2.naming.check_visible`) unless `reserved_ok`: only
    the app's own code passes it, for a thumbnail of a visible key or a health probe it wrote.
    """
    params: dict[str, str] = {"Bucket": bucket, "Key": check_key(key) if reserved_ok else check_visible(key)}
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
