// Links between pages and the error box every page shows instead of going blank.

import { ApiError, getToken } from "./api.js";
import { append, clear, h } from "./dom.js";

/** "#/c/demo/2/matrix?port=80" for a route path and query. */
export function link(route, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "" && value !== false) params.set(key, value);
  }
  const encoded = route.split("/").map((part) => (part.startsWith(":") ? part : encodeURIComponent(decodeURIComponent(part)))).join("/");
  const qs = params.toString();
  return `#${encoded}${qs ? `?${qs}` : ""}`;
}

export function clusterLink(cluster, ref, page, extra = [], query = {}) {
  return link(["", "c", cluster, ref, page, ...extra].map(String).join("/"), query);
}

/** Show an error in place of a page: never a blank screen. */
export function showError(target, error) {
  clear(target);
  append(target, [errorBox(error)]);
  if (error instanceof ApiError && error.status === 401) document.getElementById("token-input").focus();
}

export function errorBox(error) {
  if (!(error instanceof ApiError)) {
    return h("div", { class: "error", role: "alert" }, h("h2", {}, "Something went wrong in this page"), h("p", {}, String(error && error.message ? error.message : error)));
  }
  const titles = {
    0: "The server cannot be reached",
    401: "This server needs a valid API token",
    403: "This token may not do that",
    404: "Not found",
    422: "The server refused the request",
  };
  const hint = error.status === 401
    ? (getToken() ? "The token in the field above was refused. Check it, or ask for a new one (`netreach token create NAME --scope read`)." : "Enter a token in the field above (`netreach token create NAME --scope read` prints one).")
    : null;
  return h("div", { class: "error", role: "alert", "data-status": String(error.status), "data-code": error.code },
    h("h2", {}, `${titles[error.status] || `Error ${error.status}`} (${error.code})`),
    h("p", {}, error.message),
    hint ? h("p", {}, hint) : null,
    error.details && error.details.length ? h("details", {}, h("summary", {}, "details"), h("pre", {}, JSON.stringify(error.details, null, 2))) : null);
}

