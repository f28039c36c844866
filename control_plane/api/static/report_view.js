// The canary report's parts, drawn from GET /v1/apps/{name}/report: used by the report page
// (/ui) and by the console's canary page, so both show the same thing.
import { lineChart } from "./chart.js";
import { el } from "./dom.js";
import { clock, deltaUnit, duration, g4, METRICS, signed, when } from "./format.js";

export function charts(r) {
  const from = r.now - r.window;
  return METRICS.map((metric) => lineChart({
    metric, series: r.series?.[metric.key], roles: r.roles || ["production"], from, to: r.now, events: r.events || [],
  }));
}

export function summary(r) {
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

export function judgment(j) {
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
    // data-label: a narrow screen shows each cell as "label value" (console.css)
    return el("tr", { "data-metric": m.name },
      el("td", { "data-label": "Metric" }, m.name),
      el("td", { "data-label": "Class" }, classCell(m)),
      el("td", { "data-label": "Critical" }, m.critical ? "critical" : ""),
      el("td", { class: "n", "data-label": "Difference" }, Number.isFinite(m.estimate) ? `${signed(m.estimate, u.div)}${unit}` : "–"),
      el("td", { class: "n", "data-label": "Interval" }, hasCi ? `[${signed(m.ci[0], u.div)}, ${signed(m.ci[1], u.div)}]${unit}` : "–"),
      el("td", { class: "n", "data-label": "Ratio" }, Number.isFinite(m.ratio) ? `×${g4(m.ratio)}` : "–"));
  });
  const table = el("table", { class: "judgment" },
    el("caption", { class: "dim" }, "Difference and interval: canary − control, in the chart's unit (pp: percentage points)."),
    el("thead", {}, el("tr", {}, ["Metric", "Class", "", "Difference", "Confidence interval", "Ratio"]
      .map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
  return [head, reason, table].filter(Boolean);
}

export function events(list) {
  if (!list.length) return [el("li", { class: "empty-state" }, "No events yet.")];
  return [...list].sort((a, b) => b.at - a.at || b.id - a.id).map((e) => el("li", { class: `event kind-${e.kind}` },
    el("time", {}, when(e.at)), " ", el("span", { class: "badge" }, e.kind), " ",
    el("span", { class: "message-text" }, e.message), e.actor ? el("span", { class: "dim" }, ` by ${e.actor}`) : ""));
}
