"""Browse: one folder level per page, one LIST per page view, previews through signed URLs."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from r2.browse import (
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    Entry,
    ListingPage,
    Tile,
    UrlSigner,
    breadcrumb,
    check_folder,
    extension_choices,
    filter_objects,
    list_page,
    missing_thumbnails,
    tiles,
)
from r2.catalog import Row, forget_deleted, note_thumbnails
from r2.client import S3Client
from r2.errors import AccessDenied, InvalidInput, NotFound, R2Error
from r2.naming import check_visible, thumbnail_key
from r2.objects import delete_with_audit, head
from r2.presign import check_expiry, sign_get
from r2.settings import MAX_PRESIGN_SECONDS
from r2.thumbnails import regenerate, remove_orphans
from ui.auth import require
from ui.browse_grid import grid_html
from ui.bulk_panel import bulk_panel
from ui.catalog_view import known_rows
from ui.feedback import show_error
from ui.freshness import bucket_changed, bucket_version
from ui.light import drawn_when_open
from ui.state import catalog, connection
from ui.text import escape_md, human_bytes

visitor = require("member")
settings, client = connection()
is_admin = "admin" in visitor.roles
can_repair = "developer" in visitor.roles  # "Make missing thumbnails"; checked again when it runs
signer = UrlSigner.from_settings(settings)  # same URLs as boto3, half the CPU (bench/browse.py)
ss = st.session_state

SHARE_PRESETS = {
    "15 minutes": 15 * 60,
    "1 hour": 3600,
    "1 day": 86400,
    "7 days (maximum)": MAX_PRESIGN_SECONDS,
    "Custom…": 0,
}
LARGE_PREVIEW_LIMIT = 25 * 1024 * 1024  # larger originals are previewed through their thumbnail
LISTING_TTL_SECONDS = 30  # changes made outside this app show within this time (or on Refresh)


@st.cache_data(show_spinner=False, max_entries=256, ttl=LISTING_TTL_SECONDS)
def cached_page(
    _client: S3Client,
    bucket: str,
    folder: str,
    search: str,
    size: int,
    token: str | None,
    after: str | None,
    version: int,
) -> ListingPage:
    """One LIST; the cache is keyed by bucket_version(), so this app's own writes show at once."""
    return list_page(_client, bucket, folder, search=search, page_size=size, token=token, start_after=after)


@st.cache_data(show_spinner=False, max_entries=256)
def cached_tiles(
    _signer: UrlSigner, bucket: str, _objects: tuple[Entry, ...], keys: tuple[str, ...], expires: int, epoch: int
) -> tuple[Tile, ...]:
    """Signed tile URLs, stable for half their lifetime so the browser's image cache keeps working."""
    return tiles(None, bucket, _objects, expires, signer=_signer)


def go(**changes: str | int | None) -> None:
    """Change the URL's query parameters (the deep link) and rerun."""
    for name, value in changes.items():
        if value is None or value == "":
            st.query_params.pop(name, None)
        else:
            st.query_params[name] = str(value)
    st.rerun()


def details_link(key: str) -> str:
    """This view's deep link with `key` selected: a grid tile's target (a link, so Tab and Enter open it)."""
    return "?" + urlencode({**st.query_params.to_dict(), "object": key})


