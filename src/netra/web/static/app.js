// Netra web UI: sign-in, usage upload, and the agent chat over the netra.v1 WebSocket.
// No build step, no framework: one module-less script.
"use strict";

const $ = (id) => document.getElementById(id);
const store = window.sessionStorage;
const state = {
  access: store.getItem("netra.access"),
  refresh: store.getItem("netra.refresh"),
  me: null,
  ws: null,
  threadId: null,
  runs: new Map(), // run_id -> {lastSeq, eventsEl, done}
  pending: new Map(), // frame id -> user message element
  reconnectDelay: 500,
};

// ---- HTTP ------------------------------------------------------------------------------

function saveTokens(pair) {
  state.access = pair.access_token;
  state.refresh = pair.refresh_token;
  store.setItem("netra.access", pair.access_token);
  store.setItem("netra.refresh", pair.refresh_token);
}

function clearTokens() {
  state.access = state.refresh = null;
  store.removeItem("netra.access");
  store.removeItem("netra.refresh");
}

// One refresh at a time: a refresh token is single-use, and presenting it twice (two requests
// answered 401 together) would revoke the whole session.
let refreshing = null;

function refreshTokens() {
  if (!refreshing) {
    refreshing = doRefresh().finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function doRefresh() {
  if (!state.refresh) return false;
  const r = await fetch("/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: state.refresh }),
  });
  if (!r.ok) { clearTokens(); return false; }
  saveTokens(await r.json());
  return true;
}

async function api(path, options = {}, retried = false) {
  const headers = Object.assign({}, options.headers || {});
  if (state.access) headers["Authorization"] = "Bearer " + state.access;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const r = await fetch(path, Object.assign({}, options, { headers }));
  if (r.status === 401 && !retried && (await refreshTokens())) return api(path, options, true);
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    const err = new Error(body?.error?.message || r.statusText);
    err.status = r.status;
    err.body = body;
    throw err;
  }
  return body;
}

// ---- views -----------------------------------------------------------------------------

function show(view) {
  $("auth-view").hidden = view !== "auth";
  $("app-view").hidden = view !== "app";
  $("whoami").hidden = view !== "app";
}

async function enterApp() {
  try {
    state.me = await api("/auth/me");
  } catch (e) {
    clearTokens();
    show("auth");
    return;
  }
  $("who-email").textContent = state.me.email;
  $("who-org").textContent = state.me.org_name || "";
  $("who-tier").textContent = state.me.tier;
  show("app");
  await loadThreads();
  connect();
}

async function exchangeLoginCode() {
  // The OAuth callback hands the UI a one-time code (never a token) in the fragment.
  const params = new URLSearchParams(window.location.hash.slice(1));
  const code = params.get("login_code");
  if (!code) return;
  history.replaceState(null, "", window.location.pathname);
  try {
    saveTokens(await api("/auth/oauth/exchange", { method: "POST", json: { code } }));
  } catch (e) {
    $("auth-error").textContent = "Single sign-on failed: " + e.message;
  }
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  $("auth-error").textContent = "";
  try {
    saveTokens(await api("/auth/login", { method: "POST", json: Object.fromEntries(f) }));
    await enterApp();
  } catch (e) {
    $("auth-error").textContent = e.message;
  }
});

$("register-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = Object.fromEntries(new FormData(ev.target));
  for (const k of ["name", "org_name"]) if (!data[k]) delete data[k];
  $("auth-error").textContent = "";
  try {
    await api("/auth/register", { method: "POST", json: data });
    saveTokens(await api("/auth/login", {
      method: "POST", json: { email: data.email, password: data.password },
    }));
    await enterApp();
  } catch (e) {
    const details = e.body?.error?.details;
    $("auth-error").textContent = e.message + (Array.isArray(details)
      ? ": " + details.map((d) => `${d.field} ${d.message}`).join("; ") : "");
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("/auth/logout", { method: "POST" }); } catch (e) { /* already gone */ }
  clearTokens();
  if (state.ws) state.ws.close(1000);
  state.ws = null;
  show("auth");
});

// ---- usage upload ----------------------------------------------------------------------

$("upload-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  const out = $("upload-result");
  out.textContent = `Uploading ${file.name}…`;
  const form = new FormData();
  form.append("file", file);
  try {
    const r = await api("/api/v1/usage/upload", { method: "POST", body: form });
    const rejected = r.rejected_count ?? r.rejected.length;
    const source = r.source ? `Read as ${r.source}: ` : "";
    out.textContent = `${source}${r.accepted.toLocaleString()} records stored, ` +
      `${r.duplicates} duplicates, ${rejected} rejected.`;
    if (r.ignored_fields && r.ignored_fields.length) {
      out.textContent += ` Ignored columns: ${r.ignored_fields.join(", ")}.`;
    }
    if (r.rejected.length) {
      out.textContent += " First problems: " + r.rejected.slice(0, 3)
        .map((x) => `line ${x.line} ${x.field || ""}: ${x.message}`).join("; ");
    }
  } catch (e) {
    out.textContent = "Upload failed: " + e.message;
  }
});

