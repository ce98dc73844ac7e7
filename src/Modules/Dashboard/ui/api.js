// The public API, as this page uses it: JSON over fetch with the dashboard session cookie (sent by the browser,
// never readable here), the session's CSRF token on every change, and the chosen org.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code;
  }
}

const state = { csrf: null, org: null };
export const session = state;

export async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  if (state.org) headers["X-Org-Id"] = state.org;
  const response = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) window.dispatchEvent(new CustomEvent("signed-out"));
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

// A session's events over SSE, resumed after a drop or a `disconnecting` event from the last event id: each event
// reaches onEvent once (the caller also drops ids it has seen), in order, with no gap.
export function streamEvents(sessionId, { onEvent, onState, signal }) {
  let lastId = null;
  let delay = 250;
  const run = async () => {
    while (!signal.aborted) {
      try {
        const headers = { Accept: "text/event-stream" };
        if (state.org) headers["X-Org-Id"] = state.org;
        if (lastId) headers["Last-Event-ID"] = lastId;
        const response = await fetch(`/v1/sessions/${sessionId}/sse?exclude=llm.generation`, { headers, credentials: "same-origin", signal });
        if (response.status === 401) { window.dispatchEvent(new CustomEvent("signed-out")); return; }
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        onState?.("live");
        delay = 250;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const fields = { data: "" };
            for (const line of frame.split("\n")) {
              const colon = line.indexOf(":");
              if (colon <= 0) continue;
              const key = line.slice(0, colon), val = line.slice(colon + 1).replace(/^ /, "");
              if (key === "data") fields.data += val; else fields[key] = val;
            }
            if (!fields.event || !fields.data) continue;
            if (fields.event === "connected") continue;
            if (fields.event === "disconnecting") { onState?.("reconnecting"); continue; }
            const event = JSON.parse(fields.data);
            if (fields.id) lastId = fields.id;
            onEvent(event);
          }
        }
      } catch (e) {
        if (signal.aborted) return;
      }
      if (signal.aborted) return;
      onState?.("reconnecting");
      await new Promise(r => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  };
  run();
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function ago(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return new Date(iso).toLocaleDateString();
}
