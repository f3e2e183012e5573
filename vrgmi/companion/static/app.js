// vrgmi companion: the therapist's single-page app. Plain JavaScript, no build step, no
// third-party code; everything it loads comes from the engine's own server.
"use strict";

const $ = (id) => document.getElementById(id);
let ws = null;
let wsRef = 0;
const pending = new Map();          // ref -> element that shows the reply's error
let lastStatus = null;
let schemaKey = "";                 // the scene + schema the difficulty controls were built for
let editing = null;                 // the parameter being dragged (not overwritten by status)
let liveUrl = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function fmt(v, digits) {
  if (v === null || v === undefined || v === "") return "-";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(digits ?? 2);
  return String(v);
}

function when(iso) {
  if (!iso) return "-";
  const d = new Date(iso);
  return d.toLocaleDateString() + " " + d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
}

async function api(path, options) {
  const res = await fetch(path, Object.assign({credentials: "same-origin",
    headers: {"Content-Type": "application/json"}}, options || {}));
  if (res.status === 401) { location.href = "/"; throw new Error("not paired"); }
  const type = res.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await res.json() : null;
  if (!res.ok) throw new Error((body && body.error) || res.statusText);
  return body;
}

// -- commands ---------------------------------------------------------------------------
function send(command, args, errorEl) {
  if (errorEl) errorEl.textContent = "";
  if (ws && ws.readyState === WebSocket.OPEN) {
    const ref = ++wsRef;
    pending.set(ref, errorEl);
    ws.send(JSON.stringify({command, args: args || {}, ref}));
    return;
  }
  api("/api/command", {method: "POST", body: JSON.stringify({command, args: args || {}})})
    .catch((e) => { if (errorEl) errorEl.textContent = e.message; });
}

// -- live -------------------------------------------------------------------------------
function connect() {
  const link = $("link");
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.binaryType = "blob";
  ws.onopen = () => { link.textContent = "connected"; link.className = "link ok"; };
  ws.onclose = () => {
    link.textContent = "reconnecting"; link.className = "link bad";
    setTimeout(() => api("/api/status").then(connect, () => setTimeout(connect, 2000)), 1000);
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data !== "string") { showImage(ev.data); return; }
    const msg = JSON.parse(ev.data);
    if (msg.type === "status") showStatus(msg.status);
    else if (msg.type === "reply") {
      const target = pending.get(msg.ref);
      pending.delete(msg.ref);
      if (!msg.ok && target) target.textContent = msg.error;
    }
  };
}

function showImage(blob) {
  const url = URL.createObjectURL(blob);
  const img = $("liveimg");
  img.onload = () => { if (liveUrl) URL.revokeObjectURL(liveUrl); liveUrl = url; };
  img.src = url;
}

function showStatus(s) {
  lastStatus = s;
  const state = $("state");
  state.textContent = s.state.replace("_", " ");
  state.className = "pill " + s.state;
  $("scene").textContent = s.state === "idle" && s.session ? `idle - last session ${s.session}`
    : (s.scene || "no scene");
  $("phase").textContent = s.phase ? `${s.phase} phase` : "";
  $("message").textContent = s.message || "";
  showAlerts(s.alerts || []);
  $("turn").hidden = !s.turn_suspected;
  $("p99").textContent = s.frame_ms_p99 ? `${fmt(s.frame_ms_p99, 1)} ms` : "-";
  $("dropped").textContent = fmt(s.dropped_frames);
  // mirror tasks: share of the block the phantom was in the central view (docs/mirror-tasks.md)
  $("watch").textContent = s.watch_share == null ? "-"
    : `${Math.round(100 * s.watch_share)} % of this block` + (s.watching === false ? ", looking away now" : "");
  $("patient").textContent = s.patient || "-";
  $("amputation").textContent = s.side ? `${s.side} ${s.level.replace(/_/g, " ")}` : "-";
  const tr = $("tracking");
  tr.replaceChildren(...Object.entries(s.tracking || {}).map(([k, ok]) =>
    el("span", {class: "dot " + (ok ? "ok" : "bad"), title: ok ? "tracked" : "lost"}, k)));
  showTrials(s.recent_trials || []);
  showParams(s);
  syncSetup(s);
  syncShape(s);
  showPhantom(s.phantom || {});
  showResearch(s.research);
  document.body.classList.toggle("stopped", s.state === "emergency_stopped");
}

