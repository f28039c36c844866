// The canary report page: picks an app, fetches its report every 5 s and draws it.
import { getJson, showApp, takeFragment, token, Unauthorized } from "./api.js";
import { el, replace } from "./dom.js";
import { clock } from "./format.js";
import { charts, events, judgment, summary } from "./report_view.js";

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
  replace($("charts"), charts(r));
  replace($("judgment"), judgment(r.judgment));
  replace($("events"), events(r.events || []));
}

start();
