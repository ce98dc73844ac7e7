import { api, ApiError, session, streamEvents, el, ago } from "/ui/api.js";
import { timeline } from "/ui/timeline.js";

const view = document.getElementById("view");
const nav = document.getElementById("nav");
let me = null;          // the signed-in session: {user_id, orgs, system_admin}
let page = null;        // the current page's AbortController: navigation stops its polls and streams

function show(...nodes) {
  view.replaceChildren(...nodes);
}

function problemText(e) {
  return e instanceof ApiError ? `${e.message}${e.code ? ` (${e.code})` : ""}` : String(e?.message || e);
}

// ---- signing in and out ----------------------------------------------------------------------------------------

async function boot() {
  try {
    adopt(await api("/v1/auth/session"));
  } catch {
    me = null;
  }
  route();
}

function adopt(signedIn) {
  me = signedIn;
  session.csrf = signedIn.csrf_token;
  const picker = document.getElementById("org");
  picker.replaceChildren(...signedIn.orgs.map(o => el("option", { value: o.id, text: o.name })));
  session.org = signedIn.orgs[0]?.id ?? null;
  document.getElementById("org-picker").hidden = signedIn.orgs.length < 2;
  document.getElementById("nav-cluster").hidden = !signedIn.system_admin;
  nav.hidden = false;
}

function signInPage(message) {
  nav.hidden = true;
  const token = el("input", { id: "token", type: "password", autocomplete: "off", required: true, placeholder: "evr_pat_…", class: "grow" });
  const error = el("p", { class: "error", role: "alert", text: message || "" });
  const form = el("form", { class: "card narrow", onsubmit: async e => {
    e.preventDefault();
    try {
      adopt(await api("/v1/auth/session", { method: "POST", body: { token: token.value } }));
      token.value = "";
      location.hash = "#/sessions";
      route();
    } catch (err) {
      error.textContent = problemText(err);
    }
  } },
  el("h1", { text: "Sign in" }),
  el("p", { class: "muted", text: "Paste a personal access token. It is exchanged for a session cookie and not kept in this browser." }),
  el("label", { for: "token", text: "Personal access token" }), token,
  el("div", { class: "row", style: "margin-top:12px" }, el("button", { type: "submit", text: "Sign in" })), error);
  show(form);
  token.focus();
}

window.addEventListener("signed-out", () => {
  if (!me) return;
  me = null;
  page?.abort();
  signInPage("Your session ended. Sign in again.");
});

document.getElementById("sign-out").addEventListener("click", async () => {
  try { await api("/v1/auth/session", { method: "DELETE" }); } catch { /* ended already */ }
  me = null;
  page?.abort();
  location.hash = "#/signin";
  signInPage("Signed out.");
});

document.getElementById("org").addEventListener("change", e => { session.org = e.target.value; route(); });

// ---- routing ---------------------------------------------------------------------------------------------------

function route() {
  page?.abort();
  page = new AbortController();
  if (!me) return signInPage();
  const [, section, id] = (location.hash || "#/sessions").split("/");
  for (const a of nav.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === (section || "sessions")) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const signal = page.signal;
  if (section === "sessions" && id) return sessionPage(id, signal);
  if (section === "agents") return agentsPage(id, signal);
  if (section === "cluster") return clusterPage(signal);
  return sessionsPage(signal);
}

window.addEventListener("hashchange", route);

function every(ms, signal, work) {
  const tick = async () => {
    if (signal.aborted) return;
    try { await work(); } catch { /* shown by the page */ }
    if (!signal.aborted) setTimeout(tick, ms);
  };
  tick();
}

// ---- sessions --------------------------------------------------------------------------------------------------

async function agentNames() {
  const agents = await api("/v1/agents?limit=100");
  return new Map(agents.data.map(a => [a.id, a.display_name || a.name]));
}