const LSL_STATES = {on: "LSL on", off: "LSL off", unavailable: "LSL unavailable"};
const DRIVE_STATES = {waiting: "waiting for the stream", fading_in: "connected, fading in",
  connected: "connected", fading: "lost, fading to the mirror", lost: "lost, mirroring"};

function showResearch(r) {
  // LSL and the phantom's drive stream (docs/research.md), one line; any value is shown safely
  const obj = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : null);
  const known = (table, key) => typeof key === "string" && Object.hasOwn(table, key);
  r = obj(r);
  const box = $("research");
  if (!r || !known(LSL_STATES, r.lsl)) { box.textContent = "-"; box.title = ""; return; }
  const parts = [LSL_STATES[r.lsl]];
  const text = (v) => (typeof v === "string" ? v : "?");
  const outlets = (Array.isArray(r.outlets) ? r.outlets : []).map(obj)
    .filter((o) => o && typeof o.name === "string");
  if (outlets.length) {
    parts.push(outlets.map((o) => `${o.name} ${typeof o.sent === "number" ? fmt(o.sent) : "?"} sent`)
      .join(", "));
  }
  const d = obj(r.drive);
  if (d) {
    const state = known(DRIVE_STATES, d.state) ? DRIVE_STATES[d.state] : "-";
    const share = typeof d.presence === "number" && Number.isFinite(d.presence)
      ? ` (${Math.round(100 * d.presence)} %)` : "";
    parts.push(`drive ${text(d.stream)}: ${state}${share}`);
  }
  box.textContent = parts.join("; ");
  box.title = typeof r.error === "string" ? r.error : "";
}

function showPhantom(p) {
  // the phantom's shape now and the session's study condition code (never its name)
  $("phantom-now").textContent = p.posture == null ? "-"
    : `${p.posture.replace(/_/g, " ")}, ${Math.round(100 * p.weight)} % as felt, telescoping ${Math.round(100 * p.telescoping)} %`
      + (p.study_code ? `; study condition ${p.study_code}` : "");
}

function showAlerts(alerts) {
  // the latest few safety alerts (pain flare, SSQ, dose, the patient's stop) as banners
  $("alerts").replaceChildren(...alerts.slice(-3).reverse().map((a) =>
    el("div", {class: `alert ${a.kind}`}, a.text)));
}

let shapeShown = "";
function syncShape(s) {
  // the limb-shape sliders show the engine's shape (the patient's stored one once their
  // session starts) whenever it or the patient changes, unless one is being moved
  const shape = s.limb_shape || {};
  const key = `${s.patient}|${JSON.stringify(shape)}`;
  if (key === shapeShown || $("limb-shape").contains(document.activeElement)) return;
  shapeShown = key;
  for (const k of SHAPE_KEYS) {
    if (typeof shape[k] === "number" && Number.isFinite(shape[k])) $(`shape-${k}`).value = shape[k];
  }
}

let setupShown = "";
function syncSetup(s) {
  // the setup selects follow the engine unless the therapist is choosing something
  const key = `${s.scene}|${s.side}|${s.level}`;
  if (key === setupShown || document.activeElement?.tagName === "SELECT") return;
  setupShown = key;
  if (s.side) $("side").value = s.side;
  if (s.level) $("level").value = s.level;
  if (s.scene && [...$("scene-select").options].some((o) => o.value === s.scene)) $("scene-select").value = s.scene;
}

