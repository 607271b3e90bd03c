// Page 4: what changed between two versions of a cluster, or two clusters.

import { api, path } from "../api.js";
import { append, field, h } from "../dom.js";
import { diffView } from "../diffview.js";
import { link } from "../shared.js";

export async function render({ main, params, query, signal, mark }) {
  const cluster = params.cluster || null;
  const { items: clusters } = await api("/v1/clusters", { signal });
  append(main, [h("h1", {}, cluster ? `What changed in ${cluster}` : "What changed between two clusters")]);
  let base = query.base;
  let head = query.head;
  let versions = [];
  if (cluster) {
    const page = await api(path`/v1/clusters/${cluster}/snapshots`, { query: { limit: 100 }, signal });
    versions = page.items.map((s) => s.version);
    if (!head && versions.length) head = String(versions[0]);
    if (!base && versions.length > 1) base = String(versions[1]);
  }
  main.append(form(cluster, clusters, versions, base, head));
  if (!base || !head) {
    main.append(h("p", { class: "notice" }, cluster ? "This cluster has a single version: upload another, or compare with another cluster." : "Pick two snapshots: CLUSTER@VERSION (or CLUSTER@latest)."));
    mark("diff");
    return;
  }
  const diff = cluster
    ? await api(path`/v1/clusters/${cluster}/diff`, { query: { base, head }, signal })
    : await api("/v1/diff", { query: { base, head }, signal });
  const sides = cluster
    ? { base: { cluster, ref: base }, head: { cluster, ref: head } }
    : { base: splitRef(base), head: splitRef(head) };
  main.append(h("p", { class: "muted" }, `${diff.base.cluster} version ${diff.base.version} → ${diff.head.cluster} version ${diff.head.version}, ${diff.granularity} granularity`));
  main.append(diffView(diff, sides));
  mark("diff");
}

function splitRef(text) {
  const at = text.lastIndexOf("@");
  return { cluster: text.slice(0, at), ref: text.slice(at + 1) || "latest" };
}

function form(cluster, clusters, versions, base, head) {
  const make = (id, value) => {
    if (cluster) {
      const select = h("select", { id }, versions.map((v) => h("option", { value: String(v) }, `version ${v}`)), h("option", { value: "latest" }, "latest"));
      select.value = value || "";
      return select;
    }
    const options = h("datalist", { id: `${id}-list` }, clusters.map((c) => h("option", { value: `${c.name}@latest` })));
    const input = h("input", { id, value: value || "", placeholder: "cluster@version", list: `${id}-list`, spellcheck: "false" });
    return h("span", {}, input, options);
  };
  const baseField = make("d-base", base);
  const headField = make("d-head", head);
  const value = (node) => (node.tagName === "SELECT" ? node.value : node.querySelector("input").value.trim());
  const node = h("form", { class: "form-grid", "aria-label": "Which snapshots" },
    field("Base", baseField.tagName === "SELECT" ? baseField : baseField.querySelector("input")),
    field("Head", headField.tagName === "SELECT" ? headField : headField.querySelector("input")),
    baseField.tagName === "SELECT" ? null : [baseField.querySelector("datalist"), headField.querySelector("datalist")],
    h("button", { type: "submit" }, "Compare"),
    cluster ? h("a", { href: link("/diff", { base: base ? `${cluster}@${base}` : "", head: head ? `${cluster}@${head}` : "" }) }, "compare with another cluster…") : null);
  node.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = link(cluster ? `/c/${cluster}/diff` : "/diff", { base: value(baseField), head: value(headField) });
  });
  return node;
}