async function sessionsPage(signal) {
  const limit = 25;
  let offset = 0;
  const names = await agentNames().catch(() => new Map());
  const agentFilter = el("select", { id: "agent-filter", "aria-label": "Agent" }, el("option", { value: "", text: "All agents" }),
    [...names].map(([id, name]) => el("option", { value: id, text: name })));
  const search = el("input", { id: "search", type: "search", placeholder: "Search titles", "aria-label": "Search", class: "grow" });
  const rows = el("tbody");
  const pager = el("div", { class: "pager" });
  const error = el("p", { class: "error", role: "alert" });

  const newAgent = el("select", { id: "new-session-agent", "aria-label": "Agent of the new session" }, el("option", { value: "", text: "No agent" }),
    [...names].map(([id, name]) => el("option", { value: id, text: name })));
  const newTitle = el("input", { id: "new-session-title", placeholder: "Title", "aria-label": "Title of the new session", class: "grow" });
  const create = el("form", { class: "row card", onsubmit: async e => {
    e.preventDefault();
    try {
      const created = await api("/v1/sessions", { method: "POST", body: { agent_id: newAgent.value || undefined, title: newTitle.value || undefined } });
      location.hash = `#/sessions/${created.id}`;
    } catch (err) { error.textContent = problemText(err); }
  } }, newAgent, newTitle, el("button", { type: "submit", text: "New session" }));

  const load = async () => {
    const query = new URLSearchParams({ offset, limit });
    if (agentFilter.value) query.set("agent_id", agentFilter.value);
    if (search.value.trim()) query.set("search", search.value.trim());
    const list = await api(`/v1/sessions?${query}`);
    rows.replaceChildren(...list.data.map(s => el("tr", { "data-session-id": s.id },
      el("td", { class: "title" }, el("a", { href: `#/sessions/${s.id}`, text: s.title || s.id, title: s.title || s.id })),
      el("td", {}, el("span", { class: `badge ${s.status}`, text: s.status.replaceAll("_", " ") })),
      el("td", { class: "hide-small", text: names.get(s.agent_id) || (s.agent_id ? s.agent_id : "—") }),
      el("td", { text: ago(s.updated_at), title: s.updated_at }))));
    if (list.data.length === 0) rows.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "No sessions yet." })));
    pager.replaceChildren(
      el("button", { class: "secondary", type: "button", disabled: offset === 0, text: "Previous", onclick: () => { offset = Math.max(0, offset - limit); load(); } }),
      el("span", { class: "muted", text: `${list.total === 0 ? 0 : offset + 1}–${offset + list.data.length} of ${list.total}` }),
      el("button", { class: "secondary", type: "button", disabled: offset + limit >= list.total, text: "Next", onclick: () => { offset += limit; load(); } }));
  };
  let debounce;
  search.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(() => { offset = 0; load(); }, 250); });
  agentFilter.addEventListener("change", () => { offset = 0; load(); });

  show(el("h1", { text: "Sessions" }), create, el("div", { class: "row", style: "margin:14px 0" }, agentFilter, search), error,
    el("table", { id: "sessions" }, el("colgroup", {}, el("col", { style: "width:46%" }), el("col", { style: "width:20%" }),
      el("col", { class: "hide-small", style: "width:18%" }), el("col", { style: "width:16%" })),
      el("thead", {}, el("tr", {}, el("th", { text: "Title" }), el("th", { text: "Status" }), el("th", { class: "hide-small", text: "Agent" }), el("th", { text: "Last activity" }))),
      rows), pager);
  // Live: the list is read again every two seconds (any instance, any tab's changes).
  every(2000, signal, load);
}

