// Page 3: may A reach B? The verdict with each tier's effects, every rule linked to the
// policy's stored YAML with the rule highlighted.

import { api, path } from "../api.js";
import { append, field, h } from "../dom.js";
import { plural, portsText } from "../format.js";
import { policyRef, rulePath, ruleText } from "../rules.js";
import { clusterLink } from "../shared.js";

export async function render({ main, params, query, signal, mark }) {
  const { cluster, ref } = params;
  append(main, [h("h1", {}, "Explain a pair"), form(cluster, ref, query)]);
  if (!query.from || !query.to) {
    append(main, [h("p", { class: "muted" }, "Endpoints: a pod (namespace/pod), a workload (namespace/Deployment/name), a Service (namespace/Service/name) or an IP address. Leave the port empty to list every allowed port.")]);
    mark("explain");
    return;
  }
  const port = query.port ? (/^\d+$/.test(query.port) ? Number(query.port) : query.port) : null;
  const verdict = await api(path`/v1/clusters/${cluster}/snapshots/${ref}/reachability`, {
    body: { from: query.from, to: query.to, port, protocol: query.protocol || null }, signal,
  });
  main.append(verdictView(cluster, ref, verdict, query));
  mark("explain");
}

function form(cluster, ref, query) {
  const from = h("input", { id: "x-from", name: "from", value: query.from || "", placeholder: "shop/Deployment/web", required: true, spellcheck: "false" });
  const to = h("input", { id: "x-to", name: "to", value: query.to || "", placeholder: "shop/Service/api or 10.0.0.5", required: true, spellcheck: "false" });
  const port = h("input", { id: "x-port", name: "port", value: query.port || "", placeholder: "80, http, or empty", style: { width: "9rem" } });
  const protocol = h("select", { id: "x-protocol", name: "protocol" }, ["", "TCP", "UDP", "SCTP"].map((p) => h("option", { value: p }, p || "any")));
  protocol.value = query.protocol || "";
  const node = h("form", { class: "form-grid", "aria-label": "Which pair" },
    field("From", from), field("To", to), field("Port", port), field("Protocol", protocol),
    h("button", { type: "submit" }, "Explain"));
  node.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = clusterLink(cluster, ref, "explain", [], { from: from.value.trim(), to: to.value.trim(), port: port.value.trim(), protocol: protocol.value });
  });
  return node;
}

function verdictView(cluster, ref, verdict, query) {
  const state = verdict.allowed ? ["ok", "Allowed"] : verdict.partially_allowed ? ["warn", "Allowed for some pod pairs"] : ["bad", "Denied"];
  const explanation = verdict.explanation;
  return h("section", { "aria-label": "Verdict", id: "verdict" },
    h("div", { class: "verdict panel" },
      h("span", { class: `big ${state[0]}`, id: "verdict-state" }, state[1]),
      h("div", {},
        h("div", {}, h("code", {}, verdict.from), " → ", h("code", {}, verdict.to),
          verdict.port !== null ? ` on ${verdict.protocol || ""} ${verdict.port}` : " (any port)"),
        h("div", { class: "muted" }, verdict.ports.length ? `allowed: ${portsText(verdict.ports)}` : "no port is allowed"),
        verdict.notes.map((n) => h("div", { class: "small" }, n)))),
    explanation
      ? h("div", {},
        h("h2", {}, verdict.pairs.length > 1 ? `Why, for ${verdict.pairs[0].from} → ${verdict.pairs[0].to}` : "Why"),
        h("div", { class: "sides" }, side(cluster, ref, "Egress of the source", explanation.egress), side(cluster, ref, "Ingress of the destination", explanation.ingress)))
      : h("p", { class: "notice" }, "No pod pair to explain (an empty workload or a Service without backends)."),
    verdict.pairs.length > 1 ? pairsTable(cluster, ref, verdict, query) : null);
}

function side(cluster, ref, title, s) {
  const isolation = !s.subject_to_policies
    ? h("span", { class: "badge neutral" }, "not subject to policies")
    : s.isolated ? h("span", { class: "badge warn" }, `isolated by ${plural(s.policies.length, "policy", "policies")}`) : h("span", { class: "badge ok" }, "not isolated: all allowed");
  return h("div", { class: "panel side" },
    h("h3", {}, title, " ", h("code", {}, s.endpoint)),
    h("p", {}, isolation, " ", h("span", { class: "muted" }, `allowed: ${portsText(s.allowed_ports)}`)),
    s.effects.length
      ? h("table", { class: "data effects" },
        h("thead", {}, h("tr", {}, h("th", {}, "tier"), h("th", {}, "rule"), h("th", {}, "ports"), h("th", {}, "action"))),
        h("tbody", {}, s.effects.map((e) => {
          const refObj = policyRef(e);
          const href = clusterLink(cluster, ref, "object", [refObj.kind, refObj.namespace || "_", refObj.name], { path: rulePath(e) });
          return h("tr", {},
            h("td", {}, e.tier),
            h("td", {}, h("a", { href, class: "rule-link" }, `${refObj.namespace ? `${refObj.namespace}/` : ""}${refObj.name}`), h("div", { class: "muted small" }, ruleText(e))),
            h("td", {}, portsText(e.ports)),
            h("td", { class: `action-${e.action}` }, e.action));
        })))
      : h("p", { class: "muted" }, s.isolated ? "No rule of the isolating policies matches this peer." : "No rule decides: the default applies."),
    s.isolated && s.policies.length
      ? h("p", { class: "small" }, "Isolating: ", s.policies.map((p, i) => [i ? ", " : "", h("a", { href: clusterLink(cluster, ref, "object", ["NetworkPolicy", p.namespace, p.name]) }, `${p.namespace}/${p.name}`)]))
      : null,
    h("p", { class: "small muted" }, s.reason));
}

function pairsTable(cluster, ref, verdict, query) {
  return h("section", {},
    h("h2", {}, `Pod pairs (${verdict.pair_count})`),
    h("table", { class: "data" },
      h("thead", {}, h("tr", {}, h("th", {}, "from"), h("th", {}, "to"), h("th", {}, "allowed ports"), h("th", {}, ""))),
      h("tbody", {}, verdict.pairs.map((p) => h("tr", {},
        h("td", { class: "mono" }, p.from), h("td", { class: "mono" }, p.to),
        h("td", {}, p.ports.length ? portsText(p.ports) : h("span", { class: "badge bad" }, "denied")),
        h("td", {}, h("a", { href: clusterLink(cluster, ref, "explain", [], { ...query, from: p.from, to: p.to }) }, "explain this pair")))))));
}
