"""Browse's "Select many" panel: choose items, the whole page or the whole folder; move, copy, ZIP, delete.

Each action re-reads the visitor's role and re-checks the folders they may change at the moment it
runs (`r2.bulk.authorize`), not only when its button is drawn. The logic is in r2/ (bulk, bulk_delete,
zipdown); this draws it.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from r2 import bulk, bulk_actions, bulk_delete, zipdown
from r2.browse import Entry
from r2.client import S3Client
from r2.errors import R2Error
from r2.presign import sign_get
from r2.settings import Settings
from ui.auth import Visitor, current_visitor
from ui.feedback import show_error
from ui.freshness import bucket_changed
from ui.text import escape_md, human_bytes

ss = st.session_state
SCOPES = ("Chosen items", "This page", "Everything in this folder")
ACTIONS = ("Move / copy", "Download as ZIP", "Delete (admins)")


def _flash(*messages: tuple[str, str]) -> None:
    ss.setdefault("browse_flash", []).extend(messages)


def _selection(client: S3Client, settings: Settings, folder: str, objects: Sequence[Entry]) -> bulk.Selection | None:
    names = {o.key: o.name for o in objects}
    scope = st.radio("Select", SCOPES, horizontal=True, key="bulk-scope")
    if scope == "Chosen items":
        chosen = st.multiselect("Items", list(names), format_func=lambda k: names[k], key="bulk-chosen")
        picked = [bulk.Item(o.key, o.size, o.etag) for o in objects if o.key in chosen]
        return bulk.selection_of(picked) if picked else None
    if scope == "This page":
        return bulk.selection_of(bulk.Item(o.key, o.size, o.etag) for o in objects)
    if not folder:
        st.info("Open a folder first: the whole bucket cannot be selected at once.")
        return None
    counted = ss.get("bulk-folder")
    if counted is None or counted[0] != folder:
        if not st.button("Count everything in this folder", key="bulk-count"):
            return None
        try:
            ss["bulk-folder"] = (folder, bulk.select_folder(client, settings.bucket, folder))
        except R2Error as err:
            show_error(err)
            return None
    return ss["bulk-folder"][1]  # type: ignore[no-any-return]


def _visitor_now(settings: Settings) -> Visitor:
    """The visitor's roles read again now (a role removed since the page was drawn is refused)."""
    return current_visitor(settings)


def _move_or_copy(client: S3Client, settings: Settings, selection: bulk.Selection, action: str, dest: str) -> None:
    visitor = _visitor_now(settings)
    try:
        bulk.authorize(visitor.roles, settings, selection.keys, dest)
        plan = bulk.plan_transfer(client, settings.bucket, selection, dest, action=action)
        bar = st.progress(0.0, text=f"{action}: 0 of {len(plan.steps)}")
        result = bulk.run_transfer(
            client,
            settings.bucket,
            plan,
            progress=lambda d, t: bar.progress(d / max(t, 1), text=f"{action}: {d} of {t}"),
            on_change=bulk.catalog_hook(settings),
        )
    except R2Error as err:
        _flash(("error", escape_md(str(err))))
        return
    bucket_changed()
    ss.pop("bulk-folder", None)
    verb = "Moved" if action == "move" else "Copied"
    messages: list[tuple[str, str]] = [("success", f"{verb} {len(result.done)} object(s) to {escape_md(plan.dest)}.")]
    if result.both:
        messages.append(("warning", f"{len(result.both)} object(s) are in both places: run the same {action} again."))
    _flash_outcome(
        messages, result.failed, bulk_actions.audit_transfer(client, settings.bucket, visitor.actor, plan, result)
    )


def _flash_outcome(messages: list[tuple[str, str]], failed: Sequence[tuple[str, str]], audit_warning: str) -> None:
    """Show a bulk action's outcome after the rerun: what was done, each failure (at most 20), and
    whether the audit log missed it."""
    messages += [("error", escape_md(f"{k}: {why}")) for k, why in failed[:20]]
    if audit_warning:
        messages.append(("warning", escape_md(f"Done, but not recorded in the audit log: {audit_warning}")))
    _flash(*messages)


def _zip(client: S3Client, settings: Settings, selection: bulk.Selection) -> None:
    visitor = _visitor_now(settings)
    try:
        bulk.authorize(visitor.roles, settings, selection.keys)
        bar = st.progress(0.0, text="ZIP: 0 bytes")
        key, report = zipdown.zip_to_bucket(
            client,
            settings.bucket,
            selection,
            max_bytes=int(settings.zip_max_mb * 1024 * 1024),
            progress=lambda d, t: bar.progress(min(1.0, d / max(t, 1)), text=f"ZIP: {human_bytes(d)}"),
        )
        # The app's own ZIP of keys this visitor may read (authorised above), under .dashboard/zips/ with a
        # generated name: signing it is the one reserved key this view may hand out.
        url = sign_get(client, settings.bucket, key, 3600, download_name="images.zip", reserved_ok=True)
    except R2Error as err:
        show_error(err)
        return
    bulk_actions.audit_quietly(
        client, settings.bucket, visitor.actor, "zip", f"{len(report.entries)} objects", keys=list(selection.keys)
    )
    ss["bulk-zip"] = (url, len(report.entries), report.bytes)