function showTrials(trials) {
  const rows = trials.slice().reverse().map((t) => {
    const rt = t.rt_s ?? (t.rt_ms != null ? t.rt_ms / 1000 : null);
    const answer = t.correct === true ? "correct" : t.correct === false ? "wrong" : fmt(t.response);
    return el("tr", {class: t.correct === false ? "wrong" : ""}, el("td", {}, fmt(t.index)),
      el("td", {}, fmt(t.side)), el("td", {}, answer), el("td", {}, rt == null ? "-" : `${rt.toFixed(2)} s`));
  });
  $("trials").replaceChildren(...rows);
}

function showParams(s) {
  const key = s.scene + JSON.stringify(s.schema || []);
  $("diff-scene").textContent = s.scene ? `(${s.scene})` : "";
  if (key !== schemaKey) {
    schemaKey = key;
    const box = $("params");
    if (!s.schema || !s.schema.length) {
      box.replaceChildren(el("p", {class: "muted"}, s.scene ? "This scene has no difficulty settings." : "No scene is running."));
    } else {
      box.replaceChildren(...s.schema.map(buildControl));
    }
  }
  for (const p of s.schema || []) {
    if (p.name === editing) continue;
    const input = document.querySelector(`[data-param="${CSS.escape(p.name)}"]`);
    if (!input) continue;
    const v = (s.params || {})[p.name];
    if (input.type === "checkbox") input.checked = !!v;
    else input.value = v;
    const out = document.querySelector(`[data-out="${CSS.escape(p.name)}"]`);
    if (out) out.textContent = `${fmt(v)}${p.unit ? " " + p.unit : ""}`;
  }
}

function buildControl(p) {
  const err = $("param-error");
  const apply = (value) => send("set_param", {name: p.name, value}, err);
  const title = p.name.replace(/_(deg|s|ms|m|hz|pct)$/, "").replace(/_/g, " ");
  const label = el("div", {class: "plabel"}, el("span", {class: "pname"}, title));
  const help = el("div", {class: "help"}, p.help || "");
  let control;
  if (p.kind === "bool") {
    const box = el("input", {type: "checkbox", "data-param": p.name, id: "param-" + p.name});
    box.addEventListener("change", () => apply(box.checked));
    control = el("label", {class: "toggle", for: "param-" + p.name}, box, el("span", {class: "track"}));
  } else if (p.kind === "choice") {
    const sel = el("select", {"data-param": p.name, id: "param-" + p.name},
      ...p.choices.map((c) => el("option", {value: c}, c)));
    sel.addEventListener("change", () => apply(sel.value));
    control = sel;
  } else {
    const step = p.kind === "int" ? 1 : niceStep(p.lo, p.hi);
    const range = el("input", {type: "range", min: p.lo, max: p.hi, step, "data-param": p.name,
      id: "param-" + p.name, "aria-label": p.name});
    const out = el("output", {"data-out": p.name});
    const show = () => { out.textContent = `${range.value}${p.unit ? " " + p.unit : ""}`; };
    range.addEventListener("input", () => { editing = p.name; show(); });
    range.addEventListener("change", () => { editing = null; apply(Number(range.value)); });
    const nudge = (d) => {
      const v = Math.min(p.hi, Math.max(p.lo, Number(range.value) + d * step));
      range.value = String(p.kind === "int" ? Math.round(v) : +v.toFixed(6));
      show(); apply(Number(range.value));
    };
    control = el("div", {class: "stepper"},
      el("button", {type: "button", class: "step", "aria-label": "less", onclick: () => nudge(-1)}, "\u2212"),
      range,
      el("button", {type: "button", class: "step", "aria-label": "more", onclick: () => nudge(1)}, "+"),
      out);
    label.append(el("span", {class: "bounds"}, `${p.lo}\u2013${p.hi}${p.unit ? " " + p.unit : ""}`));
  }
  return el("div", {class: "param"}, label, control, help);
}

function niceStep(lo, hi) {
  const span = hi - lo;
  const raw = span / 100;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
}

