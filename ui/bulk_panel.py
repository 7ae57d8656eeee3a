"""The "Select many" panel of Browse and Search: choose items, the whole page, or everything in the folder
or matching the search (count and size shown first); then move, copy, ZIP or delete.

Each action re-reads the visitor's role and re-checks the folders they may change at the moment it
runs (`r2.bulk.authorize`), not only when its button is drawn. The logic is in r2/ (bulk, bulk_delete,
zipdown); this draws it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

from r2 import bulk, bulk_actions, bulk_delete, bulk_search, zipdown
from r2.browse import Entry
from r2.catalog import Search
from r2.client import S3Client
from r2.errors import R2Error
from r2.presign import sign_get
from r2.settings import Settings
from ui.auth import Visitor, current_visitor
from ui.feedback import progress_of, show_error
from ui.freshness import bucket_changed
from ui.light import drawn_when_open
from ui.state import catalog
from ui.text import escape_md, human_bytes

SCOPES = ("Chosen items", "This page")
SEARCH_FLASH = "search_flash"
ACTIONS = ("Move / copy", "Download as ZIP", "Delete (admins)")


@dataclass(frozen=True)
class Scope:
    """Where a selection is made: the items on the page, and what "everything" means there.

    Browse: a folder (listed when asked). Search: every match of the search (from the catalog).
    """

    objects: Sequence[Entry]
    everything: str  # the third choice, e.g. "Everything in this folder"
    ident: str  # the folder, or the search: a count made for one is never used for another
    count_everything: Callable[[], bulk.Selection] | None  # None: not offered here (`not_offered` says why)
    not_offered: str = ""
    folder: str = ""  # Browse's folder: its name confirms a large delete (elsewhere: the number of objects)
    prefix: str = "bulk"  # of the widget and session keys, one set per page
    flash: str = "browse_flash"  # the session key of the messages shown after the rerun

    def confirmation(self, selection: bulk.Selection) -> tuple[str, str]:
        """What an admin types to delete more than CONFIRM_OVER objects, and what that is."""
        if self.folder:
            return self.folder.rstrip("/"), "the folder's name"
        return str(selection.count), "the number of objects"


def folder_scope(client: S3Client, settings: Settings, folder: str, objects: Sequence[Entry]) -> Scope:
    """Browse: the page's items, or everything under the open folder (one LIST per 1,000 objects)."""
    return Scope(
        objects,
        "Everything in this folder",
        folder,
        (lambda: bulk.select_folder(client, settings.bucket, folder)) if folder else None,
        "Open a folder first: the whole bucket cannot be selected at once.",
        folder=folder,
    )


def search_scope(query: Search, ident: str, objects: Sequence[Entry]) -> Scope:
    """Search: the page's matches, or every match of `query` (`ident`: the search's URL), from the catalog."""
    return Scope(
        objects,
        "Everything matching this search",
        ident,
        lambda: bulk_search.select_search(catalog(), query),
        prefix="search-bulk",
        flash=SEARCH_FLASH,
    )


def show_flash(scope_flash: str) -> None:
    """The outcome of the action of the previous run (the page reran to show the bucket as it is now)."""
    for kind, text in st.session_state.pop(scope_flash, []):
        getattr(st, kind)(text)


def _flash(scope: Scope, *messages: tuple[str, str]) -> None:
    st.session_state.setdefault(scope.flash, []).extend(messages)


def _selection(scope: Scope) -> bulk.Selection | None:
    objects = scope.objects
    names = {o.key: o.name for o in objects}
    choice = st.radio("Select", (*SCOPES, scope.everything), horizontal=True, key=f"{scope.prefix}-scope")
    if choice == SCOPES[0]:
        chosen = st.multiselect("Items", list(names), format_func=lambda k: names[k], key=f"{scope.prefix}-chosen")
        picked = [bulk.Item(o.key, o.size, o.etag) for o in objects if o.key in chosen]
        return bulk.selection_of(picked) if picked else None
    if choice == SCOPES[1]:
        return bulk.selection_of(bulk.Item(o.key, o.size, o.etag) for o in objects)
    if scope.count_everything is None:
        st.info(scope.not_offered)
        return None
    counted = st.session_state.get(f"{scope.prefix}-everything")
    if counted is None or counted[0] != scope.ident:
        if not st.button(f"Count {scope.everything.lower()}", key=f"{scope.prefix}-count"):
            return None
        try:
            st.session_state[f"{scope.prefix}-everything"] = (scope.ident, scope.count_everything())
        except R2Error as err:
            show_error(err)
            return None
    return st.session_state[f"{scope.prefix}-everything"][1]  # type: ignore[no-any-return]


