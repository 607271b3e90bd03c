// A stored object's YAML (GET .../objects), with the rule a verdict or a finding names
// highlighted and scrolled into view.

import { ApiError, api, path } from "../api.js";
import { append, h } from "../dom.js";
import { toYaml } from "../yaml.js";

const PAGE = 1000;

export async function render({ main, params, query, signal, mark }) {
  const { cluster, ref, kind, name } = params;
  const namespace = params.namespace === "_" ? null : params.namespace;
  const found = await findObject(cluster, ref, kind, namespace, name, signal);
  const label = `${namespace ? `${namespace}/` : ""}${kind}/${name}`;
  append(main, [
    h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => history.back() }, "← back")),
    h("h1", {}, label),
    h("p", { class: "muted" }, `As stored in ${cluster}, ${ref === "latest" ? "the latest version" : `version ${ref}`}`, query.path ? ` · highlighted: ${query.path}` : ""),
  ]);
  const { lines, spans } = toYaml(found.body);
  const span = query.path ? spans.get(query.path) || nearest(spans, query.path) : null;
  const pre = h("pre", { class: "yaml", tabindex: "0", "aria-label": `YAML of ${label}` }, lines.map((line, i) => h("span", {
    class: span && i >= span[0] && i <= span[1] ? "line hl" : "line",
  }, line.lead, line.key === null ? null : h("span", { class: "key" }, `${line.key}:`), line.key !== null && line.text !== "" ? " " : "", line.text)));
  main.append(pre);
  if (query.path && !span) main.append(h("p", { class: "notice" }, `This version of the object has no ${query.path}.`));
  const first = pre.querySelector(".hl");
  if (first) first.scrollIntoView({ block: "center" });
  mark("object");
}

/** The longest prefix of `wanted` that the object has (a rule without peers has no from[]). */
function nearest(spans, wanted) {
  let candidate = wanted;
  while (candidate.includes(".") || candidate.includes("[")) {
    candidate = candidate.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
    if (spans.has(candidate)) return spans.get(candidate);
  }
  return null;
}

async function findObject(cluster, ref, kind, namespace, name, signal) {
  let cursor = null;
  do {
    const page = await api(path`/v1/clusters/${cluster}/snapshots/${ref}/objects`, {
      query: { kind, namespace, limit: PAGE, cursor }, signal,
    });
    const match = page.items.find((o) => o.name === name && (namespace === null || o.namespace === namespace));
    if (match) return match;
    cursor = page.next_cursor;
  } while (cursor);
  throw new ApiError(404, "not_found", `${cluster} ${ref === "latest" ? "latest" : `version ${ref}`} holds no ${kind} ${namespace ? `${namespace}/` : ""}${name}`);
}
