// The trial table (sortable, filterable) and the page of one trial.

import { chartBox, plot, trialCurveFigure } from "./charts.js";
import {
  clear, codeBlock, el, fixedArchSnippet, fmtDuration, fmtNum, fmtTime, fmtValue, keyValueTable,
  plural, sampleTable, section, statusPill,
} from "./dom.js";

const MAX_LABEL_COLUMNS = 6;
const MAX_ROWS = 1000; // beyond this, the filter narrows the table down
// Up to this many trials the page holds them all (polled incrementally) and filters and sorts
// here, as you type; beyond it the server filters, sorts and sends one page at a time.
const LOCAL_LIMIT = 1000;
const PAGE_ROWS = 100;

// -------------------------------------------------------------------------------- filtering

const OPS = {
  "=": (a, b) => a === b, "!=": (a, b) => a !== b,
  ">": (a, b) => a > b, "<": (a, b) => a < b, ">=": (a, b) => a >= b, "<=": (a, b) => a <= b,
};

function fieldOf(trial, key) {
  switch (key.toLowerCase()) {
    case "id": return trial.id;
    case "status": return trial.status;
    case "metric": return trial.final_value;
    case "duration": return trial.duration;
    default:
      return trial.sample && key in trial.sample ? trial.sample[key] : undefined;
  }
}

const FIELDS = ["id", "status", "metric", "duration"];
const NUMERIC_FIELDS = new Set(["id", "metric", "duration"]);

// "relu", "act=relu", "metric>0.9", "status=failed", "duration<=10": every token must hold.
// Returns the tests and, for tokens that cannot mean what they say, the problems to show
// (an unknown label, a comparison with something that is not a number, nothing to compare with).
export function parseFilter(text, labels) {
  const problems = [];
  const known = new Set([...FIELDS, ...(labels || [])].map((k) => k.toLowerCase()));
  const tests = text.trim().split(/\s+/).filter(Boolean).map((token) => {
    const m = token.match(/^([^<>=!]+?)(>=|<=|!=|=|>|<)(.*)$/);
    if (m) {
      const [, key, op, raw] = m;
      if (raw === "") problems.push(`"${token}": nothing after "${op}"; write e.g. ${key}${op}${NUMERIC_FIELDS.has(key.toLowerCase()) ? "0.9" : "value"}`);
      else if (!known.has(key.toLowerCase())) {
        problems.push(`"${key}" is not a label or a field (labels: ${(labels || []).join(", ") || "none"}; fields: ${FIELDS.join(", ")}); "${token}" is matched as text`);
      } else if (NUMERIC_FIELDS.has(key.toLowerCase()) && Number.isNaN(Number(raw))) {
        problems.push(`"${raw}" is not a number (in "${token}")`);
      } else if (["<", ">", "<=", ">="].includes(op) && Number.isNaN(Number(raw)) && !NUMERIC_FIELDS.has(key.toLowerCase())) {
        problems.push(`"${token}": ${op} compares numbers, but "${raw}" is not one (values are then compared as text)`);
      }
      return (trial) => {
        const value = fieldOf(trial, key);
        if (value === undefined) return haystack(trial).includes(token.toLowerCase());
        if (value === null) return false;
        const number = Number(raw);
        if (typeof value === "number" && raw !== "" && !Number.isNaN(number)) return OPS[op](value, number);
        return OPS[op](fmtValue(value).toLowerCase(), raw.toLowerCase());
      };
    }
    const needle = token.toLowerCase();
    return (trial) => haystack(trial).includes(needle);
  });
  return { tests, problems };
}

function haystack(trial) {
  return [trial.id, trial.status, fmtNum(trial.final_value), JSON.stringify(trial.sample),
    ...Object.values(trial.sample || {}).map(fmtValue)].join(" ").toLowerCase();
}

function compare(a, b) {
  if (a == null && b == null) return 0;
  if (a == null) return 1; // empty cells last, whatever the direction
  if (b == null) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return fmtValue(a).localeCompare(fmtValue(b), undefined, { numeric: true });
}

// -------------------------------------------------------------------------------- trial table

const view = { sort: "id", desc: false, q: "", status: "", page: 0 };
const picked = new Set(); // trials ticked for comparison

function readQuery() {
  const params = new URLSearchParams(location.search);
  view.sort = params.get("sort") || view.sort;
  view.desc = params.has("desc") ? params.get("desc") === "1" : view.desc;
  view.q = params.get("q") ?? view.q;
  view.status = params.get("status") ?? view.status;
  view.page = Math.max(0, Math.floor(Number(params.get("page")) || 0));
}

