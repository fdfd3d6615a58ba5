// Netra web UI, administration: budgets with their alerts, webhooks with their delivery log,
// API keys (shown once), members and invitations, the audit log. Each page is shown only to the
// roles whose permissions allow it; the server enforces the same rules on every call.
"use strict";

// Show a secret once, with a copy button; it is never fetched again.
function showOnce(el, label, secret, note) {
  el.hidden = false;
  el.innerHTML = "";
  const h = document.createElement("p");
  h.textContent = label;
  const code = document.createElement("code");
  code.className = "once";
  code.textContent = secret;
  const p = document.createElement("p");
  p.className = "muted";
  p.textContent = note;
  el.append(h, code, button("Copy", () => navigator.clipboard?.writeText(secret)), p);
}

function formErrorTo(id) {
  return (e) => { $(id).textContent = problems(e); };
}

// ---- budgets ------------------------------------------------------------------------------

async function openBudgets() {
  $("budget-error").textContent = "";
  try {
    const { budgets } = await api("/api/v1/budgets");
    renderTable($("budgets-table"), [
      ["Scope", (b) => b.scope],
      ["Period", (b) => b.period],
      ["Limit", (b) => usd(b.limit_usd), "num"],
      ["Spent", (b) => usd(b.spend_usd), "num"],
      ["Used", (b) => `${b.used_pct}%`, "num"],
      ["Alerts", (b) => (b.alerted_thresholds.length
        ? b.alerted_thresholds.map((t) => `${t} % crossed`).join(", ") : "none")],
      ["", (b) => (can("budgets:write") ? button("Delete", async () => {
        await api(`/api/v1/budgets/${b.id}`, { method: "DELETE" }).catch(formErrorTo("budget-error"));
        openBudgets();
      }) : "")],
    ], budgets, "No budgets yet.");
  } catch (e) { formErrorTo("budget-error")(e); }
}

$("budget-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = Object.fromEntries(new FormData(ev.target));
  data.limit_usd = Number(data.limit_usd);
  $("budget-error").textContent = "";
  try {
    await api("/api/v1/budgets", { method: "POST", json: data });
    ev.target.reset();
    openBudgets();
  } catch (e) { formErrorTo("budget-error")(e); }
});

// ---- webhooks -----------------------------------------------------------------------------

async function openWebhooks() {
  $("webhook-error").textContent = "";
  try {
    const { webhooks } = await api("/api/v1/webhooks");
    renderTable($("webhooks-table"), [
      ["URL", (w) => w.url],
      ["Events", (w) => w.events.join(", ")],
      ["Created", (w) => when(w.created_at)],
      ["", (w) => button("Deliveries", () => openDeliveries(w))],
      ["", (w) => (!can("webhooks:write") ? "" : button("Delete", async () => {
        await api(`/api/v1/webhooks/${w.id}`, { method: "DELETE" }).catch(formErrorTo("webhook-error"));
        $("deliveries-card").hidden = true;
        openWebhooks();
      }))],
    ], webhooks, "No webhooks yet.");
  } catch (e) { formErrorTo("webhook-error")(e); }
}

async function openDeliveries(w) {
  const { deliveries } = await api(`/api/v1/webhooks/${w.id}/deliveries`);
  $("deliveries-card").hidden = false;
  $("deliveries-title").textContent = `Deliveries to ${w.url}`;
  renderTable($("deliveries"), [
    ["Event", (d) => d.event_type],
    ["Status", (d) => d.status],
    ["Attempts", (d) => count(d.attempts), "num"],
    ["Last answer", (d) => d.last_status_code ?? d.last_error ?? "–"],
    ["Created", (d) => when(d.created_at)],
    ["Delivered", (d) => when(d.delivered_at)],
  ], deliveries, "Nothing delivered yet.");
}

$("webhook-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  $("webhook-error").textContent = "";
  try {
    const hook = await api("/api/v1/webhooks", {
      method: "POST", json: { url: f.get("url"), events: f.getAll("events") },
    });
    showOnce($("webhook-secret"), `Signing secret of ${hook.url}:`, hook.secret,
      "Shown this once: store it with your receiver, which checks X-Netra-Signature with it.");
    ev.target.reset();
    openWebhooks();
  } catch (e) { formErrorTo("webhook-error")(e); }
});

// ---- API keys -------------------------------------------------------------------------------

