"""Usage: what the bucket holds, how it grows and what it costs.

Opens on the latest saved snapshot (one LIST of the snapshot prefix + one GET). "Scan now" runs the
scan inside this script run with a progress bar; the Stop button's click reruns the page, which
interrupts the run: the scan object in session state keeps what was counted, and "Resume" continues it.
"""

import contextlib
import time

import streamlit as st

from r2.client import S3Client
from r2.errors import R2Error
from r2.settings import Settings
from r2.usage import (
    AccountUsage,
    ScanStopped,
    SnapshotInfo,
    UsageReport,
    UsageScan,
    latest,
    make_lister,
    save_scan,
)
from r2.usage import checkpoint as usage_checkpoint
from r2.usage.analytics import enabled, fetch
from ui.auth import require
from ui.catalog_view import catalog_figures
from ui.feedback import show_error
from ui.freshness import bucket_changed, bucket_version
from ui.light import drawn_when_open
from ui.state import connection
from ui.text import escape_md, human_bytes
from ui.usage_view import age, progress_text, scan_cost_caption, show_partial, show_report

visitor = require("admin")

st.title("Usage")
st.caption("What the bucket holds, how it grows and what it costs.")
settings, client = connection()

ENGINES = {"Fast (obstore)": "obstore", "Detailed (boto3: storage classes, slower)": "boto3"}
JOB = "usage_job"


# Keyed by this process's bucket version (its own scans show at once) and kept 30 s at most, so a scan
# saved by another replica or the command line shows within 30 s, as Browse's listings do.
@st.cache_data(ttl=30, show_spinner=False)
def latest_snapshot(_client: S3Client, bucket: str, version: int) -> tuple[UsageReport | None, list[SnapshotInfo]]:
    return latest(_client, bucket)


@st.cache_data(ttl=30, show_spinner=False)
def saved_scan(_client: S3Client, bucket: str, version: int) -> dict | None:  # type: ignore[type-arg]
    return usage_checkpoint.load(_client, bucket)


def keep_progress(job: UsageScan) -> None:
    """Save the scan's state in the bucket, so this or any replica can resume it after a restart."""
    with contextlib.suppress(R2Error):  # best effort: the scan in this session resumes either way
        usage_checkpoint.save(client, job, actor=visitor.actor)
        saved_scan.clear()


@st.cache_data(ttl=600, show_spinner=False)
def account_usage(_settings: Settings, key: str) -> AccountUsage:
    return fetch(_settings)


def finish(report: UsageReport) -> None:
    """Save the snapshot and the audit event (one library call); say so when either fails (the numbers stay shown)."""
    st.session_state.pop(JOB, None)
    st.session_state["usage_report"] = report
    with contextlib.suppress(R2Error):  # a leftover checkpoint is only offered again, never counted twice
        usage_checkpoint.clear(client, settings.bucket)
        saved_scan.clear()
    saved = save_scan(client, settings.bucket, report, actor=visitor.actor)
    if saved.key is not None:
        bucket_changed()
    for what, err in (
        ("its snapshot could not be saved", saved.snapshot_error),
        ("the audit log could not record it", saved.audit_error),
    ):
        if err is not None:
            st.warning(f"The scan finished but {what}:", icon=":material/warning:")
            show_error(err)


def run(job: UsageScan) -> None:
    bar = st.progress(0.0, text="Listing the folders…")
    stop = st.empty()
    stop.button("Stop", key="usage_stop", icon=":material/stop:")  # its click reruns the page: the scan pauses
    st.session_state[JOB] = job

    saved_at = time.monotonic()

    def show(p):  # type: ignore[no-untyped-def]
        nonlocal saved_at
        bar.progress(p.folders_done / p.folders_total if p.folders_total else 0.0, text=progress_text(p))
        if time.monotonic() - saved_at >= usage_checkpoint.SAVE_EVERY_SECONDS:
            saved_at = time.monotonic()
            keep_progress(job)

    try:
        report = job.run(progress=show)
    except ScanStopped:
        stop.empty()
        st.info("The scan was stopped. Resume to finish it.")
        return
    except R2Error as err:
        stop.empty()
        show_error(err)
        st.caption("What was counted is kept: **Resume scan** continues from the last page listed.")
        return
    finally:
        if job.report is None:  # stopped, failed, or cut by a Stop click's rerun: keep it for any replica
            keep_progress(job)
    stop.empty()
    bar.empty()
    st.success(
        f"Scanned {report.objects:,} objects ({human_bytes(report.bytes)}) in {report.seconds:.1f} s "
        f"with {report.list_calls:,} LIST calls.",
        icon=":material/check:",
    )
    finish(report)
    global last, history
    try:
        last, history = latest_snapshot(client, settings.bucket, bucket_version())
    except R2Error as err:
        show_error(err)


