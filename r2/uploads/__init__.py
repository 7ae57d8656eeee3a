"""The upload pipeline every upload path uses: plan -> check and clean -> store (never overwriting).

- `plan_upload(settings, name, size, declared_type, folder)` decides the key and the limits before
  any byte exists (a direct browser upload signs its PUT from this plan).
- `images.clean(source, policy, ...)` checks and cleans bytes, an open file or a file on disk,
  whatever way they arrived.
- `store(...)` writes the thumbnail and then the original with `If-None-Match: *`; if the original
  cannot be written, the new thumbnail is deleted again, so a failed file leaves nothing behind.
  A thumbnail failure does not lose the original: the result says so and Browse can regenerate it.
- A direct browser upload composes the same parts: `plan_upload` -> signed PUT of the raw bytes to a
  staging key under `.dashboard/` -> `images.clean_file(downloaded_file, plan.policy, ...)` (file to
  file) -> `store(..., copy_from=(staged key, etag))`, which writes the final key with If-None-Match:
  the cleaned file streamed from disk, or, when nothing was removed, a server-side copy of the staged
  object (no bytes sent). See `r2.direct`.
- `upload_file` / `upload_files` do it all per file and record an `upload` audit event per stored
  file. Each file gets a frozen `Uploaded` or `Rejected` result; one file failing never stops the rest.

Where each part lives: `planning` (names, keys, folders, `plan_upload`), `storing` (conditional PUT
and copy, `store`, the catalog row) and `batch` (`upload_file`, `upload_files` and their results).
"""

from r2.uploads.batch import UNEXPECTED_ERROR, Rejected, Result, Source, Uploaded, upload_file, upload_files
from r2.uploads.planning import (
    MAX_NAME_META,
    UploadPlan,
    accepted_extensions,
    choose_folder,
    decode_name,
    display_name,
    encode_name,
    new_key,
    plan_upload,
)
from r2.uploads.storing import (
    CACHE_CONTROL,
    Checked,
    content_sha256,
    copy_new,
    is_own_write,
    metadata_for,
    put_new,
    store,
    stored_row,
)

__all__ = [
    "CACHE_CONTROL",
    "MAX_NAME_META",
    "UNEXPECTED_ERROR",
    "Checked",
    "Rejected",
    "Result",
    "Source",
    "UploadPlan",
    "Uploaded",
    "accepted_extensions",
    "choose_folder",
    "content_sha256",
    "copy_new",
    "decode_name",
    "display_name",
    "encode_name",
    "is_own_write",
    "metadata_for",
    "new_key",
    "plan_upload",
    "put_new",
    "store",
    "stored_row",
    "upload_file",
    "upload_files",
]