async function openKeys() {
  $("key-error").textContent = "";
  try {
    const body = await api("/api/v1/api-keys");
    const keys = body.api_keys || body.keys || [];
    renderTable($("keys-table"), [
      ["Name", (k) => k.name],
      ["Key", (k) => `${k.prefix}…`],
      ["Scopes", (k) => k.scopes.join(", ")],
      ["Created", (k) => when(k.created_at)],
      ["Last used", (k) => when(k.last_used_at)],
      ["", (k) => (k.revoked_at ? `revoked ${when(k.revoked_at)}` : button("Revoke", async () => {
        await api(`/api/v1/api-keys/${k.id}`, { method: "DELETE" }).catch(formErrorTo("key-error"));
        openKeys();
      }))],
    ], keys, "No API keys yet.");
  } catch (e) { formErrorTo("key-error")(e); }
}

$("key-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  $("key-error").textContent = "";
  try {
    const key = await api("/api/v1/api-keys", {
      method: "POST", json: { name: f.get("name"), scopes: f.getAll("scopes") },
    });
    showOnce($("key-created"), `Key "${key.name}":`, key.key,
      "Shown this once and stored only as a hash: send it as Authorization: Bearer <key>.");
    ev.target.reset();
    openKeys();
  } catch (e) { formErrorTo("key-error")(e); }
});

// ---- members and invitations -----------------------------------------------------------------

const ROLES = ["owner", "admin", "member", "viewer"];

async function openMembers() {
  $("member-error").textContent = "";
  try {
    const body = await api("/api/v1/members");
    const members = body.members || [];
    renderInvitations(body.invitations || []);
    renderTable($("members-table"), [
      ["Name", (m) => m.name || ""],
      ["Email", (m) => m.email],
      ["Role", (m) => roleCell(m)],
      ["Joined", (m) => when(m.created_at || m.joined_at)],
      ["", (m) => (can("members:write") && m.id !== state.me.id ? button("Remove", async () => {
        await api(`/api/v1/members/${m.id}`, { method: "DELETE" }).catch(formErrorTo("member-error"));
        openMembers();
      }) : "")],
    ], members, "No members.");
  } catch (e) { formErrorTo("member-error")(e); }
}

function renderInvitations(invitations) {
  const holder = $("invitations-table");
  if (!invitations.length) { holder.innerHTML = ""; return; }
  renderTable(holder, [
    ["Invited", (i) => i.email],
    ["Role", (i) => i.role],
    ["Expires", (i) => when(i.expires_at)],
    ["", (i) => (can("members:write") ? button("Withdraw", async () => {
      await api(`/api/v1/invitations/${i.id}`, { method: "DELETE" }).catch(formErrorTo("member-error"));
      openMembers();
    }) : "")],
  ], invitations);
}

function roleCell(m) {
  if (!can("members:write") || m.id === state.me.id) return m.role;
  const select = document.createElement("select");
  select.setAttribute("aria-label", `Role of ${m.email}`);
  for (const r of ROLES) select.add(new Option(r, r, false, r === m.role));
  select.addEventListener("change", async () => {
    try {
      await api(`/api/v1/members/${m.id}`, { method: "PATCH", json: { role: select.value } });
    } catch (e) { formErrorTo("member-error")(e); }
    openMembers();
  });
  return select;
}

$("invite-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = Object.fromEntries(new FormData(ev.target));
  $("member-error").textContent = "";
  try {
    const inv = await api("/api/v1/invitations", { method: "POST", json: data });
    const link = `${location.origin}/?invitation=${encodeURIComponent(inv.token)}`;
    showOnce($("invite-created"), `Invitation for ${inv.email} (${inv.role}):`, link,
      `Send this link; it works once, until ${when(inv.expires_at)}.`);
    ev.target.reset();
    openMembers();
  } catch (e) { formErrorTo("member-error")(e); }
});

// ---- audit log -------------------------------------------------------------------------------

// The API pages the log oldest first; the page shows the newest first (at most 5,000 entries).
async function openAudit() {
  $("audit-error").textContent = "";
  try {
    const rows = [];
    let after = null;
    for (let page = 0; page < 10; page++) {
      const q = new URLSearchParams({ limit: "500" });
      if (after) q.set("after", after);
      const body = await api(`/api/v1/audit?${q}`);
      rows.push(...(body.events || []));
      after = body.next_after;
      if (!after) break;
    }
    rows.reverse();
    renderTable($("audit-table"), [
      ["When", (a) => when(a.created_at)],
      ["Who", (a) => a.actor?.email || a.actor?.user_id || "–"],
      ["What", (a) => a.action + (a.outcome === "failure" ? " (failed)" : "")],
      ["Details", (a) => (a.details ? JSON.stringify(a.details) : "")],
      ["From", (a) => a.ip || "–"],
    ], rows, "Nothing recorded yet.");
  } catch (e) { formErrorTo("audit-error")(e); }
}