def _visitor_now(settings: Settings) -> Visitor:
    """The visitor's roles read again now (a role removed since the page was drawn is refused)."""
    return current_visitor(settings)


def _move_or_copy(
    client: S3Client, settings: Settings, scope: Scope, selection: bulk.Selection, action: str, dest: str
) -> None:
    visitor = _visitor_now(settings)
    try:
        bulk.authorize(visitor.roles, settings, selection.keys, dest)
        plan = bulk.plan_transfer(client, settings.bucket, selection, dest, action=action)
        bar = st.progress(0.0, text=f"{action}: 0 of {len(plan.steps)}")
        result = bulk.run_transfer(
            client,
            settings.bucket,
            plan,
            progress=progress_of(bar, lambda d, t: f"{action}: {d} of {t}"),
            on_change=bulk.catalog_hook(settings, catalog()),
        )
    except R2Error as err:
        _flash(scope, ("error", escape_md(str(err))))
        return
    bucket_changed()
    st.session_state.pop(f"{scope.prefix}-everything", None)
    verb = "Moved" if action == "move" else "Copied"
    messages: list[tuple[str, str]] = [("success", f"{verb} {len(result.done)} object(s) to {escape_md(plan.dest)}.")]
    if result.both:
        messages.append(("warning", f"{len(result.both)} object(s) are in both places: run the same {action} again."))
    _flash_outcome(
        scope,
        messages,
        result.failed,
        bulk_actions.audit_transfer(client, settings.bucket, visitor.actor, plan, result),
    )


def _flash_outcome(
    scope: Scope, messages: list[tuple[str, str]], failed: Sequence[tuple[str, str]], audit_warning: str
) -> None:
    """Show a bulk action's outcome after the rerun: what was done, each failure (at most 20), and
    whether the audit log missed it."""
    messages += [("error", escape_md(f"{k}: {why}")) for k, why in failed[:20]]
    if audit_warning:
        messages.append(("warning", escape_md(f"Done, but not recorded in the audit log: {audit_warning}")))
    _flash(scope, *messages)


