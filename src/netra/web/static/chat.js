// Netra web UI, chat: conversations and the agent's live timeline over the netra.v1 WebSocket.
// A dropped socket reconnects with back-off and resumes every unfinished run from its last
// seq, so nothing is missed and nothing is shown twice.
"use strict";

const chat = {
  ws: null,
  threadId: null,
  runs: new Map(), // run_id -> {lastSeq, eventsEl, done}
  pending: new Map(), // frame id -> user message element
  reconnectDelay: 500,
  heartbeat: null,
  stopped: true,
};

function startChat() {
  chat.stopped = false;
  if (!chat.ws && can("chat:use")) connect();
}

function stopChat() {
  chat.stopped = true;
  clearInterval(chat.heartbeat);
  if (chat.ws) chat.ws.close(1000);
  chat.ws = null;
}

async function openChat() {
  await loadThreads();
  $("ask-text").focus();
}

// Ask a question from elsewhere in the app (the dashboard's "Ask about this").
function askAbout(text) {
  chat.threadId = null;
  $("messages").innerHTML = "";
  $("ask-text").value = text;
  go("chat");
}

// ---- threads ---------------------------------------------------------------------------

async function loadThreads() {
  let threads = [];
  try {
    threads = (await api("/api/v1/threads")).threads || [];
  } catch (e) { /* no threads yet */ }
  const ul = $("threads");
  ul.innerHTML = "";
  for (const t of threads) {
    const li = document.createElement("li");
    const b = button(t.title || "Conversation " + t.id.slice(0, 6), () => openThread(t.id), "thread");
    b.title = `Started ${when(t.created_at)}`;
    if (t.id === chat.threadId) b.setAttribute("aria-current", "true");
    li.appendChild(b);
    ul.appendChild(li);
  }
}

async function openThread(id) {
  chat.threadId = id;
  $("messages").innerHTML = "";
  const body = await api(`/api/v1/threads/${id}/messages`);
  for (const m of body.messages || []) {
    const el = addMessage(m.role, m.text ?? "");
    const reportId = m.meta?.report_id;
    if (m.role === "assistant" && reportId) showReport(reportId, el);
  }
  await loadThreads();
}

$("new-thread").addEventListener("click", () => {
  chat.threadId = null;
  $("messages").innerHTML = "";
  loadThreads();
});

// ---- the socket --------------------------------------------------------------------------

function setConn(text, cls) {
  $("conn-state").textContent = text;
  $("conn-state").className = "conn " + cls;
}

function connect() {
  if (!state.access || chat.stopped) return;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws`, ["netra.v1", "jwt." + state.access]);
  chat.ws = ws;
  setConn(chat.runs.size ? "reconnecting…" : "connecting…", "down");
  ws.onmessage = (ev) => onFrame(JSON.parse(ev.data));
  ws.onclose = async (ev) => {
    if (chat.ws !== ws) return;
    chat.ws = null;
    clearInterval(chat.heartbeat);
    if (ev.code === 1000 || !state.access || chat.stopped) { setConn("disconnected", "down"); return; }
    if (ev.code === 4401 && !(await refreshTokens())) { show("auth"); return; }
    const delay = ev.code === 4429 || ev.code === 1013 ? 5000 : chat.reconnectDelay;
    chat.reconnectDelay = Math.min(chat.reconnectDelay * 2, 10000);
    setConn(`connection lost (${ev.code}): reconnecting…`, "down");
    setTimeout(connect, delay);
  };
}

function send(type, payload, id) {
  const frame = { type, payload };
  if (id) frame.id = id;
  chat.ws.send(JSON.stringify(frame));
}

function onFrame(f) {
  if (f.type === "connection_established") {
    setConn("live", "live");
    chat.reconnectDelay = 500;
    // Keep the connection alive: the server closes sockets silent past its heartbeat timeout.
    clearInterval(chat.heartbeat);
    const ws = chat.ws;
    chat.heartbeat = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) send("ping", {});
      else clearInterval(chat.heartbeat);
    }, f.payload.heartbeat_interval_s * 1000);
    // Resume every run that had not finished when the connection dropped.
    for (const [runId, run] of chat.runs) {
      if (!run.done) send("resume", { run_id: runId, after_seq: run.lastSeq });
    }
    return;
  }
  if (f.type === "pong") return;
  if (f.type === "ack") {
    chat.threadId = f.payload.thread_id;
    const el = chat.pending.get(f.id);
    chat.pending.delete(f.id);
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
  if (chat.runs.has(runId)) return chat.runs.get(runId);
  // Live agent activity, folded away once the answer is in.
  const eventsEl = document.createElement("details");
  eventsEl.className = "events";
  eventsEl.open = true;
  eventsEl.dataset.runId = runId;
  const summary = document.createElement("summary");
  summary.textContent = "Agent activity";
  eventsEl.appendChild(summary);
  if (anchor && anchor.parentNode) anchor.after(eventsEl);
  else $("messages").appendChild(eventsEl);
  const run = { lastSeq: 0, eventsEl, done: false };
  chat.runs.set(runId, run);
  return run;
}

function onRunEvent(f) {
  const run = trackRun(f.run_id);
  if (f.seq <= run.lastSeq) return; // already shown (resume overlap)
  run.lastSeq = f.seq;
  const p = f.payload || {};
  const line = document.createElement("div");
  line.className = "ev " + f.type + (p.status === "failed" ? " failed" : "");
  line.dataset.seq = f.seq;
  line.textContent = describe(f.type, p);
  run.eventsEl.appendChild(line);
  if (f.type === "agent_completed" && p.agent === "supervisor") {
    run.done = true;
    run.eventsEl.open = false;
    run.eventsEl.querySelector("summary").textContent = `Agent activity (${run.lastSeq} events)`;
    $("ask-button").disabled = false;
    if (p.status === "succeeded" && p.result) {
      const el = addMessage("assistant", p.result.text || "");
      el.dataset.runId = f.run_id;
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
  if (!text || !chat.ws || chat.ws.readyState !== WebSocket.OPEN) return;
  const id = crypto.randomUUID();
  const payload = { text };
  if (chat.threadId) payload.thread_id = chat.threadId;
  chat.pending.set(id, addMessage("user", text));
  send("user_message", payload, id);
  $("ask-text").value = "";
  $("ask-button").disabled = true;
});

// ---- rendering -------------------------------------------------------------------------

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

async function showReport(id, anchor) {
  let report;
  try { report = await api(`/api/v1/analyses/${id}`); } catch (e) { return; }
  const caption = document.createElement("p");
  caption.className = "muted";
  caption.textContent = `Report ${id}: total ${usd(report.total_cost_usd)}, projected savings ` +
    `${usd(report.projected_savings_usd)} (${report.projected_savings_pct}%).`;
  const holder = document.createElement("div");
  renderTable(holder, [
    ["Finding", (f) => f.title],
    ["Scope", (f) => Object.entries(f.scope || {}).map(([k, v]) => `${k}: ${v}`).join(", ")],
    ["Confidence", (f) => f.confidence],
    ["Current", (f) => usd(f.current_cost_usd), "num"],
    ["Savings", (f) => usd(f.savings_usd), "num"],
  ], report.findings || [], "No findings.");
  const table = holder.querySelector("table");
  if (table) table.classList.add("findings");
  anchor.appendChild(caption);
  anchor.appendChild(holder);
}
