// vrgmi companion: the outcome pages (issue 17). The battery form on a patient's page, their
// visits and change from baseline, and the clinic's responders, visits due, charts and
// exports. Uses app.js's helpers ($, el, fmt, when, api). Every answer is checked again by
// the server; nothing is pre-selected (a pre-selected answer biases ratings toward it).
"use strict";

let battery = null;               // GET /api/outcomes/battery, loaded once

async function loadBattery() {
  if (!battery) battery = await api("/api/outcomes/battery");
  return battery;
}

function ratingInput(id, item) {
  const count = Math.round((item.hi - item.lo) / item.step);
  if (count <= 10) {
    const options = [el("option", {value: ""}, "-")];
    for (let k = 0; k <= count; k++) {
      const v = item.lo + k * item.step;
      const tag = k === 0 && item.anchors[0] ? ` (${item.anchors[0]})`
        : k === count && item.anchors[1] ? ` (${item.anchors[1]})` : "";
      options.push(el("option", {value: String(v)}, `${v}${tag}`));
    }
    return el("select", {id, "data-kind": "number"}, ...options);
  }
  return el("input", {id, type: "number", min: item.lo, max: item.hi, step: item.step,
    inputmode: "decimal", "data-kind": "number", placeholder: `${item.lo}-${item.hi} ${item.unit}`});
}

function latestAnswer(page, measure) {
  const rows = page.answers.filter((a) => a.measure === measure);
  return rows.length ? rows[rows.length - 1].answers : null;
}

function measureFields(m, page) {
  const box = el("fieldset", {class: "measure", "data-measure": m.id},
    el("legend", {}, m.title), ...(m.prompt ? [el("p", {class: "muted"}, m.prompt)] : []));
  if (m.kind === "items") {
    for (const item of m.items) {
      const id = `o-${m.id}-${item.id}`;
      box.append(el("label", {for: id}, item.text), ratingInput(id, item));
    }
  } else if (m.kind === "activities") {
    const last = latestAnswer(page, "psfs");
    const names = last ? last.activities.map((a) => a.name) : [];
    for (let k = 0; k < m.max_rows; k++) {
      box.append(el("div", {class: "row activity"},
        el("input", {id: `o-psfs-name-${k}`, maxlength: "80", placeholder: `activity ${k + 1}`,
          value: names[k] || "", "aria-label": `activity ${k + 1}`}),
        ratingInput(`o-psfs-rating-${k}`, m.items[0])));
    }
  } else {
    const last = latestAnswer(page, "medication");
    const rows = last ? last.rows : [];
    for (let k = 0; k < Math.max(3, rows.length); k++) {
      const r = rows[k] || {};
      box.append(el("div", {class: "row medication"},
        el("input", {id: `o-med-name-${k}`, maxlength: "80", placeholder: "medicine", value: r.name || "", "aria-label": "medicine"}),
        el("input", {id: `o-med-dose-${k}`, maxlength: "40", placeholder: "dose", value: r.dose || "", "aria-label": "dose"}),
        el("input", {id: `o-med-frequency-${k}`, maxlength: "40", placeholder: "how often", value: r.frequency || "", "aria-label": "how often"})));
    }
    box.append(el("label", {for: "o-med-text"}, "Notes"),
      el("textarea", {id: "o-med-text", rows: "2", maxlength: "1000"}));
  }
  return box;
}

function value(id) {
  const node = $(id);
  return node ? node.value.trim() : "";
}

// The answers the form holds: a measure goes in once any of its fields is filled (the server
// says what is missing).
function collect(measures) {
  const out = {};
  for (const m of measures) {
    if (m.kind === "items") {
      const vals = m.items.map((i) => value(`o-${m.id}-${i.id}`));
      if (vals.some((v) => v !== "")) {
        out[m.id] = Object.fromEntries(m.items.map((i, k) => [i.id, vals[k] === "" ? null : Number(vals[k])]));
      }
    } else if (m.kind === "activities") {
      const acts = [];
      for (let k = 0; k < m.max_rows; k++) {
        const name = value(`o-psfs-name-${k}`);
        const rating = value(`o-psfs-rating-${k}`);
        if (name || rating) acts.push({name, rating: rating === "" ? null : Number(rating)});
      }
      if (acts.length) out.psfs = {activities: acts};
    } else {
      const rows = [];
      for (let k = 0; $(`o-med-name-${k}`); k++) {
        const row = {name: value(`o-med-name-${k}`), dose: value(`o-med-dose-${k}`), frequency: value(`o-med-frequency-${k}`)};
        if (row.name || row.dose || row.frequency) rows.push(row);
      }
      const text = value("o-med-text");
      if (rows.length || text) out.medication = {rows, text};
    }
  }
  return out;
}