function writeQuery() {
  const params = new URLSearchParams();
  if (view.sort !== "id") params.set("sort", view.sort);
  if (view.desc) params.set("desc", "1");
  if (view.q) params.set("q", view.q);
  if (view.status) params.set("status", view.status);
  if (view.page) params.set("page", String(view.page));
  const query = params.toString();
  history.replaceState(history.state, "", location.pathname + (query ? `?${query}` : ""));
}

export function trialsPage() {
  let search, status, count, problems, compareButton, table, pager, last = null, lastData = null;
  let local = false; // whether this page holds every trial (see LOCAL_LIMIT); decided by the server's count
  let table_ = null; // the last page from the server: { rows, total, matched, statuses, cursor, key }

  function tableQuery() {
    const params = new URLSearchParams({ q: view.q, status: view.status, sort: view.sort,
      desc: view.desc ? "1" : "0", offset: String(view.page * PAGE_ROWS), limit: String(PAGE_ROWS) });
    return params.toString();
  }

  function changed() { // the user changed the filter, the sort or the page
    writeQuery();
    if (local) render();
    else document.dispatchEvent(new CustomEvent("refresh"));
  }

  function updateCompare() {
    compareButton.disabled = picked.size < 2;
    compareButton.textContent = picked.size ? `Compare ${plural(picked.size, "trial")}` : "Compare (tick 2 or more)";
  }

  function columns(exp) {
    const labels = exp.space.labels.map((l) => l.label);
    const now = exp.now ?? Date.now() / 1000;
    const cols = [
      { key: "pick", title: "", get: (tr) => (picked.has(tr.id) ? 0 : 1), pick: true,
        cell: (tr) => el("input", { type: "checkbox", class: "pick", "aria-label": `compare trial ${tr.id}`, checked: picked.has(tr.id),
          onclick: (e) => { e.stopPropagation(); if (e.target.checked) picked.add(tr.id); else picked.delete(tr.id); updateCompare(); } }) },
      { key: "id", title: "#", get: (tr) => tr.id, cell: (tr) => el("a", { href: `/trials/${tr.id}`, text: `#${tr.id}` }), num: true },
      { key: "status", title: "status", get: (tr) => tr.status, cell: (tr) => statusPill(tr.status) },
    ];
    if (labels.length <= MAX_LABEL_COLUMNS) {
      for (const label of labels) {
        cols.push({ key: `label:${label}`, title: label, label: true, get: (tr) => tr.sample?.[label],
          cell: (tr) => el("code", { text: label in (tr.sample || {}) ? fmtValue(tr.sample[label]) : "" }) });
      }
    } else {
      cols.push({ key: "sample", title: "sample", get: (tr) => JSON.stringify(tr.sample),
        cell: (tr) => el("span", { class: "chips" }, Object.entries(tr.sample || {}).map(([k, v]) =>
          el("code", { class: "chip", title: k }, `${k}=${fmtValue(v)}`))) });
    }
    cols.push(
      { key: "metric", title: "final metric", get: (tr) => tr.final_value, num: true,
        cell: (tr) => tr.status === "RUNNING" && tr.latest != null
          ? el("span", { class: "muted", title: "latest intermediate result (still running)", text: `${fmtNum(tr.latest)} …` })
          : fmtNum(tr.final_value) },
      { key: "duration", title: "duration", num: true,
        get: (tr) => tr.duration ?? (tr.status === "RUNNING" && tr.started_at != null ? now - tr.started_at : null),
        cell: (tr) => tr.status === "RUNNING" && tr.started_at != null
          ? el("span", { title: "running for", text: `${fmtDuration(Math.max(0, now - tr.started_at))} …` })
          : fmtDuration(tr.duration) },
      { key: "started", title: "started", get: (tr) => tr.started_at, cell: (tr) => fmtTime(tr.started_at) },
    );
    return cols;
  }

  function render() {
    if (!lastData) return;
    const { experiment: exp } = lastData;
    const cols = columns(exp);
    const sortCol = cols.find((c) => c.key === view.sort) || cols[0];
    const { tests, problems: issues } = parseFilter(view.q, exp.space.labels.map((l) => l.label));
    clear(problems, issues.map((text) => el("div", { text })));
    let shown, total, statuses;
    if (local) {
      const { trials } = lastData;
      shown = trials
        .filter((tr) => !view.status || tr.status === view.status)
        .filter((tr) => tests.every((test) => test(tr)))
        .sort((a, b) => {
          const r = compare(sortCol.get(a), sortCol.get(b));
          const both = sortCol.get(a) != null && sortCol.get(b) != null;
          return (view.desc && both ? -r : r) || a.id - b.id;
        });
      total = trials.length;
      statuses = [...new Set(trials.map((tr) => tr.status))].sort();
    } else {
      shown = table_.rows; // filtered, sorted and paged by the server
      total = table_.total;
      statuses = table_.statuses;
    }
    const bestId = exp.best?.id;
    const head = el("tr", {}, cols.map((c) => {
      const active = c.key === sortCol.key;
      if (c.pick) return el("th", { class: "pick", title: "tick trials to compare them" }, "⇄");
      return el("th", {
        class: `${c.num ? "num" : ""} sortable ${active ? "sorted" : ""}`,
        "aria-sort": active ? (view.desc ? "descending" : "ascending") : "none",
        "data-key": c.key, title: "sort",
        onclick: () => {
          view.desc = view.sort === c.key ? !view.desc : c.key === "metric" && exp.optimize_mode === "maximize";
          view.sort = c.key;
          view.page = 0;
          changed();
        },
      }, c.title, active ? el("span", { class: "arrow", text: view.desc ? " ▼" : " ▲" }) : null);
    }));
    const rows = shown.slice(0, MAX_ROWS).map((tr) => el("tr", {
      class: `row ${tr.id === bestId ? "best-row" : ""}`, "data-id": tr.id,
      onclick: (e) => { if (!e.target.closest("a")) document.dispatchEvent(new CustomEvent("navigate", { detail: `/trials/${tr.id}` })); },
    }, cols.map((c) => el("td", { class: c.num ? "num" : c.label ? "val" : c.pick ? "pick" : "" }, c.cell(tr),
      c.key === "id" && tr.id === bestId ? el("span", { class: "star", title: "best trial", text: " ★" }) : null))));
    clear(table, el("thead", {}, head), el("tbody", {}, rows));
    if (local) {
      count.textContent = `${shown.length} of ${total} trials` +
        (shown.length > MAX_ROWS ? ` (the first ${MAX_ROWS} shown: filter to see others)` : "");
      clear(pager);
    } else {
      const first = table_.offset + 1;
      count.textContent = table_.matched
        ? `${first}–${table_.offset + shown.length} of ${table_.matched} matching (${total} trials)`
        : `0 of ${total} trials`;
      const pages = Math.max(1, Math.ceil(table_.matched / PAGE_ROWS));
      clear(pager, pages > 1 ? [
        el("button", { type: "button", class: "button light", id: "page-prev", disabled: view.page === 0,
          onclick: () => { view.page = Math.max(0, view.page - 1); changed(); } }, "← previous"),
        el("span", { class: "muted small", text: ` page ${view.page + 1} of ${pages} ` }),
        el("button", { type: "button", class: "button light", id: "page-next", disabled: view.page + 1 >= pages,
          onclick: () => { view.page += 1; changed(); } }, "next →"),
      ] : null);
    }
    const options = ["", ...statuses].map((s) => el("option", { value: s, selected: s === view.status, text: s || "any status" }));
    if (JSON.stringify(statuses) !== status.dataset.statuses) {
      status.dataset.statuses = JSON.stringify(statuses);
      clear(status, options);
      status.value = view.status;
    }
  }

  return {
    needs: () => ["experiment", local ? "trials" : "table"],
    async loadTable(getJSON) {
      const query = tableQuery();
      const cursor = table_ && table_.key === query ? table_.cursor : "";
      const body = await getJSON(`/api/trials/table?${query}&cursor=${encodeURIComponent(cursor)}`);
      if (body.unchanged && table_) return table_;
      return { ...body, key: query };
    },
    mount(root) {
      readQuery();
      search = el("input", { type: "search", class: "search", value: view.q, "aria-label": "filter trials",
        placeholder: "filter: text, label=value, metric>0.9, status=failed",
        oninput: () => { view.q = search.value; view.page = 0; changed(); } });
      status = el("select", { "aria-label": "status", onchange: () => { view.status = status.value; view.page = 0; changed(); } });
      count = el("span", { class: "muted" });
      problems = el("div", { class: "filter-problems small", role: "status", id: "filter-problems" });
      compareButton = el("button", { type: "button", class: "button light", id: "compare",
        onclick: () => document.dispatchEvent(new CustomEvent("navigate", { detail: `/compare?ids=${[...picked].sort((a, b) => a - b).join(",")}` })) });
      updateCompare();
      table = el("table", { class: "data trials", id: "trials-table" });
      pager = el("div", { class: "pager", id: "pager" });
      root.append(section("Trials", el("div", { class: "toolbar" }, search, status, count, compareButton), problems,
        el("div", { class: "scroll" }, table), pager));
    },
    update(data) {
      if (data.table) {
        if (data.table.key !== tableQuery()) return; // an answer to a query the user has since changed
        table_ = data.table;
        if (table_.total <= LOCAL_LIMIT) {
          local = true; // small enough to hold: from the next poll on, filter and sort here
          document.dispatchEvent(new CustomEvent("refresh"));
          return;
        }
      } else if (data.trials.length > LOCAL_LIMIT) {
        local = false; // it grew: let the server page it
        document.dispatchEvent(new CustomEvent("refresh"));
      }
      const rows = local ? data.trials : table_.rows;
      const running = rows.some((tr) => tr.status === "RUNNING");
      const key = JSON.stringify([local ? rows : table_.cursor, data.experiment.best?.id, data.experiment.space, running ? data.experiment.now : 0]);
      if (key === last) return;
      last = key;
      lastData = data;
      render();
    },
  };
}

