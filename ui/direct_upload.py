"""The direct-upload component: the browser PUTs straight to the bucket; the app signs and verifies.

A Components v2 component (inline HTML/JS/CSS, no build step). Protocol, one rerun per step:

- `offer` (state): {batch, files: [{id, name, size, type}]} when the user picks or drops files.
  The callback plans them (`r2.direct.plan`): refusals and signed tickets go back in `data`.
- The browser PUTs each ticket with XHR (upload progress per file) with exactly the signed headers.
- `renew` (state): {batch, ids, seq} when a queued file is about to start with a link that has less
  than `renew_before` seconds left (a long queue of large files): the callback signs those PUTs afresh
  (`r2.direct.renew`) and the new links come back in `data`.
- `report` (state): {batch, items: [{id, ok, status, code, message, seconds}]} once every PUT of the
  batch has finished. The page then verifies each stored object (`r2.direct.verify`).

Presigned URLs travel only in `data` to this browser session; they are never logged or rendered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from r2.catalog import note
from r2.client import S3Client
from r2.direct import (
    BrowserReport,
    ContentCheck,
    CorsCheck,
    Offer,
    Outcome,
    Refusal,
    Ticket,
    cors_check,
    explain_failure,
    pipeline_check,
    plan,
    record_batch,
    renew,
    renew_margin,
    sweep,
    verify,
)
from r2.errors import R2Error
from r2.images import FORMAT_TYPES
from r2.settings import Settings
from r2.uploads import accepted_extensions
from ui.freshness import bucket_changed
from ui.state import catalog
from ui.text import escape_md, human_bytes

COMPONENT_KEY = "direct_upload"
STATE_KEY = "_direct_upload"
SWEPT_KEY = "_direct_upload_swept"
# Opening the page sweeps at most this often per process and bucket (one LIST of the staging prefix each
# time); signing links always sweeps first, and `python -m r2 direct-sweep` runs from a schedule.
VISIT_SWEEP_SECONDS = 60.0

# Keyboard and screen readers: the drop zone holds a real button ("Choose files", reached with Tab, opened
# with Enter or Space); the file input itself is hidden (the button and a click anywhere in the zone open
# it). Each progress bar is named after its file, and a polite live region announces the batch's start
# and end (not every percent).
# The component's browser side lives in its own files next to this one (read once, at import).
_HERE = Path(__file__).resolve().parent
HTML = (_HERE / "direct_upload.html").read_text(encoding="utf-8")

CSS = (_HERE / "direct_upload.css").read_text(encoding="utf-8")

JS = (_HERE / "direct_upload.js").read_text(encoding="utf-8")

_log = logging.getLogger(__name__)
_component = st.components.v2.component("r2_direct_upload", html=HTML, css=CSS, js=JS)


@dataclass
class Batch:
    """One pick of files: what was refused, what was signed, and each file's final state."""

    id: str
    folder: str
    refusals: list[Refusal] = field(default_factory=list)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # browser-side failures, explained
    error: str = ""
    renewals: int = 0  # the browser's last `renew` request handled (its seq)


def _state() -> dict[str, Batch]:
    batches: dict[str, Batch] = st.session_state.setdefault(STATE_KEY, {})
    return batches


@st.cache_data(ttl=30, show_spinner=False)
def _cors(_settings: Settings, endpoint: str, bucket: str, origin: str) -> CorsCheck:
    return cors_check(_settings)


def _component_value(name: str) -> Any:
    value = st.session_state.get(COMPONENT_KEY)
    try:
        return value[name] if value is not None else None
    except (KeyError, TypeError):
        return None


def sweep_quietly(settings: Settings, client: S3Client, check: ContentCheck = pipeline_check) -> None:
    """Check staged uploads nobody reported (`r2.direct.sweep`). Its outcomes go to the audit log; a
    failure here must never stop this visitor's own upload, so it is logged, not shown."""
    try:
        sweep(client, settings, check, catalog=catalog())
    except R2Error as exc:
        _log.warning("direct-upload sweep skipped: %s", exc.message)
    except Exception as exc:  # someone else's upload must never break this page; staged objects wait
        _log.exception("direct-upload sweep failed (%s); staged uploads stay hidden", type(exc).__name__)


@st.cache_resource(show_spinner=False)
def _visit_sweeps() -> tuple[threading.Lock, dict[str, float]]:
    return threading.Lock(), {}


