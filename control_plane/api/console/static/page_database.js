// One app's database: primary and standbys with lag, the recoverable window, backups, start a
// backup, and a point-in-time restore (into a copy or in place) whose loss is shown first.
import { appHeader } from "./app_nav.js";
import { appPath, get, q } from "./http.js";
import { activityPanel, runAction } from "./ops.js";
import { confirmDialog, dataTable, el, facts, field, radios, replace, section } from "./ui.js";
import { bytes, duration, isoTime } from "./units.js";

export function render(root, [name], ctx) {
  const status = section("Status");
  const backups = section("Backups");
  const restore = section("Restore to a time");
  const activity = activityPanel();
  root.append(...appHeader(name, "db"), status, el("div", { class: "grid" }, backups, restore), activity);

  async function refresh() {
    const s = await ctx.guard(() => get(appPath(name, "/db")), status.body);
    if (s) replace(status.body, statusView(s));
    const b = await ctx.guard(() => get(appPath(name, "/db/backups")), backups.list);
    if (b) replace(backups.list, backupList(b));
  }
  backups.list = el("div", {});
  replace(backups.body, backupForm(name, activity, refresh), backups.list);
  replace(restore.body, restoreForm(name, activity, ctx));
  refresh();
  return () => {};
}

function statusView(s) {
  const p = s.primary;
  const r = s.recoverable;
  const repo = s.repository || {};
  const lb = s.last_backup;
  const d = s.last_drill;
  return [
    facts([
      ["Primary", p ? `${p.member} on ${p.node} (timeline ${p.timeline ?? "–"})` : el("span", { class: "state-bad" }, "none running")],
      ["Copies", s.ha ? "primary and standby (HA)" : "a single copy"],
      ["Recoverable", r ? `${isoTime(r.from)} to ${r.to ? isoTime(r.to) : "the last archived change"}` : "nothing yet (no backup)"],
      ["Backup repository", repo.status === "ok" ? "ok" : el("span", { class: "state-bad" }, `${repo.status || "unknown"}${repo.message ? `: ${repo.message}` : ""}`)],
      ["Last backup", lb ? `${lb.label} (${lb.type}, ${bytes(lb.size_bytes)}) at ${isoTime(lb.stop)}` : "none"],
      ["Last restore drill", d ? `${d.passed ? "passed" : "FAILED"} at ${isoTime(d.at)}: ${d.summary}` : "never"],
    ]),
    dataTable("Members", [
      { label: "Member", value: (m) => m.member }, { label: "Node", value: (m) => m.node },
      { label: "Role", value: (m) => m.role }, { label: "State", value: (m) => m.state },
      { label: "Lag", value: (m) => (m.role === "primary" ? "–" : bytes(m.lag_bytes)) },
      { label: "Synchronous", value: (m) => (m.sync ? "yes" : "no") },
    ], s.members || []),
    ...(s.actions || []).map((tip) => el("p", { class: "message info" }, tip)),
  ];
}

function backupList(b) {
  return dataTable("Backups in the repository", [
    { label: "Label", value: (x) => x.label }, { label: "Type", value: (x) => x.type },
    { label: "Finished", value: (x) => isoTime(x.stop) }, { label: "Size", value: (x) => bytes(x.size_bytes) },
    { label: "In the repository", value: (x) => bytes(x.repo_bytes) }, { label: "Error", value: (x) => (x.error ? "yes" : "") },
  ], b.backups || [], b.repository?.status === "ok" ? "No backup yet." : `The repository is ${b.repository?.status}: ${b.repository?.message || ""}`);
}

function backupForm(name, activity, after) {
  const type = el("select", {}, [["full", "full"], ["diff", "differential"], ["incr", "incremental"]].map(([v, t]) => el("option", { value: v }, t)));
  const form = el("form", { class: "row" }, field("Backup type", type), el("button", { type: "submit" }, "Start a backup"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { await runAction(activity, `${type.value} backup of ${name}`, "POST", appPath(name, "/db/backups"), { type: type.value }); } catch { /* in the panel */ }
    after();
  });
  return form;
}

// What an in-place restore throws away, in words, before anything is asked.
export function lossText(plan) {
  const d = plan.discards || {};
  const parts = [];
  if (d.from) {
    const n = d.transactions;
    parts.push(`Every change since ${isoTime(d.from)} is discarded`
      + (Number.isFinite(d.seconds) ? ` (${duration(d.seconds)} of changes` : " (")
      + (n !== null && n !== undefined ? `, ${d.transactions_at_least ? "more than " : ""}${n} write transaction${n === 1 ? "" : "s"})` : ")")
      + ".");
  }
  parts.push(plan.primary_running
    ? "The current state is kept (a restore point and the old data folder) until the next full backup."
    : "No primary is running, so the state after the last archived change is lost.");
  return parts;
}

function restoreForm(name, activity, ctx) {
  const to = el("input", { type: "text", autocomplete: "off", spellcheck: "false", required: "", placeholder: "2026-11-27T16:40:00Z" });
  const where = radios("Where", "where", [["copy", "Into a new app (production untouched)"], ["inplace", "In place (the app answers 503 meanwhile)"]], "copy");
  const into = el("input", { type: "text", autocomplete: "off", spellcheck: "false", value: `${name}-copy`, pattern: "[a-z0-9][a-z0-9-]*" });
  const intoField = field("New app name", into);
  const problem = el("div", {});
  where.addEventListener("change", () => { intoField.hidden = where.querySelector("input:checked").value !== "copy"; });
  const form = el("form", {}, field("Restore to", to, "A time (ISO 8601, UTC unless it says), `latest`, or a restore point's name."),
                  where, intoField, problem, el("button", { type: "submit" }, "Review the restore…"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(problem);
    const copy = where.querySelector("input:checked").value === "copy";
    const params = { to: to.value.trim(), into: copy ? into.value.trim() : null };
    const plan = await ctx.guard(() => get(appPath(name, `/db/restore-plan?${q(params)}`)), problem);
    if (!plan) return;
    const window = plan.window ? `The recoverable window is ${isoTime(plan.window.from)} to ${plan.window.to ? isoTime(plan.window.to) : "the last archived change"}.` : "";
    const body = copy
      ? [el("p", {}, `A new app ${params.into} gets ${name}'s data as of ${plan.target_text}. Production is untouched.`), el("p", { class: "hint" }, window)]
      : [el("div", { class: "loss" }, lossText(plan).map((t) => el("p", {}, t))),
         el("p", {}, `${name}'s database returns to ${plan.target_text}; the app answers 503 while it runs.`), el("p", { class: "hint" }, window)];
    const ok = await confirmDialog({ title: copy ? `Restore into ${params.into}?` : `Restore ${name} in place?`, body,
                                     confirm: "Restore", danger: !copy, typed: copy ? null : name });
    if (!ok) return;
    try {
      await runAction(activity, `restore ${name} to ${params.to}${copy ? ` into ${params.into}` : " in place"}`, "POST",
                      appPath(name, "/db/restore"), params);
    } catch { /* in the panel */ }
  });
  return form;
}