// -------------------------------------------------------------------------------- one trial

export function trialPage(id) {
  let head, info, sample, curve, errorBox, log, logNote, lastLog = null;
  return {
    needs: () => ["experiment", "trial"],
    mount(root) {
      head = el("div", { class: "trial-head" });
      info = el("div");
      sample = el("div");
      curve = chartBox();
      errorBox = el("div");
      log = el("pre", { class: "log", id: "trial-log" });
      logNote = el("div", { class: "small muted" });
      root.append(
        head,
        errorBox,
        el("div", { class: "two" }, section("Trial", info), section("Sample", sample)),
        section("Intermediate metric", curve),
        section("Log", logNote, log),
      );
    },
    update({ experiment: exp, trial }) {
      const total = exp.progress.total;
      clear(head,
        el("h1", {}, `Trial #${trial.id} `, statusPill(trial.status),
          exp.best?.id === trial.id ? el("span", { class: "star", text: " ★ best" }) : null),
        el("span", { class: "nav-trials" },
          trial.id > 1 ? el("a", { href: `/trials/${trial.id - 1}`, text: "← previous" }) : null,
          el("a", { href: "/trials", text: "all trials" }),
          trial.id < total ? el("a", { href: `/trials/${trial.id + 1}`, text: "next →" }) : null));
      const finalRows = trial.final && typeof trial.final === "object"
        ? Object.entries(trial.final).filter(([k]) => k !== "default").map(([k, v]) => [`final.${k}`, fmtValue(v)])
        : [];
      clear(info, keyValueTable([
        ["final metric", el("strong", { text: fmtNum(trial.final_value) })],
        ...finalRows,
        ["duration", fmtDuration(trial.duration)],
        ["created", fmtTime(trial.created_at)],
        ["started", fmtTime(trial.started_at)],
        ["ended", fmtTime(trial.ended_at)],
        ["worker", trial.worker ?? "–"],
        ...(trial.resumed_from ? [["re-runs", el("a", { href: `/trials/${trial.resumed_from}`, text: `trial #${trial.resumed_from}` })]] : []),
        ["reports", String(trial.intermediates.length)],
      ]));
      clear(sample, sampleTable(trial.sample), codeBlock(fixedArchSnippet(trial.sample, exp.info)));
      plot(curve, ...trialCurveFigure(trial),
        trial.intermediates.length ? null : "This trial reported no intermediate metric (yet).");
      clear(errorBox, trial.error
        ? el("section", { class: "card error-card" },
          el("h2", { text: trial.status === "TIMEOUT" ? "Timed out" : trial.status === "EARLY_STOPPED" ? "Stopped early" : "Traceback" }),
          el("pre", { class: "error", id: "trial-error", text: trial.error }))
        : null);
      if (trial.log_tail !== lastLog) {
        const follow = lastLog === null || log.scrollHeight - log.scrollTop - log.clientHeight < 24;
        lastLog = trial.log_tail;
        log.textContent = trial.log_tail || "(empty)";
        if (follow) log.scrollTop = log.scrollHeight;
      }
      clear(logNote, trial.has_log
        ? [trial.log_truncated ? "The last 20 kB of the log. " : "", el("a", { href: `/api/trials/${trial.id}/log`, target: "_blank", rel: "noopener", text: "Open the whole log" })]
        : "This trial has no log.");
    },
  };
}
