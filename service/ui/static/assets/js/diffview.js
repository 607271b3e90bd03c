// A diff (GET .../diff, POST .../what-if): highlights first, a matrix colouring the
// namespace pairs that changed, then the connection changes grouped by cause.

import { h } from "./dom.js";
import { endpointText, groupLabel, namespaceOf, plural, portsText } from "./format.js";
import { matrixTable, orderKeys } from "./matrixtable.js";
import { clusterLink } from "./shared.js";

const HIGHLIGHTS = {
  external_exposure: ["Newly reachable from outside", "bad"],
  cross_namespace: ["New cross-namespace connections", "warn"],
  lost_ingress: ["Lost ingress", "warn"],
  lost_egress: ["Lost egress", "warn"],
  narrowed_egress: ["Narrowed egress", "warn"],
  lost_all_egress: ["Lost all egress", "bad"],
  lost_dns: ["Lost DNS", "bad"],
};
const SIGN = { added: "+", removed: "−", changed: "~" };
const FIRST_ROWS = 25;
const MORE_ROWS = 250;

/** A list that draws its first rows only, and more on demand: a 10,000-change diff stays fast. */
export function cappedList(items, draw, { first = FIRST_ROWS, className = "changes" } = {}) {
  const list = h("ul", { class: className });
  const wrap = h("div", {}, list);
  let shown = 0;
  const more = () => {
    const next = items.slice(shown, shown + (shown ? MORE_ROWS : first));
    list.append(...next.map(draw));
    shown += next.length;
    button.hidden = shown >= items.length;
    button.textContent = `show ${Math.min(MORE_ROWS, items.length - shown).toLocaleString()} more of ${(items.length - shown).toLocaleString()}`;
  };
  const button = h("button", { type: "button", class: "secondary more" });
  button.addEventListener("click", more);
  wrap.append(button);
  more();
  return wrap;
}

/** sides: {base: {cluster, ref}, head: {cluster, ref}} for links to objects. */
export function diffView(diff, sides) {
  const changes = [
    ...diff.connections.added.map((c) => ({ kind: "added", ...c })),
    ...diff.connections.removed.map((c) => ({ kind: "removed", ...c })),
    ...diff.connections.changed.map((c) => ({ kind: "changed", ...c })),
  ];
  const list = h("div", { id: "changes" });
  const showChanges = (pair) => list.replaceChildren(changesByCause(changes, sides, pair, () => showChanges(null)));
  showChanges(null);
  const s = diff.summary || {};
  return h("div", { class: "diff" },
    h("div", { class: "cards" },
      card(s.connections?.added ?? diff.connections.added.length, "connections added", "ok"),
      card(s.connections?.removed ?? diff.connections.removed.length, "connections removed", "bad"),
      card(s.connections?.changed ?? diff.connections.changed.length, "connections changed", "warn"),
      card((diff.objects.added.length + diff.objects.removed.length + diff.objects.changed.length), "objects changed", "")),
    highlights(diff.highlights || {}),
    h("h2", {}, "Where it changed"),
    changes.length ? changeMatrix(changes, (pair) => { showChanges(pair); list.scrollIntoView({ block: "start" }); }) : h("p", { class: "notice" }, "No connection changed."),
    list,
    objectsChanged(diff.objects, sides));
}

function card(n, text, cls) {
  return h("div", { class: `card ${n ? cls : ""}` }, h("div", { class: "n" }, String(n)), h("div", {}, text));
}

function changeLine(change) {
  const ports = change.kind === "changed"
    ? `${portsText(change.before)} → ${portsText(change.after)}`
    : portsText(change.ports);
  return h("li", { class: change.kind },
    h("span", { class: "sign", "aria-label": change.kind }, SIGN[change.kind]),
    h("code", {}, endpointText(change.from)), " → ", h("code", {}, endpointText(change.to)), " ",
    h("span", { class: "muted" }, ports));
}