const STATUS_CLASS = {done: "met", due: "", overdue: "unmet", missed: "unmet", upcoming: "muted"};

async function showPatientOutcomes(pid) {
  const base = `/api/patients/${encodeURIComponent(pid)}/outcomes`;
  const [form, page] = await Promise.all([loadBattery(), api(base)]);
  $("o-visits").replaceChildren(...page.visits.map((v) => el("tr", {},
    el("td", {}, v.label), el("td", {}, v.done_on || v.date || "-"),
    el("td", {class: STATUS_CLASS[v.status] || ""}, v.status,
      ...(v.status === "due" || v.status === "overdue" ? [" ", el("button", {type: "button", class: "quiet",
        title: "the battery's 0-10 ratings in the headset, then one laterality block; no training",
        onclick: () => startFollowUp(pid, v.timepoint)}, "Run in the headset")] : [])))));
  $("o-change").replaceChildren(...Object.entries(page.change).map(([key, rows]) => {
    const later = rows.filter((r) => r.timepoint !== "baseline");
    const last = later.length ? later[later.length - 1] : null;
    const sign = (v) => (v > 0 ? "+" : "");
    return el("tr", {}, el("td", {}, key.replace(".", ": ").replace(/_/g, " ")),
      el("td", {}, fmt(rows[0].timepoint === "baseline" ? rows[0].value : null)),
      el("td", {}, last ? `${fmt(last.value)} (${last.timepoint.replace(/_/g, " ")})` : "-"),
      el("td", {}, !last || last.change === null ? "-"
        : `${sign(last.change)}${fmt(last.change)}${last.pct === null ? "" : ` (${sign(last.pct)}${fmt(last.pct, 0)} %)`}`));
  }));
  $("o-plot").src = `${base}/plot.png?t=${Date.now()}`;
  const lat = page.laterality;
  const pair = (e, key, f) => ["left", "right"].map((side) => (e.sides[side] ? f(e.sides[side][key]) : "-")).join(" / ");
  $("o-laterality").replaceChildren(...[lat.end, ...lat.after].filter(Boolean).map((e) => el("tr", {},
    el("td", {}, `${e.date}${e === lat.end ? " (end)" : ""}`),
    el("td", {}, pair(e, "accuracy", (a) => `${Math.round(100 * a)} %`)),
    el("td", {}, pair(e, "rt_s", (r) => (r === null ? "-" : `${r.toFixed(2)} s`))))));
  const next = page.visits.find((v) => v.status !== "done");
  $("o-timepoint").replaceChildren(...form.timepoints.map((t) => el("option",
    Object.assign({value: t.id}, next && next.timepoint === t.id ? {selected: ""} : {}), t.label)));
  const chosen = form.measures.filter((m) => page.plan.measures.includes(m.id));
  let notice = $("o-texts");
  if (!notice) {
    notice = el("p", {id: "o-texts", class: "error", role: "alert"});
    $("o-measures").before(notice);
  }
  notice.textContent = form.texts_error ? `Built-in item texts shown: ${form.texts_error}` : "";
  $("o-measures").replaceChildren(...chosen.map((m) => measureFields(m, page)));
  $("o-plan").replaceChildren(...form.measures.map((m) => el("label", {class: "check"},
    el("input", Object.assign({type: "checkbox", value: m.id}, page.plan.measures.includes(m.id) ? {checked: ""} : {})),
    ` ${m.title}`)));
  $("o-form").dataset.pid = pid;
  $("o-error").textContent = "";
}

// A follow-up visit in the headset (docs/outcomes.md): the session starts once no other runs;
// its 0-10 ratings are stored as this visit's answers, the rest stays on this form.
function startFollowUp(pid, timepoint) {
  send("start", {patient: pid, follow_up: timepoint}, $("o-error"));
  $("o-saved").textContent = "Follow-up visit sent to the headset; answer the other measures here.";
}

