"""Object permissions, probed on a probe object under the reserved prefix: write, read, signed URLs, delete."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests

from r2.errors import R2Error, Unavailable, s3_errors
from r2.health.model import PROBE_PREFIX, Outcome, Refused, Run, Skip, refused
from r2.presign import sign_get, sign_put

WRITE_REFUSED = refused(
    "Writing an object was refused (AccessDenied): uploads will fail.",
    "Use a token with Object Read & Write on this bucket (an Object Read token cannot upload).",
)
READ_REFUSED = refused(
    "Reading an object was refused (AccessDenied): previews and downloads will fail.",
    "Use a token with Object Read & Write (or Object Read) on this bucket.",
)
DELETE_REFUSED = refused("Deleting an object was refused (AccessDenied).", "")


def _xml_code(text: str) -> str:
    match = re.search(r"<Code>([^<]{1,80})</Code>", text)
    return match.group(1) if match else ""


def check_write(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    key = f"{PROBE_PREFIX}probe-{uuid.uuid4().hex}.txt"
    body = f"health probe {datetime.fromtimestamp(run.deps.clock(), UTC).isoformat()}".encode()
    run.to_delete.append(key)
    try:
        with s3_errors("write a probe object", target="the probe object", messages=WRITE_REFUSED):
            client.put_object(Bucket=s.bucket, Key=key, Body=body, ContentType="text/plain", IfNoneMatch="*")
    except R2Error as err:
        if not isinstance(err, Unavailable):  # the server answered no: nothing was stored
            run.to_delete.remove(key)
        if isinstance(err, Refused):
            run.can["write"] = False
        raise
    run.can["write"] = True
    run.probe_key, run.probe_body = key, body
    return "ok", f"Wrote a probe object under {PROBE_PREFIX} (conditional PUT, If-None-Match: *).", ""


def _need_probe(run: Run) -> str:
    run.s3()
    if run.probe_key is None:
        raise Skip("no probe object (writing it failed)")
    return run.probe_key


def check_read(run: Run) -> Outcome:
    key = _need_probe(run)
    try:
        with s3_errors("read the probe object", target="the probe object", messages=READ_REFUSED):
            body = run.s3().get_object(Bucket=run.settings.bucket, Key=key)["Body"].read()
    except Refused:
        run.can["read"] = False
        raise
    run.can["read"] = True
    if body != run.probe_body:
        return (
            "fail",
            "The probe object read back differs from what was written.",
            ("Something between this app and the bucket rewrites content (a proxy?); check R2_ENDPOINT."),
        )
    return "ok", "Read the probe object back; its content matches.", ""


def _http_failure(response: requests.Response) -> str:
    code = _xml_code(response.text[:4000])
    return f"HTTP {response.status_code}" + (f" ({code})" if code else "")


def check_signed_get(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    key: str | None = run.probe_key
    expected: bytes | None = run.probe_body
    if key is None:
        if run.sample_key is None:
            raise Skip("no object to fetch (writing the probe failed and the bucket is empty)")
        key, expected = run.sample_key, None
    url = sign_get(client, s.bucket, key, 60, reserved_ok=True)  # the probe lives under .dashboard/
    try:  # sent with the app's Origin, as a page's fetch() would: the answer shows the exposed headers
        response = run.http.get(url, headers={"Origin": s.app_origin}, timeout=run.timeout)
    except requests.RequestException as exc:
        return "fail", f"Fetching the signed URL failed ({type(exc).__name__}).", "Check the endpoint's network path."
    if response.status_code != 200:
        return (
            "fail",
            f"The server refused a signed GET URL: {_http_failure(response)}.",
            (
                "Signed URLs use the same key pair and clock as the app: see Authentication and Clock. Signed URLs "
                "work only on the r2.cloudflarestorage.com endpoint, not on a custom domain."
            ),
        )
    if response.headers.get("Access-Control-Allow-Origin") in ("*", s.app_origin):
        exposed = response.headers.get("Access-Control-Expose-Headers", "")
        run.exposed_on_get = {h.strip().lower() for h in exposed.split(",") if h.strip()}
    if expected is not None and response.content != expected:
        return "fail", "The signed GET returned other content than the probe object.", "Check R2_ENDPOINT."
    return "ok", "A signed GET URL (60 s) fetched the object over plain HTTP, as browsers will.", ""


def check_signed_put(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    if run.can.get("write") is False:
        raise Skip("writing objects is refused (see Write object)")
    key = f"{PROBE_PREFIX}signed-put-{uuid.uuid4().hex}.txt"
    body = b"signed put probe"
    url = sign_put(client, s.bucket, key, 60, content_type="text/plain", content_length=len(body))
    run.to_delete.append(key)
    try:
        response = run.http.put(
            url, data=body, headers={"Content-Type": "text/plain", "If-None-Match": "*"}, timeout=run.timeout
        )
    except requests.RequestException as exc:
        return "fail", f"Sending the signed PUT failed ({type(exc).__name__}).", "Check the endpoint's network path."
    if response.status_code not in (200, 201, 204):
        return (
            "fail",
            f"The server refused a signed PUT URL with Content-Type: {_http_failure(response)}.",
            (
                "Direct uploads will fail. Check the token's Object Read & Write permission, the clock, and that "
                "the browser sends exactly the signed Content-Type and Content-Length."
            ),
        )
    return "ok", "A signed PUT URL with Content-Type, Content-Length and If-None-Match was accepted.", ""


def check_delete(run: Run) -> Outcome:
    client, s = run.s3(), run.settings
    # Nothing written (a read-only token)? Deleting a key that does not exist still probes the
    # permission: S3 answers 204 for a missing key, AccessDenied when the token may not delete.
    keys = list(run.to_delete) or [f"{PROBE_PREFIX}never-written-{uuid.uuid4().hex}.txt"]
    probed_only = not run.to_delete

    def delete(key: str) -> R2Error | None:
        """None when deleted; the error otherwise (Refused: the token may not delete)."""
        try:
            with s3_errors("delete the probe object", target="the probe object", messages=DELETE_REFUSED):
                client.delete_object(Bucket=s.bucket, Key=key)
        except R2Error as err:
            return err
        return None

    with ThreadPoolExecutor(max_workers=len(keys), thread_name_prefix="health-delete") as pool:
        errors = list(pool.map(delete, keys))  # every probe in one round trip's time
    for key, error in zip(keys, errors, strict=True):
        if error is None and key in run.to_delete:
            run.to_delete.remove(key)
    failed = next((e for e in errors if e is not None and not isinstance(e, Refused)), None)
    if failed is not None:
        raise failed
    denied = [key for key, error in zip(keys, errors, strict=True) if isinstance(error, Refused)]
    if denied:
        run.can["delete"] = False
        by_hand = "" if probed_only else f"; then remove the probe object(s) {', '.join(denied)} by hand"
        return (
            "fail",
            "Deleting an object was refused (AccessDenied): deletes from Browse will fail.",
            (f"Use a token with Object Read & Write on this bucket{by_hand}."),
        )
    run.can["delete"] = True
    if probed_only:
        return "ok", "Delete is allowed (probed on a key that does not exist, as nothing was written).", ""
    return "ok", "Deleted the probe object(s): nothing is left behind.", ""