function highlights(found) {
  const entries = Object.entries(found).filter(([, list]) => list && list.length);
  if (!entries.length) return h("p", { class: "muted" }, "No highlight: nothing newly exposed, no lost DNS, ingress or egress, no new cross-namespace path.");
  return h("section", { "aria-labelledby": "highlights", class: "panel" },
    h("h2", { id: "highlights" }, "Highlights"),
    entries.map(([key, list]) => {
      const [title, cls] = HIGHLIGHTS[key] || [key.replaceAll("_", " "), "warn"];
      return h("div", { class: "highlight", dataset: { highlight: key } },
        h("h3", {}, h("span", { class: `badge ${cls}` }, String(list.length)), " ", title),
        cappedList(list, (item) => highlightLine(key, item), { first: 10 }));
    }));
}

/** A highlight is a connection ({from, to, ports}) or an endpoint that lost something. */
function highlightLine(key, item) {
  const kind = item.before ? "changed" : /^(lost|narrowed)/.test(key) ? "removed" : "added";
  if (item.from && item.to) return changeLine({ kind, ...item });
  return h("li", { class: kind }, h("span", { class: "sign", "aria-label": kind }, SIGN[kind]), h("code", {}, endpointText(item)));
}

function changeMatrix(changes, onPick) {
  const cells = new Map();
  for (const c of changes) {
    const key = `${namespaceOf(c.from)}\n${namespaceOf(c.to)}`;
    const cell = cells.get(key) || { added: 0, removed: 0, changed: 0 };
    cell[c.kind] += 1;
    cells.set(key, cell);
  }
  const keys = orderKeys([...cells.keys()].flatMap((k) => k.split("\n")));
  const table = matrixTable({
    rows: keys,
    cols: keys,
    cell: (from, to) => {
      const c = cells.get(`${from}\n${to}`);
      if (!c) return null;
      const kinds = ["added", "removed", "changed"].filter((k) => c[k]);
      const text = kinds.map((k) => `${SIGN[k]}${c[k]}`).join(" ");
      return {
        href: `#changes`,
        className: kinds.length === 1 ? kinds[0] : "mixed",
        count: text,
        label: `${groupLabel(from)} to ${groupLabel(to)}: ${kinds.map((k) => `${c[k]} ${k}`).join(", ")}`,
      };
    },
    caption: "Namespace pairs whose connections changed. Pick a cell to list its changes.",
  });
  table.addEventListener("click", (event) => {
    const cell = event.target.closest("td[data-from]");
    if (!cell) return;
    event.preventDefault();
    onPick([cell.dataset.from, cell.dataset.to]);
  });
  return h("div", {},
    h("div", { class: "legend", "aria-hidden": "true" },
      h("span", {}, h("span", { class: "swatch added" }), "added"),
      h("span", {}, h("span", { class: "swatch removed" }), "removed"),
      h("span", {}, h("span", { class: "swatch changed" }), "ports changed")),
    table);
}

const CAUSE_VERBS = {
  "policy-added": "added",
  "policy-removed": "removed",
  "policy-edited": "edited",
  "pod-relabelled": "pods relabelled",
  "namespace-relabelled": "relabelled",
  "container-ports-changed": "container ports changed",
  "service-changed": "retargeted",
  "endpoint-added": "added",
  "endpoint-removed": "removed",
  "endpoint-changed": "changed",
};

/**
 * A cause as the diff names it: `{kind: "policy-edited", object: {kind, namespace, name},
 * details: ["ingress rule 1 peer 0"]}`; other shapes (a string, an object without `details`)
 * are shown as well as they can be.
 */
export function describeCause(cause) {
  if (typeof cause === "string") return { key: cause, object: null, text: cause, path: null };
  const object = cause.object || (cause.kind && cause.name ? cause : null);
  const kind = cause.change || cause.action || cause.type || (cause.object && typeof cause.kind === "string" ? cause.kind : "");
  const change = CAUSE_VERBS[kind] || String(kind).replaceAll("-", " ");
  const where = [
    cause.rule !== undefined && cause.rule !== null ? `rule ${cause.rule}` : null,
    cause.peer !== undefined && cause.peer !== null ? `peer ${cause.peer}` : null,
    cause.port !== undefined && cause.port !== null ? `port ${cause.port}` : null,
  ].filter(Boolean).join(" ");
  const detail = (Array.isArray(cause.details) ? cause.details.join(", ") : cause.details)
    || cause.detail || cause.description || cause.summary || cause.message || where
    || (Array.isArray(cause.fields) ? cause.fields.join(", ") : "");
  const text = [change, detail].filter(Boolean).join(": ");
  return { key: JSON.stringify([object && endpointText(object), kind, detail]), object, change: kind, text, path: rulePathOf(detail) };
}

