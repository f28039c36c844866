// A small SVG line chart: one line per role over a fixed time window, gaps where a value is
// null, clock-aligned time axis, a y axis from 0 in the chart's unit, and a hover readout.
import { el, svg } from "./dom.js";
import { clock, niceTicks, num, timeTicks } from "./format.js";

const W = 560, H = 220;
const M = { left: 48, right: 14, top: 10, bottom: 24 };
const ROLE_ORDER = ["production", "baseline", "canary"];

export function orderRoles(roles) {
  return [...ROLE_ORDER.filter((r) => roles.includes(r)), ...roles.filter((r) => !ROLE_ORDER.includes(r))];
}

// metric: an entry of format.METRICS; series: {role: [[t, v|null], ...]}; events: [{at, kind, message}]
export function lineChart({ metric, series = {}, roles, from, to, events = [] }) {
  roles = orderRoles(roles);
  const inWindow = (p) => p[0] >= from && p[0] <= to;
  const points = Object.fromEntries(roles.map((r) => [r, (series[r] || []).filter(inWindow)]));
  const values = roles.flatMap((r) => points[r].map((p) => p[1]).filter(Number.isFinite));
  const unit = metric.unit(values.length ? Math.max(...values) : 0);
  const yTicks = niceTicks(values.length ? Math.max(...values) / unit.div : 1);
  const yTop = yTicks[yTicks.length - 1];
  const plotW = W - M.left - M.right, plotH = H - M.top - M.bottom;
  const x = (t) => M.left + ((t - from) / (to - from)) * plotW;
  const y = (v) => M.top + plotH - (Math.max(0, v) / unit.div / yTop) * plotH;

  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img",
                             "aria-label": `${metric.title} in ${unit.label}` });
  for (const v of yTicks) {
    const py = y(v * unit.div);
    chart.append(svg("line", { class: "grid", x1: M.left, x2: W - M.right, y1: py, y2: py }),
                 svg("text", { class: "tick y", x: M.left - 6, y: py + 4, "text-anchor": "end" }, num(v)));
  }
  const { ticks: xTicks, step } = timeTicks(from, to);
  for (const t of xTicks) {
    chart.append(svg("line", { class: "axis", x1: x(t), x2: x(t), y1: H - M.bottom, y2: H - M.bottom + 4 }),
                 svg("text", { class: "tick x", x: x(t), y: H - 6, "text-anchor": "middle" },
                     clock(t, step < 60)));
  }
  chart.append(svg("line", { class: "axis", x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }));
  // Traffic changes and judgments as thin markers, so a jump can be matched with its cause.
  for (const e of events.filter((e) => e.at >= from && e.at <= to)) {
    chart.append(svg("line", { class: `event-marker kind-${e.kind}`, x1: x(e.at), x2: x(e.at),
                               y1: M.top, y2: H - M.bottom },
                     svg("title", {}, `${clock(e.at)} ${e.kind}: ${e.message}`)));
  }
  for (const r of roles) {
    const d = pathData(points[r], x, y);
    if (d) chart.append(svg("path", { class: `line role-${r}`, "data-role": r, d }));
  }
  if (!values.length) {
    chart.append(svg("text", { class: "empty", x: M.left + plotW / 2, y: M.top + plotH / 2,
                               "text-anchor": "middle" }, "no data yet"));
  }

  const legend = el("ul", { class: "legend" });
  const readouts = {};
  for (const r of roles) {
    readouts[r] = el("span", { class: "value" });
    legend.append(el("li", {}, el("span", { class: `swatch role-${r}` }), ` ${r} `, readouts[r]));
  }
  const at = el("li", { class: "at dim" });
  legend.append(at);
  const show = (t) => {
    for (const r of roles) {
      const p = t === null ? last(points[r]) : nearest(points[r], t);
      readouts[r].textContent = p ? `${num(p[1] / unit.div)} ${unit.label}` : "no data";
    }
    at.textContent = t === null ? "latest" : `at ${clock(t)}`;
  };
  show(null);
  if (values.length) hover(chart, { x0: M.left, x1: W - M.right, y0: M.top, y1: H - M.bottom, from, to }, show);

  return el("figure", { class: "chart card", "data-metric": metric.key },
            el("figcaption", {}, `${metric.title} `, el("span", { class: "dim" }, `(${unit.label})`)),
            chart, legend);
}

// "M x,y L x,y ..." with a new subpath after each null; a lone point becomes a dot.
function pathData(points, x, y) {
  const segments = [];
  let seg = [];
  for (const [t, v] of points) {
    if (Number.isFinite(v)) seg.push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    else if (seg.length) { segments.push(seg); seg = []; }
  }
  if (seg.length) segments.push(seg);
  return segments.map((s) => `M${s.join("L")}${s.length === 1 ? "l0,0" : ""}`).join("");
}

function last(points) {
  for (let i = points.length - 1; i >= 0; i--) if (Number.isFinite(points[i][1])) return points[i];
  return null;
}

function nearest(points, t) {
  let best = null;
  for (const p of points) {
    if (Number.isFinite(p[1]) && (!best || Math.abs(p[0] - t) < Math.abs(best[0] - t))) best = p;
  }
  return best;
}

// A vertical cursor that follows the pointer; `show(t)` updates the legend, show(null) resets it.
function hover(chart, box, show) {
  const cursor = svg("line", { class: "cursor", x1: 0, x2: 0, y1: box.y0, y2: box.y1, visibility: "hidden" });
  const pad = svg("rect", { class: "hover-pad", x: box.x0, y: box.y0, width: box.x1 - box.x0,
                            height: box.y1 - box.y0, fill: "transparent" });
  // The pad goes under the event markers, so their <title> still shows on hover.
  chart.insertBefore(pad, chart.querySelector(".event-marker, .line"));
  chart.append(cursor);
  pad.addEventListener("pointermove", (ev) => {
    const ctm = chart.getScreenCTM();
    if (!ctm) return;
    const px = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(ctm.inverse()).x;
    const t = box.from + ((px - box.x0) / (box.x1 - box.x0)) * (box.to - box.from);
    cursor.setAttribute("x1", px);
    cursor.setAttribute("x2", px);
    cursor.setAttribute("visibility", "visible");
    show(t);
  });
  pad.addEventListener("pointerleave", () => {
    cursor.setAttribute("visibility", "hidden");
    show(null);
  });
}
