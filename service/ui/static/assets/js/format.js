// Text for ports, endpoints and times, as the API's Kubernetes vocabulary reads.

/** [{protocol, port, endPort}] -> "TCP 80, 443, 8000-8080 · UDP 53". */
export function portsText(ports, { max = 0 } = {}) {
  if (!ports || ports.length === 0) return "no ports";
  const byProtocol = new Map();
  for (const p of ports) {
    const list = byProtocol.get(p.protocol) || [];
    list.push(p.port === undefined ? "all" : p.endPort ? `${p.port}-${p.endPort}` : String(p.port));
    byProtocol.set(p.protocol, list);
  }
  if (byProtocol.size === 3 && [...byProtocol.values()].every((l) => l.length === 1 && l[0] === "all")) return "all ports";
  let parts = [...byProtocol].map(([proto, list]) => (list.length === 1 && list[0] === "all" ? `${proto} (all)` : `${proto} ${list.join(", ")}`));
  let text = parts.join(" · ");
  if (max && text.length > max) text = `${text.slice(0, max - 1)}…`;
  return text;
}

/** An endpoint object -> "shop/Deployment/web", "shop/web-0", "0.0.0.0/0 except 10.0.0.0/8". */
export function endpointText(e) {
  if (!e) return "";
  if (typeof e === "string") return e;
  if (e.kind === "IPBlock") return e.except && e.except.length ? `${e.cidr} except ${e.except.join(", ")}` : e.cidr;
  if (e.kind === "Namespace") return e.name;
  if (e.kind === "Pod") return `${e.namespace}/${e.name}`;
  return e.namespace ? `${e.namespace}/${e.kind}/${e.name}` : `${e.kind}/${e.name}`;
}

/** What the reachability endpoint accepts for an endpoint object (null when it cannot). */
export function endpointQuery(e) {
  if (e.kind === "IPBlock") return firstAddress(e);
  return endpointText(e);
}

/** The first IPv4 address of a block that its exceptions leave (null for IPv6). */
export function firstAddress(block) {
  const [start, end] = ipv4Range(block.cidr) || [];
  if (start === undefined) return null;
  const holes = (block.except || []).map(ipv4Range).filter(Boolean).sort((a, b) => a[0] - b[0]);
  let candidate = start;
  for (const [lo, hi] of holes) if (lo <= candidate && candidate <= hi) candidate = hi + 1;
  if (candidate > end) return null;
  return [24, 16, 8, 0].map((shift) => Math.floor(candidate / 2 ** shift) % 256).join(".");
}

function ipv4Range(cidr) {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr || "");
  if (!match) return null;
  const value = match.slice(1, 5).reduce((acc, part) => acc * 256 + Number(part), 0);
  const size = 2 ** (32 - Number(match[5]));
  const start = Math.floor(value / size) * size;
  return [start, start + size - 1];
}

export function namespaceOf(e) {
  return e && e.kind !== "IPBlock" ? e.namespace || (e.kind === "Namespace" ? e.name : "default") : "IPBlock";
}

export function groupLabel(key) {
  return key === "IPBlock" ? "external" : key;
}

export function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function plural(n, word, many = `${word}s`) {
  return `${n.toLocaleString()} ${n === 1 ? word : many}`;
}

export function countsText(counts) {
  return Object.entries(counts || {}).map(([kind, n]) => `${n} ${kind}`).join(" · ") || "no objects";
}
