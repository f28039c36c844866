// Apps: every app with its domain, image, tasks ready/desired, canary and weight, database.
import { get } from "./http.js";
import { dataTable, el, field, replace, section } from "./ui.js";

const REFRESH_MS = 10000;

function link(href, text) {
  return el("a", { href }, text);
}

export function render(root, _params, ctx) {
  const list = section("All apps");
  const open = el("form", { class: "row" });
  const name = el("input", { type: "text", autocomplete: "off", spellcheck: "false", pattern: "[a-z0-9][a-z0-9-]*", required: "" });
  open.append(field("App name", name), el("button", { type: "submit", class: "quiet" }, "Open"));
  open.addEventListener("submit", (ev) => { ev.preventDefault(); location.hash = `#/apps/${name.value.trim()}`; });
  root.append(el("h1", {}, "Apps"), list,
              section("Open an app by name", el("p", { class: "hint" }, "Also when the list cannot be read."), open));

  // The store's list first (no swarm call): every app shows at once, and still shows when the
  // swarm does not answer; the tasks' state follows from the swarm, its failure in `live`.
  const listing = el("div");
  const live = el("div");
  list.body.append(listing, live);
  let timer = null;
  let shown = false;
  // A new table replaces the old one: a keyboard user's place in it (a link) is kept, or the
  // next Tab would start again from the top of the page.
  function show(t) {
    const at = listing.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
    replace(listing, t);
    const again = at && [...listing.querySelectorAll("a[href]")].find((a) => a.getAttribute("href") === at);
    if (again) again.focus();
  }
  async function refresh() {
    if (!shown) {
      const recorded = await ctx.guard(() => get("/v1/apps?live=false"), listing);
      if (recorded) {
        show(table(recorded, "checking…"));
        shown = true;
      }
    }
    const apps = await ctx.guard(() => get("/v1/apps"), shown ? live : listing);
    if (apps) {
      show(table(apps));
      replace(live);
      shown = true;
    } else if (shown) {
      for (const cell of listing.querySelectorAll("td.ready")) cell.textContent = "unknown";
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }
  refresh();
  return () => clearTimeout(timer);
}

function table(apps, pending) {
  return dataTable(`${apps.length} app${apps.length === 1 ? "" : "s"}`, [
    { label: "Name", value: (a) => link(`#/apps/${encodeURIComponent(a.name)}`, a.name) },
    { label: "Domain", value: (a) => el("a", { href: a.url, rel: "noreferrer" }, a.domain) },
    { label: "Image", value: (a) => a.image },
    { label: "Ready / desired", value: (a) => a.ready ?? pending, class: "ready" },
    { label: "Canary", value: (a) => (a.canary
      ? link(`#/apps/${encodeURIComponent(a.name)}/canary`, `${a.canary_image ?? "yes"} at ${a.canary_weight ?? "?"}%`)
      : "none") },
    { label: "Database", value: (a) => (a.db
      ? link(`#/apps/${encodeURIComponent(a.name)}/db`, `postgres, ${a.db_members} member${a.db_members === 1 ? "" : "s"}`)
      : "none") },
  ], apps, "There are no apps yet: deploy one with `sentinel deploy`.");
}
