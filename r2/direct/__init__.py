"""Direct upload: the browser PUTs each file straight to the bucket through a presigned URL.

The app never carries the bytes. The protocol (driven by `ui/direct_upload.py`):

1. The browser offers each picked file: name, size, type (`Offer`).
2. `plan()` refuses what the limits or the allowed types rule out *before any PUT* and signs a PUT
   URL for the rest (`Ticket`): Content-Type, the exact Content-Length and `If-None-Match: *` are
   signed (R2 has no presigned POST, so the exact length is the only size cap), short-lived. The PUT
   goes to a **staging key** under the app's reserved prefix (`.dashboard/direct/<batch>/<final key>`):
   invisible to Browse and never signed for GET. A small batch record (`<batch>.json`: who signed
   for which names) is written next to it, so the server can finish the job without the browser.
3. The browser PUTs with exactly those headers and reports each result (`BrowserReport`).
   `explain_failure()` tells a CORS block (network error, no status) from a refused signature or
   permission (403 with an S3 error body).
4. `verify()` checks the staged object on the server: HEAD for size and type, one streamed read into
   a temporary file for the same content checks as the upload pipeline, run on that file
   (`images.clean_file`: memory holds the decoded pixels, never the file), the thumbnail, then the
   **promotion** to the final generated key, never overwriting: the cleaned file streamed from disk,
   or, when nothing had to be removed, a server-side copy of the staged object (no bytes sent). The
   staged object is then deleted. A file that is not what it claimed is deleted and the user told why.
5. `sweep()` does step 4 for what nobody reported (a browser that PUT and never said so, or said it
   failed): one LIST of the staging prefix; a batch whose links have expired and whose reporting
   window has passed is verified and promoted (or deleted), each with an audit event, and its record
   removed. It runs when links are signed, once per Upload page session, and as `python -m r2
   direct-sweep`. Verification therefore never depends on the browser's word.

Before offering any of this, `cors_check()` sends the browser's preflight from the server and says
exactly which part of the bucket's CORS policy is missing, so the page can fall back to the app path.

The steps live in one module each: `tickets` (1-2), `browser` (the CORS precheck and 3),
`verification` (4) and `sweeping` (5). Import the names from `r2.direct`.
"""

from r2.cors import UPLOAD_HEADERS as PUT_HEADERS  # what the browser's PUT sends
from r2.direct.browser import (
    BrowserReport,
    CorsCheck,
    FailureKind,
    classify,
    cors_check,
    cors_fix,
    explain_failure,
)
from r2.direct.sweeping import NO_RECORD, SWEEP_GRACE_SECONDS, SWEEP_NOTE, SweepResult, sweep
from r2.direct.tickets import (
    MAX_FILES,
    MAX_NAME_CHARS,
    STAGING_PREFIX,
    Offer,
    Refusal,
    Ticket,
    plan,
    record_batch,
    record_key,
    renew,
    renew_margin,
    staged_key,
)
from r2.direct.verification import CHUNK, ContentCheck, Outcome, Status, download_to, pipeline_check, verify

__all__ = [
    "CHUNK",
    "MAX_FILES",
    "MAX_NAME_CHARS",
    "NO_RECORD",
    "PUT_HEADERS",
    "STAGING_PREFIX",
    "SWEEP_GRACE_SECONDS",
    "SWEEP_NOTE",
    "BrowserReport",
    "ContentCheck",
    "CorsCheck",
    "FailureKind",
    "Offer",
    "Outcome",
    "Refusal",
    "Status",
    "SweepResult",
    "Ticket",
    "classify",
    "cors_check",
    "cors_fix",
    "download_to",
    "explain_failure",
    "pipeline_check",
    "plan",
    "record_batch",
    "record_key",
    "renew",
    "renew_margin",
    "staged_key",
    "sweep",
    "verify",
]
