// One app's canary: start one, move its weight (applied when the control is released, the new
// split shown first), promote / roll back / approve, and the live report of /ui below.
import { charts, events, judgment, summary } from "/ui/static/report_view.js";
import { appHeader } from "./app_nav.js";
import { appPath, get } from "./http.js";
import { activityPanel, runAction } from "./ops.js";
import { checkbox, confirmDialog, el, errorLine, facts, field, radios, replace, section } from "./ui.js";

const REFRESH_MS = 5000;
const WINDOW = 900;
const APPLY_AFTER_MS = 700;
const PLAN_STATES = {
  running: "stepping through the weights, judged at each step",
  paused: "paused by a manual traffic change",
  awaiting_approval: "a step with a gate passed: waiting for your approval to go on",
  approved: "approved: going on at the next check",
  pausing: "a step passed: pausing before going on",
  awaiting_promotion: "every step passed: waiting for your approval",
  awaiting_decision: "still not enough data: waiting for your decision",
  promoting: "promoting",
}; // keyboard steps of the slider within this time make one change

export function split(weight, baseline) {
  const w = Number(weight);
  return baseline ? { production: 100 - 2 * w, baseline: w, canary: w } : { production: 100 - w, canary: w };
}

export function splitText(weight, baseline) {
  return Object.entries(split(weight, baseline)).map(([role, w]) => `${role} ${w}%`).join(" · ");
}

export function render(root, [name], ctx) {
  const control = section("Canary");
  const activity = activityPanel();
  const report = section("Live report");
  const parts = { summary: el("div", {}), charts: el("div", { class: "charts" }), judgment: el("div", {}), events: el("ol", { class: "events" }) };
  replace(report.body, parts.summary, parts.charts,
          el("div", { class: "columns" }, el("section", {}, el("h3", {}, "Latest judgment"), parts.judgment),
             el("section", {}, el("h3", {}, "Events"), parts.events)));
  root.append(...appHeader(name, "canary"), control, activity, report);
  let timer = null;
  let shown = null; // the canary whose controls are on screen (kept while the user works)
  let update = null;

  async function refresh() {
    clearTimeout(timer);
    const r = await ctx.guard(() => get(appPath(name, `/report?window=${WINDOW}`)), parts.summary);
    if (r) {
      replace(parts.summary, summary(r), r.metrics_error ? errorLine(`Metrics are unavailable: ${r.metrics_error}`) : "");
      replace(parts.charts, charts(r));
      replace(parts.judgment, judgment(r.judgment));
      replace(parts.events, events(r.events || []));
      // Controls are redrawn only for another canary or state, never under a user's hands:
      // a new weight just updates the split shown.
      const key = r.canary ? `${r.canary.image}|${r.canary.since}|${r.canary.progressive?.state}` : "none";
      if (key !== shown) {
        shown = key;
        const view = r.canary ? controls(name, r, activity, refresh) : { nodes: startForm(name, activity, refresh) };
        replace(control.body, view.nodes);
        update = view.update || null;
      } else if (update) {
        update(r.canary);
      }
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }
  refresh();
  return () => clearTimeout(timer);
}

async function act(activity, label, method, path, body, after) {
  try {
    return await runAction(activity, label, method, path, body);
  } catch {
    return null;
  } finally {
    after();
  }
}

function startForm(name, activity, after) {
  const image = el("input", { type: "text", autocomplete: "off", spellcheck: "false", required: "" });
  const mode = radios("Traffic", "mode", [["weight", "A fixed weight"], ["steps", "Progressive steps, judged at each"]], "weight");
  const weight = el("input", { type: "number", min: "1", max: "100", value: "10" });
  const steps = el("input", { type: "text", value: "5,20,50", inputmode: "numeric" });
  const interval = el("input", { type: "text", value: "60s" });
  const replicas = el("input", { type: "number", min: "1", max: "100", value: "1" });
  const baseline = checkbox("Also run a baseline (a fresh copy of production with the canary's weight)");
  const autoPromote = checkbox("Promote by itself when the last step passes");
  const analysis = el("textarea", { spellcheck: "false" });
  const weightField = field("Weight (% of requests)", weight);
  const stepFields = el("div", { hidden: "" }, field("Steps (% at each)", steps, "Increasing weights, e.g. 5,20,50; 20:approve waits for your approval once that step passes, 20:5m pauses 5 minutes."),
                        field("Interval", interval, "How long each step runs before it is judged, e.g. 60s or 5m."), autoPromote.node);
  mode.addEventListener("change", () => {
    const progressive = mode.querySelector("input:checked").value === "steps";
    weightField.hidden = progressive;
    stepFields.hidden = !progressive;
  });
  const form = el("form", {}, field("Image", image, "A local image is pushed to the cluster's registry first."),
                  mode, weightField, stepFields, field("Canary replicas", replicas), baseline.node,
                  field("Analysis (JSON, optional)", analysis, "Metric settings as in `--analysis FILE.yaml`, written as JSON; empty: the default analysis."),
                  el("button", { type: "submit" }, "Start canary"));
  const problem = el("div", {});
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(problem);
    const progressive = mode.querySelector("input:checked").value === "steps";
    const body = { image: image.value.trim(), replicas: Number(replicas.value), baseline: baseline.box.checked };
    if (progressive) {
      body.steps = parseSteps(steps.value);
      body.interval = parseDuration(interval.value);
      body.auto_promote = autoPromote.box.checked;
      if (body.steps === null || body.interval === null) {
        return replace(problem, errorLine("Steps are whole percentages separated by commas, each maybe with :approve or a pause like :5m, and the interval a duration like 60s or 5m."));
      }
    } else {
      body.weight = Number(weight.value);
    }
    if (analysis.value.trim()) {
      try { body.analysis = JSON.parse(analysis.value); } catch (e) {
        return replace(problem, errorLine(`The analysis is not valid JSON: ${e.message}`));
      }
    }
    await act(activity, `canary ${body.image} for ${name}`, "POST", appPath(name, "/canary"), body, after);
  });
  return [el("p", {}, "No canary is running. Start one:"), problem, form];
}

