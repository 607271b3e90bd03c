// Page 4, what-if: paste a change (manifests to add or replace, objects to delete) and see
// the diff it would make; nothing is stored.

import { api, path } from "../api.js";
import { append, field, h } from "../dom.js";
import { diffView } from "../diffview.js";
import { errorBox } from "../shared.js";

const DRAFT = "netreach.what-if";

export async function render({ main, params, mark }) {
  const { cluster, ref } = params;
  const draft = JSON.parse(sessionStorage.getItem(DRAFT) || "{}");
  const yaml = h("textarea", { id: "w-yaml", spellcheck: "false", class: "mono", placeholder: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n…" }, draft.yaml || "");
  const deletions = h("textarea", { id: "w-delete", spellcheck: "false", class: "mono", style: { "min-height": "4rem" }, placeholder: "NetworkPolicy shop/api-from-web\n(one Kind namespace/name a line)" }, draft.deletions || "");
  const result = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Show what would change");
  const form = h("form", { "aria-label": "Proposed change" },
    field("Manifests to add or replace (YAML)", yaml),
    field("Objects to delete", deletions),
    h("p", {}, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    sessionStorage.setItem(DRAFT, JSON.stringify({ yaml: yaml.value, deletions: deletions.value }));
    button.disabled = true;
    result.replaceChildren(h("p", { class: "muted" }, "Computing…"));
    try {
      const started = performance.now();
      const body = { manifests_yaml: yaml.value.trim() ? yaml.value : null, delete: parseDeletions(deletions.value) };
      const diff = await api(path`/v1/clusters/${cluster}/snapshots/${ref}/what-if`, { body });
      const sides = { base: { cluster, ref }, head: null };
      result.replaceChildren(h("h2", {}, "If this change were applied"), diffView(diff, sides));
      window.__netreach.timings["what-if"] = Math.round(performance.now() - started);
    } catch (error) {
      result.replaceChildren(errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  append(main, [h("h1", {}, `What if — ${cluster}, ${ref === "latest" ? "latest version" : `version ${ref}`}`),
    h("p", { class: "muted" }, "Nothing is stored: the server answers with the diff this change would make."), form, result]);
  mark("what-if");
}

/** "NetworkPolicy shop/api-from-web" lines -> [{kind, namespace, name}]. */
export function parseDeletions(text) {
  return text.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
    const [kind, target = ""] = line.split(/\s+/, 2);
    const [namespace, name] = target.includes("/") ? target.split("/", 2) : [null, target];
    return { kind, namespace, name };
  });
}