// -- setup controls ---------------------------------------------------------------------
async function loadOptions() {
  const data = await api("/api/scenes");
  $("scene-select").replaceChildren(...data.scenes.map((s) =>
    el("option", {value: s.name}, `${s.name.replace(/_/g, " ")} (${s.phase})`)));
  $("level").replaceChildren(...data.levels.map((l) => el("option", {value: l}, l.replace(/_/g, " "))));
  setupShown = "";
  if (lastStatus) syncSetup(lastStatus);
}

function wireControls() {
  for (const b of document.querySelectorAll("[data-cmd]")) {
    b.addEventListener("click", () => send(b.dataset.cmd, {}, $("setup-error")));
  }
  $("estop").addEventListener("click", () => send("emergency_stop", {}, $("setup-error")));
  $("switch").addEventListener("click", () => send("switch_scene", {scene: $("scene-select").value}, $("setup-error")));
  $("set-patient").addEventListener("click", () => send("set_patient", {side: $("side").value, level: $("level").value}, $("setup-error")));
  $("set-tone").addEventListener("click", () => send("skin_tone", {tone: $("tone").value}, $("setup-error")));
  $("set-shape").addEventListener("click", () => send("limb_shape", Object.fromEntries(
    SHAPE_KEYS.map((k) => [k, Number($(`shape-${k}`).value)])), $("setup-error")));
  $("phantom-apply").addEventListener("click", () => send("shape_phantom", {
    posture: $("phantom-posture").value, telescoping: Number($("phantom-telescoping").value),
    weight: Number($("phantom-weight").value)}, $("phantom-error")));
  $("phantom-capture").addEventListener("click", () => send("capture_posture", {}, $("phantom-error")));
  $("start").addEventListener("click", openChooser);
  $("chooser-cancel").addEventListener("click", () => $("chooser").close());
  $("chooser-new").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = $("new-patient").value.trim();
    if (!PATIENT_ID.test(id)) {
      $("chooser-error").textContent = "Use 1-64 letters, digits, - or _ (a pseudonym, never a name).";
      return;
    }
    startFor(id);
  });
  $("note-form").addEventListener("submit", saveNote);
  $("step-back-form").addEventListener("submit", stepBack);
  $("new-pairing").addEventListener("click", newPairing);
}

// -- the next session: choose the patient, then start ------------------------------------
const PATIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;     // vrgmi/ids.py: the pseudonymous-id rule

async function openChooser() {
  const current = lastStatus && lastStatus.patient;
  $("chooser-error").textContent = "";
  $("new-patient").value = "";
  let rows = [];
  try { rows = (await api("/api/patients")).patients; } catch (e) { /* no records: new id only */ }
  if (current && !rows.some((p) => p.id === current)) rows.unshift({id: current});
  $("chooser-list").replaceChildren(...rows.map((p) => el("button", {type: "button",
    class: p.id === current ? "current" : "", onclick: () => startFor(p.id)}, p.id,
    el("span", {class: "muted"}, p.amputation_side
      ? `${p.amputation_side} ${p.amputation_level.replace(/_/g, " ")}` : "now"))));
  $("chooser").showModal();
}

function startFor(id) {
  const args = {patient: id};
  if ($("override-limit").checked) args.override = true;
  send("start", args, $("setup-error"));
  $("override-limit").checked = false;
  $("chooser").close();
}

// -- patients ---------------------------------------------------------------------------
async function showPatients() {
  const data = await api("/api/patients");
  $("patients").replaceChildren(...data.patients.map((p) => el("tr", {},
    el("td", {}, el("a", {href: `#/patients/${encodeURIComponent(p.id)}`}, p.id)),
    el("td", {}, `${p.amputation_side} ${p.amputation_level.replace(/_/g, " ")}`),
    el("td", {}, fmt(p.phase)), el("td", {}, fmt(p.sessions)), el("td", {}, when(p.last_session)))));
}

