"""Upload: images from the browser through the pipeline in r2/uploads/ (checked, cleaned, never overwriting)."""

import math

import streamlit as st

from r2.errors import R2Error
from r2.images import ImagePolicy
from r2.presign import sign_get
from r2.uploads import Uploaded, accepted_extensions, upload_files
from ui.auth import require
from ui.catalog_view import details_link
from ui.direct_upload import direct_upload_section
from ui.feedback import show_error
from ui.freshness import bucket_changed
from ui.state import catalog, connection
from ui.text import escape_md, human_bytes

visitor = require("member")

st.title("Upload")
settings, client = connection()
policy = ImagePolicy.from_settings(settings)
strip_words = (
    "all metadata (EXIF except orientation, XMP, comments)" if policy.strip == "all" else "GPS location and XMP"
)
st.caption(
    f"**Accepted:** {escape_md(policy.describe())}. Files are checked by their content, not their name. "
    f"Removed before storing: {strip_words}. Each image gets a new name `folder/uuid.ext` (the original "
    "name is kept as metadata) and nothing is ever overwritten."
)

folders = list(settings.folders)
if len(folders) == 1:  # nothing to choose: no drop-down (and none of its script for the browser to fetch)
    folder = folders[0]
    st.markdown(f"**Folder** {escape_md(folder)}/")
else:
    wanted = st.query_params.get("folder")
    folder = st.selectbox("Folder", folders, index=folders.index(wanted) if wanted in folders else 0)
    st.query_params["folder"] = folder

# --- direct upload: browser -> bucket through presigned PUT URLs; the app path below is the fallback
direct_ok = direct_upload_section(settings, client, visitor.actor, folder)
st.subheader("Or upload through the app" if direct_ok else "Upload through the app", anchor=False)
# --- end direct upload

extensions = accepted_extensions(policy.formats)
round_ = st.session_state.setdefault("upload_round", 0)
files = st.file_uploader(
    "Images",
    type=extensions,
    accept_multiple_files=True,
    key=f"upload-files-{round_}",
    max_upload_size=max(1, math.ceil(settings.max_upload_mb)),
    help="Drag and drop several files at once.",
)

store_duplicates = st.checkbox(
    "Store duplicates anyway",
    value=False,
    help="By default a file whose content is already stored (same image after cleaning) is skipped, with a "
    "link to the stored one.",
)

if files and st.button(f"Upload {len(files)} file{'s' if len(files) != 1 else ''}", type="primary"):
    progress = st.progress(0.0, text="Starting…")
    actor = visitor.actor

    def on_progress(done: int, result: object) -> None:
        progress.progress(done / len(files), text=f"{done} of {len(files)} checked and stored")

    try:
        results = upload_files(
            client,
            settings,
            [(f.name, f.getvalue()) for f in files],
            folder=folder,
            actor=actor,
            on_progress=on_progress,
            catalog=catalog(),
            duplicates=store_duplicates,
        )
    except R2Error as err:  # settings-level problems (a folder removed meanwhile, ...)
        show_error(err)
        results = []
    progress.empty()
    if any(isinstance(r, Uploaded) for r in results):
        bucket_changed()  # Browse lists again at once
    st.session_state["upload_results"] = results
    st.session_state["upload_round"] = round_ + 1  # a fresh, empty uploader: nothing is sent twice
    st.rerun()

results = st.session_state.get("upload_results")
if not results:
    st.info("Choose or drop images above, then press Upload. Results appear here.", icon=":material/upload:")
    st.stop()

uploaded = [r for r in results if isinstance(r, Uploaded)]
rejected = [r for r in results if not isinstance(r, Uploaded)]
if uploaded:
    st.success(f"{len(uploaded)} of {len(results)} uploaded.", icon=":material/check_circle:")
if rejected:
    reasons = "\n".join(f"- **{escape_md(r.file)}**: {escape_md(r.reason)}" for r in rejected)
    st.error(
        f"{len(rejected)} of {len(results)} rejected: nothing of them was stored.\n\n{reasons}",
        icon=":material/block:",
    )

rows = []
for r in results:
    row = {"File": r.file, "Status": r.status, "Key": r.key, "Size": "", "Dimensions": "", "Removed": "", "Reason": ""}
    row["Preview"] = ""
    row["Link"] = ""
    if isinstance(r, Uploaded):
        try:
            row["Preview"] = sign_get(
                client, settings.bucket, r.thumbnail_key or r.key, settings.preview_ttl_seconds, reserved_ok=True
            )
            row["Link"] = sign_get(client, settings.bucket, r.key, settings.share_ttl_seconds)
        except R2Error as err:
            row["Reason"] = err.message
        row.update(
            Size=human_bytes(r.size),
            Dimensions=f"{r.width} × {r.height}",
            Removed=", ".join(r.removed) or "nothing",
            Reason=" ".join(r.problems),
        )
    else:
        row["Reason"] = r.reason
        if r.duplicate_of:  # a link to the image already stored
            row["Key"] = r.duplicate_of
            row["Link"] = details_link(r.duplicate_of)
    rows.append(row)

st.dataframe(
    rows,
    hide_index=True,
    column_order=["Preview", "File", "Status", "Reason", "Key", "Size", "Dimensions", "Removed", "Link"],
    column_config={
        "Preview": st.column_config.ImageColumn("Preview", width="small"),
        "Reason": st.column_config.TextColumn("Reason", width="medium"),
        "Link": st.column_config.LinkColumn("Link", display_text="open", width="small"),
    },
)

for r in uploaded:
    for problem in r.problems:
        st.warning(f"{escape_md(r.file)}: {escape_md(problem)}", icon=":material/warning:")

if uploaded:
    hours = settings.share_ttl_seconds / 3600
    st.subheader("Copy links")
    st.caption(f"Signed links, valid for {hours:g} hour{'s' if hours != 1 else ''} (R2_SHARE_TTL_SECONDS).")
    for r in uploaded:
        st.text(f"{r.file} → {r.key}")
        st.code(next(row["Link"] for row in rows if row["Key"] == r.key) or "", language=None)
