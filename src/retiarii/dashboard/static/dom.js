// DOM building, formatting and API access shared by the pages.
//
// Rule of the dashboard: experiment data (labels, candidates, names, errors, logs) only ever
// reaches the page as text: through el() (text nodes / textContent) or, for charts, through
// plotlyText(). Nothing here uses innerHTML.

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false));
  return node;
}

// Plotly renders a small HTML-like markup in chart text and decodes entities; escaping the three
// characters makes it show the string exactly as written (and never as markup).
export function plotlyText(value) {
  return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function fmtValue(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function fmtNum(x) {
  if (x == null || Number.isNaN(x)) return "–";
  if (typeof x !== "number") return String(x);
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(3);
  return String(+x.toPrecision(5));
}

export function fmtDuration(seconds) {
  if (seconds == null) return "–";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(r)}` : `${pad(m)}:${pad(r)}`;
}

export function fmtTime(unix) {
  return unix == null ? "–" : new Date(unix * 1000).toLocaleString();
}

export function statusPill(status) {
  return el("span", { class: `pill s-${String(status).toLowerCase()}`, text: status });
}

export function section(title, ...children) {
  return el("section", { class: "card" }, el("h2", { text: title }), ...children);
}

export function keyValueTable(rows, cls) {
  return el(
    "table",
    { class: `kv ${cls || ""}` },
    el("tbody", {}, rows.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", {}, v)))),
  );
}

// The architecture of a sample as a label -> value table.
export function sampleTable(sample) {
  const rows = Object.entries(sample || {}).map(([label, value]) => [
    label,
    el("code", { text: fmtValue(value) }),
  ]);
  return rows.length
    ? keyValueTable(rows, "sample")
    : el("p", { class: "muted", text: "(empty sample)" });
}

// A JSON value written as a Python literal (True/False/None; keys sorted like json.dumps).
export function pyLiteral(value) {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number" || typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pyLiteral).join(", ")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${pyLiteral(value[k])}`).join(", ")}}`;
}

// Python that rebuilds the architecture, as the console and `retiarii export -f code` print it:
// the import line and the constructor call come from the experiment's info when it has them. In
// a joint search the evaluator's own labels are left out of fixed_arch: they go to evaluator.freeze.
export function fixedArchSnippet(sample, info) {
  const name = info?.model;
  const cls = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(name || "") ? name : "Model";
  const importLine = info?.model_import || `# import ${cls} from the module that defines it`;
  const call = info?.model_call || `${cls}()`;
  const labels = info?.hyperparameter_labels;
  const hyper = new Set(Array.isArray(labels) ? labels : []);
  const arch = Object.fromEntries(Object.entries(sample || {}).filter(([k]) => !hyper.has(k)));
  const note = Object.keys(sample || {}).some((k) => hyper.has(k))
    ? `# evaluator hyperparameters: evaluator.freeze(${pyLiteral(sample)})
` : "";
  return `from retiarii import fixed_arch
${importLine}

with fixed_arch(${pyLiteral(arch)}):
    model = ${call}
${note}`;
}

// "1 label", "3 labels".
export function plural(n, word, many) {
  return `${n} ${n === 1 ? word : many || `${word}s`}`;
}

// Unix seconds of a key like "run_started_at" or "created_at" shown as a date.
export function isTimestampKey(key) {
  return /(^|_)(at|time)$/.test(key);
}

export function codeBlock(text) {
  const pre = el("pre", { class: "code" }, el("code", { text }));
  const copy = el("button", {
    class: "copy",
    type: "button",
    text: "Copy",
    onclick: () => {
      navigator.clipboard?.writeText(text).then(
        () => (copy.textContent = "Copied"),
        () => (copy.textContent = "Copy failed"),
      );
    },
  });
  return el("div", { class: "codewrap" }, copy, pre);
}

export class HttpError extends Error {
  constructor(url, status, message) {
    super(message || `${url}: HTTP ${status}`);
    this.status = status;
  }
}

export async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
  if (!response.ok) {
    let message = `${url}: HTTP ${response.status}`;
    try {
      const body = await response.json();
      if (body && body.error) message = body.error;
    } catch (_) {
      /* not JSON */
    }
    throw new HttpError(url, response.status, message);
  }
  return response.json();
}

// The metric to show for a trial: its final value (the number that is optimised).
export function metricOf(trial) {
  return trial.final_value == null ? null : trial.final_value;
}

// The values a label can take, in the search space's order (null: any subset of inputs).
export function labelDomain(spaceLabel) {
  if (!spaceLabel) return [];
  if (spaceLabel.type === "input_choice") return null; // subsets: the values seen are the domain
  return Array.isArray(spaceLabel.candidates) ? spaceLabel.candidates : [];
}
