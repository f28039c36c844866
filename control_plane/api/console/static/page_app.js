// One app: what runs (services, tasks), its previews, live logs, env names, scale, deploy, delete.
import { appHeader } from "./app_nav.js";
import { appPath, get, q, stream } from "./http.js";
import { activityPanel, operationsTable, runAction } from "./ops.js";
import { confirmDialog, dataTable, el, errorLine, facts, field, radios, replace, section } from "./ui.js";
import { ago, duration } from "./units.js";

const REFRESH_MS = 10000;

export function render(root, [name], ctx) {
  const overview = section("Overview");
  const tasks = section("Services and tasks");
  const previews = section("Previews");
  const env = section("Environment");
  const logs = section("Logs");
  const actions = section("Change");
  const history = section("Recent operations");
  const activity = activityPanel();
  root.append(...appHeader(name, "overview"), overview, tasks, previews, el("div", { class: "grid" }, actions, env),
              logs, activity, history);
  // The list is read again every refresh; the form to make one stays as the user left it.
  const previewList = el("div");
  const previewNew = el("div");
  previews.body.append(previewList, previewNew);
  const stopLogs = logsView(logs.body, name, ctx);
  let timer = null;
  let settings = null;

  async function loadSettings() {
    settings = await ctx.guard(() => get(appPath(name, "/settings")), overview.body);
    if (!settings) {
      replace(actions.body, el("p", { class: "empty-state" }, "Unavailable until the app can be read."));
      return;
    }
    replace(overview.body, overviewFacts(settings));
    replace(env.body, envList(settings));
    replace(actions.body, changeForms(name, settings, activity, reload));
    // A preview has no previews of its own.
    replace(previewNew, settings.app.preview_of ? [] : previewForm(name, settings, activity, reload));
    logs.roles(settings);
  }

  async function refresh() {
    clearTimeout(timer);
    const data = await ctx.guard(() => get(appPath(name)), tasks.body);
    if (data) replace(tasks.body, running(data));
    const pv = await ctx.guard(() => get(`/v1/previews?${q({ app: name })}`), previewList);
    if (pv) replace(previewList, previewTable(name, pv.previews, activity, reload));
    const ops = await ctx.guard(() => get(`/v1/operations?${q({ target: `app:${name}`, limit: 10 })}`), history.body);
    if (ops) replace(history.body, operationsTable(ops));
    timer = setTimeout(refresh, REFRESH_MS);
  }

  function reload() {
    loadSettings();
    refresh();
  }

  reload();
  return () => { clearTimeout(timer); stopLogs(); };
}

function overviewFacts(s) {
  const a = s.app;
  const c = s.canary;
  return facts([
    ["Image", a.image],
    ["Address", el("a", { href: a.url, rel: "noreferrer" }, a.url)],
    ["Replicas", String(a.replicas)],
    ["Port", String(a.port)],
    ["Health check", a.health_path || "none"],
    ["Database", s.db ? `postgres: ${s.db.members.map((m) => `${m.member} on ${m.node}`).join(", ")}` : "none"],
    ["Canary", c ? el("a", { href: `#/apps/${encodeURIComponent(a.name)}/canary` }, `${c.image} at ${c.weight}% (${c.state})`) : "none"],
  ]);
}

// A preview: its own app, address and version, how old its copy of the data is, whether the copy
// was masked (an unmasked copy of production's data says so), and the time it has left.
function previewTable(app, rows, activity, reload) {
  return dataTable(`${rows.length} preview${rows.length === 1 ? "" : "s"}`, [
    { label: "Preview", value: (p) => el("a", { href: `#/apps/${encodeURIComponent(p.preview_app)}` }, p.name) },
    { label: "Address", value: (p) => el("a", { href: p.url, rel: "noreferrer" }, p.url) },
    { label: "Image", value: (p) => p.image },
    { label: "Data", value: (p) => (p.data === "copy" ? `copy, ${ago(p.data_age_seconds)}` : p.data) },
    { label: "Masked", value: (p) => (p.data !== "copy" ? "–" : p.masked || el("strong", {}, "not masked")) },
    { label: "Time left", value: (p) => (Number.isFinite(p.expires_in_seconds) ? duration(Math.max(0, p.expires_in_seconds)) : "–") },
    { label: "Remove", value: (p) => deletePreviewButton(app, p, activity, reload) },
  ], rows, `No previews of ${app}.`);
}

