// Netra web UI, dashboard: spend, run rate and savings for a period; spend over time stacked
// by model, feature or provider; the top spenders; the top findings; the upload with progress.
// Every number comes from the public API (the analysis report and the usage summary), and
// every chart has a table twin for screen readers and keyboard users.
"use strict";

const dash = { charts: {}, report: null, loading: 0 };

// Colour-blind-friendly palette (Okabe-Ito, then a few neutrals for the tail).
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
  "#000000", "#7f7f7f", "#b2b2b2"];
const MAX_SERIES = 8; // the rest of a stacked chart is summed as "other"

// The chosen period as [start, end) in ISO form (null: open).
function periodBounds(value, now = new Date()) {
  const day = 86_400_000;
  if (value === "all") return [null, null];
  if (value === "month") return [new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)), null];
  if (value === "last-month") {
    return [new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)),
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))];
  }
  return [new Date(now.getTime() - Number(value) * day), null];
}

function periodQuery() {
  const [start, end] = periodBounds($("period").value);
  const q = new URLSearchParams();
  if (start) q.set("start", start.toISOString());
  if (end) q.set("end", end.toISOString());
  return q;
}

async function openDashboard() {
  const ticket = ++dash.loading;
  $("dash-status").textContent = "Loading…";
  const q = periodQuery();
  const body = {};
  for (const [k, v] of q) body[k] = v;
  try {
    const [report, timeline, users] = await Promise.all([
      api("/api/v1/analyses", { method: "POST", json: body }),
      api(`/api/v1/usage/summary?group_by=day&split_by=${$("stack-by").value}&${q}`),
      api(`/api/v1/usage/summary?group_by=user&${q}`),
    ]);
    if (ticket !== dash.loading) return; // a newer load is under way
    dash.report = report;
    renderKpis(report);
    renderTimeline(timeline.groups || []);
    renderTop("feature", (report.breakdown || {}).by_feature || []);
    renderTop("model", (report.breakdown || {}).by_model || []);
    renderTop("provider", (report.breakdown || {}).by_provider || []);
    renderTop("user", users.groups || []);
    renderFindings(report.findings || []);
    $("dash-status").textContent = report.records
      ? `${count(report.records)} records analysed (report ${report.id}).`
      : "No usage in this period yet: add a usage file below.";
  } catch (e) {
    if (ticket === dash.loading) $("dash-status").textContent = "Could not load the dashboard: " + e.message;
  }
}

function renderKpis(r) {
  $("kpi-spend").textContent = usd(r.total_cost_usd);
  const calls = r.requests ?? r.records;
  $("kpi-calls").textContent = `${count(calls)} calls · ${count(r.priced_records)} priced`;
  $("kpi-runrate").textContent = usd(r.forecast?.monthly_run_rate_usd);
  $("kpi-savings").textContent = usd(r.projected_savings_usd);
  $("kpi-savings-pct").textContent = `${r.projected_savings_pct ?? 0}% of the period's spend`;
  const unpriced = r.unpriced || [];
  $("unpriced").hidden = !unpriced.length;
  $("unpriced").textContent = unpriced.length
    ? "Unpriced usage (not in the totals): " + unpriced
      .map((u) => `${u.provider}/${u.model} (${count(u.records)} records)`).join(", ")
    : "";
}

function chartOf(id, config) {
  if (dash.charts[id]) dash.charts[id].destroy();
  dash.charts[id] = new Chart($(id), config);
  return dash.charts[id];
}

const dollarsAxis = {
  beginAtZero: true,
  title: { display: true, text: "USD" },
  ticks: { callback: (v) => usd(v) },
};

