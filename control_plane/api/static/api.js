// The API token and the data calls. The token arrives in the URL fragment (never sent to a
// server, so never in a log), lives in sessionStorage (gone with the tab) and leaves the
// address bar at once (history, bookmarks and screen shares do not keep it).
const KEY = "sentinel.token";

export class Unauthorized extends Error {}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

// Reads `#token=…&app=…`, keeps the token, and leaves only `#app=…` in the address bar.
export function takeFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const t = params.get("token");
  if (t) token.set(t);
  params.delete("token");
  const app = params.get("app");
  showApp(app);
  return app;
}

export function showApp(app) {
  const hash = app ? `#${new URLSearchParams({ app })}` : "";
  history.replaceState(null, "", location.pathname + location.search + hash);
}

export async function getJson(path) {
  const t = token.get();
  if (!t) throw new Unauthorized("no token");
  const r = await fetch(path, { headers: { Authorization: `Bearer ${t}` }, cache: "no-store" });
  const body = await r.json().catch(() => null);
  if (r.status === 401) throw new Unauthorized(body?.error?.message || "the token was not accepted");
  if (!r.ok) {
    const detail = typeof body?.detail === "string" ? body.detail : null;
    throw new Error(body?.error?.message || detail || `the control plane answered ${r.status}`);
  }
  return body;
}