function deletePreviewButton(app, p, activity, reload) {
  const button = el("button", { type: "button", class: "danger", "aria-label": `Delete preview ${p.name}` }, "Delete…");
  button.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: `Delete preview ${p.name} of ${app}?`, danger: true, confirm: "Delete", typed: p.name,
      body: [el("p", {}, `${p.preview_app} stops answering at ${p.url}. Its services, routes, network and its database `
                         + "(the copy, with whatever the preview wrote to it) are removed; the app itself is not touched.")] });
    if (ok) await act(activity, `delete preview ${p.name} of ${app}`, "DELETE", appPath(app, `/previews/${encodeURIComponent(p.name)}`), undefined, reload);
  });
  return button;
}

// A new preview, as `sentinel preview create` makes one: a version at <name>.<app's domain> with
// its own copy of the app's data (or an empty database), masked first if given SQL.
function previewForm(app, s, activity, reload) {
  const a = s.app;
  const name = el("input", { type: "text", autocomplete: "off", spellcheck: "false", required: "", maxlength: "30",
                             pattern: "[a-z0-9]([a-z0-9\\-]*[a-z0-9])?", placeholder: "pr-42" });
  const image = el("input", { type: "text", autocomplete: "off", spellcheck: "false", required: "", value: a.image });
  const parts = [field("Preview name", name, `Lowercase letters, digits and dashes: it answers at <name>.${a.domain}.`),
                 field("Preview image", image)];
  let data = null;
  let mask = null;
  if (s.db) {
    data = el("select", {}, el("option", { value: "copy" }, "a copy of the app's data"),
              el("option", { value: "empty" }, "an empty database"));
    mask = el("textarea", { rows: "3", spellcheck: "false", placeholder: "UPDATE users SET email = 'user' || id || '@example.com';" });
    parts.push(field("Preview data", data),
               field("Masking SQL", mask, "Run on the copy as the preview's role, before it starts. Without it the preview holds production's rows as they are."));
    data.addEventListener("change", () => { mask.disabled = data.value !== "copy"; });
  }
  const form = el("form", {}, ...parts, el("button", { type: "submit" }, "Create preview"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { name: name.value.trim(), image: image.value.trim() };
    if (data) {
      body.data = data.value;
      if (data.value === "copy" && mask.value.trim()) Object.assign(body, { mask: mask.value, mask_name: "console" });
    }
    await act(activity, `preview ${body.name} of ${app}`, "POST", appPath(app, "/previews"), body, reload);
  });
  return [el("h3", {}, "New preview"), form];
}

function envList(s) {
  const names = [...s.env.map((n) => [n, "set at deploy"]), ...s.db_env.map((n) => [n, "set by Sentinel (database)"])];
  if (!names.length) return el("p", { class: "empty-state" }, "No variables.");
  return [el("p", { class: "hint" }, "Values are never shown here: they may hold secrets."),
          dataTable("Variables", [{ label: "Name", value: (r) => el("code", {}, r[0]) },
                                  { label: "Value", value: () => "hidden" }, { label: "Source", value: (r) => r[1] }], names)];
}

function running(d) {
  return [
    dataTable("Services", [{ label: "Service", value: (s) => s.name }, { label: "Image", value: (s) => s.image },
                           { label: "Replicas", value: (s) => s.replicas }], d.services, "No services are running."),
    dataTable("Tasks", [{ label: "Task", value: (t) => t.name }, { label: "Node", value: (t) => t.node },
                        { label: "State", value: (t) => t.state }, { label: "Age", value: (t) => ago(t.age_seconds) },
                        { label: "Error", value: (t) => t.error }], d.tasks, "No tasks."),
  ];
}

