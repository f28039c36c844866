// Units and numbers as a reader wants them: a unit per chart chosen from the data's size.
const KIB = 1024, MIB = KIB ** 2, GIB = KIB ** 3;

// key → title and a function (largest value) → {div, label}; values are divided by div.
export const METRICS = [
  { key: "request_rate", title: "Request rate", unit: () => ({ div: 1, label: "req/s" }) },
  { key: "error_ratio", title: "5xx error ratio", unit: () => ({ div: 0.01, label: "%" }) },
  { key: "latency_p50", title: "Latency p50", unit: seconds },
  { key: "latency_p99", title: "Latency p99", unit: seconds },
  { key: "cpu", title: "CPU", unit: () => ({ div: 1, label: "cores" }) },
  { key: "memory", title: "Memory", unit: bytes },
];

// The judge's estimate and interval are differences (canary − control) in the metric's base
// unit (seconds, bytes, a ratio): shown in the chart's unit, a ratio difference in percentage
// points. One unit per metric, chosen from the largest of the values, so a row reads alike.
export function deltaUnit(metric, values) {
  const m = METRICS.find((x) => x.key === metric);
  if (!m) return { div: 1, label: "" }; // a metric of the user's own analysis: no known unit
  const max = Math.max(0, ...values.filter(Number.isFinite).map(Math.abs));
  return metric === "error_ratio" ? { div: 0.01, label: "pp" } : m.unit(max);
}

// +74, -0.11: a difference always says its direction.
export function signed(v, div = 1) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const x = v / div;
  return x > 0 ? `+${num(x)}` : num(x);
}

function seconds(max) {
  return max < 1 ? { div: 0.001, label: "ms" } : { div: 1, label: "s" };
}

function bytes(max) {
  if (max >= GIB) return { div: GIB, label: "GiB" };
  if (max >= MIB) return { div: MIB, label: "MiB" };
  return { div: KIB, label: "KiB" };
}

// Up to 3 significant digits, no exponent for the sizes charts show.
export function num(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return trim(v.toFixed(1));
  if (a >= 0.01) return trim(v.toFixed(2));
  return v.toPrecision(2);
}

// Like printf's %.4g, for the judge's estimates and intervals.
export function g4(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return String(Number(v.toPrecision(4)));
}

function trim(s) {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

// 0 to a round number above max, in about `count` steps of 1, 2, 2.5 or 5 × 10^n.
export function niceTicks(max, count = 4) {
  if (!(max > 0)) max = 1;
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

// Clock-aligned time ticks: about `count` of them across [from, to].
export function timeTicks(from, to, count = 5) {
  const steps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400];
  const step = steps.find((s) => (to - from) / s <= count) || steps[steps.length - 1];
  const ticks = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return { ticks, step };
}

const pad = (n) => String(n).padStart(2, "0");

export function clock(t, withSeconds = true) {
  const d = new Date(t * 1000);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return withSeconds ? `${hm}:${pad(d.getSeconds())}` : hm;
}

// A clock time today; a date as well for anything older.
export function when(t) {
  const d = new Date(t * 1000);
  if (d.toDateString() === new Date().toDateString()) return clock(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(t)}`;
}

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
