"""Streamlit glue for the catalog: names for a page of keys, its freshness, a sync with progress."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode

import streamlit as st

from r2 import catalog_reports, catalog_sync
from r2.catalog import Catalog, Row
from r2.client import S3Client
from r2.errors import R2Error
from r2.settings import Settings
from ui.auth import Visitor
from ui.feedback import show_error
from ui.light import show_rows
from ui.state import catalog, connection
from ui.text import escape_md, human_bytes

_log = logging.getLogger(__name__)
_PLAN = "catalog_sync_plan"


def known_rows(keys: Sequence[str]) -> dict[str, Row]:
    """What the catalog knows about these keys, looked up in process (no request per key).

    A catalog that cannot be read leaves the page as it was (keys, no names): logged, never fatal.
    """
    try:
        return catalog().lookup(keys)
    except R2Error as exc:
        _log.warning("catalog lookup skipped: %s", exc.message)
        return {}


def freshness_text() -> str:
    """ "Catalog updated 3 min ago (version 12)" or why there is none."""
    cat = catalog()
    version = cat.version()
    if version is None:
        return "No catalog yet: an admin builds it with a sync (Usage page or `python -m r2 catalog sync`)."
    at = cat.updated_at()
    if at is None:
        return f"Catalog version {version}."
    minutes = max(0, int((datetime.now(UTC) - at).total_seconds() // 60))
    age = "just now" if minutes < 1 else f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"
    return (
        f"Catalog updated {age} (version {version}); this app's own uploads and deletes are in it at once, "
        "changes by other tools after the next sync."
    )


def sync_section(settings: Settings, client: S3Client, visitor: Visitor) -> None:
    """Admins: sync the catalog with the bucket (what other tools changed): cost first, then progress.

    Stopping (the page's Stop, or leaving it) keeps every batch already committed; syncing again resumes,
    since what was recorded matches the listing and is not read again.
    """
    st.divider()
    st.subheader("Sync the catalog with the bucket", anchor=False)
    st.caption(
        "Records what other tools changed: one listing of the bucket (one LIST per 1,000 objects), then one "
        "HEAD per new or changed object, 16 at a time, committed every 1,000."
    )
    planned: catalog_sync.SyncPlan | None = st.session_state.get(_PLAN)
    if st.button("Check what a sync would do", icon=":material/fact_check:"):
        if "admin" not in visitor.roles:  # checked again when the action runs
            st.error("Syncing the catalog needs the **admin** role.")
            return
        try:
            planned = catalog_sync.plan(catalog(), client, settings.bucket)
        except R2Error as err:
            show_error(err)
            return
        st.session_state[_PLAN] = planned
    if planned is None:
        return
    st.info(planned.summary(settings), icon=":material/payments:")
    if not (planned.head_calls or planned.to_remove or planned.to_flag):
        st.success("The catalog matches the bucket.")
        return
    if st.button("Sync now", type="primary", icon=":material/sync:"):
        if "admin" not in visitor.roles:
            st.error("Syncing the catalog needs the **admin** role.")
            return
        bar = st.progress(0.0, text="Starting…")

        def progress(p: catalog_sync.SyncProgress) -> None:
            bar.progress(p.read / max(1, p.total), text=f"{p.read:,} of {p.total:,} read, {p.recorded:,} recorded")

        try:
            result = catalog_sync.run(catalog(), client, settings.bucket, planned, progress=progress)
        except R2Error as err:
            show_error(err)
            return
        finally:
            st.session_state.pop(_PLAN, None)
        st.success(f"Recorded {result.recorded:,}, removed {result.removed:,}; {result.vanished:,} vanished meanwhile.")


def details_link(key: str) -> str:
    """A relative link to the object's details in Browse (its folder, with the object selected)."""
    folder = key.rpartition("/")[0]
    return "/browse?" + urlencode({"folder": folder + "/", "object": key} if folder else {"object": key})


def catalog_figures() -> None:
    """Usage from the catalog: totals and breakdowns at once (no scan), with how old they are."""
    st.subheader("From the catalog", anchor=False)
    try:
        cat = catalog()
        figures, waste = _figures(cat, hash(connection()[0]), cat.version())
    except R2Error as err:
        show_error(err)
        return
    if figures.version is None:
        st.info("No catalog yet: a sync (Search page or `python -m r2 catalog sync`) builds it.")
        return
    st.caption(escape_md(freshness_text()) + " A scan (above) gives exact numbers from a full listing.")
    c1, c2, c3 = st.columns(3)
    c1.metric("Objects", f"{figures.objects:,}")
    c2.metric("Stored", human_bytes(figures.bytes))
    c3.metric("Wasted by duplicates", human_bytes(waste))
    tabs = st.tabs(["By folder", "By type", "By month", "By uploader", "Largest"])
    groups = (figures.by_folder, figures.by_type, figures.by_month, figures.by_uploader)
    for tab, rows in zip(tabs[:4], groups, strict=True):
        with tab:
            show_rows([dict(zip(GROUP_COLUMNS, row, strict=True)) for row in rows], GROUP_COLUMNS)
    with tabs[4]:
        show_rows([{"key": key, "bytes": size} for key, size in figures.largest], ["key", "bytes"])


GROUP_COLUMNS = ("name", "objects", "bytes")


# Queried once per catalog version for every visit (DuckDB over every row: 0.2 s at a few thousand rows).
@st.cache_resource(show_spinner=False, max_entries=4)
def _figures(_catalog: Catalog, settings_key: int, version: int | None) -> tuple[catalog_reports.CatalogStats, int]:
    figures = catalog_reports.stats(_catalog)
    return figures, sum(g.wasted_bytes for g in catalog_reports.duplicates(_catalog))
