// Actions go through the same API as the CLI: the POST starts an operation, and its events are
// followed here (GET /v1/operations/{id}) the way `sentinel` prints them, until it ends.
import { call, get } from "./http.js";
import { el, errorLine, replace } from "./ui.js";
import { when } from "./units.js";

const POLL_MS = 1000;

// The panel a page shows its running and finished actions in (a live region).
export function activityPanel() {
  const list = el("ol", {});
  const node = el("section", { class: "card activity", "aria-labelledby": "activity-title" },
    el("h2", { id: "activity-title" }, "Activity"),
    el("div", { "aria-live": "polite" }, list));
  node.list = list;
  return node;
}

function eventLine(e) {
  return el("li", { class: "event" }, el("time", {}, when(e.at)), " ", e.message,
            e.actor ? el("span", { class: "dim" }, ` by ${e.actor}`) : "");
}

// Starts `method path body`; resolves to the finished operation (or the immediate answer of a
// call that runs no operation). A refusal (validation, busy) shows as one line and throws.
export async function runAction(panel, label, method, path, body) {
  const status = el("strong", {}, "starting…");
  const events = el("ol", { class: "events" });
  const item = el("li", { class: "op" }, el("span", {}, `${label}: `), status, events);
  panel.list.prepend(item);
  let started;
  try {
    started = await call(method, path, body);
  } catch (e) {
    replace(status, "refused");
    item.append(errorLine(e.message));
    throw e;
  }
  if (!started || !started.operation) {
    replace(status, "done");
    return started;
  }
  const id = started.operation;
  item.dataset.operation = id;
  replace(status, "running");
  let after = 0;
  for (;;) {
    const op = await get(`/v1/operations/${encodeURIComponent(id)}?after=${after}`);
    for (const e of op.events || []) {
      events.append(eventLine(e));
      after = Math.max(after, e.id);
    }
    if (op.status !== "running") {
      replace(status, op.status);
      status.className = op.status === "succeeded" ? "state-ok" : "state-bad";
      if (op.status !== "succeeded") {
        item.append(errorLine(op.error || `the operation ended ${op.status}`));
        const err = new Error(op.error || op.status);
        err.operation = op;
        throw err;
      }
      return op;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

// Past operations of a target (app:NAME, cluster), newest first.
export function operationsTable(ops) {
  if (!ops.length) return el("p", { class: "empty-state" }, "No operations yet.");
  return el("ol", { class: "events" }, ops.map((o) => el("li", { class: "event" },
    el("time", {}, when(o.started_at)), " ", el("span", { class: "badge" }, o.kind), " ",
    el("span", { class: o.status === "succeeded" ? "state-ok" : o.status === "running" ? "" : "state-bad" }, o.status),
    el("span", { class: "dim" }, ` by ${o.actor}`), o.error ? ` – ${o.error}` : "")));
}
