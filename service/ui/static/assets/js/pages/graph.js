// Page 2, graph view: a namespace's workloads (inner ring) and the groups they talk to
// (outer ring), with their allowed edges. Plain SVG; every node is focusable.

import { api, path } from "../api.js";
import { append, h } from "../dom.js";
import { endpointText, groupLabel, namespaceOf, plural, portsText } from "../format.js";
import { clusterLink } from "../shared.js";

const MAX_PARTNERS = 12;
const LIMIT = 1000;
const PARTNER_LIMIT = 300;
const SIZE = 1000;

export async function render({ main, params, query, signal, mark }) {
  const { cluster, ref, namespace } = params;
  const filter = { port: query.port, protocol: query.protocol };
  const summary = await api(path`/v1/clusters/${cluster}/snapshots/${ref}/connectivity/summary`, { query: filter, signal });
  const cells = summary.cells.filter((c) => c.from === namespace || c.to === namespace);
  const partners = cells.filter((c) => c.from !== c.to).sort((a, b) => b.workload_pairs - a.workload_pairs).slice(0, MAX_PARTNERS);
  const url = path`/v1/clusters/${cluster}/snapshots/${ref}/connectivity/between`;
  const asks = [[namespace, namespace], ...partners.map((c) => [c.from, c.to])];
  const pages = await Promise.all(asks.map(([from, to], i) => api(url, { query: { from, to, ...filter, limit: i ? PARTNER_LIMIT : LIMIT }, signal })));
  const truncated = pages.some((p) => p.next_cursor);
  const edges = new Map();
  const inner = new Set();
  const outer = new Set();
  const node = (e) => {
    if (namespaceOf(e) === namespace) {
      inner.add(endpointText(e));
      return endpointText(e);
    }
    outer.add(namespaceOf(e));
    return `@${namespaceOf(e)}`;
  };
  for (const page of pages) {
    for (const c of page.connections) {
      const key = `${node(c.from)}\n${node(c.to)}`;
      const edge = edges.get(key) || { from: node(c.from), to: node(c.to), ports: [], count: 0 };
      edge.ports.push(...c.ports);
      edge.count += 1;
      edges.set(key, edge);
    }
  }
  const group = summary.groups.find((g) => g.key === namespace);
  append(main, [
    h("p", {}, h("a", { href: clusterLink(cluster, ref, "matrix", [], { ...filter, namespace }) }, `← ${namespace} in the matrix`)),
    h("h1", {}, `${namespace}: workloads and their allowed edges`),
    h("p", { class: "muted" }, `${plural(group?.workloads || 0, "workload")} and ${plural(group?.pods || 0, "pod")}; ${plural(inner.size, "workload")} with an allowed connection are drawn${partners.length < cells.filter((c) => c.from !== c.to).length ? `, with the ${partners.length} busiest partner namespaces` : ""}.${truncated ? " Some cells hold more connections than drawn." : ""}`),
  ]);
  const panel = h("div", { class: "panel", id: "graph-panel", "aria-live": "polite" }, h("p", { class: "muted" }, "Focus or hover a node (Tab) to list its edges."));
  main.append(h("div", { class: "graph-layout" }, drawing([...inner].sort(), [...outer].sort(), [...edges.values()], panel, cluster, ref), panel));
  mark("graph");
}

function ring(names, radius, offset = 0) {
  const positions = new Map();
  names.forEach((name, i) => {
    const angle = offset + (2 * Math.PI * i) / Math.max(names.length, 1) - Math.PI / 2;
    positions.set(name, [SIZE / 2 + radius * Math.cos(angle), SIZE / 2 + radius * Math.sin(angle)]);
  });
  return positions;
}

function shortName(text) {
  const parts = text.split("/");
  return parts[parts.length - 1];
}

function drawing(inner, outer, edges, panel, cluster, ref) {
  const positions = new Map([...ring(inner, outer.length ? 300 : 400), ...[...ring(outer, 455, Math.PI / Math.max(outer.length, 1))].map(([k, v]) => [`@${k}`, v])]);
  const edgeNodes = edges.map((e) => {
    const [x1, y1] = positions.get(e.from);
    const [x2, y2] = positions.get(e.to);
    const mx = (x1 + x2) / 2 + (SIZE / 2 - (x1 + x2) / 2) * 0.25;
    const my = (y1 + y2) / 2 + (SIZE / 2 - (y1 + y2) / 2) * 0.25;
    const external = e.from === "@IPBlock" || e.to === "@IPBlock";
    return h("path", { class: `edge${external ? " ext" : ""}`, d: `M${x1.toFixed(1)},${y1.toFixed(1)} Q${mx.toFixed(1)},${my.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`, "marker-end": "url(#arrow)", dataset: { from: e.from, to: e.to } },
      h("title", {}, `${label(e.from)} → ${label(e.to)}: ${portsText(dedupe(e.ports))}`));
  });
  const select = (name) => {
    for (const path of edgeNodes) path.classList.toggle("hot", path.dataset.from === name || path.dataset.to === name);
    svg.querySelectorAll(".node").forEach((n) => n.classList.toggle("hot", n.dataset.name === name));
    const mine = edges.filter((e) => e.from === name || e.to === name);
    panel.replaceChildren(h("h2", {}, label(name)),
      name.startsWith("@") ? null : h("p", {}, h("a", { href: clusterLink(cluster, ref, "explain", [], { from: name }) }, "explain a connection from it")),
      h("ul", { class: "changes" }, mine.map((e) => h("li", {}, e.from === name ? "→ " : "← ", h("code", {}, label(e.from === name ? e.to : e.from)), " ", h("span", { class: "muted" }, portsText(dedupe(e.ports)))))));
  };
  const nodeFor = (name, isOuter) => {
    const [x, y] = positions.get(name);
    const text = isOuter ? groupLabel(name.slice(1)) : shortName(name);
    const g = h("g", { class: `node${isOuter ? " outer" : ""}${name === "@IPBlock" ? " ext" : ""}`, tabindex: "0", role: "button", "aria-label": label(name), dataset: { name }, transform: `translate(${x.toFixed(1)},${y.toFixed(1)})` },
      h("title", {}, label(name)),
      h("circle", { r: isOuter ? 14 : 9 }),
      h("text", { x: x > SIZE / 2 ? 14 : -14, y: 4, "text-anchor": x > SIZE / 2 ? "start" : "end" }, text.length > 22 ? `${text.slice(0, 21)}…` : text));
    g.addEventListener("focus", () => select(name));
    g.addEventListener("mouseenter", () => select(name));
    g.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && isOuter && name !== "@IPBlock") location.hash = clusterLink(cluster, ref, "graph", [name.slice(1)]);
    });
    return g;
  };
  const svg = h("svg", { class: "graph", viewBox: `0 0 ${SIZE} ${SIZE}`, role: "group", "aria-label": "workloads and their allowed edges" },
    h("defs", {}, h("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "18", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, h("path", { d: "M 0 0 L 10 5 L 0 10 z" }))),
    h("g", {}, edgeNodes),
    h("g", {}, inner.map((n) => nodeFor(n, false)), outer.map((n) => nodeFor(`@${n}`, true))));
  return svg;
}

function label(name) {
  return name.startsWith("@") ? `namespace ${groupLabel(name.slice(1))}`.replace("namespace external", "external addresses") : name;
}

function dedupe(ports) {
  const seen = new Map(ports.map((p) => [JSON.stringify(p), p]));
  return [...seen.values()].sort((a, b) => a.protocol.localeCompare(b.protocol) || (a.port || 0) - (b.port || 0));
}
