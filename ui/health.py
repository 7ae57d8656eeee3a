"""Rendering of health checks (the page stays thin). Details come from the bucket and settings:
they are escaped so they render literally."""

from __future__ import annotations

import streamlit as st

from r2.client import S3Client
from r2.health import Check, Status, health_client
from r2.settings import Settings
from ui.text import escape_md

ICONS: dict[str, str] = {
    "ok": ":material/check_circle:",
    "warn": ":material/warning:",
    "fail": ":material/error:",
    "skip": ":material/do_not_disturb_on:",
}
COLOURS: dict[str, str] = {"ok": "green", "warn": "orange", "fail": "red", "skip": "gray"}
HEADLINES: dict[str, str] = {
    "ok": "Everything works.",
    "warn": "Working, with warnings: see the fixes below.",
    "fail": "Something is broken: see the failed checks and their fixes below.",
}


@st.cache_resource(show_spinner=False)
def shared_health_client(settings: Settings, *, connect_timeout: float, read_timeout: float) -> S3Client:
    """The health client, made once per settings for every visit (making one costs 0.1-0.2 s); it is
    thread-safe, and the checks' probes are per run, so sharing it changes no result."""
    return health_client(settings, connect_timeout=connect_timeout, read_timeout=read_timeout)


def show_check(check: Check) -> None:
    """One line per check; warnings and failures get a callout with the fix."""
    name, detail = escape_md(check.name), escape_md(check.detail)
    timing = f"{check.ms:.0f} ms"
    if check.status in ("warn", "fail"):
        body = f"**{name}** — {detail}"
        if check.fix:
            body += f"\n\n**Fix:** {escape_md(check.fix)}"
        box = st.error if check.status == "fail" else st.warning
        box(body + f"\n\n{timing}", icon=ICONS[check.status])
        return
    colour = COLOURS[check.status]
    st.markdown(f":{colour}[{ICONS[check.status]}] **{name}** — {detail} :gray[· {timing}]")


def show_overall(status: Status, counts: dict[str, int]) -> None:
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    text = f"**{HEADLINES[status]}** ({summary})"
    if status == "ok":
        st.success(text, icon=ICONS["ok"])
    elif status == "warn":
        st.warning(text, icon=ICONS["warn"])
    else:
        st.error(text, icon=ICONS["fail"])