async function saveVisit(ev) {
  ev.preventDefault();
  const pid = $("o-form").dataset.pid;
  const form = await loadBattery();
  const answers = collect(form.measures.filter((m) => document.querySelector(`fieldset[data-measure="${m.id}"]`)));
  if (!Object.keys(answers).length) { $("o-error").textContent = "Nothing answered yet."; return; }
  try {
    const out = await api(`/api/patients/${encodeURIComponent(pid)}/outcomes`,
      {method: "POST", body: JSON.stringify({timepoint: $("o-timepoint").value, answers})});
    await showPatientOutcomes(pid);
    $("o-saved").textContent = `Saved ${out.stored.length} measure(s).`;
  } catch (e) { $("o-error").textContent = e.message; }
}

async function savePlan() {
  const pid = $("o-form").dataset.pid;
  const measures = [...document.querySelectorAll("#o-plan input:checked")].map((i) => i.value);
  try {
    await api(`/api/patients/${encodeURIComponent(pid)}/outcomes/plan`,
      {method: "POST", body: JSON.stringify({measures})});
    await showPatientOutcomes(pid);
  } catch (e) { $("o-error").textContent = e.message; }
}

// -- the clinic -----------------------------------------------------------------------------
function pct(rate) { return rate === null ? "-" : `${Math.round(100 * rate)} %`; }

async function showOutcomes() {
  const ids = $("oc-filter").value.split(/[\s,]+/).filter(Boolean).join(",");
  const query = ids ? `?patients=${encodeURIComponent(ids)}` : "";
  $("oc-error").textContent = "";
  let data;
  try { data = await api(`/api/outcomes${query}`); } catch (e) { $("oc-error").textContent = e.message; return; }
  const s = data.summary;
  $("oc-count").textContent = `${s.patients} patients, ${s.with_baseline} with a baseline; visits judged on ${data.today}.`;
  $("oc-due").replaceChildren(...data.due.map((d) => el("tr", {class: d.status === "overdue" ? "wrong" : ""},
    el("td", {}, el("a", {href: `#/patients/${encodeURIComponent(d.patient)}`}, d.patient)),
    el("td", {}, d.label), el("td", {}, d.date || "now"), el("td", {}, d.status))));
  $("oc-summary").replaceChildren(...s.timepoints.filter((r) => r.answered || r.dropouts).map((r) => el("tr", {},
    el("td", {}, r.label), el("td", {}, fmt(r.answered)), el("td", {}, fmt(r.dropouts)),
    el("td", {}, `${r.responders["30"].n} (${pct(r.responders["30"].rate)} / ${pct(r.responders["30"].rate_itt)})`),
    el("td", {}, `${r.responders["50"].n} (${pct(r.responders["50"].rate)} / ${pct(r.responders["50"].rate_itt)})`),
    el("td", {}, r.pain_pct.median === null ? "-" : `${fmt(r.pain_pct.median, 0)} % [${fmt(r.pain_pct.q1, 0)}, ${fmt(r.pain_pct.q3, 0)}]`))));
  $("oc-patients").replaceChildren(...data.patients.map((p) => el("tr", {},
    el("td", {}, el("a", {href: `#/patients/${encodeURIComponent(p.id)}`}, p.id)), el("td", {}, fmt(p.phase)),
    el("td", {}, fmt(p.baseline)), el("td", {}, p.latest === null ? "-" : `${fmt(p.latest)} (${p.latest_timepoint.replace(/_/g, " ")})`),
    el("td", {}, p.next ? `${p.next.label}: ${p.next.status}${p.next.date ? " " + p.next.date : ""}` : "-"))));
  const stamp = `${query ? query + "&" : "?"}t=${Date.now()}`;
  $("oc-responders").src = `/api/outcomes/plots/responders.png${stamp}`;
  $("oc-change").src = `/api/outcomes/plots/change.png${stamp}`;
  $("oc-csv").href = `/api/outcomes/export/csv${query}`;
  $("oc-pdf").href = `/api/outcomes/export/pdf${query}`;
}

window.addEventListener("DOMContentLoaded", () => {
  $("o-form").addEventListener("submit", saveVisit);
  $("o-plan-save").addEventListener("click", savePlan);
  $("oc-filter-form").addEventListener("submit", (ev) => { ev.preventDefault(); showOutcomes(); });
});