async function sessionPage(id, signal) {
  let current;
  try { current = await api(`/v1/sessions/${id}`); } catch (e) { return show(el("p", { class: "error", text: problemText(e) })); }
  const status = el("span", { id: "session-status", class: `badge ${current.status}`, text: current.status });
  const setStatus = s => { status.className = `badge ${s}`; status.textContent = s.replaceAll("_", " "); cancel.hidden = s !== "active" && s !== "waiting_for_tool_results"; };
  const streamState = el("span", { id: "stream-state", class: "muted", text: "connecting…" });
  const error = el("p", { class: "error", role: "alert" });
  const toolForms = el("div", { id: "tool-results" });
  const view = timeline({ toolForms, onStatus: setStatus, submitResult: async (callId, text) => {
    let result;
    try { result = JSON.parse(text); } catch { result = text; }
    await api(`/v1/sessions/${id}/tool-results`, { method: "POST", body: { tool_results: [{ tool_call_id: callId, result }] } });
  } });
  const input = el("textarea", { id: "message", placeholder: "Message", "aria-label": "Message", rows: 3 });
  const send = el("button", { type: "submit", id: "send", text: "Send" });
  const cancel = el("button", { type: "button", id: "cancel", class: "danger", text: "Cancel turn", onclick: async () => {
    try { await api(`/v1/sessions/${id}/cancel`, { method: "POST" }); } catch (e) { error.textContent = problemText(e); }
  } });
  const composer = el("form", { class: "composer", onsubmit: async e => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send.disabled = true;
    try {
      await api(`/v1/sessions/${id}/messages`, { method: "POST", body: { message: { role: "user", content: [{ type: "text", text }] } } });
      input.value = "";
      error.textContent = "";
    } catch (err) { error.textContent = problemText(err); }
    send.disabled = false;
    input.focus();
  } }, input, el("div", { class: "row", style: "margin-top:8px" }, send, cancel, streamState));
  input.addEventListener("keydown", e => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) composer.requestSubmit(); });
  setStatus(current.status);
  show(el("p", {}, el("a", { href: "#/sessions", text: "← Sessions" })),
    el("h1", { id: "session-title", text: current.title || current.id }),
    el("p", { class: "muted" }, status, " ", current.agent_id ? `agent ${current.agent_id}` : "no agent", " · ", current.model_id || "default model"),
    view.list, toolForms, error, composer);
  streamEvents(id, { signal, onEvent: view.add, onState: s => { streamState.textContent = s === "live" ? "live" : "reconnecting…"; } });
}

// ---- agents ----------------------------------------------------------------------------------------------------

async function agentsPage(id, signal) {
  if (id) return agentForm(id === "new" ? null : await api(`/v1/agents/${id}`).catch(() => null));
  const list = await api("/v1/agents?limit=100");
  show(el("div", { class: "row" }, el("h1", { class: "grow", text: "Agents" }), el("a", { class: "button", href: "#/agents/new", id: "new-agent", text: "New agent" })),
    el("table", { id: "agents" }, el("thead", {}, el("tr", {}, el("th", { text: "Name" }), el("th", { class: "hide-small", text: "Model" }),
      el("th", { text: "Sessions" }), el("th", { class: "hide-small", text: "Updated" }))),
    el("tbody", {}, list.data.length === 0 ? el("tr", {}, el("td", { colspan: 4, class: "muted", text: "No agents yet." })) : list.data.map(a => el("tr", {},
      el("td", { class: "title" }, el("a", { href: `#/agents/${a.id}`, text: a.display_name || a.name, title: a.name })),
      el("td", { class: "hide-small", text: a.default_model_id || "default" }),
      el("td", { text: String(a.session_count) }),
      el("td", { class: "hide-small", text: ago(a.updated_at) }))))));
}

async function agentForm(agent) {
  const [models, capabilities] = await Promise.all([api("/v1/models").catch(() => ({ data: [] })), api("/v1/capabilities").catch(() => ({ data: [] }))]);
  const name = el("input", { id: "agent-name", required: true, value: agent?.name || "", pattern: "[a-z0-9]+(-[a-z0-9]+)*" });
  const display = el("input", { id: "agent-display-name", value: agent?.display_name || "" });
  const prompt = el("textarea", { id: "agent-prompt", rows: 8, required: true });
  prompt.value = agent?.system_prompt || "";
  const model = el("select", { id: "agent-model" }, el("option", { value: "", text: "The org's default" }),
    models.data.map(m => el("option", { value: m.id, text: m.display_name || m.model_id || m.id, selected: agent?.default_model_id === m.id || agent?.default_model_id === m.model_id })));
  const chosen = new Set((agent?.capabilities || []).map(c => c.ref));
  const boxes = capabilities.data.map(c => el("label", { style: "display:flex;gap:6px;align-items:center;color:inherit" },
    el("input", { type: "checkbox", name: "capability", value: c.id, checked: chosen.has(c.id) }), `${c.name || c.id}`));
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "card", onsubmit: async e => {
    e.preventDefault();
    const body = {
      name: name.value, display_name: display.value || undefined, system_prompt: prompt.value, default_model_id: model.value || undefined,
      capabilities: [...form.querySelectorAll("input[name=capability]:checked")].map(b => ({ ref: b.value })),
    };
    try {
      const saved = agent ? await api(`/v1/agents/${agent.id}`, { method: "PATCH", body }) : await api("/v1/agents", { method: "POST", body });
      location.hash = `#/agents`;
      return saved;
    } catch (err) { error.textContent = problemText(err); }
  } },
  el("label", { for: "agent-name", text: "Name (lowercase, digits, hyphens)" }), name,
  el("label", { for: "agent-display-name", text: "Display name" }), display,
  el("label", { for: "agent-prompt", text: "System prompt" }), prompt,
  el("label", { for: "agent-model", text: "Model" }), model,
  el("fieldset", { style: "border:none;padding:0;margin:10px 0" }, el("legend", { class: "muted", text: "Capabilities" }), boxes),
  el("div", { class: "row" }, el("button", { type: "submit", id: "save-agent", text: agent ? "Save" : "Create agent" }), el("a", { href: "#/agents", text: "Cancel" })), error);
  show(el("p", {}, el("a", { href: "#/agents", text: "← Agents" })), el("h1", { text: agent ? `Edit ${agent.display_name || agent.name}` : "New agent" }), form);
}