def _delete(client: S3Client, settings: Settings, folder: str, plan: bulk_delete.DeletePlan, typed: str) -> bool:
    """Run the delete (True: done, rerun to show the report) or say why not (False)."""
    visitor = _visitor_now(settings)
    if "admin" not in visitor.roles:
        st.error("Only admins may delete.")
        return False
    try:
        bulk_delete.check_confirmation(plan, folder, typed)
    except R2Error as err:
        show_error(err)
        return False
    bar = st.progress(0.0, text="Deleting…")
    st.button("Stop", key="bulk-stop")  # a click reruns the page, which ends this run between batches
    report = bulk_delete.run_delete(
        client,
        settings.bucket,
        plan,
        progress=lambda d, t: bar.progress(d / max(t, 1), text=f"Deleting: batch {d} of {t}"),
        on_change=bulk.catalog_hook(settings),
    )
    bucket_changed()
    ss.pop("bulk-folder", None)
    messages: list[tuple[str, str]] = [("success", f"Deleted {len(report.deleted)} object(s) and their thumbnails.")]
    if report.remaining:
        messages.append(("warning", f"{report.remaining} object(s) were not deleted: delete again to finish."))
    _flash_outcome(
        messages, report.failed, bulk_delete.audit_report(client, settings.bucket, visitor.actor, plan, report)
    )
    return True


def _rename_box(client: S3Client, settings: Settings, key: str) -> None:
    """One object: change the name it is shown and downloaded under (the key stays the generated one)."""
    name = st.text_input("New display name", key="bulk-rename-name", placeholder="holiday.jpg")
    if not st.button("Rename", key="bulk-rename", disabled=not name.strip()):
        return
    visitor = _visitor_now(settings)
    try:
        bulk.authorize(visitor.roles, settings, [key])
        stored = bulk_actions.rename(client, settings.bucket, key, name, on_change=bulk.catalog_hook(settings))
    except R2Error as err:
        show_error(err)
        return
    bucket_changed()
    bulk_actions.audit_quietly(client, settings.bucket, visitor.actor, "rename", key, name=stored)
    _flash(("success", escape_md(f"{key} is now shown as {stored}.")))
    st.rerun()


def bulk_panel(client: S3Client, settings: Settings, visitor: Visitor, folder: str, objects: Sequence[Entry]) -> None:
    with st.expander("Select many: move, copy, ZIP, delete"):
        selection = _selection(client, settings, folder, objects)
        if selection is None or not selection.items:
            return
        st.markdown(f"**{selection.count} object(s), {human_bytes(selection.total_size)}** selected.")
        # a keyed control, not tabs: tabs fall back to the first one when the panel above them changes
        action = st.segmented_control("Action", ACTIONS, default=ACTIONS[0], key="bulk-action")
        if action == ACTIONS[0]:
            dest = st.text_input("Destination folder", placeholder="e.g. uploads/2026/", key="bulk-dest")
            b1, b2 = st.columns(2)
            for column, action in ((b1, "move"), (b2, "copy")):
                if column.button(action.title(), key=f"bulk-{action}", disabled=not dest.strip(), width="stretch"):
                    _move_or_copy(client, settings, selection, action, dest)
                    st.rerun()
            if selection.count == 1:
                _rename_box(client, settings, selection.keys[0])
        elif action == ACTIONS[1]:
            st.caption("The ZIP is built in the bucket (streamed) and downloaded from it by a link valid 1 hour.")
            if st.button("Prepare ZIP", key="bulk-zip-make", icon=":material/folder_zip:"):
                _zip(client, settings, selection)
            made = ss.get("bulk-zip")
            if made:
                st.link_button(f"Download ZIP ({made[1]} files, {human_bytes(made[2])})", made[0])
        elif action == ACTIONS[2]:
            if "admin" not in visitor.roles:
                st.caption("Only admins may delete.")
                return
            try:
                plan = bulk_delete.plan_delete(client, settings.bucket, selection)
            except R2Error as err:
                show_error(err)
                return
            st.warning(
                f"{selection.count} object(s), {human_bytes(selection.total_size)}, {len(plan.thumbnails)} "
                f"thumbnail(s): {plan.operations} DeleteObjects request(s). R2 has no versioning: "
                "this is permanent.",
                icon=":material/warning:",
            )
            typed = ""
            if plan.needs_typed_confirmation():
                typed = st.text_input(f"Type the folder's name ({folder.rstrip('/')}) to confirm", key="bulk-typed")
            if st.button("Delete permanently", key="bulk-delete", type="primary") and _delete(
                client, settings, folder, plan, typed
            ):
                st.rerun()
