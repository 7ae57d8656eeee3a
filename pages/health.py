import json
from collections import Counter

import streamlit as st

from r2.health import CHECK_NAMES, KNOWN_PROBLEMS, STATUSES, Check, Deps, overall, report, run_checks
from ui.auth import require
from ui.health import shared_health_client, show_check, show_overall
from ui.light import on_demand, show_rows
from ui.state import connection

require("developer")

st.title("Health")
st.caption(
    "Do the settings, endpoint, clock, credentials, permissions, signed URLs and CORS actually work? "
    "The checks run each time this page opens; a probe object is written under `.dashboard/health/` "
    "and removed again."
)
settings, _ = connection()

st.button("Run again", icon=":material/refresh:")  # a click reruns this script, which runs the checks
top = st.empty()
results = st.container()
copy = st.container()

# Drawn before the checks run, so the page is readable at once; the checks fill the space above.
st.subheader("Known problems and the checks that catch them")
COLUMNS = ("Problem (from the guide)", "Caught by", "Usual cause")
show_rows([dict(zip(COLUMNS, problem, strict=True)) for problem in KNOWN_PROBLEMS], COLUMNS)

top.progress(0.0, text="Checking…")
checks: list[Check] = []
with results:
    for check in run_checks(
        Deps(settings=settings, client_factory=shared_health_client)
    ):  # independent checks run at the same time
        checks.append(check)
        done = min(len(checks), len(CHECK_NAMES))
        top.progress(done / len(CHECK_NAMES), text=f"Checking… {done} of {len(CHECK_NAMES)}: {check.name}")
        show_check(check)

counts = Counter(c.status for c in checks)
with top.container():
    show_overall(overall(checks), {s: counts[s] for s in STATUSES})

document = report(checks) | {"target": settings.describe_target(), "settings": settings.masked()}
text = json.dumps(document, indent=2, default=str, ensure_ascii=False)


def show_report() -> None:
    st.code(text, language="json")
    st.download_button("Download report", text, file_name="r2-health.json", mime="application/json", on_click="ignore")


with copy:  # the JSON is drawn when asked for, without running the checks again (a fragment's rerun)
    on_demand("Copy report (JSON, secrets masked)", "health_report", show_report, icon=":material/content_copy:")
