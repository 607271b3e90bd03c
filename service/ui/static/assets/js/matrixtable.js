// A namespace-by-namespace table: sources as rows, destinations as columns, sticky headers.
// Each non-empty cell is a link, so the keyboard reaches every cell with Tab.

import { h } from "./dom.js";
import { groupLabel } from "./format.js";

/**
 * rows, cols: group keys; cell(from, to) -> null or {href, className, count, detail, label, alpha};
 * rowHeader(key) -> a node for the row's header.
 */
export function matrixTable({ rows, cols, cell, rowHeader, caption }) {
  const head = h("tr", {}, h("th", { class: "corner", scope: "col" }, "from ↓  to →"),
    cols.map((key) => h("th", { class: `col${key === "IPBlock" ? " ext-head" : ""}`, scope: "col", title: groupLabel(key) }, h("span", {}, groupLabel(key)))));
  const body = rows.map((from) => h("tr", {},
    h("th", { scope: "row", class: from === "IPBlock" ? "ext-head" : null }, rowHeader ? rowHeader(from) : groupLabel(from)),
    cols.map((to) => {
      const c = cell(from, to);
      const self = from === to ? " self" : "";
      if (!c) return h("td", { class: self.trim() || null });
      return h("td", { class: `${c.className || ""}${self}`, dataset: { from, to } },
        h("a", { href: c.href, "aria-label": c.label, title: c.label, style: c.alpha !== undefined ? { "--alpha": c.alpha.toFixed(3) } : null },
          h("span", { class: "count" }, c.count), c.detail ? h("span", { class: "ports" }, c.detail) : null));
    })));
  return h("div", { class: "matrix-wrap" },
    h("table", { class: "matrix" }, caption ? h("caption", { class: "muted small" }, caption) : null, h("thead", {}, head), h("tbody", {}, body)));
}

/** Keys in display order: namespaces by name, external last. */
export function orderKeys(keys) {
  return [...new Set(keys)].sort((a, b) => (a === "IPBlock") - (b === "IPBlock") || a.localeCompare(b));
}