const GATE_LABELS = {
  min_accuracy: "accuracy, each side", rt_norm_s: "response time norm (s)",
  rt_tolerance_s: "RT tolerance (s)", max_side_rt_diff_s: "left-right RT gap (s)",
  max_side_accuracy_diff: "left-right accuracy gap", stable_days: "stable for (days)",
  min_phase_days: "days in phase", min_sessions: "sessions", ratio_lo: "chronometry ratio from",
  ratio_hi: "chronometry ratio to", window_days: "averaged over (days)",
  min_kviq_mean: "KVIQ mean rating",
};

const SHAPE_KEYS = ["build", "muscle", "sex", "age_years", "hand_size", "foot_size"];

async function showPatient(pid) {
  const page = await api(`/api/patients/${encodeURIComponent(pid)}`);
  const p = page.patient;
  $("p-title").textContent = `Patient ${p.id}`;
  $("p-facts").replaceChildren(
    el("dt", {}, "Amputation"), el("dd", {}, `${p.amputation_side} ${p.amputation_level.replace(/_/g, " ")}`),
    el("dt", {}, "Height"), el("dd", {}, p.height_m ? `${p.height_m} m` : "-"),
    el("dt", {}, "Skin tone"), el("dd", {}, fmt(p.skin_tone)),
    el("dt", {}, "Limb shape"), el("dd", {}, Object.keys(p.limb_shape || {}).length
      ? Object.entries(p.limb_shape).map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`).join(", ")
      : "average"),
    el("dt", {}, "Sessions"), el("dd", {}, fmt(p.sessions)),
    el("dt", {}, "Trials"), el("dd", {}, fmt(p.trials)));
  const program = page.program;
  $("p-phase").textContent = program ? program.phase : "no program";
  const criteria = (page.gate && page.gate.criteria) || {};
  const gating = (program && program.gating) || {};
  const names = new Set([...Object.keys(gating), ...Object.keys(criteria)]);
  $("p-gate").replaceChildren(...[...names].map((name) => {
    const raw = criteria[name];
    const c = raw !== null && typeof raw === "object" ? raw : {value: raw};
    const needed = c.threshold ?? gating[name];
    const now = c.value;
    const met = c.met;
    return el("tr", {title: c.reason || ""}, el("td", {}, GATE_LABELS[name] || name.replace(/_/g, " ")),
      el("td", {}, fmt(typeof needed === "object" ? JSON.stringify(needed) : needed)),
      el("td", {}, fmt(typeof now === "object" && now !== null ? JSON.stringify(now) : now)), el("td", {class: met ? "met" : met === false ? "unmet" : ""},
        met === true ? "met" : met === false ? "not yet" : ""));
  }));
  $("p-gate-note").textContent = page.gate
    ? `Last gate check ${when(page.gate.decided)}: ${page.gate.advance ? "ready to advance" : "stay in phase"}${page.gate.override ? " (therapist override)" : ""}.`
    : "No gate check yet.";
  const base = `/api/patients/${encodeURIComponent(p.id)}`;
  $("x-csv").href = `${base}/export/csv`;
  $("x-fhir").href = `${base}/export/fhir`;
  $("x-pdf").href = `${base}/export/pdf`;
  $("p-plots").replaceChildren(...page.plots.map((name) => el("figure", {class: "card plot"},
    el("img", {src: `${base}/plots/${encodeURIComponent(name)}.png`, alt: name.replace(/_/g, " "), loading: "lazy"}))));
  $("p-sessions").replaceChildren(...page.sessions.slice().reverse().map((s) => el("tr", {},
    el("td", {}, when(s.started)), el("td", {}, fmt(s.phase)),
    el("td", {title: s.reason_ended === "interrupted" ? "ended by a crash; the gate does not count it" : ""},
      s.reason_ended === "interrupted" ? `${fmt(s.minutes, 1)} (interrupted)` : fmt(s.minutes, 1)),
    el("td", {}, fmt(s.trials)), el("td", {}, `${fmt(s.nrs_pre)} / ${fmt(s.nrs_post)}`),
    el("td", {class: "seed", title: s.seed ? `--seed ${s.seed} replays this session's stimuli` : ""},
      fmt(s.seed)))));
  showNotes(page.notes);
  $("note-form").dataset.pid = p.id;
  $("step-back-form").dataset.pid = p.id;
  $("step-back-error").textContent = "";
  showPatientOutcomes(p.id);
}

