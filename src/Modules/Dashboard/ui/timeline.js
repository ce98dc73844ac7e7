import { el } from "/ui/api.js";

// A session's timeline: one element per event (data-event-id), each rendered once whatever the stream repeats; the
// agent's answer grows in place as its deltas arrive.

function text(content) {
  if (typeof content === "string") return content;
  return (content || []).map(part => part.type === "text" ? part.text : part.type === "image" ? "[image]" :
    part.type === "tool_result" ? "" : "").join("");
}

function pretty(value) {
  try { return JSON.stringify(value, null, 2); } catch { return String(value); }
}

export function timeline({ toolForms, onStatus, submitResult }) {
  const list = el("ol", { class: "timeline", id: "timeline", "aria-label": "Session timeline" });
  const seen = new Set();
  const bubbles = new Map();   // message id → the agent's message element
  const tools = new Map();     // tool call id → its card
  const waiting = new Map();   // tool call id → its result form

  const add = event => {
    if (seen.has(event.id)) return;
    seen.add(event.id);
    const data = event.data || {};
    const item = (attributes, ...children) => {
      const node = el("li", { "data-event-id": event.id, "data-type": event.type, ...attributes }, ...children);
      list.append(node);
      return node;
    };
    switch (event.type) {
      case "input.message":
        item({ class: `msg ${data.message?.role === "user" ? "user" : "agent"}` }, text(data.message?.content));
        break;
      case "output.message.started": {
        const bubble = item({ class: "msg agent streaming", "data-message-id": data.message_id });
        bubbles.set(data.message_id, bubble);
        break;
      }
      case "output.message.delta": {
        let bubble = bubbles.get(data.message_id);
        if (!bubble) {
          bubble = item({ class: "msg agent streaming", "data-message-id": data.message_id });
          bubbles.set(data.message_id, bubble);
        }
        bubble.textContent = data.accumulated ?? (bubble.textContent + (data.delta || ""));
        break;
      }
      case "output.message.completed": {
        const id = data.message?.id;
        const bubble = bubbles.get(id);
        const answer = text(data.message?.content);
        if (bubble) {
          bubble.classList.remove("streaming");
          bubble.textContent = answer;
          bubble.setAttribute("data-completed-event-id", event.id);
          item({ class: "marker", hidden: true });
        } else {
          item({ class: "msg agent", "data-message-id": id }, answer);
        }
        break;
      }
      case "tool.started": {
        const call = data.tool_call || {};
        const card = el("details", { class: "tool" }, el("summary", { text: `${data.display_name || call.name} · running` }),
          el("pre", { text: pretty(call.arguments) }));
        tools.set(call.id, card);
        item({}, card);
        break;
      }
      case "tool.call_requested":
        onStatus("waiting_for_tool_results");
        for (const call of data.tool_calls || []) {
          const card = el("details", { class: "tool", open: true }, el("summary", { text: `${call.name} · waiting for the client's result` }),
            el("pre", { text: pretty(call.arguments) }));
          tools.set(call.id, card);
          const result = el("textarea", { "aria-label": `Result of ${call.name}`, rows: 2, placeholder: "Result (JSON or text)", "data-tool-call-id": call.id });
          const form = el("form", { class: "card", onsubmit: async e => {
            e.preventDefault();
            try { await submitResult(call.id, result.value); form.remove(); waiting.delete(call.id); }
            catch (err) { form.querySelector(".error").textContent = err.message; }
          } }, el("label", { text: `Result of ${call.name} (${call.id})` }), result,
          el("div", { class: "row", style: "margin-top:6px" }, el("button", { type: "submit", text: "Submit result" })), el("p", { class: "error", role: "alert" }));
          waiting.set(call.id, form);
          toolForms.append(form);
        }
        item({}, ...[...(data.tool_calls || [])].map(c => tools.get(c.id)));
        break;
      case "tool.completed": {
        const card = tools.get(data.tool_call_id);
        const outcome = data.success ? "done" : `failed: ${data.error || data.status}`;
        if (card) {
          card.querySelector("summary").textContent = `${data.tool_name} · ${outcome}`;
          card.append(el("pre", { text: data.success ? text(data.result) || pretty(data.result) : data.error || "" }));
          item({ class: "marker", hidden: true });
        } else {
          item({}, el("details", { class: "tool" }, el("summary", { text: `${data.tool_name} · ${outcome}` })));
        }
        waiting.get(data.tool_call_id)?.remove();
        waiting.delete(data.tool_call_id);
        break;
      }
      case "turn.started":
        onStatus("active");
        item({ class: "marker", text: "turn started" });
        break;
      case "turn.completed":
        onStatus("idle");
        item({ class: "marker", text: `turn completed${data.usage ? ` · ${data.usage.input_tokens + data.usage.output_tokens} tokens` : ""}` });
        break;
      case "turn.failed":
        onStatus("idle");
        item({ class: "failure", role: "status" }, `The turn failed: ${data.error}${data.error_code ? ` (${data.error_code})` : ""}`);
        break;
      case "turn.cancelled":
        onStatus("idle");
        for (const bubble of bubbles.values()) bubble.classList.remove("streaming");
        item({ class: "notice", role: "status" }, `Cancelled${data.reason ? `: ${data.reason}` : ""}`);
        break;
      case "reason.thinking.delta":
        break;
      default:
        item({ class: "marker", text: event.type });
    }
  };
  return { list, add };
}
