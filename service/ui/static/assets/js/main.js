// The web view's shell: hash routes, the navigation, the token field, errors, timings.

import { api, getToken, path, setToken } from "./api.js";
import { append, clear, h } from "./dom.js";
import * as clusters from "./pages/clusters.js";
import * as diff from "./pages/diff.js";
import * as explain from "./pages/explain.js";
import * as graph from "./pages/graph.js";
import * as lint from "./pages/lint.js";
import * as matrix from "./pages/matrix.js";
import * as object from "./pages/object.js";
import * as pair from "./pages/pair.js";
import * as whatIf from "./pages/whatif.js";
import { clusterLink, errorBox, link, showError } from "./shared.js";

const ROUTES = [
  ["/", clusters, "clusters"],
  ["/diff", diff, "diff"],
  ["/c/:cluster/diff", diff, "diff"],
  ["/c/:cluster/:ref/matrix", matrix, "matrix"],
  ["/c/:cluster/:ref/between/:from/:to", pair, "matrix"],
  ["/c/:cluster/:ref/graph/:namespace", graph, "matrix"],
  ["/c/:cluster/:ref/explain", explain, "explain"],
  ["/c/:cluster/:ref/object/:kind/:namespace/:name", object, "object"],
  ["/c/:cluster/:ref/lint", lint, "lint"],
  ["/c/:cluster/:ref/what-if", whatIf, "what-if"],
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const banner = document.getElementById("banner");
const timingLine = document.getElementById("timing");
window.__netreach = { timings: {}, sinceNavigation: {}, ready: false };
let current = null;

function match(hashPath) {
  const parts = hashPath.split("/").filter(Boolean);
  for (const [pattern, module, section] of ROUTES) {
    const want = pattern.split("/").filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    if (want.every((w, i) => (w.startsWith(":") ? ((params[w.slice(1)] = decodeURIComponent(parts[i])), true) : w === parts[i]))) {
      return { module, section, params };
    }
  }
  return null;
}

/** Record how long a page took, from navigation to painted. */
function recordTiming(name, started) {
  requestAnimationFrame(() => setTimeout(() => {
    performance.mark(`${name}-painted`);
    const measure = performance.measure(name, { start: started, end: performance.now() });
    window.__netreach.timings[name] = Math.round(measure.duration);
    // From the browser's navigation start: the first screen as the user waits for it.
    window.__netreach.sinceNavigation[name] = Math.round(performance.now());
    timingLine.textContent = `${name} drawn in ${Math.round(measure.duration)} ms`;
  }, 0));
}

const versionsCache = new Map();
async function versionsOf(cluster, signal) {
  if (!versionsCache.has(cluster)) {
    const page = await api(path`/v1/clusters/${cluster}/snapshots`, { query: { limit: 100 }, signal });
    versionsCache.set(cluster, page.items.map((s) => s.version));
  }
  return versionsCache.get(cluster);
}

function renderNav(route, signal) {
  clear(nav);
  const { cluster, ref } = route.params;
  const item = (label, href, section) => h("a", { href, "aria-current": route.section === section ? "page" : null }, label);
  append(nav, [item("Clusters", "#/", "clusters")]);
  if (!cluster) {
    append(nav, [item("What changed", "#/diff", "diff")]);
    return;
  }
  const version = ref || "latest";
  const select = h("select", { "aria-label": "Version", id: "version-select" }, h("option", { value: "latest" }, "latest"));
  select.value = version;
  select.addEventListener("change", () => {
    const parts = location.hash.slice(1).split("?");
    const segments = parts[0].split("/");
    if (segments[1] === "c" && segments.length > 3 && segments[3] !== "diff") segments[3] = select.value;
    else segments.splice(3, 1, select.value, "matrix");
    location.hash = segments.join("/") + (parts[1] ? `?${parts[1]}` : "");
  });
  versionsOf(cluster, signal).then((versions) => {
    for (const v of versions) select.append(h("option", { value: String(v) }, `version ${v}`));
    select.value = version;
  }).catch(() => {});
  append(nav, [
    h("span", { class: "crumb" }, cluster),
    select,
    item("Who talks to whom", clusterLink(cluster, version, "matrix"), "matrix"),
    item("Explain", clusterLink(cluster, version, "explain"), "explain"),
    item("What changed", link(`/c/${cluster}/diff`), "diff"),
    item("What-if", clusterLink(cluster, version, "what-if"), "what-if"),
    item("Lint", clusterLink(cluster, version, "lint"), "lint"),
  ]);
}

async function route() {
  const hash = location.hash;
  const [hashPath, queryString] = (hash.slice(1) || "/").split("?");
  const found = match(hashPath || "/");
  if (current) current.abort();
  const controller = new AbortController();
  current = controller;
  banner.hidden = true;
  window.__netreach.ready = false;
  const started = performance.now();
  if (!found) {
    clear(main);
    append(main, [h("h1", {}, "No such page"), h("p", {}, h("a", { href: "#/" }, "Back to the clusters"))]);
    done(controller, hash);
    return;
  }
  renderNav(found, controller.signal);
  clear(main);
  const ctx = {
    main,
    params: found.params,
    query: Object.fromEntries(new URLSearchParams(queryString || "")),
    signal: controller.signal,
    mark: (name) => recordTiming(name, started),
  };
  try {
    await found.module.render(ctx);
  } catch (error) {
    if (error && error.name === "AbortError") return;
    showError(main, error);
  }
  done(controller, hash);
}

/** Tell tests and tools which route is on screen: the hash it was drawn for (the address
 * may already have moved on, its hashchange event not yet dispatched). */
function done(controller, hash) {
  if (current !== controller) return;
  window.__netreach.ready = true;
  window.__netreach.rendered = hash;
  if (document.activeElement === document.body) main.focus({ preventScroll: true });
}

function initToken() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  input.value = getToken();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    versionsCache.clear();
    route();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    setToken("");
    input.value = "";
    versionsCache.clear();
    route();
  });
}

window.addEventListener("unhandledrejection", (event) => {
  if (event.reason && event.reason.name === "AbortError") return;
  clear(banner);
  append(banner, [errorBox(event.reason)]);
  banner.hidden = false;
});
document.querySelector("[data-skip]").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", route);
initToken();
route();