// `5,20:approve,50:10m` as `sentinel canary deploy --steps` reads it: a weight, and after ':' a
// gate (approve) or a pause after the step passes; null when the text is not that.
export function parseSteps(text) {
  const steps = [];
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?::\s*(\S+?)\s*)?$/.exec(part);
    if (!m) return null;
    const weight = Number(m[1]);
    if (m[2] === undefined) {
      steps.push(weight);
      continue;
    }
    const pause = m[2] === "approve" ? "approve" : parseDuration(m[2]);
    if (pause === null) return null;
    steps.push({ weight, pause });
  }
  return steps;
}

export function parseDuration(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] || "s"];
}

function controls(name, r, activity, after) {
  const c = r.canary;
  const top = c.baseline ? 50 : 100;
  const now = el("p", {}, "Now: ", el("span", { class: "split", "data-testid": "current-split" }, splitText(c.weight, c.baseline)));
  const slider = el("input", { type: "range", min: "0", max: String(top), step: "1", value: String(c.weight) });
  const number = el("input", { type: "number", min: "0", max: String(top), value: String(c.weight) });
  const preview = el("output", { class: "split", "aria-live": "polite" }, splitText(c.weight, c.baseline));
  let applied = c.weight;
  let timer = null;
  const show = (v) => { preview.textContent = splitText(v, c.baseline); };
  const update = (fresh) => { // the weight as the control plane now has it
    now.lastChild.textContent = splitText(fresh.weight, c.baseline);
    if (fresh.weight !== applied && document.activeElement !== slider && document.activeElement !== number) {
      applied = fresh.weight;
      slider.value = number.value = String(fresh.weight);
      show(fresh.weight);
    }
  };
  slider.addEventListener("input", () => { number.value = slider.value; show(slider.value); });
  number.addEventListener("input", () => { if (number.value !== "") { slider.value = number.value; show(number.value); } });
  // "change" comes when the slider is released (or a key moved it, or the number was entered):
  // only then does traffic move, once, after the last of a quick series of steps.
  const apply = (v) => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const w = Number(v);
      if (w === applied || !Number.isInteger(w) || w < 0 || w > top) return;
      applied = w;
      await act(activity, `canary weight of ${name} to ${w}% (${splitText(w, c.baseline)})`, "POST",
                appPath(name, "/canary/traffic"), { weight: w }, after);
    }, APPLY_AFTER_MS);
  };
  slider.addEventListener("change", () => apply(slider.value));
  number.addEventListener("change", () => apply(number.value));
  const weightBox = el("div", {}, now,
    field("Canary weight (%)", slider, c.progressive?.state === "running" ? "Moving it pauses the progressive steps." : "Applied when you let go of the slider."),
    field("Canary weight, exact (%)", number), el("p", {}, "New split: ", preview));

  const p = c.progressive;
  const waiting = p && ["awaiting_promotion", "awaiting_decision"].includes(p.state);
  const buttons = el("div", { class: "row" });
  if (p && p.state === "awaiting_approval") {
    // A gate (`pause: approve` in sentinel.yaml): approving lets the steps go on.
    const gate = el("button", { type: "button" }, "Approve this step…");
    gate.addEventListener("click", async () => {
      const answer = await confirmDialog({ title: `Approve the canary of ${name}?`, confirm: "Approve",
        body: [el("p", {}, `The steps go on from ${c.weight}%.`)] });
      if (answer) await act(activity, `approve the canary of ${name}`, "POST", appPath(name, "/canary/approve"), {}, after);
    });
    buttons.append(gate);
  }
  if (waiting) {
    const approve = el("button", { type: "button" }, "Approve and promote…");
    approve.addEventListener("click", () => promote(name, c, activity, after, true));
    buttons.append(approve);
  }
  const promoteBtn = el("button", { type: "button", class: waiting ? "quiet" : null }, "Promote…");
  promoteBtn.addEventListener("click", () => promote(name, c, activity, after, false));
  const rollback = el("button", { type: "button", class: "danger" }, "Roll back…");
  rollback.addEventListener("click", async () => {
    const restore = checkbox("Also return the database to the restore point taken before the release command");
    const point = c.release?.restore_point;
    const answer = await confirmDialog({ title: `Roll back the canary of ${name}?`, danger: true, confirm: "Roll back",
      body: [el("p", {}, `All traffic goes back to production (${r.production?.image}); then ${c.image} is removed.`)],
      extra: point ? [restore.node] : [] });
    if (!answer) return;
    await act(activity, `roll back ${c.image} of ${name}`, "POST", appPath(name, "/canary/rollback"),
              { restore_db: Boolean(point && restore.box.checked) }, after);
  });
  buttons.append(promoteBtn, rollback);
  const state = facts([
    ["Canary", `${c.image} · ${c.state}`],
    ["Production", r.production?.image],
    p ? ["Progressive", PLAN_STATES[p.state] || p.state] : null,
  ]);
  return { nodes: [state, weightBox, buttons], update };
}

async function promote(name, c, activity, after, approving) {
  const ok = await confirmDialog({
    title: approving ? `Approve ${c.image} and promote it?` : `Promote the canary of ${name}?`, confirm: "Promote",
    body: [el("p", {}, `Production rolls to ${c.image} (start-first, health-gated) while traffic flows; then the canary is removed.`)],
  });
  if (!ok) return;
  await act(activity, `promote ${c.image} of ${name}`, "POST", appPath(name, "/canary/promote"), {}, after);
}
