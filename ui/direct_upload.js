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

function announce(root, text) {
  const region = root.querySelector(".announce");
  if (region && region.textContent !== text) region.textContent = text;
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
      bar.setAttribute("aria-label", `Upload of ${file.name}`);
      const status = document.createElement("span");
      status.className = "status";
      status.textContent = "Asking the app for an upload link…";
      li.append(name, size, bar, status);
      list.append(li);
      state.rows.set(id, { li, bar, status });
      return { id, name: file.name, size: file.size, type: file.type || "" };
    });
    input.value = "";
    announce(root, `${files.length} file(s) chosen: uploading.`);
    state.setStateValue("offer", { batch, files: offers });
  };
  input.addEventListener("change", () => pick(input.files));
  // The button (Enter/Space) and a click anywhere in the zone open the chooser; the input's own click
  // event bubbles here too and must not open it again.
  drop.addEventListener("click", (e) => { if (e.target !== input) input.click(); });
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
  const finals = Object.entries(data.final || {});
  for (const [id, final] of finals) {
    const row = state.rows.get(id);
    if (!row) continue;
    row.li.classList.remove("done", "failed");
    row.li.classList.add(final.ok ? "done" : "failed");
    row.status.textContent = final.text;
  }
  const ended = finals.length + (data.refusals || []).length;
  if (state.files.size && ended >= state.files.size) {
    const stored = finals.filter(([, f]) => f.ok).length;
    announce(root, `Upload finished: ${stored} stored, ${state.files.size - stored} not stored.`);
  }
}
