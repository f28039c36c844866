// The canary report page: picks an app, fetches its report every 5 s and draws it.
import { getJson, showApp, takeFragment, token, Unauthorized } from "./api.js";
import { lineChart } from "./chart.js";
import { el, replace } from "./dom.js";
import { clock, deltaUnit, duration, g4, METRICS, signed, when } from "./format.js";

const REFRESH_MS = 5000;
const APPS_EVERY = 12; // refresh the app list every minute: it costs a docker call on the server
const WINDOW = 900;
const $ = (id) => document.getElementById(id);
const state = { app: null, apps: null, ticks: 0, timer: null, seq: 0 };

function start() {
  state.app = takeFragment();
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token-input").value.trim();
    $("token-input").value = "";
    if (!t) return;
    token.set(t);
    $("token-form").hidden = true;
    message(null);
    refresh();
  });
  $("app-picker").addEventListener("change", () => {
    state.app = $("app-picker").value;
    showApp(state.app);
    refresh();
  });
  window.addEventListener("hashchange", () => {
    state.app = takeFragment() || state.app;
    refresh();
  });
  refresh();
}

async function refresh() {
  clearTimeout(state.timer);
  const seq = ++state.seq; // an answer for an app no longer picked is dropped
  if (!token.get()) return askToken(null);
  try {
    if (!state.apps || state.ticks++ % APPS_EVERY === 0) state.apps = await getJson("/v1/apps");
    if (seq !== state.seq) return;
    renderPicker();
    if (!state.apps.length) {
      $("report").hidden = true;
      message("There are no apps yet: deploy one with `sentinel deploy`.", "info");
    } else {
      const report = await getJson(`/v1/apps/${encodeURIComponent(state.app)}/report?window=${WINDOW}`);
      if (seq !== state.seq) return;
      render(report);
      // Prometheus down: the judgment and events still show, the charts say why they are empty.
      message(report.metrics_error ? `Metrics are unavailable: ${report.metrics_error}` : null, "info");
      $("updated").textContent = `updated ${clock(Date.now() / 1000)}`;
    }
  } catch (e) {
    if (seq !== state.seq) return;
    if (e instanceof Unauthorized) return askToken(token.get() ? e.message : null);
    // Keep the last report on screen; say it is stale and why.
    message(`Could not refresh: ${e.message || e}. Retrying every ${REFRESH_MS / 1000} s.`);
  }
  state.timer = setTimeout(refresh, REFRESH_MS);
}

function askToken(rejected) {
  token.clear();
  state.apps = null;
  $("report").hidden = true;
  $("token-form").hidden = false;
  $("token-input").focus();
  message(rejected ? `The API token was not accepted (401): ${rejected}` : null);
}

function message(text, kind = "error") {
  const m = $("message");
  m.hidden = !text;
  m.className = `message ${kind}`;
  m.textContent = text || "";
}

function renderPicker() {
  const names = state.apps.map((a) => a.name);
  if (!names.includes(state.app)) {
    // Default to an app with a canary: that is what this page is for.
    state.app = (state.apps.find((a) => a.canary) || state.apps[0] || {}).name || null;
    showApp(state.app);
  }
  const picker = $("app-picker");
  replace(picker, state.apps.map((a) => el("option", { value: a.name }, a.canary ? `${a.name} (canary)` : a.name)));
  picker.value = state.app;
  picker.disabled = names.length === 0;
}

function render(r) {
  $("report").hidden = false;
  replace($("summary"), summary(r));
  const from = r.now - r.window;
  replace($("charts"), METRICS.map((metric) => lineChart({
    metric, series: r.series?.[metric.key], roles: r.roles || ["production"], from, to: r.now, events: r.events || [],
  })));
  replace($("judgment"), judgment(r.judgment));
  replace($("events"), events(r.events || []));
}