function changeForms(name, s, activity, reload) {
  const a = s.app;
  const replicas = el("input", { type: "number", min: "0", max: "100", value: String(a.replicas), required: "" });
  const scale = el("form", { class: "row" }, field("Replicas", replicas), el("button", { type: "submit" }, "Scale"));
  scale.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await act(activity, `scale ${name} to ${replicas.value}`, "POST", appPath(name, "/scale"), { replicas: Number(replicas.value) }, reload);
  });

  const image = el("input", { type: "text", autocomplete: "off", spellcheck: "false", required: "", placeholder: a.image });
  const deploy = el("form", { class: "row" }, field("New image", image, "A rolling update: start-first, health-gated. Variables are kept."),
                    el("button", { type: "submit" }, "Deploy…"));
  deploy.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const img = image.value.trim();
    const ok = await confirmDialog({ title: `Deploy ${img} to ${name}?`, confirm: "Deploy",
      body: [el("p", {}, `Production moves from ${a.image} to ${img}, one task at a time; each new task must pass its health check first.`)] });
    if (!ok) return;
    await act(activity, `deploy ${img} to ${name}`, "POST", "/v1/apps", {
      name, image: img, port: a.port, domain: a.domain, replicas: a.replicas, health_path: a.health_path, keep_env: true,
    }, reload);
  });

  const del = el("button", { type: "button", class: "danger" }, "Delete app…");
  del.addEventListener("click", async () => {
    const extra = s.db ? [radios("Its database", "data", [["keep", "Keep the data and backups (--keep-data)"],
                                                           ["delete", "Delete the data and backups (--delete-data)"]], null)] : [];
    const answer = await confirmDialog({ title: `Delete ${name}?`, danger: true, confirm: "Delete", typed: name, extra,
      body: [el("p", {}, "Its routes, services and network are removed: the app stops answering.")] });
    if (!answer) return;
    if (s.db && !answer.data) {
      activity.list.prepend(el("li", { class: "op" }, errorLine("Choose whether to keep or delete the database: nothing was deleted.")));
      return;
    }
    const query = s.db ? `?${q({ keep_data: answer.data === "keep", delete_data: answer.data === "delete" })}` : "";
    const op = await act(activity, `delete ${name}`, "DELETE", appPath(name, query), undefined);
    if (op) location.hash = "#/apps";
  });
  return [el("h3", {}, "Scale"), scale, el("h3", {}, "Deploy a new image"), deploy, el("h3", {}, "Delete"), del];
}

async function act(activity, label, method, path, body, after) {
  try {
    const op = await runAction(activity, label, method, path, body);
    if (after) after();
    return op;
  } catch {
    if (after) after();
    return null; // shown in the activity panel
  }
}

// Live logs of one role: the last lines, then what the tasks write, until stopped.
function logsView(target, name, ctx) {
  const role = el("select", {}, el("option", { value: "production" }, "production"));
  const tail = el("input", { type: "number", min: "0", max: "5000", value: "100" });
  const follow = el("button", { type: "submit" }, "Follow");
  const stop = el("button", { type: "button", class: "quiet", disabled: "" }, "Stop");
  const out = el("pre", { class: "log", tabindex: "0", role: "log", "aria-label": "Log lines" });
  const status = el("p", { class: "hint", role: "status" }, "Not following.");
  const form = el("form", { class: "row" }, field("Role", role), field("Last lines", tail), follow, stop);
  replace(target, form, status, out);
  let controller = null;

  target.closest("section").roles = (s) => {
    const roles = ["production", ...(s.canary ? ["canary", ...(s.canary.baseline ? ["baseline"] : [])] : []), ...(s.db ? ["db"] : [])];
    replace(role, roles.map((r) => el("option", { value: r }, r)));
  };

  function end(text) {
    if (controller) controller.abort();
    controller = null;
    follow.disabled = false;
    stop.disabled = true;
    status.textContent = text;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    end("");
    controller = new AbortController();
    const mine = controller;
    out.textContent = "";
    follow.disabled = true;
    stop.disabled = false;
    status.textContent = `Following the ${role.value} logs.`;
    const path = appPath(name, `/logs/follow?${q({ role: role.value, tail: tail.value })}`);
    const done = await ctx.guard(async () => {
      await stream(path, (line) => {
        out.append(`${line}\n`);
        if (out.childNodes.length > 2000) out.firstChild.remove(); // a long follow stays light
        out.scrollTop = out.scrollHeight;
      }, mine.signal);
      return true;
    }, status);
    if (controller === mine) {
      if (done) end("The log stream ended.");
      else { controller = null; follow.disabled = false; stop.disabled = true; }
    }
  });
  stop.addEventListener("click", () => end("Stopped."));
  return () => end("");
}
