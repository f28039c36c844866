// The cluster: nodes with their load, memory and disk, the platform's health, and scaling.
import { get } from "./http.js";
import { activityPanel, operationsTable, runAction } from "./ops.js";
import { confirmDialog, dataTable, el, facts, field, replace, section } from "./ui.js";
import { bytes, num } from "./units.js";

const REFRESH_MS = 15000;

export function render(root, _params, ctx) {
  const health = section("Platform health");
  const nodes = section("Nodes");
  const scale = section("Scale");
  const history = section("Recent operations");
  const activity = activityPanel();
  root.append(el("h1", {}, "Cluster"), health, nodes, scale, activity, history);
  let timer = null;
  let count = null;

  async function refresh() {
    clearTimeout(timer);
    const c = await ctx.guard(() => get("/v1/cluster"), health.body);
    if (c) {
      replace(health.body, healthView(c));
      replace(nodes.body, nodeTable(c));
      if (count === null) {
        count = c.nodes.length;
        replace(scale.body, scaleForm(c, activity, refresh));
      }
    } else {
      replace(nodes.body, el("p", { class: "empty-state" }, "Unavailable."));
    }
    const ops = await ctx.guard(() => get("/v1/operations?target=cluster&limit=10"), history.body);
    if (ops) replace(history.body, operationsTable(ops));
    timer = setTimeout(refresh, REFRESH_MS);
  }
  refresh();
  return () => clearTimeout(timer);
}

const good = (ok, text) => el("span", { class: ok ? "state-ok" : "state-bad" }, text);

function healthView(c) {
  const ready = c.nodes.filter((n) => n.state === "ready").length;
  const errors = [...new Set(c.nodes.map((n) => n.error).filter(Boolean))];
  const b = c.backup_node;
  return [facts([
    ["Platform", good(c.state === "ready", `${c.name} (${c.provider}): ${c.state || "unknown"}`)],
    ["Control plane", good(true, "answering")],
    ["Nodes ready", good(ready === c.nodes.length && ready > 0, `${ready} of ${c.nodes.length}`)],
    ["Backup node", b ? good(b.state === "ready", `${b.name}: ${b.state}`) : "none"],
    ["Entry", el("a", { href: c.ingress.http, rel: "noreferrer" }, c.ingress.http)],
  ]), ...errors.map((e) => el("p", { class: "message error" }, `The swarm did not answer: ${e}`))];
}

function nodeTable(c) {
  const all = [...c.nodes, ...(c.backup_node ? [c.backup_node] : [])];
  const pair = (used, total) => (total ? `${bytes(used)} of ${bytes(total)}` : "–");
  return dataTable("Nodes", [
    { label: "Node", value: (n) => n.name }, { label: "Role", value: (n) => `${n.role}${n.leader ? " (leader)" : ""}` },
    { label: "State", value: (n) => good(n.state === "ready", n.state) }, { label: "Address", value: (n) => n.address },
    { label: "CPUs", value: (n) => (n.cpus ? num(n.cpus) : "–") },
    { label: "Load (1 min)", value: (n) => (Number.isFinite(n.load1) ? num(n.load1) : "–") },
    { label: "Memory used", value: (n) => pair(n.memory_used_bytes, n.memory_bytes) },
    { label: "Disk used", value: (n) => pair(n.disk_used_bytes, n.disk_bytes) },
  ], all);
}

function scaleForm(c, activity, after) {
  const nodes = el("input", { type: "number", min: "1", max: "20", value: String(c.nodes.length), required: "" });
  const form = el("form", { class: "row" }, field("Nodes", nodes, "A scale-down moves database members off leaving nodes first, and refuses to lose a copy."),
                  el("button", { type: "submit" }, "Scale…"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const n = Number(nodes.value);
    const ok = await confirmDialog({ title: `Scale the cluster to ${n} node${n === 1 ? "" : "s"}?`, confirm: "Scale",
      danger: n < c.nodes.length,
      body: [el("p", {}, n < c.nodes.length ? `${c.nodes.length - n} node(s) leave; what runs there moves first.` : `${n - c.nodes.length} node(s) are created and join the swarm.`)] });
    if (!ok) return;
    try { await runAction(activity, `scale the cluster to ${n}`, "POST", "/v1/cluster/scale", { nodes: n }); } catch { /* in the panel */ }
    after();
  });
  return form;
}
