// Building DOM nodes without innerHTML: every text given here is inserted as text.

/** h("a", {href: "#/"}, "text", child, ...): an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const svg = SVG_TAGS.has(tag);
  const node = svg ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "style" && typeof value === "object") {
      for (const [prop, val] of Object.entries(value)) node.style.setProperty(prop, val);
    } else if (key in node && !svg && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export const SVG_NS = "http://www.w3.org/2000/svg";
const SVG_TAGS = new Set(["svg", "g", "circle", "line", "path", "text", "title", "defs", "marker", "rect", "polyline"]);

export function spinner(label = "Loading") {
  return h("span", { class: "muted" }, h("span", { class: "spinner", "aria-hidden": "true" }), " ", label, "…");
}

/** A labelled form field. */
export function field(label, control, { inline = false, hint } = {}) {
  if (!control.id) control.id = `f-${Math.random().toString(36).slice(2, 9)}`;
  return h("div", { class: inline ? "field inline" : "field" },
    h("label", { for: control.id }, label), control, hint ? h("span", { class: "muted small" }, hint) : null);
}
