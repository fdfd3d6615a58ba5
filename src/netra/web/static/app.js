// Netra web UI, core: tokens, the API client, sign-in, the views and shared rendering helpers.
// No build step, no framework: plain scripts loaded in order (app, dashboard, chat, admin, start).
"use strict";

const $ = (id) => document.getElementById(id);
const store = window.sessionStorage;
const state = {
  access: store.getItem("netra.access"),
  refresh: store.getItem("netra.refresh"),
  me: null,
  view: null,
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

function apiError(status, body, fallback) {
  const err = new Error(body?.error?.message || fallback || `HTTP ${status}`);
  err.status = status;
  err.body = body;
  return err;
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
  if (r.status === 204) return null;
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw apiError(r.status, body, r.statusText);
  return body;
}

// The field-level problems of a validation error, as one line.
function problems(e) {
  const d = e.body?.error?.details;
  const list = Array.isArray(d) ? d : Array.isArray(d?.fields) ? d.fields : [];
  const extra = list.filter((x) => !e.message.includes(x.message))
    .map((x) => `${x.field} ${x.message}`);
  return e.message + (extra.length ? ": " + extra.join("; ") : "");
}

// ---- formatting and rendering -------------------------------------------------------------

function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

const usd = (x) => "$" + Number(x || 0).toLocaleString("en-US",
  { minimumFractionDigits: 2, maximumFractionDigits: 2 });
// A cost that may be unknown: never shown as $0.00 when nothing could be priced.
const cost = (x) => (x === null || x === undefined ? "unpriced" : usd(x));
const count = (x) => Number(x || 0).toLocaleString("en-US");
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");

// A table from rows: columns are [heading, (row) => text, "num"?]. Text only: no HTML injection.
function renderTable(container, columns, rows, empty = "Nothing yet.") {
  container.innerHTML = "";
  if (!rows.length) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = empty;
    container.appendChild(p);
    return null;
  }
  const table = document.createElement("table");
  table.className = "data";
  const head = table.createTHead().insertRow();
  for (const [title, , kind] of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = title;
    if (kind === "num") th.className = "num";
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const [, value, kind] of columns) {
      const td = tr.insertCell();
      const v = value(row);
      if (v instanceof Node) td.appendChild(v);
      else td.textContent = v;
      if (kind === "num") td.className = "num";
    }
  }
  container.appendChild(table);
  return table;
}

function button(text, onClick, cls = "secondary small") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

// ---- permissions and views ------------------------------------------------------------------

const can = (perm) => !!state.me && (state.me.permissions || []).includes(perm);
const canAny = (perms) => perms.some(can);

// Each view: the permissions of which one lets a role see it, and what to do when it opens.
const views = {
  dashboard: { needs: ["usage:read"], open: () => window.openDashboard?.() },
  chat: { needs: ["chat:use"], open: () => window.openChat?.() },
  budgets: { needs: ["budgets:read", "budgets:write"], open: () => window.openBudgets?.() },
  webhooks: { needs: ["webhooks:read", "webhooks:write"], open: () => window.openWebhooks?.() },
  keys: { needs: ["api_keys:write"], open: () => window.openKeys?.() },
  members: { needs: ["members:read", "members:write"], open: () => window.openMembers?.() },
  audit: { needs: ["audit:read"], open: () => window.openAudit?.() },
};

function allowed(name) {
  const v = views[name];
  return !!v && canAny(v.needs);
}

function show(view) {
  $("auth-view").hidden = view !== "auth";
  $("whoami").hidden = view === "auth";
  $("nav").hidden = view === "auth";
  for (const name of Object.keys(views)) $(`${name}-view`).hidden = name !== view;
  for (const a of document.querySelectorAll("#nav a")) {
    a.hidden = !allowed(a.dataset.view);
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  for (const el of document.querySelectorAll("main [data-needs]")) el.hidden = !can(el.dataset.needs);
  state.view = view;
}

function route() {
  if (!state.me) return;
  let name = (location.hash.match(/^#\/([a-z]+)/) || [])[1] || "dashboard";
  if (!allowed(name)) name = Object.keys(views).find(allowed) || "dashboard";
  show(name);
  views[name].open();
}

window.addEventListener("hashchange", route);

function go(name) {
  if (location.hash === `#/${name}`) route();
  else location.hash = `#/${name}`;
}

// ---- sign-in -----------------------------------------------------------------------------

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
  $("who-role").textContent = state.me.role;
  $("who-tier").textContent = state.me.tier;
  window.startChat?.();
  route();
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
  const invitation = new URLSearchParams(location.search).get("invitation");
  if (invitation) data.invitation = invitation;
  $("auth-error").textContent = "";
  try {
    await api("/auth/register", { method: "POST", json: data });
    saveTokens(await api("/auth/login", {
      method: "POST", json: { email: data.email, password: data.password },
    }));
    await enterApp();
  } catch (e) {
    $("auth-error").textContent = problems(e);
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("/auth/logout", { method: "POST" }); } catch (e) { /* already gone */ }
  clearTokens();
  state.me = null;
  window.stopChat?.();
  show("auth");
});

async function offerSingleSignOn() {
  try {
    const config = await api("/auth/.well-known/netra-configuration");
    const provider = (config.oauth_providers || [])[0];
    if (!provider) return;
    $("oauth-login").href = `/auth/oauth/${encodeURIComponent(provider)}/authorize`;
    $("oauth-box").hidden = false;
  } catch (e) { /* no single sign-on offered */ }
}