def visit_sweep_due(bucket: str, now: Callable[[], float] = time.monotonic) -> bool:
    """Whether a page visit should sweep `bucket` now (and, if so, that one is starting): not when any
    session of this process swept it less than VISIT_SWEEP_SECONDS ago."""
    lock, last = _visit_sweeps()
    with lock:
        if bucket in last and now() - last[bucket] < VISIT_SWEEP_SECONDS:
            return False
        last[bucket] = now()
        return True


def _planner(settings: Settings, client: S3Client, folder: str, actor: str) -> Callable[[], None]:
    def on_offer() -> None:
        offer = _component_value("offer")
        if not isinstance(offer, dict) or not isinstance(offer.get("batch"), str):
            return
        batches = _state()
        batch_id = str(offer["batch"])[:64]
        if batch_id in batches:
            return
        batch = Batch(batch_id, folder)
        batches.clear()  # only the latest batch is kept: older signed URLs are dropped with it
        batches[batch_id] = batch
        sweep_quietly(settings, client)  # whenever links are signed: one LIST when nothing is due
        try:
            offers = [Offer.from_browser(f) for f in offer.get("files") or []]
            tickets, batch.refusals = plan(client, settings, offers, batch.folder, actor=actor)
            batch.tickets = {t.id: t for t in tickets}
        except R2Error as exc:
            batch.error = str(exc)

    return on_offer


def _renewer(settings: Settings, client: S3Client, actor: str) -> Callable[[], None]:
    def on_renew() -> None:
        request = _component_value("renew")
        batch = next(iter(_state().values()), None)
        if not isinstance(request, dict) or batch is None or request.get("batch") != batch.id:
            return
        seq = request.get("seq")
        if not isinstance(seq, int) or seq <= batch.renewals:
            return
        batch.renewals = seq
        fresh: dict[str, Ticket] = {}
        try:
            for file_id in request.get("ids") or []:
                ticket = batch.tickets.get(file_id) if isinstance(file_id, str) else None
                if ticket is not None and file_id not in batch.outcomes and file_id not in batch.failures:
                    fresh[file_id] = renew(client, settings, ticket)
            if fresh:  # the record's date is the batch's last signing: the sweep waits for the new links
                record_batch(client, settings, list(batch.tickets.values()), actor)
        except R2Error as exc:  # signing makes no request; a changed setting or the record can refuse
            batch.error = str(exc)
            return
        batch.tickets.update(fresh)

    return on_renew


def direct_upload_section(
    settings: Settings, client: S3Client, actor: str, folder: str, check: ContentCheck = pipeline_check
) -> bool:
    """The direct upload block of the Upload page. Returns False when the app path must be used instead.

    `folder` is the page's folder choice; `check` runs the upload pipeline on a downloaded file.
    """
    st.subheader("Direct upload", anchor=False)
    if not st.session_state.get(SWEPT_KEY):  # once per visit at most: one LIST of the staging prefix
        st.session_state[SWEPT_KEY] = True
        if visit_sweep_due(settings.bucket):
            sweep_quietly(settings, client, check)
    cors = _cors(settings, settings.endpoint, settings.bucket, settings.app_origin)
    if not cors.allowed:
        problems = "\n".join(f"- {escape_md(p)}" for p in cors.problems)
        st.warning(
            "**Direct upload is not available: the bucket's CORS policy would block this browser.** "
            f"A preflight for PUT from {escape_md(cors.origin)} with the headers content-type and "
            f"if-none-match was checked:\n\n{problems}\n\n{escape_md(cors.fix)}",
            icon=":material/block:",
        )
        st.markdown("[Open the CORS page](/cors) · The upload through the app below works meanwhile.")
        return False
    st.caption(
        "Files go straight from your browser to the bucket (signed links valid "
        f"{settings.upload_url_ttl_seconds} s); the app then checks each one like any upload."
    )
    batches = _state()
    batch = next(iter(batches.values()), None)
    component_slot = st.container()  # the component goes above the verification progress
    if batch is not None and not batch.error:
        _verify_reported(settings, client, batch, actor, check)  # before mounting: rows show final states
    formats = settings.image_formats
    data = {
        # MIME types and extensions: browsers often know no type for .heic files
        "accept": ",".join([*(FORMAT_TYPES[f][1] for f in formats), *(f".{e}" for e in accepted_extensions(formats))]),
        "limits": f"{', '.join(formats)}; up to {settings.max_upload_mb:g} MiB each",
        "batch": batch.id if batch else None,
        "tickets": [t.for_browser(time.time()) for t in batch.tickets.values()] if batch else [],
        "renew_before": renew_margin(settings),
        "refusals": [{"id": r.id, "reason": r.reason} for r in batch.refusals] if batch else [],
        "final": _final(batch) if batch else {},
    }
    with component_slot:
        _component(
            key=COMPONENT_KEY,
            data=data,
            on_offer_change=_planner(settings, client, folder, actor),
            on_renew_change=_renewer(settings, client, actor),
            on_report_change=lambda: None,
        )
    if batch is None:
        return True
    if batch.error:
        st.error(escape_md(batch.error), icon=":material/error:")
        return True
    _show(batch)
    return True


