from datetime import date

import pandas as pd
import streamlit as st

from r2.audit import KNOWN_ACTIONS, OUTCOMES, to_csv
from r2.errors import R2Error
from ui.audit import audit_changed, audit_version, load_events
from ui.auth import require
from ui.feedback import show_error
from ui.light import MARKDOWN_ROWS, drawn_when_open, on_demand, show_rows
from ui.state import connection
from ui.text import shorten

require("admin")
DETAIL_CHARS = 160  # a bulk action's detail lists every key: the plain table shows its start

settings, client = connection()

st.title("Audit")
st.caption(
    "Every upload, delete, CORS change or rollback, thumbnail regeneration and usage scan: who, when, "
    "what and how it ended. Newest first; times in UTC."
)

if "audit_user" not in st.session_state:  # first run of this session: start from the link's filters
    st.session_state.audit_user = st.query_params.get("user", "")
    st.session_state.audit_actions = st.query_params.get_all("action")
    st.session_state.audit_linked_actions = tuple(st.session_state.audit_actions)
left, middle = st.columns(2)
actor = left.text_input("User", key="audit_user", placeholder="email or part of it")
actions = middle.multiselect(
    "Action",
    options=sorted(set(KNOWN_ACTIONS) | set(st.session_state.audit_linked_actions)),
    key="audit_actions",
    accept_new_options=True,
)
# Drawn when opened: a date picker and two drop-downs are script the browser would fetch on every visit.
dates: tuple[date, ...] = ()
outcome, limit = "any", 100
with drawn_when_open("More filters: dates, outcome, how many events", "audit_more") as more:
    if more.open:
        c1, c2, c3 = st.columns([3, 2, 2])
        picked = c1.date_input("Dates", value=(), format="YYYY-MM-DD", help="One day, or a first and a last day")
        dates = tuple(picked) if isinstance(picked, tuple) else ()
        outcome = c2.selectbox("Outcome", ("any", *OUTCOMES))
        limit = c3.selectbox("Events to show", (100, 500, 2000), index=0)

since = dates[0] if len(dates) >= 1 else None
until = dates[1] if len(dates) == 2 else since
query = {"user": actor.strip(), "action": actions}
st.query_params.from_dict({k: v for k, v in query.items() if v})

try:
    page = load_events(
        client,
        settings.bucket,
        actor=actor,
        actions=tuple(actions),
        outcome="" if outcome == "any" else outcome,
        since=since,
        until=until,
        limit=limit,
        version=audit_version(),
    )
except R2Error as err:
    show_error(err)
    st.stop()

if st.button("Refresh", icon=":material/refresh:"):
    load_events.clear()
    audit_changed()
    st.rerun()

if not page.events:
    filtered = bool(actor.strip() or actions or dates or outcome != "any")
    st.info(
        "No event matches these filters."
        if filtered
        else "No events yet: uploads, deletes and CORS changes made through the dashboard will appear here.",
        icon=":material/history:",
    )
else:
    rows = [
        {
            "When (UTC)": e.at.strftime("%Y-%m-%d %H:%M:%S"),
            "User": e.actor,
            "Action": e.action,
            "Target": e.target,
            "Outcome": e.outcome,
            "Detail": e.detail,
        }
        for e in page.events
    ]
    # The newest as a plain table (drawn at once); every loaded event in the sortable grid one click away,
    # whose script the browser would otherwise fetch on every visit (docs/bench/page_speed.md).
    newest = [{**row, "Detail": shorten(row["Detail"], DETAIL_CHARS)} for row in rows[:MARKDOWN_ROWS]]
    show_rows(newest, list(rows[0]))
    if len(rows) > len(newest):
        st.caption(f"The newest {len(newest)} of {len(rows)} events. All of them, sortable, below or in the CSV.")
        on_demand(
            f"All {len(rows)} events (sortable table)",
            "audit_all",
            lambda: st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch"),
            icon=":material/table_rows:",
        )
    else:
        st.caption(f"{len(rows)} events shown (newest first).")
    st.download_button(
        "Export CSV",
        data=to_csv(page.events),
        file_name="audit.csv",
        mime="text/csv",
        icon=":material/download:",
    )
if not page.complete:
    st.caption(f"Stopped after reading {page.scanned} events: choose dates (More filters) to look further back.")
if page.unreadable:
    st.warning(f"{page.unreadable} objects under the audit prefix are not audit events and were skipped.")
