// The console's shell: sign-in (token from the URL fragment → session cookie), the sections'
// routes (#/apps, #/apps/NAME, #/apps/NAME/canary, #/apps/NAME/db, #/cluster) and sign-out.
import { call, session, SignedOut } from "./http.js";
import { el, errorLine, replace } from "./ui.js";
import * as appsPage from "./page_apps.js";
import * as appPage from "./page_app.js";
import * as canaryPage from "./page_canary.js";
import * as databasePage from "./page_database.js";
import * as clusterPage from "./page_cluster.js";

const $ = (id) => document.getElementById(id);
const NAME = "([a-z0-9][a-z0-9-]*)";
const ROUTES = [
  [new RegExp("^#/apps$"), appsPage, "apps"],
  [new RegExp(`^#/apps/${NAME}$`), appPage, "apps"],
  [new RegExp(`^#/apps/${NAME}/canary$`), canaryPage, "apps"],
  [new RegExp(`^#/apps/${NAME}/db$`), databasePage, "apps"],
  [new RegExp("^#/cluster$"), clusterPage, "cluster"],
];
let cleanup = null;

async function start() {
  $("sign-in-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("token-input");
    const token = input.value.trim();
    input.value = "";
    if (token) await signIn(token, location.hash);
  });
  $("sign-out").addEventListener("click", signOut);
  $("skip").addEventListener("click", (ev) => { ev.preventDefault(); focusMain(); });
  window.addEventListener("hashchange", () => {
    if (location.hash.startsWith("#token=")) takeToken(); // `sentinel console` again, same tab
    else if (session.active()) route();
  });
  window.addEventListener("signed-out", (ev) => showSignIn(ev.detail));

  if (location.hash.startsWith("#token=")) return takeToken();
  try { // a reload: the cookie is still there; fetch this session's CSRF token again
    session.set((await call("GET", "/console/session")).csrf);
    signedIn();
  } catch (e) {
    showSignIn(e instanceof SignedOut ? null : e.message);
  }
}

// `sentinel console` opens /console#token=…[&app=…]: the fragment never reaches a server, and
// leaves the address bar (history, bookmarks, screen shares) before anything else happens.
function takeToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const app = params.get("app");
  history.replaceState(null, "", location.pathname + (app ? `#/apps/${encodeURIComponent(app)}` : "#/apps"));
  return signIn(params.get("token"), location.hash);
}

async function signIn(token, hash) {
  try {
    const r = await fetch("/console/session", { method: "POST", credentials: "same-origin",
                                                headers: { Authorization: `Bearer ${token}` } });
    const body = await r.json().catch(() => null);
    if (!r.ok) return showSignIn(`${body?.error?.message || `the control plane answered ${r.status}`}`);
    session.set(body.csrf);
    if (hash && hash !== location.hash) history.replaceState(null, "", location.pathname + hash);
    signedIn();
  } catch {
    showSignIn("the control plane did not answer: is it running? (`sentinel server status`)");
  }
}

function signedIn() {
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  notice(null);
  if (!ROUTES.some(([rx]) => rx.test(location.hash))) history.replaceState(null, "", `${location.pathname}#/apps`);
  route();
}

function showSignIn(message) {
  session.clear();
  if (cleanup) cleanup();
  cleanup = null;
  replace($("page"));
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  notice(message);
  $("token-input").focus();
}

async function signOut() {
  try {
    await call("DELETE", "/console/session");
  } catch (e) {
    if (!(e instanceof SignedOut)) return notice(`Could not sign out: ${e.message}`);
  }
  history.replaceState(null, "", location.pathname);
  showSignIn(null);
  notice("Signed out.", "info");
}

function notice(text, kind = "error") {
  const n = $("notice");
  n.hidden = !text;
  n.className = `message ${kind}`;
  n.textContent = text || "";
}

function focusMain() {
  const h1 = document.querySelector("#page h1");
  (h1 || $("main")).focus();
}

async function route() {
  if (cleanup) cleanup();
  cleanup = null;
  notice(null);
  const hash = location.hash;
  const found = ROUTES.map(([rx, page, section]) => [rx.exec(hash), page, section]).find(([m]) => m);
  if (!found) return history.replaceState(null, "", `${location.pathname}#/apps`), route();
  const [match, page, section] = found;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const root = el("div", {});
  replace($("page"), root);
  const ctx = { guard: guarded };
  cleanup = page.render(root, match.slice(1), ctx) || null;
  // A new page: its heading takes the focus (screen readers announce it), as after a page load.
  const h1 = root.querySelector("h1");
  if (h1) { h1.tabIndex = -1; h1.focus({ preventScroll: false }); }
  document.title = `${h1 ? h1.textContent + " · " : ""}Sentinel console`;
}

// Runs an async read for a page; a signed-out session goes back to sign-in, any other failure
// is shown as the API's one line in `target` (when given) and returned as null.
async function guarded(fn, target) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof SignedOut) {
      window.dispatchEvent(new CustomEvent("signed-out", { detail: `Signed out: ${e.message}` }));
      return null;
    }
    if (e.name === "AbortError") return null;
    if (target) replace(target, errorLine(e.message));
    return null;
  }
}

start();
