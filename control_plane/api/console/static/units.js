// Human units for the console: sizes in MiB/GiB, times ago, percentages.
import { duration, num, when } from "/ui/static/format.js";

export { duration, num, when };

export function bytes(b) {
  if (b === null || b === undefined || !Number.isFinite(b)) return "–";
  if (Math.abs(b) >= 2 ** 30) return `${num(b / 2 ** 30)} GiB`;
  return `${num(b / 2 ** 20)} MiB`;
}

export const ago = (seconds) => (Number.isFinite(seconds) ? `${duration(seconds)} ago` : "–");

export const pct = (v) => (Number.isFinite(v) ? `${num(v)}%` : "–");

// An ISO time from the API as this browser's local time, with the UTC text kept as a tooltip.
export function isoTime(text) {
  if (!text) return "–";
  const t = Date.parse(String(text).replace(" ", "T").replace(/\+00$/, "Z"));
  return Number.isFinite(t) ? when(t / 1000) : String(text);
}