function summary(r) {
  const c = r.canary;
  const prod = el("p", {}, el("span", { class: "badge role-production" }, "production"), " ", r.production?.image ?? "–");
  if (!c) {
    return [el("h2", {}, r.app), prod,
            el("p", { class: "empty-state" }, "No canary running. Start one with ",
               el("code", {}, `sentinel canary deploy ${r.app} --image IMAGE --weight 10`), ".")];
  }
  const canary = el("p", {}, el("span", { class: "badge role-canary" }, "canary"), " ", c.image,
                    ` takes ${c.weight}% of the traffic · ${c.state}`,
                    c.since ? ` · for ${duration(r.now - c.since)} (since ${when(c.since)})` : "");
  const parts = [el("h2", {}, r.app), prod, canary];
  if (r.roles?.includes("baseline")) {
    parts.push(el("p", {}, el("span", { class: "badge role-baseline" }, "baseline"),
                  " a fresh copy of production, compared with the canary"));
  }
  const p = c.progressive;
  if (p && Array.isArray(p.steps) && Number.isInteger(p.step_index)) {
    const steps = p.steps.map((s, i) => (i === p.step_index ? `[${s}%]` : `${s}%`)).join(" → ");
    parts.push(el("p", { class: "dim" }, `Progressive: ${steps}, step ${p.step_index + 1} of ${p.steps.length}`,
                  p.next_at ? `, next step at ${clock(p.next_at)} (every ${duration(p.interval)})` : ""));
  }
  return parts;
}

// "not enough data" is spelled out with the points each side had: it is neither a pass nor a failure.
function classCell(m) {
  const pts = Array.isArray(m.points) ? m.points : null;
  if (m.classification === "NotEnoughData") {
    return el("span", { class: "class-notenoughdata" }, "not enough data",
              pts ? el("span", { class: "dim" }, ` (${pts[1]} canary / ${pts[0]} baseline points)`) : "");
  }
  return [el("span", { class: `class-${String(m.classification).toLowerCase()}` }, m.classification),
          m.muted ? el("span", { class: "dim" }, " (muted)") : ""];
}

function judgment(j) {
  if (!j) return el("p", { class: "empty-state" }, "No judgment yet.");
  const groups = Object.entries(j.groups || {}).map(([g, s]) => `${g} ${g4(s)}`).join(" · ");
  // An inconclusive verdict has no verdict colour: it is not a pass, and not yet a failure.
  const badge = j.verdict === "inconclusive" ? "badge" : `badge verdict-${j.verdict}`;
  const head = el("p", { class: "verdict" },
                  el("span", { class: badge }, j.verdict), " ",
                  el("strong", {}, `score ${g4(j.score)}`), j.at ? ` at ${when(j.at)}` : "",
                  groups ? el("span", { class: "dim" }, ` (${groups})`) : "");
  const reason = j.reason ? el("p", { class: "reason" }, j.reason) : "";
  const rows = (j.metrics || []).map((m) => {
    const u = deltaUnit(m.name, [m.estimate, ...(m.ci || [])]);
    const unit = u.label ? ` ${u.label}` : "";
    const hasCi = Array.isArray(m.ci) && m.ci.some(Number.isFinite);
    return el("tr", { "data-metric": m.name },
      el("td", {}, m.name),
      el("td", {}, classCell(m)),
      el("td", {}, m.critical ? "critical" : ""),
      el("td", { class: "n" }, Number.isFinite(m.estimate) ? `${signed(m.estimate, u.div)}${unit}` : "–"),
      el("td", { class: "n" }, hasCi ? `[${signed(m.ci[0], u.div)}, ${signed(m.ci[1], u.div)}]${unit}` : "–"),
      el("td", { class: "n" }, Number.isFinite(m.ratio) ? `×${g4(m.ratio)}` : "–"));
  });
  const table = el("table", { class: "judgment" },
    el("caption", { class: "dim" }, "Difference and interval: canary − control, in the chart's unit (pp: percentage points)."),
    el("thead", {}, el("tr", {}, ["Metric", "Class", "", "Difference", "Confidence interval", "Ratio"]
      .map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
  return [head, reason, table].filter(Boolean);
}

function events(list) {
  if (!list.length) return [el("li", { class: "empty-state" }, "No events yet.")];
  return [...list].sort((a, b) => b.at - a.at || b.id - a.id).map((e) => el("li", { class: `event kind-${e.kind}` },
    el("time", {}, when(e.at)), " ", el("span", { class: "badge" }, e.kind), " ",
    el("span", { class: "message-text" }, e.message), e.actor ? el("span", { class: "dim" }, ` by ${e.actor}`) : ""));
}

start();
