// Calls to the control plane with the console's session cookie (sent by the browser, never seen
// by this script: it is HttpOnly). State-changing calls carry the session's CSRF token, which
// only this page holds (in memory). Every failure becomes one line: the API's own message.
let csrf = null;

export class SignedOut extends Error {}
export class ApiError extends Error {
  constructor(message, code, status) { super(message); this.code = code; this.status = status; }
}

export const session = {
  set: (token) => { csrf = token; },
  clear: () => { csrf = null; },
  active: () => csrf !== null,
};

export function oneLine(data, text, status) {
  const e = data?.error?.message;
  if (e) return e;
  if (typeof data?.detail === "string") return data.detail;
  const first = String(text || "").trim().split("\n")[0].slice(0, 300);
  return first ? `the control plane answered ${status}: ${first}` : `the control plane answered ${status}`;
}

async function send(method, path, body, signal) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf || "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await fetch(path, { method, headers, signal, credentials: "same-origin", cache: "no-store",
                               body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError("the control plane did not answer: is it running? (`sentinel server status`)", "unreachable", 0);
  }
}

async function fail(r) {
  const text = await r.text();
  let data = null;
  try { data = JSON.parse(text); } catch { /* not JSON: a proxy's page, a crash */ }
  const message = oneLine(data, text, r.status);
  if (r.status === 401) throw new SignedOut(message);
  throw new ApiError(message, data?.error?.code || "error", r.status);
}

export async function call(method, path, body, { signal } = {}) {
  const r = await send(method, path, body, signal);
  if (!r.ok) await fail(r);
  return r.status === 204 ? null : r.json();
}

export const get = (path, opts) => call("GET", path, undefined, opts);

// A streamed answer (logs --follow), line by line, until it ends or `signal` aborts.
export async function stream(path, onLine, signal) {
  const r = await send("GET", path, undefined, signal);
  if (!r.ok) await fail(r);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const lines = (rest + decoder.decode(value, { stream: true })).split("\n");
    rest = lines.pop();
    lines.forEach(onLine);
  }
  if (rest) onLine(rest);
}

export const q = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "")).toString();
export const appPath = (name, rest = "") => `/v1/apps/${encodeURIComponent(name)}${rest}`;