async function stepBack(ev) {
  ev.preventDefault();
  const pid = $("step-back-form").dataset.pid;
  const reason = $("step-back-reason").value.trim();
  if (!reason) { $("step-back-error").textContent = "Say why (it is recorded)."; return; }
  try {
    await api(`/api/patients/${encodeURIComponent(pid)}/step_back`,
      {method: "POST", body: JSON.stringify({reason})});
    $("step-back-reason").value = "";
    await showPatient(pid);
  } catch (e) { $("step-back-error").textContent = e.message; }
}

function showNotes(notes) {
  $("p-notes").replaceChildren(...notes.map((n) => el("li", {},
    el("div", {class: "muted"}, `${when(n.written)} \u00b7 ${n.author}`), el("div", {}, n.text))));
}

async function saveNote(ev) {
  ev.preventDefault();
  const pid = $("note-form").dataset.pid;
  const text = $("note-text").value;
  try {
    await api(`/api/patients/${encodeURIComponent(pid)}/notes`, {method: "POST", body: JSON.stringify({text})});
    $("note-text").value = "";
    showPatient(pid);
  } catch (e) { $("note-error").textContent = e.message; }
}

// -- devices ----------------------------------------------------------------------------
async function showDevices() {
  const data = await api("/api/tokens");
  $("tokens").replaceChildren(...data.tokens.map((t) => el("tr", {class: t.revoked ? "revoked" : ""},
    el("td", {}, `${t.label.slice(0, 40)}${t.id === data.you ? " (this device)" : ""}`),
    el("td", {}, new Date(t.created * 1000).toLocaleTimeString()),
    el("td", {}, new Date(t.last_used * 1000).toLocaleTimeString()),
    el("td", {}, t.revoked ? "revoked" : el("button", {type: "button", class: "quiet",
      onclick: async () => { await api(`/api/tokens/${t.id}/revoke`, {method: "POST", body: "{}"}); showDevices(); }}, "Revoke")))));
  const audit = await api("/api/audit");
  $("audit").replaceChildren(...audit.entries.slice(0, 30).map((a) => el("tr", {class: a.accepted ? "" : "wrong"},
    el("td", {}, new Date(a.wall * 1000).toLocaleTimeString()),
    el("td", {}, `${a.command} ${Object.keys(a.args || {}).length ? JSON.stringify(a.args) : ""}`),
    el("td", {}, a.accepted ? "applied" : a.reason))));
}

async function newPairing() {
  const data = await api("/api/pairing", {method: "POST", body: "{}"});
  const img = el("img", {alt: "QR code of the pairing link", src: "data:image/svg+xml;charset=utf-8," + encodeURIComponent(data.qr_svg)});
  $("pairing").replaceChildren(img, el("p", {}, "Scan with the other device, or type the token: "),
    el("p", {class: "token"}, data.token));
}

// -- routing ----------------------------------------------------------------------------
function route() {
  const hash = location.hash || "#/live";
  const parts = hash.slice(2).split("/");
  const show = (id) => { for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== id; };
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", hash.startsWith(a.getAttribute("href")));
  if (parts[0] === "patients" && parts[1]) { show("view-patient"); showPatient(decodeURIComponent(parts[1])); }
  else if (parts[0] === "patients") { show("view-patients"); showPatients(); }
  else if (parts[0] === "outcomes") { show("view-outcomes"); showOutcomes(); }
  else if (parts[0] === "devices") { show("view-devices"); showDevices(); }
  else show("view-live");
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  wireControls();
  loadOptions().catch(() => {});
  connect();
  route();
});