// ---- threads ---------------------------------------------------------------------------

async function loadThreads() {
  let threads = [];
  try {
    const body = await api("/api/v1/threads");
    threads = Array.isArray(body) ? body : body.threads || body.items || [];
  } catch (e) { /* no threads yet */ }
  const ul = $("threads");
  ul.innerHTML = "";
  for (const t of threads) {
    const li = document.createElement("li");
    li.textContent = t.title || "Conversation " + t.id.slice(0, 6);
    li.dataset.id = t.id;
    if (t.id === state.threadId) li.className = "active";
    li.addEventListener("click", () => openThread(t.id));
    ul.appendChild(li);
  }
}

async function openThread(id) {
  state.threadId = id;
  $("messages").innerHTML = "";
  const body = await api(`/api/v1/threads/${id}/messages`);
  const messages = Array.isArray(body) ? body : body.messages || body.items || [];
  for (const m of messages) addMessage(m.role, m.text ?? m.content ?? "");
  await loadThreads();
}

$("new-thread").addEventListener("click", () => {
  state.threadId = null;
  $("messages").innerHTML = "";
  loadThreads();
});

// ---- chat over the WebSocket -------------------------------------------------------------

function setConn(text, live) {
  $("conn-state").textContent = text;
  $("conn-state").className = "conn" + (live ? " live" : "");
}