// Spend per day, stacked by the chosen dimension; the largest series first.
function renderTimeline(days) {
  const by = $("stack-by").value;
  const totals = new Map();
  for (const d of days) for (const s of d.split || []) totals.set(s.key, (totals.get(s.key) || 0) + (s.cost_usd || 0));
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const shown = ranked.slice(0, MAX_SERIES);
  const rest = ranked.length > MAX_SERIES;
  const labels = days.map((d) => String(d.key).slice(0, 10));
  const series = shown.map((key, i) => ({
    label: key || "(none)",
    data: days.map((d) => (d.split || []).find((s) => s.key === key)?.cost_usd || 0),
    backgroundColor: PALETTE[i % PALETTE.length],
    stack: "spend",
  }));
  if (rest) {
    series.push({
      label: "other",
      data: days.map((d) => (d.split || []).filter((s) => !shown.includes(s.key))
        .reduce((a, s) => a + (s.cost_usd || 0), 0)),
      backgroundColor: "#b2b2b2",
      stack: "spend",
    });
  }
  chartOf("chart-time", {
    type: "bar",
    data: { labels, datasets: series },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      scales: { x: { stacked: true, title: { display: true, text: "day (UTC)" } },
        y: { ...dollarsAxis, stacked: true } },
      plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${usd(c.parsed.y)}` } } },
    },
  });
  const columns = [["Day", (d) => String(d.key).slice(0, 10)]];
  for (const s of series) {
    columns.push([s.label, (d) => usd(s.data[labels.indexOf(String(d.key).slice(0, 10))]), "num"]);
  }
  columns.push(["Total", (d) => usd(d.cost_usd), "num"]);
  renderTable($("chart-time-table"), columns, days, "No usage in this period.");
  $("chart-time").setAttribute("aria-label", `Daily spend in US dollars, stacked by ${by}`);
}

// A model is named with its provider: the same model bought from two providers is two lines.
const groupLabel = (g) => (g.provider && g.provider !== g.key ? `${g.key} (${g.provider})` : g.key);

function renderTop(dimension, groups) {
  const rows = groups.filter((g) => g.key !== "" && g.key !== null).slice(0, 10);
  chartOf(`chart-${dimension}`, {
    type: "bar",
    data: {
      labels: rows.map(groupLabel),
      datasets: [{ label: "spend", data: rows.map((g) => g.cost_usd || 0), backgroundColor: PALETTE[0] }],
    },
    options: {
      indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
      scales: { x: dollarsAxis, y: { ticks: { autoSkip: false } } },
      plugins: { legend: { display: false },
        tooltip: { callbacks: { label: (c) => usd(c.parsed.x) } } },
    },
  });
  renderTable($(`table-${dimension}`), [
    [dimension, groupLabel],
    ["Calls", (g) => count(g.requests ?? g.records), "num"],
    ["Spend", (g) => cost(g.cost_usd), "num"],
    ["Share", (g) => (g.share_pct === undefined ? "" : `${g.share_pct}%`), "num"],
  ], rows, "No usage in this period.");
}

function renderFindings(findings) {
  const top = [...findings].sort((a, b) => b.savings_usd - a.savings_usd).slice(0, 5);
  renderTable($("top-findings"), [
    ["Finding", (f) => f.title],
    ["Confidence", (f) => f.confidence],
    ["Savings / period", (f) => usd(f.savings_usd), "num"],
    ["", (f) => button("Ask about this", () => askAbout(
      `Tell me more about this finding: ${f.title}. Why, and what exactly should we change?`))],
  ], top, "No findings in this period.");
  const table = $("top-findings").querySelector("table");
  if (table) table.classList.add("findings");
}

$("period").addEventListener("change", openDashboard);
$("stack-by").addEventListener("change", openDashboard);
$("refresh").addEventListener("click", openDashboard);

// ---- upload ------------------------------------------------------------------------------

// XMLHttpRequest rather than fetch: it reports upload progress.
function uploadFile(file) {
  const bar = $("upload-progress");
  const out = $("upload-result");
  const list = $("upload-rejected");
  list.innerHTML = "";
  bar.hidden = false;
  bar.value = 0;
  out.textContent = `Uploading ${file.name}…`;
  const send = (retried) => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/usage/upload");
    xhr.setRequestHeader("Authorization", "Bearer " + state.access);
    xhr.responseType = "json";
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) {
        bar.value = Math.round((100 * ev.loaded) / ev.total);
        out.textContent = `Uploading ${file.name}: ${bar.value}%`;
      }
    };
    xhr.upload.onload = () => { out.textContent = `Storing ${file.name}…`; };
    xhr.onerror = () => reject(new Error("the connection failed"));
    xhr.onload = async () => {
      if (xhr.status === 401 && !retried && (await refreshTokens())) { resolve(send(true)); return; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(apiError(xhr.status, xhr.response, `HTTP ${xhr.status}`));
    };
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
  return send(false).then((r) => {
    bar.value = 100;
    const rejected = r.rejected_count ?? r.rejected.length;
    out.textContent = `${count(r.accepted)} records stored, ${count(r.duplicates)} duplicates, ` +
      `${count(rejected)} rejected` + (r.source ? ` (recognised as ${r.source}).` : ".");
    if (r.ignored_fields?.length) out.textContent += ` Ignored columns: ${r.ignored_fields.join(", ")}.`;
    for (const x of r.rejected.slice(0, 50)) {
      const li = document.createElement("li");
      li.textContent = `line ${x.line}${x.field ? " · " + x.field : ""}: ${x.message}`;
      list.appendChild(li);
    }
    openDashboard();
  }).catch((e) => {
    bar.hidden = true;
    out.textContent = "Upload failed: " + problems(e);
    for (const x of (e.body?.error?.details?.rejected || []).slice(0, 50)) {
      const li = document.createElement("li");
      li.textContent = `line ${x.line}${x.field ? " · " + x.field : ""}: ${x.message}`;
      list.appendChild(li);
    }
  });
}

$("upload-file").addEventListener("change", (ev) => {
  const file = ev.target.files[0];
  if (file) uploadFile(file);
  ev.target.value = "";
});

const drop = $("upload-drop");
drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  drop.classList.remove("over");
  const file = ev.dataTransfer.files[0];
  if (file) uploadFile(file);
});
drop.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); $("upload-file").click(); }
});