/** "ingress rule 1 peer 0" -> "spec.ingress[1].from[0]" (the rule to highlight). */
function rulePathOf(detail) {
  const match = /\b(ingress|egress) rule (\d+)(?: peer (\d+))?/.exec(detail || "");
  if (!match) return null;
  const base = `spec.${match[1]}[${match[2]}]`;
  return match[3] === undefined ? base : `${base}.${match[1] === "ingress" ? "from" : "to"}[${match[3]}]`;
}

function changesByCause(changes, sides, pair, showAll) {
  const shown = pair ? changes.filter((c) => namespaceOf(c.from) === pair[0] && namespaceOf(c.to) === pair[1]) : changes;
  const anyCauses = changes.some((c) => Array.isArray(c.causes) && c.causes.length);
  const groups = new Map();
  const add = (key, make, change) => {
    if (!groups.has(key)) groups.set(key, { ...make(), changes: [] });
    groups.get(key).changes.push(change);
  };
  for (const change of shown) {
    if (anyCauses && Array.isArray(change.causes) && change.causes.length) {
      for (const cause of change.causes) {
        const described = describeCause(cause);
        add(described.key, () => ({ cause: described }), change);
      }
    } else if (anyCauses) {
      add("\u0000none", () => ({ title: "Cause not named by the server" }), change);
    } else {
      add(change.kind, () => ({ title: { added: "Added connections", removed: "Removed connections", changed: "Connections whose ports changed" }[change.kind] }), change);
    }
  }
  const ordered = [...groups.values()];
  if (anyCauses) ordered.sort((a, b) => b.changes.length - a.changes.length);
  return h("section", { "aria-labelledby": "by-cause" },
    h("h2", { id: "by-cause", tabindex: "-1" }, anyCauses ? "Changes by cause" : "Changes"),
    pair ? h("p", {}, `Only ${groupLabel(pair[0])} → ${groupLabel(pair[1])}. `, h("button", { type: "button", class: "secondary", onclick: showAll }, "show every change")) : null,
    anyCauses ? null : h("p", { class: "muted small" }, "This server does not name the cause of each change; the objects that changed are listed below."),
    ordered.map((group) => h("div", { class: "change-group panel", dataset: { cause: group.cause ? group.cause.text : group.title } },
      h("h3", {}, group.cause ? causeTitle(group.cause, sides) : group.title, h("span", { class: "muted small" }, plural(group.changes.length, "change"))),
      cappedList(group.changes, changeLine))));
}

function causeTitle(cause, sides) {
  if (!cause.object) return h("span", {}, cause.text);
  const removed = /remov|delet/i.test(cause.change || "");
  const side = removed ? sides.base : sides.head;
  const o = cause.object;
  const query = cause.path ? { path: cause.path } : {};
  const target = side && o.kind ? h("a", { href: clusterLink(side.cluster, side.ref, "object", [o.kind, o.namespace || "_", o.name], query) }, endpointText(o)) : h("code", {}, endpointText(o));
  return h("span", { class: "cause" }, target, cause.text ? ` — ${cause.text}` : "");
}

function objectsChanged(objects, sides) {
  const rows = [
    ...objects.added.map((o) => ["added", o, sides.head]),
    ...objects.removed.map((o) => ["removed", o, sides.base]),
    ...objects.changed.map((o) => ["changed", o, sides.head]),
  ];
  if (!rows.length) return null;
  return h("section", { "aria-labelledby": "objects-changed" },
    h("h2", { id: "objects-changed" }, "Objects changed"),
    h("ul", { class: "changes" }, rows.map(([kind, o, side]) => h("li", { class: kind },
      h("span", { class: "sign", "aria-label": kind }, SIGN[kind]),
      side ? h("a", { href: clusterLink(side.cluster, side.ref, "object", [o.kind, o.namespace || "_", o.name], o.fields?.length ? { path: o.fields[0] } : {}) }, endpointText(o)) : endpointText(o),
      o.fields?.length ? h("span", { class: "muted small" }, ` ${o.fields.join(", ")}`) : null))));
}