def signing_epoch(expires: int) -> int:
    return int(time.time() // max(1, expires // 2))


# ---- where we are (all of it in the URL) ----------------------------------------------------------
params = st.query_params
try:
    folder = check_folder(params.get("folder", ""))
except InvalidInput as err:
    show_error(err)
    folder = ""
    for name in ("folder", "after", "page"):
        st.query_params.pop(name, None)
search = params.get("q", "")
view = params.get("view", "grid")
try:
    page_no = max(1, int(params.get("page", "1")))
except ValueError:
    page_no = 1
try:
    size = int(params.get("size", DEFAULT_PAGE_SIZE))
except ValueError:
    size = DEFAULT_PAGE_SIZE
size = size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE
selected = params.get("object", "")
if selected:
    try:
        check_visible(selected)  # reserved keys are never opened, signed or shared, whatever the role
    except InvalidInput as err:
        show_error(err)
        selected = ""
        st.query_params.pop("object", None)

st.title("Browse")

# Flash messages from the previous run (deletes, thumbnails).
for kind, text in ss.pop("browse_flash", []):
    getattr(st, kind)(text)

# ---- breadcrumb -------------------------------------------------------------------------------------
crumbs = breadcrumb(folder)
with st.container(horizontal=True, vertical_alignment="center", gap="small"):
    for i, (label, target) in enumerate(crumbs):
        here = target == folder
        shown_label = label if i == 0 else escape_md(label) + "/"
        if i:
            st.text("›")
        if st.button(shown_label, key=f"crumb-{i}", type="secondary" if here else "tertiary", disabled=here):
            go(folder=target, page=None, after=None, object=None, q=None)

# ---- controls ---------------------------------------------------------------------------------------
c1, c2, c3, c4 = st.columns([6, 2, 2, 1], vertical_alignment="bottom")
with c1:
    typed = st.text_input(
        "Search by key prefix (on the server)",
        value=search,
        placeholder="start of a name in this folder, e.g. 2026-",
        help="S3 can only match the start of a key. This asks the server for names in this folder that "
        "start with the text: one LIST, fast on any bucket size.",
    )
with c2:
    new_view = st.segmented_control("View", ["grid", "list"], default=view, format_func=str.title)
with c3:
    new_size = st.selectbox("Per page", PAGE_SIZES, index=PAGE_SIZES.index(size))
with c4:
    if st.button("", icon=":material/refresh:", help="List again (changes made outside this app)"):
        cached_page.clear()
        st.rerun()
if typed.strip() != search:
    go(q=typed.strip(), page=None, after=None)
if new_view and new_view != view:
    go(view=new_view)
if new_size != size:
    go(size=new_size, page=None, after=None)

# ---- the one LIST of this page view -----------------------------------------------------------------
positions = ss.setdefault("browse_positions", {})  # (folder, search, size) -> {page: (token, after)}
known = positions.setdefault((folder, search, size), {1: (None, None)})
token, after = known.get(page_no, (None, params.get("after") or None))
if page_no > 1 and token is None and not after:
    st.info(f"This link did not say where page {page_no} starts, so here is the first page.")
    page_no, token, after = 1, None, None

try:
    page = cached_page(client, settings.bucket, folder, search, size, token, after, bucket_version())
except AccessDenied as err:
    st.warning("You cannot list this bucket with the configured credentials.", icon=":material/lock:")
    st.caption(escape_md(err.fix or err.message))
    st.stop()
except R2Error as err:
    show_error(err)
    st.stop()
if page.next_token:
    known[page_no + 1] = (page.next_token, page.last_key)

# ---- empty states -----------------------------------------------------------------------------------
if page.is_empty and page_no == 1 and page.next_token is None:
    if search:
        st.info("Nothing in this folder starts with that text.", icon=":material/search_off:")
    elif folder:
        st.info("This folder is empty (or was just emptied).", icon=":material/folder_open:")
        if st.button("Back to the bucket root"):
            go(folder="", page=None, after=None, object=None)
    else:
        st.info("The bucket is empty. Upload images on the **Upload** page.", icon=":material/photo_library:")
    st.stop()
if page.is_empty:
    st.info("Nothing to show on this page (items were deleted meanwhile, or only reserved entries were here).")

# ---- sub-folders first ------------------------------------------------------------------------------
if page.folders:
    st.subheader("Folders")
    with st.container(horizontal=True, gap="small"):
        for entry in page.folders:
            if st.button(escape_md(entry.name), key=f"folder-{entry.key}", icon=":material/folder:"):
                go(folder=entry.key, page=None, after=None, object=None, q=None)

# ---- client-side filters ----------------------------------------------------------------------------
objects = page.objects
shown: tuple[Entry, ...] = ()
if objects:
    shown = objects
    with drawn_when_open("Filter this page (no request: only the items already loaded)", "browse_filters") as box:
        if box.open:
            f1, f2, f3 = st.columns(3)
            contains = f1.text_input("Name contains")
            chosen = f2.multiselect("Extension", extension_choices(objects))
            dates = f3.date_input("Modified between", value=(), format="YYYY-MM-DD")
            since = dates[0] if isinstance(dates, tuple) and len(dates) >= 1 else None
            until = dates[1] if isinstance(dates, tuple) and len(dates) == 2 else since
            shown = filter_objects(objects, contains=contains, extensions=chosen, since=since, until=until)
            if len(shown) != len(objects):
                st.caption(f"{len(shown)} of {len(objects)} objects on this page match. Other pages are not searched.")

# ---- objects ------------------------------------------------------------------------------------------
if objects:
    st.subheader("Images and files")
known: dict[str, Row] = {}
if objects and not shown:
    st.info("No object on this page matches the filters.")
elif shown:
    expires = settings.preview_ttl_seconds
    tile_list = cached_tiles(
        signer, settings.bucket, shown, tuple(o.key for o in shown), expires, signing_epoch(expires)
    )
    # Names, uploaders and dates come from the catalog, looked up in process for this page's keys: no HEAD
    # per row, and still the page's one LIST (objects without a row, e.g. from other tools, show their key).
    known = known_rows([o.key for o in shown])
    tile_list = tuple(
        replace(t, name=known[t.key].display_name, by=known[t.key].by_line) if t.key in known else t for t in tile_list
    )
    if view == "list":
        originals = {}
        for o in shown:
            try:
                originals[o.key] = signer.sign_get(o.key, expires)
            except InvalidInput:
                originals[o.key] = None
        frame = pd.DataFrame(
            {
                "preview": [t.url or None for t in tile_list],
                "name": [t.name for t in tile_list],
                "uploaded by": [known[o.key].uploader if o.key in known else None for o in shown],
                "uploaded": [known[o.key].uploaded_at if o.key in known else None for o in shown],
                "key": [o.key for o in shown],
                "size": [o.size for o in shown],
                "last modified": [o.last_modified for o in shown],
                "type": [o.content_type for o in shown],
                "open": [originals[o.key] for o in shown],
            }
        )
        st.dataframe(
            frame,
            hide_index=True,
            column_config={
                "preview": st.column_config.ImageColumn("preview", width="small"),
                "size": st.column_config.NumberColumn("size (bytes)", format="%d"),
                "last modified": st.column_config.DatetimeColumn("last modified", format="YYYY-MM-DD HH:mm"),
                "uploaded": st.column_config.DatetimeColumn("uploaded", format="YYYY-MM-DD HH:mm"),
                "open": st.column_config.LinkColumn("open", display_text="open"),
            },
        )
    else:
        st.html(grid_html(tile_list, selected, link=details_link))
    missing = [t for t in tile_list if t.source == "thumbnail"]
    if missing:
        st.caption(
            f"{len(missing)} larger image(s) on this page are shown through thumbnails; a grey "
            "“No thumbnail yet” tile means none was made (for example, uploaded outside this app)."
        )

# ---- paging -------------------------------------------------------------------------------------------
hidden = f" · {page.hidden} reserved entr{'y' if page.hidden == 1 else 'ies'} hidden" if page.hidden else ""
summary = (
    f"Page {page_no} · {len(page.folders)} folder(s), {len(objects)} object(s){hidden}. "
    "One LIST per page; filters act on this page only."
)
if page_no == 1 and page.next_token is None:
    st.caption(summary)
else:
    p1, p2, p3 = st.columns([1, 2, 1], vertical_alignment="center")
    with p1:
        if st.button("← Previous", disabled=page_no == 1, width="stretch"):
            prev_after = known.get(page_no - 1, (None, None))[1]
            go(page=page_no - 1 if page_no > 2 else None, after=prev_after)
    p2.caption(summary)
    with p3:
        if st.button("Next →", disabled=page.next_token is None, width="stretch"):
            go(page=page_no + 1, after=page.last_key)

# ---- select many: move, copy, ZIP, delete (ui/bulk_panel.py) ------------------------------------------
if folder or objects:
    bulk_panel(client, settings, visitor, folder, shown if objects else ())

# ---- select: details and delete ---------------------------------------------------------------------
keys = [o.key for o in shown] if objects else []
names = {o.key: known[o.key].display_name if o.key in known else o.name for o in objects}
if keys:
    options = ["", *keys]
    choice = st.selectbox(
        "Details of",
        options,
        index=options.index(selected) if selected in options else 0,
        format_func=lambda k: names.get(k, k) if k else "(choose an object)",
    )
    if choice != selected and (choice or selected in options):
        go(object=choice or None)


@st.dialog("Delete permanently?", on_dismiss=lambda: ss.pop("browse_confirm", None))
def confirm_delete() -> None:
    targets: list[str] = ss.get("browse_confirm", [])
    st.warning(
        "R2 has no versioning: deleted objects cannot be restored. Their thumbnails are deleted too.",
        icon=":material/warning:",
    )
    st.write(f"{len(targets)} object(s) will be deleted:")
    st.code("\n".join(targets), language=None, wrap_lines=True)
    d1, d2 = st.columns(2)
    if d1.button("Delete permanently", type="primary", width="stretch"):
        flash: list[tuple[str, str]] = []
        try:
            outcome = delete_with_audit(client, settings.bucket, targets, actor=visitor.actor)
        except R2Error as err:
            flash.append(("error", escape_md(str(err))))
        else:
            result = outcome.result
            bucket_changed()
            if result.deleted:
                flash.append(("success", f"Deleted {len(result.deleted)} object(s) and their thumbnails."))
            if warning := forget_deleted(catalog(), result.deleted):
                flash.append(("warning", escape_md(warning)))
            for key, reason in result.failed:
                flash.append(("error", escape_md(f"Could not delete {key}: {reason}")))
            if why := outcome.audit_error:
                flash.append(("warning", escape_md(f"The delete was done but not recorded in the audit log: {why}")))
            if selected in result.deleted:
                st.query_params.pop("object", None)
        ss["browse_flash"] = flash
        ss.pop("browse_confirm", None)
        st.rerun()
    if d2.button("Cancel", width="stretch"):
        ss.pop("browse_confirm", None)
        st.rerun()


if is_admin and keys:
    with drawn_when_open("Delete (admins)", "browse_delete_panel") as box:
        if box.open:
            doomed = st.multiselect("Objects to delete", keys, format_func=lambda k: names.get(k, k))
            if st.button("Delete selected…", disabled=not doomed, icon=":material/delete:"):
                ss["browse_confirm"] = list(doomed)
if ss.get("browse_confirm"):
    if is_admin:
        confirm_delete()
    else:
        ss.pop("browse_confirm", None)

# ---- make thumbnails for this folder (developers: it downloads and decodes other people's objects) -----
if can_repair and any(t.source == "thumbnail" for t in (tile_list if shown else ())):
    with drawn_when_open("Make missing thumbnails for this folder", "browse_thumbs_panel") as box:
        if box.open:
            st.caption(
                "Lists this folder and its thumbnails (one LIST per 1,000 entries each), then downloads each "
                "image without a thumbnail and stores one, under the upload rules (formats, size and pixel "
                "limits). You can stop at any time; what is done stays done. Recorded in the audit log."
            )
            if st.button("Make thumbnails", icon=":material/auto_awesome:") and can_repair:
                try:
                    todo = missing_thumbnails(client, settings.bucket, folder)
                except R2Error as err:
                    show_error(err)
                    todo = ()
                if not todo:
                    st.success("Every image in this folder already has a thumbnail.")
                else:
                    bar = st.progress(0.0, text=f"0 of {len(todo)}")
                    st.button("Stop", key="thumbs-stop")  # clicking it reruns the page, which stops the loop
                    started = time.monotonic()
                    result = regenerate(
                        client,
                        settings,
                        todo,
                        actor=visitor.actor,
                        target=folder or "/",
                        on_progress=lambda done, total, key: bar.progress(done / total, text=f"{done} of {total}"),
                        should_stop=lambda: time.monotonic() - started > 600,
                    )
                    try:  # and thumbnails left behind by uploads cut between their two writes
                        orphans = remove_orphans(client, settings.bucket, folder, actor=visitor.actor)
                    except R2Error as err:
                        show_error(err)
                        orphans = ()
                    bucket_changed()
                    flash = [("success", f"Made {len(result.made)} thumbnail(s).")]
                    if orphans:
                        flash.append(("info", f"Removed {len(orphans)} thumbnail(s) whose image is gone."))
                    if warning := note_thumbnails(catalog(), result.made):
                        flash.append(("warning", escape_md(warning)))
                    flash += [("warning", escape_md(f"{k}: {why}")) for k, why in result.failed[:20]]
                    if result.audit_error:
                        flash.append(("warning", escape_md(f"Not recorded in the audit log: {result.audit_error}")))
                    ss["browse_flash"] = flash
                    st.rerun()

# ---- details of the selected object (one HEAD) ------------------------------------------------------
if selected:
    st.divider()
    st.subheader("Details")
    st.code(selected, language=None, wrap_lines=True)
    try:
        info = head(client, settings.bucket, selected)
    except NotFound:
        st.info("This object no longer exists (deleted or renamed).")
        st.stop()
    except R2Error as err:
        show_error(err)
        st.stop()
    dims = f"{info.dimensions[0]} × {info.dimensions[1]} px" if info.dimensions else "not recorded"
    rows = {
        "size": f"{human_bytes(info.size)} ({info.size:,} bytes)",
        "type": info.content_type or "unknown",
        "dimensions": dims,
        "ETag": info.etag,
        "last modified": info.last_modified.isoformat() if info.last_modified else "",
        "original file name": info.original_name or "not recorded",
        "uploaded by": info.uploaded_by or "not recorded",
    }
    left, right = st.columns([3, 2])
    with right:
        st.dataframe(pd.DataFrame({"field": list(rows), "value": list(rows.values())}), hide_index=True)
        try:
            st.link_button(
                "Download",
                sign_get(
                    client, settings.bucket, selected, settings.preview_ttl_seconds, download_name=info.download_name
                ),
                icon=":material/download:",
            )
        except InvalidInput as err:
            show_error(err)
        st.markdown("**Share link**")
        preset = st.selectbox("Lifetime", list(SHARE_PRESETS), index=1)
        seconds = SHARE_PRESETS[preset]
        if not seconds:
            seconds = int(st.number_input("Lifetime in seconds", min_value=1, value=settings.share_ttl_seconds))
        if st.button("Create share link", icon=":material/link:"):
            try:
                url = sign_get(client, settings.bucket, selected, check_expiry(seconds))
            except InvalidInput as err:
                show_error(err)
            else:
                until_at = datetime.now(UTC) + timedelta(seconds=seconds)
                st.code(url, language=None, wrap_lines=True)
                st.caption(
                    f"Works for anyone holding it until {until_at:%Y-%m-%d %H:%M} UTC; it cannot be revoked "
                    "earlier (only rotating the API token ends it)."
                )
        if is_admin and st.button("Delete this object…", icon=":material/delete:"):
            ss["browse_confirm"] = [selected]
            st.rerun()
    with left:
        if info.content_type.startswith("image/") or selected.lower().endswith((".jpg", ".jpeg", ".png", ".webp")):
            target = selected if info.size <= LARGE_PREVIEW_LIMIT else thumbnail_key(selected)
            try:
                url = sign_get(client, settings.bucket, target, settings.preview_ttl_seconds, reserved_ok=True)
                st.image(url, alt=info.original_name or selected)  # what a screen reader says for it
            except InvalidInput as err:
                show_error(err)
        else:
            st.info("No preview for this type of file.")
