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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from r2.settings import Settings
from ui.freshness import bucket_changed
from ui.state import catalog
from ui.text import escape_md, human_bytes

COMPONENT_KEY = "direct_upload"
STATE_KEY = "_direct_upload"
SWEPT_KEY = "_direct_upload_swept"

HTML = """
<div class="r2du">
  <label class="drop" data-testid="r2-direct-drop">
    <input type="file" multiple data-testid="r2-direct-input" />
    <span class="lead">Drop images here or click to choose</span>
    <span class="limits"></span>
  </label>
  <ul class="files" data-testid="r2-direct-files"></ul>
</div>
"""

CSS = """
.r2du { font-family: var(--st-font); color: var(--st-text-color); }
.drop { display: flex; flex-direction: column; align-items: center; gap: .25rem; padding: 1.25rem;
  border: 1px dashed var(--st-border-color); border-radius: var(--st-base-radius);
  background: var(--st-secondary-background-color); cursor: pointer; }
.drop.over { border-color: var(--st-primary-color); }
.drop input { position: absolute; width: 1px; height: 1px; opacity: 0; }
.lead { font-weight: 600; }
.limits { font-size: .85em; opacity: .75; }
.files { list-style: none; padding: 0; margin: .5rem 0 0 0; }
.files li { display: grid; grid-template-columns: minmax(8rem, 2fr) 6rem 1fr; gap: .5rem; align-items: center;
  padding: .25rem 0; border-bottom: 1px solid var(--st-border-color); font-size: .9em; }
.files .name { overflow-wrap: anywhere; }
.files progress { width: 100%; accent-color: var(--st-primary-color); }
.files .status { grid-column: 1 / -1; font-size: .85em; opacity: .85; }
.files li.failed .status { color: var(--st-red-text-color); opacity: 1; }
.files li.done .status { color: var(--st-green-text-color); opacity: 1; }
"""

