// Page 2: who talks to whom, namespace by namespace, from GET .../connectivity/summary.

import { api, path } from "../api.js";
import { append, field, h } from "../dom.js";
import { groupLabel, plural, portsText } from "../format.js";
import { matrixTable, orderKeys } from "../matrixtable.js";
import { clusterLink } from "../shared.js";

export async function render({ main, params, query, signal, mark }) {
  const { cluster, ref } = params;
  const filters = { namespace: query.namespace || "", port: query.port || "", protocol: query.protocol || "", external: query.external === "1" };
  append(main, [h("h1", {}, `Who talks to whom — ${cluster}, ${ref === "latest" ? "latest version" : `version ${ref}`}`)]);
  const form = filterForm(cluster, ref, filters);
  const area = h("div", { "aria-live": "polite" });
  append(main, [form, area]);
  const summary = await api(path`/v1/clusters/${cluster}/snapshots/${ref}/connectivity/summary`, {
    query: { port: filters.port, protocol: filters.protocol }, signal,
  });
  fillNamespaces(form, summary.groups, filters.namespace);
  area.append(matrixView(summary, filters, cluster, ref));
  mark("matrix");
}

function filterForm(cluster, ref, filters) {
  const namespace = h("select", { name: "namespace", id: "f-namespace" }, h("option", { value: "" }, "every namespace"));
  if (filters.namespace) namespace.append(h("option", { value: filters.namespace }, filters.namespace));
  namespace.value = filters.namespace;
  const port = h("input", { name: "port", id: "f-port", type: "number", min: "1", max: "65535", value: filters.port, placeholder: "any", style: { width: "7rem" } });
  const protocol = h("select", { name: "protocol", id: "f-protocol" }, ["", "TCP", "UDP", "SCTP"].map((p) => h("option", { value: p }, p || "any")));
  protocol.value = filters.protocol;
  const external = h("input", { type: "checkbox", name: "external", id: "f-external", checked: filters.external });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter the matrix" },
    field("Namespace", namespace), field("Port", port), field("Protocol", protocol),
    field("External only", external, { inline: true }),
    h("button", { type: "submit" }, "Apply"),
    h("a", { class: "button secondary", href: clusterLink(cluster, ref, "matrix") }, "Reset"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = clusterLink(cluster, ref, "matrix", [], {
      namespace: namespace.value, port: port.value, protocol: protocol.value, external: external.checked ? "1" : "",
    });
  });
  return form;
}

function fillNamespaces(form, groups, chosen) {
  const select = form.querySelector("#f-namespace");
  select.replaceChildren(h("option", { value: "" }, "every namespace"),
    groups.filter((g) => g.kind === "Namespace").map((g) => h("option", { value: g.key }, g.key)));
  select.value = chosen;
}

function matrixView(summary, filters, cluster, ref) {
  let cells = summary.cells;
  if (filters.namespace) cells = cells.filter((c) => c.from === filters.namespace || c.to === filters.namespace);
  if (filters.external) cells = cells.filter((c) => c.external);
  const byPair = new Map(cells.map((c) => [`${c.from}\n${c.to}`, c]));
  let keys = summary.groups.map((g) => g.key);
  if (filters.namespace || filters.external) keys = cells.flatMap((c) => [c.from, c.to]).concat(filters.namespace ? [filters.namespace] : []);
  const ordered = orderKeys(keys);
  const max = Math.max(1, ...cells.map((c) => c.workload_pairs));
  const groups = new Map(summary.groups.map((g) => [g.key, g]));
  const carry = { port: filters.port, protocol: filters.protocol };
  const exposed = summary.cells.filter((c) => c.from === "IPBlock");
  const pairs = cells.reduce((n, c) => n + c.workload_pairs, 0);

  const table = matrixTable({
    rows: ordered,
    cols: ordered,
    rowHeader: (key) => (key === "IPBlock"
      ? h("span", { title: "every address outside the cluster" }, "external")
      : h("a", { href: clusterLink(cluster, ref, "graph", [key], carry), title: `${key}: ${plural(groups.get(key)?.workloads || 0, "workload")}, ${plural(groups.get(key)?.pods || 0, "pod")} — graph view` }, key)),
    cell: (from, to) => {
      const c = byPair.get(`${from}\n${to}`);
      if (!c) return null;
      const flags = [c.from === "IPBlock" ? "exposed to external addresses" : c.to === "IPBlock" ? "reaches external addresses" : null, c.dns ? "reaches the cluster DNS" : null].filter(Boolean);
      return {
        href: clusterLink(cluster, ref, "between", [from, to], carry),
        className: [c.external ? "ext" : "", c.dns ? "dns" : ""].join(" ").trim(),
        count: c.workload_pairs.toLocaleString(),
        detail: portsText(c.ports, { max: 22 }),
        alpha: 0.06 + (0.6 * Math.log1p(c.workload_pairs)) / Math.log1p(max),
        label: `${groupLabel(from)} to ${groupLabel(to)}: ${plural(c.workload_pairs, "workload pair")} on ${portsText(c.ports)}${flags.length ? ` (${flags.join(", ")})` : ""}`,
      };
    },
    caption: "Each cell: workload pairs that may connect, and their ports. Click a cell for its workloads and pods.",
  });
  return h("div", {},
    h("div", { class: "cards" },
      card(pairs, "workload pairs connect in this view", ""),
      card(summary.connections, `connections in the workload map${filters.port || filters.protocol ? " (filtered)" : ""}`, ""),
      card(exposed.length, "namespaces reachable from external addresses", exposed.length ? "warn" : "ok"),
      card(summary.groups.filter((g) => g.kind === "Namespace").length, `namespaces, ${plural(summary.groups.reduce((n, g) => n + g.pods, 0), "pod")}`, "")),
    h("div", { class: "legend", "aria-hidden": "true" },
      h("span", {}, h("span", { class: "swatch heat" }), "more workload pairs"),
      h("span", {}, h("span", { class: "swatch ext" }), "external addresses"),
      h("span", {}, h("span", { class: "swatch dns" }), "cluster DNS (port 53)")),
    ordered.length ? table : h("p", { class: "notice" }, "No connection matches these filters."));
}

function card(n, text, cls) {
  return h("div", { class: `card ${cls}` }, h("div", { class: "n" }, n.toLocaleString()), h("div", {}, text));
}