function connect() {
  if (!state.access) return;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws`, ["netra.v1", "jwt." + state.access]);
  state.ws = ws;
  setConn("connecting…", false);
  ws.onmessage = (ev) => onFrame(JSON.parse(ev.data));
  ws.onclose = async (ev) => {
    if (state.ws !== ws) return;
    setConn(`disconnected (${ev.code})`, false);
    if (ev.code === 1000 || !state.access) return;
    if (ev.code === 4401 && !(await refreshTokens())) { show("auth"); return; }
    const delay = ev.code === 4429 || ev.code === 1013 ? 5000 : state.reconnectDelay;
    state.reconnectDelay = Math.min(state.reconnectDelay * 2, 10000);
    setTimeout(connect, delay);
  };
}

function send(type, payload, id) {
  const frame = { type, payload };
  if (id) frame.id = id;
  state.ws.send(JSON.stringify(frame));
}

function onFrame(f) {
  if (f.type === "connection_established") {
    setConn("live", true);
    state.reconnectDelay = 500;
    // Keep the connection alive: the server closes sockets silent past its heartbeat timeout.
    clearInterval(state.heartbeat);
    const ws = state.ws;
    state.heartbeat = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) send("ping", {});
      else clearInterval(state.heartbeat);
    }, f.payload.heartbeat_interval_s * 1000);
    // Resume every run that had not finished when the connection dropped.
    for (const [runId, run] of state.runs) {
      if (!run.done) send("resume", { run_id: runId, after_seq: run.lastSeq });
    }
    return;
  }
  if (f.type === "pong") return;
  if (f.type === "ack") {
    state.threadId = f.payload.thread_id;
    const el = state.pending.get(f.id);
    state.pending.delete(f.id);
    trackRun(f.payload.run_id, el);
    loadThreads();
    return;
  }
  if (f.type === "error") {
    addMessage("assistant", `⚠ ${f.payload.message} (${f.payload.code})`);
    $("ask-button").disabled = false;
    return;
  }
  if (f.run_id) onRunEvent(f);
}

function trackRun(runId, anchor) {
  if (state.runs.has(runId)) return state.runs.get(runId);
  // Live agent activity, folded away once the answer is in.
  const eventsEl = document.createElement("details");
  eventsEl.className = "events";
  eventsEl.open = true;
  const summary = document.createElement("summary");
  summary.textContent = "Agent activity";
  eventsEl.appendChild(summary);
  if (anchor && anchor.parentNode) anchor.after(eventsEl);
  else $("messages").appendChild(eventsEl);
  const run = { lastSeq: 0, eventsEl, done: false };
  state.runs.set(runId, run);
  return run;
}

function onRunEvent(f) {
  const run = trackRun(f.run_id);
  if (f.seq <= run.lastSeq) return; // already shown (resume overlap)
  run.lastSeq = f.seq;
  const p = f.payload || {};
  const line = document.createElement("div");
  line.className = "ev " + f.type + (p.status === "failed" ? " failed" : "");
  line.textContent = describe(f.type, p);
  run.eventsEl.appendChild(line);
  if (f.type === "agent_completed" && p.agent === "supervisor") {
    run.done = true;
    run.eventsEl.open = false;
    run.eventsEl.querySelector("summary").textContent = `Agent activity (${run.lastSeq} events)`;
    $("ask-button").disabled = false;
    if (p.status === "succeeded" && p.result) {
      const el = addMessage("assistant", p.result.text || "");
      if (p.result.report_id) showReport(p.result.report_id, el);
    } else {
      addMessage("assistant", p.status === "cancelled" ? "Cancelled." :
        `The run failed: ${p.error?.message || "unknown error"}`);
    }
  }
  $("messages").scrollTop = $("messages").scrollHeight;
}

function describe(type, p) {
  switch (type) {
    case "agent_started": return `${p.agent} started`;
    case "agent_thinking": return `${p.agent}: ${p.thought}`;
    case "tool_executing": return `${p.agent} runs ${p.tool}`;
    case "tool_completed": return `${p.tool} ${p.status} in ${p.duration_ms} ms`;
    case "agent_completed": return `${p.agent} ${p.status}`;
    default: return type;
  }
}

$("ask-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("ask-text").value.trim();
  if (!text || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
  const id = crypto.randomUUID();
  const payload = { text };
  if (state.threadId) payload.thread_id = state.threadId;
  state.pending.set(id, addMessage("user", text));
  send("user_message", payload, id);
  $("ask-text").value = "";
  $("ask-button").disabled = true;
});

// ---- rendering -------------------------------------------------------------------------

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// A small, safe subset of Markdown: headings, bold, bullet and numbered lists, paragraphs.
function renderMarkdown(text) {
  const out = [];
  let list = null;
  const inline = (s) => escapeHtml(s).replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/`([^`]+)`/g, "<code>$1</code>");
  const close = () => { if (list) { out.push(`</${list}>`); list = null; } };
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    let m;
    if ((m = line.match(/^#{1,6}\s+(.*)/))) { close(); out.push(`<h3>${inline(m[1])}</h3>`); }
    else if ((m = line.match(/^\s*[-*]\s+(.*)/))) {
      if (list !== "ul") { close(); out.push("<ul>"); list = "ul"; }
      out.push(`<li>${inline(m[1])}</li>`);
    } else if ((m = line.match(/^\s*\d+[.)]\s+(.*)/))) {
      if (list !== "ol") { close(); out.push("<ol>"); list = "ol"; }
      out.push(`<li>${inline(m[1])}</li>`);
    } else if (!line.trim()) { close(); }
    else { close(); out.push(`<p>${inline(line)}</p>`); }
  }
  close();
  return out.join("");
}

function addMessage(role, text) {
  const el = document.createElement("div");
  el.className = "msg " + role;
  if (role === "assistant") el.innerHTML = renderMarkdown(text);
  else el.textContent = text;
  $("messages").appendChild(el);
  $("messages").scrollTop = $("messages").scrollHeight;
  return el;
}

const usd = (x) => "$" + Number(x).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

async function showReport(id, anchor) {
  let report;
  try { report = await api(`/api/v1/analyses/${id}`); } catch (e) { return; }
  const table = document.createElement("table");
  table.className = "findings";
  table.innerHTML = "<thead><tr><th>Finding</th><th>Scope</th><th>Confidence</th>" +
    "<th class='num'>Current</th><th class='num'>Savings</th></tr></thead>";
  const body = document.createElement("tbody");
  for (const f of report.findings || []) {
    const tr = document.createElement("tr");
    const scope = Object.entries(f.scope || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
    tr.innerHTML = `<td>${escapeHtml(f.title)}</td><td>${escapeHtml(scope)}</td>` +
      `<td>${escapeHtml(f.confidence)}</td><td class="num">${usd(f.current_cost_usd)}</td>` +
      `<td class="num">${usd(f.savings_usd)}</td>`;
    body.appendChild(tr);
  }
  table.appendChild(body);
  const caption = document.createElement("p");
  caption.className = "muted";
  caption.textContent = `Report ${id}: total ${usd(report.total_cost_usd)}, projected savings ` +
    `${usd(report.projected_savings_usd)} (${report.projected_savings_pct}%).`;
  anchor.appendChild(caption);
  anchor.appendChild(table);
}

// ---- start -----------------------------------------------------------------------------

async function offerSingleSignOn() {
  try {
    const config = await api("/auth/.well-known/netra-configuration");
    const provider = (config.oauth_providers || [])[0];
    if (!provider) return;
    $("oauth-login").href = `/auth/oauth/${encodeURIComponent(provider)}/authorize`;
    $("oauth-box").hidden = false;
  } catch (e) { /* no single sign-on offered */ }
}

(async () => {
  offerSingleSignOn();
  await exchangeLoginCode();
  if (state.access) await enterApp();
  else show("auth");
})();
