// Page 2, drill-down: the workload pairs of one matrix cell, and the pod pairs of each.

import { api, path } from "../api.js";
import { append, h, spinner } from "../dom.js";
import { endpointQuery, endpointText, groupLabel, plural, portsText } from "../format.js";
import { clusterLink, errorBox } from "../shared.js";

const PAGE = 200;

export async function render({ main, params, query, signal, mark }) {
  const { cluster, ref, from, to } = params;
  const filter = { port: query.port, protocol: query.protocol };
  const url = path`/v1/clusters/${cluster}/snapshots/${ref}/connectivity/between`;
  const page = await api(url, { query: { from, to, ...filter, limit: PAGE }, signal });
  const filterText = filter.port || filter.protocol ? ` (only ${[filter.protocol, filter.port].filter(Boolean).join(" ")})` : "";
  append(main, [
    h("p", {}, h("a", { href: clusterLink(cluster, ref, "matrix", [], filter) }, "← the matrix")),
    h("h1", {}, `${groupLabel(from)} → ${groupLabel(to)}`),
    h("p", { class: "muted" }, `${plural(page.total, "workload connection")}${filterText}. Open a row for its pod pairs and the rules that decide them.`),
  ]);
  const tbody = h("tbody", {});
  const table = h("table", { class: "data", id: "pairs" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "from"), h("th", { scope: "col" }, "to"), h("th", { scope: "col" }, "ports"), h("th", { scope: "col" }, "pods"), h("th", { scope: "col" }, "why"))),
    tbody);
  main.append(table);
  const more = h("p", {});
  main.append(more);
  const add = (connections) => connections.forEach((c) => tbody.append(...rows(cluster, ref, c, filter)));
  add(page.connections);
  let cursor = page.next_cursor;
  const showMore = () => {
    more.replaceChildren();
    if (!cursor) return;
    const button = h("button", { type: "button", class: "secondary" }, `Show ${Math.min(PAGE, page.total - tbody.querySelectorAll("tr.pair").length)} more`);
    button.addEventListener("click", async () => {
      button.disabled = true;
      const next = await api(url, { query: { from, to, ...filter, limit: PAGE, cursor } });
      add(next.connections);
      cursor = next.next_cursor;
      showMore();
    });
    more.append(button);
  };
  showMore();
  mark("drill-down");
}

function rows(cluster, ref, connection, filter) {
  const source = endpointQuery(connection.from);
  const target = endpointQuery(connection.to);
  const detail = h("tr", { class: "sub", hidden: true }, h("td", { colspan: 5 }));
  const queryable = source && target;
  const toggle = h("button", { type: "button", class: "secondary", "aria-expanded": "false", disabled: !queryable,
    title: queryable ? "the pod pairs of these two endpoints" : "no single address to ask about" }, "pod pairs");
  toggle.addEventListener("click", async () => {
    const open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", String(!open));
    detail.hidden = open;
    if (open || detail.dataset.loaded) return;
    detail.dataset.loaded = "1";
    const cellNode = detail.firstChild;
    cellNode.replaceChildren(spinner("pod pairs"));
    try {
      const port = filter.port ? Number(filter.port) : null;
      const verdict = await api(path`/v1/clusters/${cluster}/snapshots/${ref}/reachability`, {
        body: { from: source, to: target, port, protocol: filter.protocol || null },
      });
      cellNode.replaceChildren(podPairs(cluster, ref, verdict, port, filter.protocol));
    } catch (error) {
      cellNode.replaceChildren(errorBox(error));
    }
  });
  const explainQuery = { from: source, to: target, port: filter.port, protocol: filter.protocol };
  return [
    h("tr", { class: "pair" },
      h("td", { class: "mono" }, endpointText(connection.from)),
      h("td", { class: "mono" }, endpointText(connection.to)),
      h("td", {}, portsText(connection.ports)),
      h("td", {}, toggle),
      h("td", {}, queryable ? h("a", { href: clusterLink(cluster, ref, "explain", [], explainQuery) }, "explain") : null)),
    detail,
  ];
}

function podPairs(cluster, ref, verdict, port, protocol) {
  const allowed = verdict.pairs.filter((p) => p.allowed || p.ports.length);
  return h("div", {},
    h("p", { class: "small" }, `${plural(verdict.pair_count, "pod pair")}${verdict.pair_count > verdict.pairs.length ? ` (the first ${verdict.pairs.length} shown)` : ""}, ${allowed.length} allowed here.`),
    h("table", { class: "data pod-pairs" },
      h("thead", {}, h("tr", {}, h("th", {}, "from pod"), h("th", {}, "to pod"), h("th", {}, "allowed ports"), h("th", {}, ""))),
      h("tbody", {}, verdict.pairs.map((p) => h("tr", {},
        h("td", { class: "mono" }, p.from), h("td", { class: "mono" }, p.to),
        h("td", {}, p.ports.length ? portsText(p.ports) : h("span", { class: "badge bad" }, "denied")),
        h("td", {}, h("a", { href: clusterLink(cluster, ref, "explain", [], { from: p.from, to: p.to, port, protocol }) }, "explain")))))));
}
