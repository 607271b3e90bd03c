// Page 1: every cluster, its versions as a timeline, the latest lint status.

import { api, path } from "../api.js";
import { append, h, spinner } from "../dom.js";
import { countsText, plural, when } from "../format.js";
import { clusterLink, errorBox, link } from "../shared.js";

const SHOWN_VERSIONS = 12;

export async function render({ main, signal, mark }) {
  const { items } = await api("/v1/clusters", { signal });
  append(main, [h("h1", {}, "Clusters")]);
  if (items.length === 0) {
    append(main, [h("p", { class: "notice" }, "No cluster is stored yet. Upload manifests: ",
      h("code", {}, "curl -X POST --data-binary @manifests.yaml -H 'Content-Type: application/yaml' …/v1/clusters/NAME/snapshots"))]);
    mark("clusters");
    return;
  }
  const sections = items.map((cluster) => {
    const section = h("section", { class: "cluster panel", "aria-labelledby": `c-${cluster.name}` });
    append(section, [
      h("header", {},
        h("h2", { id: `c-${cluster.name}` }, cluster.name),
        h("span", { class: "muted" }, plural(cluster.snapshot_count, "version"),
          cluster.latest_version ? `, latest ${cluster.latest_version}` : ", every version deleted"),
        h("span", { class: "lint-status", "aria-live": "polite" }, cluster.latest_version ? spinner("lint") : null)),
    ]);
    const body = h("div", {}, spinner("versions"));
    section.append(body);
    return { cluster, section, body };
  });
  append(main, sections.map((s) => s.section));
  mark("clusters");
  await Promise.all(sections.map((s) => fill(s, signal)));
}

async function fill({ cluster, section, body }, signal) {
  const status = section.querySelector(".lint-status");
  if (cluster.latest_version) {
    api(path`/v1/clusters/${cluster.name}/snapshots/latest/lint`, { signal })
      .then((report) => status.replaceChildren(lintBadge(cluster.name, report)))
      .catch((error) => error.name !== "AbortError" && status.replaceChildren(h("span", { class: "badge neutral" }, `lint: ${error.message}`)));
  }
  try {
    const page = await api(path`/v1/clusters/${cluster.name}/snapshots`, { query: { limit: SHOWN_VERSIONS }, signal });
    body.replaceChildren(timeline(cluster, page));
  } catch (error) {
    if (error.name === "AbortError") throw error;
    body.replaceChildren(errorBox(error));
  }
}

function lintBadge(cluster, report) {
  const { error = 0, warning = 0, info = 0 } = report.summary || {};
  const cls = error ? "bad" : warning ? "warn" : "ok";
  const text = error || warning || info ? `${plural(error, "error")}, ${plural(warning, "warning")}, ${info} info` : "lint clean";
  return h("a", { class: `badge ${cls}`, href: clusterLink(cluster, "latest", "lint"), title: "latest version's lint findings" }, text);
}

function sparkline(versions) {
  const points = [...versions].reverse();
  if (points.length < 2) return null;
  const width = 220, height = 36, pad = 4;
  const max = Math.max(...points.map((s) => s.object_count), 1);
  const x = (i) => pad + (i * (width - 2 * pad)) / (points.length - 1);
  const y = (s) => height - pad - (s.object_count / max) * (height - 2 * pad);
  const d = points.map((s, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(s).toFixed(1)}`).join(" ");
  return h("svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `objects per version, from ${points[0].object_count} to ${points[points.length - 1].object_count}` },
    h("path", { d }), ...points.map((s, i) => h("circle", { cx: x(i), cy: y(s), r: 2.5 }, h("title", {}, `version ${s.version}: ${s.object_count} objects`))));
}

function timeline(cluster, page) {
  const versions = page.items;
  if (versions.length === 0) return h("p", { class: "muted" }, "No versions.");
  const list = h("ol", { class: "timeline", "aria-label": `versions of ${cluster.name}, newest first` });
  versions.forEach((s, i) => {
    const previous = versions[i + 1];
    list.append(h("li", { class: s.version === cluster.latest_version ? "latest" : null },
      h("div", { class: "version-line" },
        h("span", { class: "v" }, `version ${s.version}`),
        h("time", { datetime: s.created_at }, when(s.created_at)),
        s.source ? h("span", { class: "muted small" }, s.source) : null,
        s.warnings.length ? h("span", { class: "badge warn" }, plural(s.warnings.length, "warning")) : h("span", { class: "badge neutral" }, "no warnings"),
        h("span", { class: "links" },
          h("a", { href: clusterLink(cluster.name, s.version, "matrix") }, "who talks to whom"),
          h("a", { href: clusterLink(cluster.name, s.version, "lint") }, "lint"),
          previous ? h("a", { href: link(`/c/${cluster.name}/diff`, { base: previous.version, head: s.version }) }, `changes since ${previous.version}`) : null)),
      h("div", { class: "counts" }, `${plural(s.object_count, "object")}: ${countsText(s.counts)}`),
      s.warnings.length ? h("details", {}, h("summary", {}, "warnings"), h("ul", {}, s.warnings.map((w) => h("li", {}, w)))) : null));
  });
  return h("div", {}, sparkline(versions), list,
    page.next_cursor ? h("p", { class: "muted small" }, `Only the newest ${versions.length} versions are shown.`) : null);
}
