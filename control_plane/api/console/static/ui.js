// Building blocks of the console's pages: labelled fields, tables that become cards on a
// narrow screen, one-line errors, and confirmation dialogs. All DOM is built with el(): data
// is always text, never markup.
import { el, replace } from "/ui/static/dom.js";

export { el, replace };

let seq = 0;
export const uid = (prefix) => `${prefix}-${++seq}`;

export function errorLine(message) {
  return el("p", { class: "message error", role: "alert" }, message);
}

export function infoLine(message) {
  return el("p", { class: "message info", role: "status" }, message);
}

// A section with a heading; `body` is filled (and refilled) by the page.
export function section(title, ...children) {
  const id = uid("h");
  const body = el("div", { class: "body" }, ...children);
  const node = el("section", { class: "card", "aria-labelledby": id }, el("h2", { id }, title), body);
  node.body = body;
  return node;
}

// <label> + control (+ hint, tied by aria-describedby): every control has a visible name.
export function field(label, control, hint) {
  control.id = control.id || uid("f");
  const parts = [el("label", { for: control.id }, label), control];
  if (hint) {
    const h = el("p", { class: "hint", id: uid("hint") }, hint);
    control.setAttribute("aria-describedby", h.id);
    parts.push(h);
  }
  return el("div", { class: "field" }, parts);
}

export function radios(legend, name, options, checked) {
  return el("fieldset", {}, el("legend", {}, legend), options.map(([value, label]) =>
    el("label", {}, el("input", { type: "radio", name, value, checked: value === checked ? "" : null }), label)));
}

export function checkbox(label, attrs = {}) {
  const box = el("input", { type: "checkbox", ...attrs });
  return { box, node: el("label", { class: "check" }, box, " ", label) };
}

// columns: [{ label, value: (row) => text or node }]
export function dataTable(caption, columns, rows, empty = "None.") {
  if (!rows.length) return el("p", { class: "empty-state" }, empty);
  return el("div", { class: "table-wrap" }, el("table", { class: "data" },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c.label)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, columns.map((c) => {
      const v = c.value(r);
      return el("td", { "data-label": c.label, class: c.class ?? null }, v === null || v === undefined || v === "" ? "–" : v);
    }))))));
}

export function facts(pairs) {
  return el("dl", { class: "facts" }, pairs.filter(Boolean).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "–")]));
}

// A modal question. `typed`: the exact text the user must type first (e.g. the app's name).
// Resolves to the form's values on confirm, null on cancel; focus returns where it was.
export function confirmDialog({ title, body = [], confirm, danger = false, typed = null, extra = [] }) {
  const opener = document.activeElement;
  const titleId = uid("dlg");
  const ok = el("button", { type: "submit", class: danger ? "danger" : null }, confirm);
  const cancel = el("button", { type: "button", class: "quiet" }, "Cancel");
  let typedInput = null;
  const parts = [el("h2", { id: titleId }, title), ...body, ...extra];
  if (typed) {
    typedInput = el("input", { type: "text", autocomplete: "off", spellcheck: "false" });
    parts.push(field(`Type ${typed} to confirm`, typedInput));
    ok.disabled = true;
    typedInput.addEventListener("input", () => { ok.disabled = typedInput.value !== typed; });
  }
  const form = el("form", { method: "dialog" }, parts, el("div", { class: "buttons" }, cancel, ok));
  const dialog = el("dialog", { "aria-labelledby": titleId }, form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    let result = null;
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (typed && typedInput.value !== typed) return;
      result = Object.fromEntries(new FormData(form).entries());
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    });
    dialog.showModal();
    (typedInput || form.querySelector("input, select, textarea") || ok).focus();
  });
}