JS = r"""
const PARALLEL = 3;

function human(n) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

function s3Error(text) {
  // An S3 error body: <Error><Code>..</Code><Message>..</Message></Error>. Read as text, never as HTML.
  try {
    const doc = new DOMParser().parseFromString(text || "", "application/xml");
    const pick = (tag) => (doc.getElementsByTagName(tag)[0] || {}).textContent || "";
    return { code: pick("Code").slice(0, 64), message: pick("Message").slice(0, 300) };
  } catch (e) {
    return { code: "", message: "" };
  }
}

function setup(root, state) {
  const input = root.querySelector("input[type=file]");
  const drop = root.querySelector(".drop");
  const pick = (fileList) => {
    const files = Array.from(fileList || []);
    if (!files.length) return;
    const batch = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    state.batch = batch;
    state.files = new Map();
    state.rows = new Map();
    state.started = new Set();
    state.results = new Map();
    state.queue = [];
    state.inflight = new Set();
    state.renewing = new Set();
    state.signings = new Map();
    state.deadlines = new Map();
    const list = root.querySelector(".files");
    list.replaceChildren();
    const offers = files.map((file, i) => {
      const id = `${batch}-${i}`;
      state.files.set(id, file);
      const li = document.createElement("li");
      li.dataset.fileId = id;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = file.name;  // literal: a name is never HTML
      const size = document.createElement("span");
      size.textContent = human(file.size);
      const bar = document.createElement("progress");
      bar.max = 1; bar.value = 0;
      const status = document.createElement("span");
      status.className = "status";
      status.textContent = "Asking the app for an upload link…";
      li.append(name, size, bar, status);
      list.append(li);
      state.rows.set(id, { li, bar, status });
      return { id, name: file.name, size: file.size, type: file.type || "" };
    });
    input.value = "";
    state.setStateValue("offer", { batch, files: offers });
  };
  input.addEventListener("change", () => pick(input.files));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    pick(e.dataTransfer.files);
  });
}

function finish(state, batch, id, result) {
  if (state.batch !== batch) return;  // a newer pick replaced this batch
  state.inflight.delete(id);
  state.results.set(id, { id, ...result });
  const row = state.rows.get(id);
  if (row) {
    row.li.classList.add(result.ok ? "done" : "failed");
    const file = state.files.get(id);
    const rate = file && result.seconds > 0 ? ` (${human(file.size / result.seconds)}/s)` : "";
    row.status.textContent = result.ok
      ? `Uploaded to the bucket in ${result.seconds.toFixed(2)} s${rate}; the app is checking it…`
      : result.text;
    if (result.ok) row.bar.value = 1;
  }
  const pending = [...state.started].filter((x) => !state.results.has(x));
  if (pending.length === 0 && state.queue.length === 0) {
    const items = [...state.results.values()].map(({ text, ...rest }) => rest);
    state.setStateValue("report", { batch: state.batch, items });
  }
  pump(state);
}

function put(state, ticket) {
  const file = state.files.get(ticket.id);
  const row = state.rows.get(ticket.id);
  const started = performance.now();
  const batch = state.batch;
  const xhr = new XMLHttpRequest();
  xhr.open("PUT", ticket.url);
  for (const [name, value] of Object.entries(ticket.headers)) xhr.setRequestHeader(name, value);
  xhr.upload.onprogress = (e) => {
    if (row && e.lengthComputable) {
      row.bar.value = e.loaded / e.total;
      row.status.textContent = `Uploading straight to the bucket… ${Math.floor((100 * e.loaded) / e.total)}%`;
    }
  };
  const seconds = () => (performance.now() - started) / 1000;
  xhr.onload = () => {
    if (xhr.status >= 200 && xhr.status < 300) {
      finish(state, batch, ticket.id, { ok: true, status: xhr.status, code: "", message: "", seconds: seconds() });
    } else {
      const err = s3Error(xhr.responseText);
      finish(state, batch, ticket.id, { ok: false, status: xhr.status, ...err, seconds: seconds(),
        text: `Refused by the bucket (HTTP ${xhr.status} ${err.code}).` });
    }
  };
  xhr.onerror = () => finish(state, batch, ticket.id, { ok: false, status: 0, code: "", message: "", seconds: seconds(),
    text: "Blocked: no answer the page may read (CORS or network)." });
  state.inflight.add(ticket.id);
  xhr.send(file);
  if (row) row.status.textContent = "Uploading straight to the bucket…";
}

function accept(state, ticket) {
  // A link must be *started* before it expires; count its life from now (the clocks may differ).
  state.signings.set(ticket.id, ticket.signing);
  state.deadlines.set(ticket.id, performance.now() + 1000 * (ticket.ttl || 0));
  state.queue.push(ticket);
}

function pump(state) {
  while (state.inflight.size < PARALLEL && state.queue.length) {
    const ticket = state.queue[0];
    if (state.deadlines.get(ticket.id) - performance.now() < 1000 * state.renewBefore) {
      // The queue waited too long: every queued link is as old as this one, so renew them together.
      for (const t of state.queue) {
        state.renewing.add(t.id);
        const row = state.rows.get(t.id);
        if (row) row.status.textContent = "Waiting for a fresh upload link…";
      }
      state.queue = [];
      state.renewSeq = (state.renewSeq || 0) + 1;
      state.setStateValue("renew", { batch: state.batch, ids: [...state.renewing], seq: state.renewSeq });
      return;
    }
    state.queue.shift();
    put(state, ticket);
  }
}

export default function (component) {
  const { data, setStateValue, parentElement } = component;
  const root = parentElement.querySelector(".r2du");
  if (!root) return;
  let state = root.__r2state;
  if (!state) {
    state = root.__r2state = { batch: null, files: new Map(), rows: new Map(), started: new Set(),
      results: new Map(), queue: [], inflight: new Set(), renewing: new Set(), signings: new Map(),
      deadlines: new Map() };
    setup(root, state);
  }
  state.setStateValue = setStateValue;  // the latest one (it closes over the current widget state)
  const input = root.querySelector("input[type=file]");
  input.accept = (data && data.accept) || "";
  root.querySelector(".limits").textContent = (data && data.limits) || "";
  state.renewBefore = (data && data.renew_before) || 0;
  if (!data || data.batch !== state.batch) return;
  for (const refusal of data.refusals || []) {
    if (state.results.has(refusal.id)) continue;
    state.started.add(refusal.id);
    const row = state.rows.get(refusal.id);
    state.results.set(refusal.id, { id: refusal.id, ok: false, status: -1, code: "Refused", message: "" });
    if (row) { row.li.classList.add("failed"); row.status.textContent = refusal.reason; }
  }
  for (const ticket of data.tickets || []) {
    if (!state.files.has(ticket.id)) continue;
    if (!state.started.has(ticket.id)) {
      state.started.add(ticket.id);
      accept(state, ticket);
    } else if (state.renewing.has(ticket.id) && ticket.signing > state.signings.get(ticket.id)) {
      state.renewing.delete(ticket.id);
      accept(state, ticket);
    }
  }
  if (state.queue.length) pump(state);
  for (const [id, final] of Object.entries(data.final || {})) {
    const row = state.rows.get(id);
    if (!row) continue;
    row.li.classList.remove("done", "failed");
    row.li.classList.add(final.ok ? "done" : "failed");
    row.status.textContent = final.text;
  }
}
"""

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
    if not st.session_state.get(SWEPT_KEY):  # once per visit: one LIST of the staging prefix
        st.session_state[SWEPT_KEY] = True
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
        "accept": ",".join(f"image/{f.lower()}" for f in formats),
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
