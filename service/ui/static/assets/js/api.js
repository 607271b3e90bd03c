// The public API, called exactly as any dashboard would: fetch, JSON, a bearer token.

const TOKEN_KEY = "netreach.token";
/** Where the API lives: the page is served at <base>/ui/. */
export const BASE = location.pathname.replace(/\/ui(\/.*)?$/, "");

export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Encode a path: api`/v1/clusters/${name}` keeps the slashes of the template only. */
export function path(strings, ...values) {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i]) : ""), "");
}

/** GET (or POST with `body`) a JSON endpoint; throws ApiError with the server's envelope. */
export async function api(url, { query, body, signal, method } = {}) {
  const target = new URL(BASE + url, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) target.searchParams.append(key, item);
  }
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(target, {
      method: method || (body === undefined ? "GET" : "POST"),
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "omit",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "unreachable", `The server did not answer (${error.message}). Is netreach running?`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const envelope = data && data.error ? data.error : {};
    throw new ApiError(
      response.status,
      envelope.code || `http_${response.status}`,
      envelope.message || `${response.status} ${response.statusText}`,
      envelope.details || [],
    );
  }
  return data;
}

/** Every page of a paginated list (`items` + `next_cursor`), up to `max` items. */
export async function allPages(url, { query = {}, signal, max = 10000 } = {}) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(url, { query: { ...query, cursor }, signal });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
