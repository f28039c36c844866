// The heading and sub-navigation every page of one app shares.
import { el } from "./ui.js";

export function appHeader(name, current) {
  const base = `#/apps/${encodeURIComponent(name)}`;
  const links = [["overview", base, "Overview"], ["canary", `${base}/canary`, "Canary"], ["db", `${base}/db`, "Database"]];
  const titles = { overview: name, canary: `${name}: canary`, db: `${name}: database` };
  return [
    el("p", { class: "dim" }, el("a", { href: "#/apps" }, "Apps"), " / ", name),
    el("h1", {}, titles[current]),
    el("nav", { "aria-label": `App ${name}` }, el("ul", { class: "subnav" }, links.map(([key, href, text]) =>
      el("li", {}, el("a", { href, "aria-current": key === current ? "page" : null }, text))))),
  ];
}
