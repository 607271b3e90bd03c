// Page 5: lint findings by severity, each with its fix and a link to the object.

import { api, path } from "../api.js";
import { append, h } from "../dom.js";
import { endpointText, plural } from "../format.js";
import { clusterLink } from "../shared.js";

const SEVERITIES = [["error", "Errors"], ["warning", "Warnings"], ["info", "Information"]];

export async function render({ main, params, signal, mark }) {
  const { cluster, ref } = params;
  const report = await api(path`/v1/clusters/${cluster}/snapshots/${ref}/lint`, { signal });
  const summary = report.summary || {};
  append(main, [
    h("h1", {}, `Lint — ${cluster}, ${ref === "latest" ? "latest version" : `version ${ref}`}`),
    h("div", { class: "cards" },
      SEVERITIES.map(([key, title]) => h("a", { class: `card ${summary[key] ? (key === "error" ? "bad" : key === "warning" ? "warn" : "") : "ok"}`, href: `#lint-${key}`, onclick: (e) => { e.preventDefault(); document.getElementById(`lint-${key}`)?.scrollIntoView(); } },
        h("div", { class: "n" }, String(summary[key] || 0)), h("div", {}, title))),
      report.suppressed ? h("div", { class: "card" }, h("div", { class: "n" }, String(report.suppressed)), h("div", {}, "suppressed")) : null),
  ]);
  if (!report.findings.length) {
    append(main, [h("p", { class: "notice" }, "No finding: no policy mistake that netreach knows of.")]);
  }
  for (const [key, title] of SEVERITIES) {
    const findings = report.findings.filter((f) => f.severity === key);
    if (!findings.length) continue;
    append(main, [h("section", { "aria-labelledby": `lint-${key}` },
      h("h2", { id: `lint-${key}`, tabindex: "-1" }, `${title} (${findings.length})`),
      findings.map((f) => finding(cluster, ref, f)))]);
  }
  mark("lint");
}

function objectLink(cluster, ref, object, field) {
  const href = clusterLink(cluster, ref, "object", [object.kind, object.namespace || "_", object.name], field ? { path: field } : {});
  return h("a", { href }, endpointText(object));
}

function finding(cluster, ref, f) {
  const others = (f.objects || []).filter((o) => endpointText(o) !== endpointText(f.object));
  return h("article", { class: `panel finding ${f.severity}`, "aria-label": `${f.code} ${f.check}` },
    h("h3", {}, h("span", { class: `badge ${f.severity}` }, f.severity), " ", h("code", {}, f.code), " ", f.check),
    h("p", {}, f.message),
    h("p", { class: "small" }, "Object: ", objectLink(cluster, ref, f.object, f.field),
      others.length ? [" · also: ", others.map((o, i) => [i ? ", " : "", objectLink(cluster, ref, o)])] : null),
    f.suggestion ? h("div", {}, h("strong", {}, "Fix"), h("pre", {}, f.suggestion)) : null,
    f.affected ? h("p", { class: "small muted" }, `Affects ${plural(f.affected.count, "endpoint")}`,
      f.affected.sample?.length ? `: ${f.affected.sample.map(endpointText).join(", ")}${f.affected.count > f.affected.sample.length ? ", …" : ""}` : "") : null);
}