// ---- cluster ---------------------------------------------------------------------------------------------------

function chart(title, points) {
  const max = Math.max(1, ...points);
  const step = points.length > 1 ? 300 / (points.length - 1) : 0;
  const line = points.map((v, i) => `${(i * step).toFixed(1)},${(110 - (v / max) * 100).toFixed(1)}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 300 120");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${title}: latest ${points.at(-1) ?? 0}, peak ${max}`);
  const poly = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  poly.setAttribute("points", line);
  svg.append(poly);
  return el("div", { class: "card chart" }, el("h2", { text: `${title} (now ${points.at(-1) ?? 0})` }), svg);
}

async function clusterPage(signal) {
  const body = el("div", { id: "cluster" });
  show(el("h1", { text: "Cluster" }), body);
  every(3000, signal, async () => {
    const [workers, series] = await Promise.all([api("/v1/durable/workers"), api("/v1/durable/metrics/timeseries")]);
    const points = series.points;
    const last = points.at(-1) || {};
    const deltas = key => points.map((p, i) => i === 0 ? 0 : Math.max(0, p[key] - points[i - 1][key]));
    body.replaceChildren(
      el("div", { class: "stats" },
        el("div", { class: "card stat" }, el("b", { text: String(workers.summary.active) }), "instances running"),
        el("div", { class: "card stat" }, el("b", { text: String(last.pending_tasks ?? 0) }), "steps queued"),
        el("div", { class: "card stat" }, el("b", { text: String(last.dlq_size ?? 0) }), "dead letters"),
        el("div", { class: "card stat" }, el("b", { text: String(last.sse_connections ?? 0) }), "SSE streams (this instance)")),
      el("table", { id: "instances" }, el("thead", {}, el("tr", {}, el("th", { text: "Instance" }), el("th", { text: "Status" }),
        el("th", { text: "Heartbeat" }), el("th", { class: "hide-small", text: "Role" }), el("th", { class: "hide-small", text: "Load" }))),
        el("tbody", {}, workers.data.map(w => el("tr", {},
          el("td", { text: `${w.hostname || w.id}${w.is_self ? " (this)" : ""}`, title: w.id }),
          el("td", {}, el("span", { class: `badge ${w.status === "running" ? "active" : ""}`, text: w.status })),
          el("td", { text: ago(w.last_heartbeat_at) }),
          el("td", { class: "hide-small", text: [w.is_leader && "leader", w.runs_maintenance && "maintenance"].filter(Boolean).join(", ") || "—" }),
          el("td", { class: "hide-small", text: `${w.current_load}/${w.max_concurrency}` }))))),
      el("h2", { text: `Over time (every ${series.resolution_seconds}s, this instance's figures)` }),
      el("div", { class: "charts" },
        chart("Turns started", deltas("workflows_started_total")),
        chart("Events written", points.map(p => p.events_written)),
        chart("Instances", points.map(p => p.active_workers))));
  });
}

boot();