def _verify_reported(settings: Settings, client: S3Client, batch: Batch, actor: str, check: ContentCheck) -> None:
    report = _component_value("report")
    if not isinstance(report, dict) or report.get("batch") != batch.id:
        return
    reports = []
    for raw in report.get("items") or []:
        try:
            reports.append(BrowserReport.from_browser(raw))
        except R2Error:
            continue
    todo = [r for r in reports if r.id in batch.tickets and r.id not in batch.outcomes and r.id not in batch.failures]
    for r in todo:
        if not r.ok:
            batch.failures[r.id] = explain_failure(r)
    to_verify = [r for r in todo if r.ok]
    if not to_verify:
        return
    with st.status(f"Checking {len(to_verify)} uploaded file(s)…", expanded=False) as status:
        bar = st.progress(0.0)
        for i, r in enumerate(to_verify):
            ticket = batch.tickets[r.id]
            batch.outcomes[r.id] = verify(client, settings, ticket, check, actor=actor)
            bar.progress((i + 1) / len(to_verify))
        rows = [batch.outcomes[r.id].row for r in to_verify]
        warning = note(catalog(), [row for row in rows if row is not None])  # one commit for the batch
        status.update(label="Checked", state="complete")
    if warning:
        st.warning(warning, icon=":material/warning:")
    bucket_changed()


_WORDS = {"stored": "Stored and checked.", "removed": "Removed after the check:", "failed": "Failed:"}


def _final(batch: Batch) -> dict[str, dict[str, Any]]:
    """Each finished file's state for the component's rows (set as plain text there, never as HTML)."""
    final: dict[str, dict[str, Any]] = {}
    for i, o in batch.outcomes.items():
        text = f"{_WORDS[o.status]} {_details(o)}".strip()
        final[i] = {"ok": o.status == "stored", "text": text}
    final.update({i: {"ok": False, "text": f"Failed: {m}"} for i, m in batch.failures.items()})
    return final


def _details(o: Outcome) -> str:
    if o.status != "stored":
        return o.message
    dims = f"{o.width}×{o.height} {o.format}"
    removed = f"; removed {', '.join(o.removed)}" if o.removed else ""
    thumb = "; thumbnail made" if o.thumbnail_key else ""
    return f"{dims}{removed}{thumb}" + (f". {o.message}" if o.message else "")


def _show(batch: Batch) -> None:
    """One row per file; then every file that did not end up stored, with its reason, as a message."""
    rows = []
    problems: list[tuple[str, str]] = []
    for r in batch.refusals:
        rows.append({"File": r.name, "Status": "refused", "Key": "", "Size": "", "Details": r.reason})
        problems.append((r.name, f"Refused before upload: {r.reason}"))
    for t in batch.tickets.values():
        if t.id in batch.outcomes:
            o = batch.outcomes[t.id]
            size = human_bytes(o.size) if o.size else ""
            rows.append({"File": t.name, "Status": o.status, "Key": o.key, "Size": size, "Details": _details(o)})
            if o.status != "stored":
                problems.append((t.name, f"{_WORDS[o.status]} {o.message}"))
        elif t.id in batch.failures:
            rows.append({"File": t.name, "Status": "failed", "Key": "", "Size": "", "Details": batch.failures[t.id]})
            problems.append((t.name, f"Failed: {batch.failures[t.id]}"))
        else:
            rows.append({"File": t.name, "Status": "uploading", "Key": "", "Size": human_bytes(t.size), "Details": ""})
    if not rows:
        return
    stored = sum(1 for o in batch.outcomes.values() if o.status == "stored")
    if stored:
        st.success(f"{stored} of {len(rows)} file(s) stored.", icon=":material/check_circle:")
    st.dataframe(rows, hide_index=True, width="stretch")
    for name, text in problems:
        st.warning(f"**{escape_md(name)}**: {escape_md(text)}", icon=":material/report:")