def offer_resume(job: UsageScan, resume: str, discard: str) -> bool:
    """Resume and Discard for a paused scan (this session's, or one saved in the bucket by any replica);
    True when neither was pressed."""
    resume_col, discard_col = st.columns(2)
    if resume_col.button(resume, type="primary", icon=":material/play_arrow:"):
        run(job)
        return False
    if discard_col.button(discard, icon=":material/delete:"):
        st.session_state.pop(JOB, None)
        with contextlib.suppress(R2Error):  # forgotten in the bucket too, or any replica offers it again
            usage_checkpoint.clear(client, settings.bucket)
        saved_scan.clear()
        st.rerun()
    return True


try:
    last, history = latest_snapshot(client, settings.bucket, bucket_version())
except R2Error as err:
    show_error(err)
    last, history = None, []

job: UsageScan | None = st.session_state.get(JOB)
with st.container(border=True):
    st.caption(scan_cost_caption(settings, last))
    depth, engine = 1, next(iter(ENGINES.values()))
    # Drawn when opened: a number field and a drop-down are script the browser would fetch on every visit.
    with drawn_when_open("Scan options: folder depth, lister", "usage_options") as options:
        if options.open:
            left, right = st.columns(2)
            depth = int(left.number_input("Folder depth", min_value=1, max_value=5, value=1, key="usage_depth"))
            engine = ENGINES[right.selectbox("Lister", list(ENGINES), key="usage_engine")]
    saved = None
    if job is None:
        try:
            saved = saved_scan(client, settings.bucket, bucket_version())
        except R2Error as err:
            show_error(err)
    if job is None and saved is not None:
        pending = usage_checkpoint.restore(saved, make_lister(saved["engine"], settings, client), client)
        counted = pending.progress()
        st.info(
            f"A scan stopped at {counted.objects:,} objects ({human_bytes(counted.bytes)}), saved "
            f"{escape_md(str(saved.get('saved_at', ''))[:16].replace('T', ' '))} UTC by "
            f"{escape_md(str(saved.get('actor', 'someone')))}. It can be finished here (on any replica).",
            icon=":material/pause:",
        )
        offer_resume(pending, "Resume saved scan", "Discard it")
    elif job is None:
        if st.button("Scan now", type="primary", icon=":material/refresh:"):
            lister = make_lister(engine, settings, client)
            run(UsageScan(lister, settings.bucket, depth=depth, client=client))
    else:
        progress = job.progress()
        st.info(
            f"A scan is paused at {progress.objects:,} objects ({human_bytes(progress.bytes)}); "
            f"{progress.folders_done} of {progress.folders_total} folders done.",
            icon=":material/pause:",
        )
        if offer_resume(job, "Resume scan", "Discard"):
            show_partial(job.partial())

fresh: UsageReport | None = st.session_state.get("usage_report")
if fresh is not None and fresh.bucket == settings.bucket and (last is None or fresh.scanned_at > last.scanned_at):
    last = fresh  # its snapshot could not be saved: still show it in this session

account = None
if enabled(settings):
    try:
        account = account_usage(settings, f"{settings.account_id}/{settings.bucket}")
    except R2Error as err:
        show_error(err)

if last is None:
    st.info(
        "No scan yet. **Scan now** lists every object once and saves the result, so this page opens "
        "instantly next time and shows growth between scans.",
        icon=":material/bar_chart:",
    )
else:
    st.caption(
        f"Latest scan {age(last.scanned_at)} ({last.scanned_at:%Y-%m-%d %H:%M} UTC) of bucket {escape_md(last.bucket)}."
    )
    show_report(last, history, settings, client, account)

st.divider()
catalog_figures()
