// An object as block YAML, line by line, with the path of every node
// ("spec.ingress[0].from[1]") so a rule can be highlighted where it is written.

const PLAIN = /^[A-Za-z_/.][A-Za-z0-9_ ./:@-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const text = String(value);
  if (text === "" || !PLAIN.test(text) || RESERVED.test(text) || /: | #|:$/.test(text) || text !== text.trim()) {
    return JSON.stringify(text);
  }
  return text;
}

function key(k) {
  return PLAIN.test(k) && !RESERVED.test(k) && !/: /.test(k) ? k : JSON.stringify(k);
}

function isEmpty(value) {
  return (Array.isArray(value) && value.length === 0) || (value && typeof value === "object" && Object.keys(value).length === 0);
}

function inline(value) {
  return Array.isArray(value) ? "[]" : "{}";
}

/** {lines: [{indent, key, text}], spans: Map(path -> [firstLine, lastLine])} */
export function toYaml(root) {
  const lines = [];
  const spans = new Map();
  const mark = (path, first) => spans.set(path, [first, lines.length - 1]);

  function mapping(obj, indent, path, prefix) {
    // `prefix` is the "- " of a sequence item: it goes on the first line.
    let first = true;
    for (const [k, v] of Object.entries(obj)) {
      const lead = first && prefix ? prefix : " ".repeat(indent);
      const childPath = path ? `${path}.${k}` : k;
      const start = lines.length;
      if (v !== null && typeof v === "object" && !isEmpty(v)) {
        lines.push({ lead, key: key(k), text: "" });
        if (Array.isArray(v)) sequence(v, indent, childPath);
        else mapping(v, indent + 2, childPath, null);
      } else {
        lines.push({ lead, key: key(k), text: isEmpty(v) ? inline(v) : scalar(v) });
      }
      mark(childPath, start);
      first = false;
    }
  }

  function sequence(list, indent, path) {
    list.forEach((item, i) => {
      const itemPath = `${path}[${i}]`;
      const start = lines.length;
      const prefix = `${" ".repeat(indent)}- `;
      if (item !== null && typeof item === "object" && !isEmpty(item)) {
        if (Array.isArray(item)) {
          lines.push({ lead: prefix.trimEnd(), key: null, text: "" });
          sequence(item, indent + 2, itemPath);
        } else {
          mapping(item, indent + 2, itemPath, prefix);
        }
      } else {
        lines.push({ lead: prefix, key: null, text: isEmpty(item) ? inline(item) : scalar(item) });
      }
      mark(itemPath, start);
    });
  }

  if (Array.isArray(root)) sequence(root, 0, "");
  else mapping(root || {}, 0, "", null);
  return { lines, spans };
}

/** The text of a line (for tests and copying). */
export function lineText(line) {
  return `${line.lead}${line.key === null ? "" : `${line.key}:`}${line.key !== null && line.text !== "" ? " " : ""}${line.text}`;
}
