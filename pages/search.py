"""Search: the whole bucket by what people know (name, uploader, folder, type, dates, size, dimensions).

Answered from the catalog in process (no LIST per search); every search is a deep link (query params).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from r2.browse import Entry, tiles
from r2.catalog import SORTS, Search, search
from r2.errors import InvalidInput, R2Error
from r2.presign import UrlSigner
from ui.auth import require
from ui.browse_grid import grid_html
from ui.bulk_panel import SEARCH_FLASH, search_scope, select_many, show_flash
from ui.catalog_view import details_link, freshness_text, sync_section
from ui.feedback import show_error
from ui.light import drawn_when_open
from ui.state import catalog, connection
from ui.text import escape_md

visitor = require("member")
settings, client = connection()
signer = UrlSigner.from_settings(settings)
PAGE_SIZE = 60
SORT_LABELS = {"newest": "Newest", "oldest": "Oldest", "largest": "Largest", "smallest": "Smallest", "name": "Name"}
params = st.query_params


def _int(name: str) -> int | None:
    try:
        return int(params[name]) if params.get(name) else None
    except ValueError:
        return None


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(params[name]) if params.get(name) else None
    except ValueError:
        return None


def _go(**values: str | int | None) -> None:
    st.query_params.clear()
    for name, value in values.items():
        if value not in (None, "", 0, False):
            st.query_params[name] = str(value)
    st.rerun()


st.title("Search")
st.caption(escape_md(freshness_text()))
show_flash(SEARCH_FLASH)  # the outcome of a bulk action on the results (it reran the page)

REFINEMENTS = ("since", "until", "min_size", "max_size", "min_width", "min_height", "sort", "exact")
if "search_more" not in st.session_state:  # a link that refines the search opens its refinements
    st.session_state["search_more"] = any(params.get(k) for k in REFINEMENTS)

with st.form("search"):
    c1, c2, c3, c4 = st.columns(4)
    name = c1.text_input("Name contains", value=params.get("name", ""), help="Part of the original file name")
    uploader = c2.text_input("Uploaded by", value=params.get("uploader", ""), help="Part of the email")
    folder = c3.text_input("Folder", value=params.get("folder", ""), placeholder="uploads/")
    kind = c4.text_input("Type", value=params.get("type", ""), placeholder="JPEG, PNG, image/webp")
    # Drawn only while open: its date pickers, number fields and drop-down are a second of script for the
    # browser to fetch on every visit otherwise. Closed, the search has no refinements.
    refined: dict[str, str | int | None] = {}
    with drawn_when_open("More filters: dates, size, dimensions, order", "search_more") as more:
        if more.open:
            c5, c6 = st.columns(2)
            since = c5.date_input("Uploaded on or after", value=_day("since"), format="YYYY-MM-DD")
            until = c6.date_input("Uploaded on or before", value=_day("until"), format="YYYY-MM-DD")
            c7, c8, c9, c10 = st.columns(4)
            min_kb = c7.number_input("Min size (KB)", min_value=0, value=(_int("min_size") or 0) // 1024)
            max_kb = c8.number_input("Max size (KB, 0: any)", min_value=0, value=(_int("max_size") or 0) // 1024)
            min_w = c9.number_input("Min width (px)", min_value=0, value=_int("min_width") or 0)
            min_h = c10.number_input("Min height (px)", min_value=0, value=_int("min_height") or 0)
            c11, c12 = st.columns(2)
            sort = c11.selectbox(
                "Sort by",
                list(SORTS),
                index=list(SORTS).index(params.get("sort", "newest")) if params.get("sort") in SORTS else 0,
                format_func=SORT_LABELS.get,
            )
            exact = c12.checkbox("This folder only (no sub-folders)", value=params.get("exact") == "1")
            refined = {
                "since": since.isoformat() if isinstance(since, date) else None,
                "until": until.isoformat() if isinstance(until, date) else None,
                "min_size": int(min_kb) * 1024,
                "max_size": int(max_kb) * 1024,
                "min_width": int(min_w),
                "min_height": int(min_h),
                "sort": sort if sort != "newest" else None,
                "exact": "1" if exact else None,
            }
    if not more.open and any(params.get(k) for k in REFINEMENTS):
        st.caption("These results also use the filters under *More filters*; searching with it closed drops them.")
    if st.form_submit_button("Search", type="primary", icon=":material/search:"):
        _go(name=name.strip(), uploader=uploader.strip(), folder=folder.strip(), type=kind.strip(), **refined)

page_no = max(1, _int("page") or 1)
first, last = _day("since"), _day("until")
query = Search(
    name=params.get("name", ""),
    uploader=params.get("uploader", ""),
    folder=params.get("folder", ""),
    exact_folder=params.get("exact") == "1",
    type=params.get("type", ""),
    since=datetime.combine(first, time(), UTC) if first else None,
    until=datetime.combine(last + timedelta(days=1), time(), UTC) if last else None,  # the whole last day
    min_size=_int("min_size"),
    max_size=_int("max_size"),
    min_width=_int("min_width"),
    min_height=_int("min_height"),
    sort=params.get("sort", "newest") if params.get("sort") in SORTS else "newest",
    limit=PAGE_SIZE,
    offset=(page_no - 1) * PAGE_SIZE,
)
try:
    found = search(catalog(), query)
except (InvalidInput, R2Error) as err:
    show_error(err)
    st.stop()

if found.version is None:
    st.info("There is no catalog yet, so nothing can be searched. An admin builds it with a sync.")
elif not found.rows:
    st.info("No image matches. Try part of the name only, or fewer filters.", icon=":material/search_off:")
else:
    pages = (found.total + PAGE_SIZE - 1) // PAGE_SIZE
    st.caption(f"{found.total:,} match(es) · page {page_no} of {pages} · answered from the catalog (no listing).")
    entries = [
        Entry(r.key, r.display_name, size=r.size, last_modified=r.last_modified, etag=r.etag) for r in found.rows
    ]
    expires = settings.preview_ttl_seconds
    shown = tiles(client, settings.bucket, entries, expires, signer=signer)
    shown = tuple(replace(t, by=r.by_line) for t, r in zip(shown, found.rows, strict=True))
    if params.get("view") == "list":
        frame = pd.DataFrame(
            {
                "preview": [t.url or None for t in shown],
                "name": [r.display_name for r in found.rows],
                "uploaded by": [r.uploader for r in found.rows],
                "uploaded": [r.uploaded_at or r.last_modified for r in found.rows],
                "size": [r.size for r in found.rows],
                "key": [r.key for r in found.rows],
                "details": [details_link(r.key) for r in found.rows],
            }
        )
        st.dataframe(
            frame,
            hide_index=True,
            column_config={
                "preview": st.column_config.ImageColumn("preview", width="small"),
                "uploaded": st.column_config.DatetimeColumn("uploaded", format="YYYY-MM-DD HH:mm"),
                "size": st.column_config.NumberColumn("size (bytes)", format="%d"),
                "details": st.column_config.LinkColumn("details", display_text="open in Browse"),
            },
        )
    else:
        st.html(grid_html(shown))
    b1, b2, b3 = st.columns([1, 2, 1], vertical_alignment="center")
    if b1.button("← Previous", disabled=page_no == 1, width="stretch"):
        st.query_params["page"] = str(page_no - 1)
        st.rerun()
    if b2.button("List view" if params.get("view") != "list" else "Grid view"):
        st.query_params["view"] = "list" if params.get("view") != "list" else "grid"
        st.rerun()
    if b3.button("Next →", disabled=page_no >= pages, width="stretch"):
        st.query_params["page"] = str(page_no + 1)
        st.rerun()
    # Select many: the page's matches or every match (the search without its page and view), then act.
    searched = urlencode(sorted((k, v) for k, v in params.to_dict().items() if k not in ("page", "view")))
    select_many(client, settings, visitor, search_scope(query, searched, entries))

if "admin" in visitor.roles:
    sync_section(settings, client, visitor)