def _zip(client: S3Client, settings: Settings, scope: Scope, selection: bulk.Selection) -> None:
    visitor = _visitor_now(settings)
    try:
        bulk.authorize(visitor.roles, settings, selection.keys)
        bar = st.progress(0.0, text="ZIP: 0 bytes")
        key, report = zipdown.zip_to_bucket(
            client,
            settings.bucket,
            selection,
            max_bytes=int(settings.zip_max_mb * 1024 * 1024),
            progress=progress_of(bar, lambda d, t: f"ZIP: {human_bytes(d)}"),
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
    st.session_state[f"{scope.prefix}-zip"] = (url, len(report.entries), report.bytes)


def _delete(client: S3Client, settings: Settings, scope: Scope, plan: bulk_delete.DeletePlan, typed: str) -> bool:
    """Run the delete (True: done, rerun to show the report) or say why not (False)."""
    visitor = _visitor_now(settings)
    if "admin" not in visitor.roles:
        st.error("Only admins may delete.")
        return False
    try:
        expected, what = scope.confirmation(plan.selection)
        bulk_delete.check_confirmation(plan, expected, typed, what)
    except R2Error as err:
        show_error(err)
        return False
    bar = st.progress(0.0, text="Deleting…")
    st.button("Stop", key=f"{scope.prefix}-stop")  # a click reruns the page, which ends this run between batches
    report = bulk_delete.run_delete(
        client,
        settings.bucket,
        plan,
        progress=progress_of(bar, lambda d, t: f"Deleting: batch {d} of {t}"),
        on_change=bulk.catalog_hook(settings, catalog()),
    )
    bucket_changed()
    st.session_state.pop(f"{scope.prefix}-everything", None)
    messages: list[tuple[str, str]] = [("success", f"Deleted {len(report.deleted)} object(s) and their thumbnails.")]
    if report.remaining:
        messages.append(("warning", f"{report.remaining} object(s) were not deleted: delete again to finish."))
    _flash_outcome(
        scope, messages, report.failed, bulk_delete.audit_report(client, settings.bucket, visitor.actor, plan, report)
    )
    return True


def _rename_box(client: S3Client, settings: Settings, scope: Scope, key: str) -> None:
    """One object: change the name it is shown and downloaded under (the key stays the generated one)."""
    name = st.text_input("New display name", key=f"{scope.prefix}-rename-name", placeholder="holiday.jpg")
    if not st.button("Rename", key=f"{scope.prefix}-rename", disabled=not name.strip()):
        return
    visitor = _visitor_now(settings)
    try:
        bulk.authorize(visitor.roles, settings, [key])
        stored = bulk_actions.rename(
            client, settings.bucket, key, name, on_change=bulk.catalog_hook(settings, catalog())
        )
    except R2Error as err:
        show_error(err)
        return
    bucket_changed()
    bulk_actions.audit_quietly(client, settings.bucket, visitor.actor, "rename", key, name=stored)
    _flash(scope, ("success", escape_md(f"{key} is now shown as {stored}.")))
    st.rerun()


def bulk_panel(client: S3Client, settings: Settings, visitor: Visitor, folder: str, objects: Sequence[Entry]) -> None:
    """Browse's panel: the folder's page of objects, or everything under the folder."""
    select_many(client, settings, visitor, folder_scope(client, settings, folder, objects))


def select_many(client: S3Client, settings: Settings, visitor: Visitor, scope: Scope) -> None:
    key = scope.prefix
    with drawn_when_open("Select many: move, copy, ZIP, delete", f"{key}-panel") as box:
        if not box.open:
            return
        selection = _selection(scope)
        if selection is None or not selection.items:
            return
        st.markdown(f"**{selection.count} object(s), {human_bytes(selection.total_size)}** selected.")
        # a keyed control, not tabs: tabs fall back to the first one when the panel above them changes
        action = st.segmented_control("Action", ACTIONS, default=ACTIONS[0], key=f"{key}-action")
        if action == ACTIONS[0]:
            dest = st.text_input("Destination folder", placeholder="e.g. uploads/2026/", key=f"{key}-dest")
            b1, b2 = st.columns(2)
            for column, verb in ((b1, "move"), (b2, "copy")):
                if column.button(verb.title(), key=f"{key}-{verb}", disabled=not dest.strip(), width="stretch"):
                    _move_or_copy(client, settings, scope, selection, verb, dest)
                    st.rerun()
            if selection.count == 1:
                _rename_box(client, settings, scope, selection.keys[0])
        elif action == ACTIONS[1]:
            st.caption("The ZIP is built in the bucket (streamed) and downloaded from it by a link valid 1 hour.")
            if st.button("Prepare ZIP", key=f"{key}-zip-make", icon=":material/folder_zip:"):
                _zip(client, settings, scope, selection)
            made = st.session_state.get(f"{key}-zip")
            if made:
                st.link_button(f"Download ZIP ({made[1]} files, {human_bytes(made[2])})", made[0])
        elif action == ACTIONS[2]:
            _delete_box(client, settings, visitor, scope, selection)


def _delete_box(
    client: S3Client, settings: Settings, visitor: Visitor, scope: Scope, selection: bulk.Selection
) -> None:
    """Admins: the count, size, thumbnails and exact request count first; typed confirmation beyond 100."""
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
        f"thumbnail(s): {plan.operations} DeleteObjects request(s). R2 has no versioning: this is permanent.",
        icon=":material/warning:",
    )
    typed = ""
    if plan.needs_typed_confirmation():
        expected, what = scope.confirmation(selection)
        typed = st.text_input(f"Type {what} ({expected}) to confirm", key=f"{scope.prefix}-typed")
    if st.button("Delete permanently", key=f"{scope.prefix}-delete", type="primary") and _delete(
        client, settings, scope, plan, typed
    ):
        st.rerun()
