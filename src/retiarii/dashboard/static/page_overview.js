// The overview: status, progress, elapsed time, the best architecture, search space, config.

import { chartBox, historyFigure, plot, shownEpoch } from "./charts.js";
import {
  clear, codeBlock, el, fixedArchSnippet, fmtDuration, fmtNum, fmtTime, fmtValue, isTimestampKey,
  keyValueTable, plural, sampleTable, section, statusPill,
} from "./dom.js";

// Configuration fields of a multi-trial search, meaningless for a one-shot search's supernet.
const MULTI_TRIAL_FIELDS = new Set([
  "trial_concurrency", "max_trial_number", "trial_gpu_number", "trial_cpu_number",
  "max_trial_retries", "trial_timeout", "trial_seed", "trial_log_limit", "trial_memory_limit",
  "max_trials_per_worker", "execution", "execution_engine", "training_service",
  "training_service_platform",
]);

function card(title, ...body) {
  return el("div", { class: "stat" }, el("div", { class: "stat-title", text: title }), ...body);
}

function progressCard(p) {
  const scale = Math.max(p.budget || 0, p.total - p.interrupted, 1);
  const parts = [
    ["succeeded", p.succeeded], ["early-stopped", p.early_stopped || 0], ["failed", p.failed],
    ["canceled", p.canceled],
    ["running", p.running], ["waiting", p.waiting],
  ];
  const bar = el(
    "div",
    { class: "bar", role: "img", "aria-label": "trial progress" },
    parts.filter(([, n]) => n > 0).map(([kind, n]) =>
      el("span", { class: `seg seg-${kind}`, style: `width:${(100 * n) / scale}%`, title: `${n} ${kind}` })),
  );
  const legend = el(
    "div",
    { class: "legend" },
    parts.filter(([, n]) => n > 0).map(([kind, n]) =>
      el("span", {}, el("i", { class: `dot seg-${kind}` }), `${n} ${kind}`)),
    p.interrupted ? el("span", { class: "muted", text: `${p.interrupted} interrupted (re-run)` }) : null,
  );
  const of = p.budget != null ? `of ${p.budget}` : "(no trial budget)";
  return card("Progress", el("div", { class: "stat-value" }, `${p.ended} `, el("small", { text: of })), bar, legend);
}

function elapsedCard(exp) {
  const body = [el("div", { class: "stat-value", text: fmtDuration(exp.elapsed) })];
  if (exp.max_duration) { // a one-shot search stops at the limit too (after its current step)
    const share = Math.min(100, (100 * exp.elapsed) / exp.max_duration);
    body.push(
      el("div", { class: "bar" }, el("span", { class: "seg seg-time", style: `width:${share}%` })),
      el("div", { class: "legend", text: `limit ${fmtDuration(exp.max_duration)}` }),
    );
  }
  body.push(el("div", { class: "muted small", text: `created ${fmtTime(exp.created_at)}` }));
  return card("Elapsed", ...body);
}

function bestCard(exp) {
  if (!exp.best) return card("Best metric", el("div", { class: "stat-value muted", text: "–" }),
    el("div", { class: "muted small", text: "no successful trial yet" }));
  return card(
    "Best metric",
    el("div", { class: "stat-value best" }, fmtNum(exp.best.final_value)),
    el("div", { class: "small" }, `${exp.optimize_mode} · `,
      el("a", { href: `/trials/${exp.best.id}`, text: `trial #${exp.best.id}` })),
  );
}

// One-shot cards: one supernet trained for some epochs, judged by the evaluator's metric.
function epochCard(exp) {
  const o = exp.oneshot_progress;
  const live = ["created", "running"].includes(exp.state);
  const body = [el("div", { class: "stat-value" }, String(o.epochs_done),
    el("small", { text: o.max_epochs ? ` of ${o.max_epochs}` : " done" }))];
  if (o.max_epochs) {
    const share = Math.min(100, (100 * o.epochs_done) / o.max_epochs);
    body.push(el("div", { class: "bar", role: "img", "aria-label": "epochs trained" },
      el("span", { class: "seg seg-succeeded", style: `width:${share}%` })));
  }
  const training = live && (!o.max_epochs || o.epochs_done < o.max_epochs);
  body.push(el("div", { class: "muted small", text: training
    ? `training epoch ${o.epochs_done + 1}${o.step != null ? ` · step ${o.step}` : ""}`
    : `${plural(o.epochs_done, "epoch")} trained` }));
  return card("Epoch", ...body);
}

function metricCard(exp) {
  const o = exp.oneshot_progress;
  const m = o.metric;
  if (!m) {
    const value = o.exported?.value;
    const note = value != null ? `final · ${exp.optimize_mode}`
      : o.exported ? "none: stopped before an epoch finished" : "reported at the end of the first epoch";
    return card("Metric", el("div", { class: `stat-value ${value == null ? "muted" : "best"}`, text: value == null ? "–" : fmtNum(value) }),
      el("div", { class: "muted small", text: note }));
  }
  return card(m.name,
    el("div", { class: "stat-value best", text: fmtNum(m.value) }),
    el("div", { class: "small", text: `${m.optimize_mode} · epoch ${m.epoch}` }),
    m.best_epoch !== m.epoch
      ? el("div", { class: "muted small", text: `best ${fmtNum(m.best)} at epoch ${m.best_epoch}` }) : null);
}

function architectureCard(exp) {
  const done = exp.oneshot_progress.exported;
  if (!done) return card("Architecture", el("div", { class: "stat-value muted", text: "searching" }),
    el("div", { class: "muted small", text: "exported when the search ends or is stopped" }));
  return card("Architecture", el("div", { class: "stat-value", text: "exported" }),
    el("div", { class: "small" }, `${plural(Object.keys(done.sample || {}).length, "label")} · `,
      el("a", { href: "/api/export?top_k=1", download: "", text: "download JSON" })));
}

function frontCard(pareto) {
  const names = Object.entries(pareto.objectives).map(([name, mode]) => `${name} (${mode === "maximize" ? "max" : "min"})`);
  return card(
    "Pareto front",
    el("div", { class: "stat-value" }, String(pareto.front_size), el("small", { text: pareto.front_size === 1 ? " trial" : " trials" })),
    el("div", { class: "small" }, `${names.join(" · ")} · `, el("a", { href: "/pareto", text: "objectives" })),
  );
}

function rangesTable(ranges) {
  const rows = Object.entries(ranges).map(([name, r]) =>
    el("tr", {}, el("td", {}, el("code", { text: name })), el("td", { class: "num", text: fmtNum(r.min) }),
      el("td", { class: "num", text: fmtNum(r.max) }), el("td", { class: "num muted", text: String(r.samples) })));
  if (!rows.length) return null;
  return el("div", { class: "profiled" },
    el("p", { class: "muted small", text: "Profiled cost over random samples of the space:" }),
    el("table", { class: "data" },
      el("thead", {}, el("tr", {}, ["profiler", "min", "max", "samples"].map((h) => el("th", { text: h })))),
      el("tbody", {}, rows)));
}

function flatten(value, prefix, rows) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, rows);
  } else {
    rows.push([prefix, value == null ? el("span", { class: "muted", text: "–" }) : fmtValue(value)]);
  }
  return rows;
}

// A distribution's parameters, e.g. "0.0001 … 0.1" or "mu 0, sigma 1", and its step if quantized.
function numericRange(l) {
  const [a, b, q] = Array.isArray(l.numeric.bounds) ? l.numeric.bounds : [];
  const range = (l.type || "").endsWith("normal") ? `mu ${fmtValue(a)}, sigma ${fmtValue(b)}`
    : `${fmtValue(a)} … ${fmtValue(b)}`;
  return q != null ? `${range}, step ${fmtValue(q)}` : range;
}

function spaceTable(space) {
  const head = el("tr", {}, ["label", "type", "candidates", "values"].map((h) => el("th", { text: h })));
  const rows = space.labels.map((l) =>
    el("tr", {},
      el("td", {}, el("code", { text: l.label })),
      el("td", { class: "muted", text: l.type || "" }),
      el("td", { class: "cands" },
        l.numeric ? el("code", { class: "cand", text: numericRange(l) })
          : (Array.isArray(l.candidates) ? l.candidates : [l.candidates]).map((c) =>
            el("code", { class: "cand", text: fmtValue(c) })),
        l.n_chosen != null ? el("span", { class: "muted", text: ` choose ${l.n_chosen}` }) : null),
      el("td", { class: "num", text: l.size ?? "–" })));
  return el("table", { class: "data" }, el("thead", {}, head), el("tbody", {}, rows));
}

// The last line of a traceback ("ValueError: ..."): what went wrong, without the stack.
function errorLine(error) {
  const lines = String(error || "").trim().split("\n").filter((l) => l.trim());
  return lines.length ? lines[lines.length - 1].trim() : "";
}

// When no trial succeeded but some failed: how many, and their most common error, so a broken
// evaluator is seen on the first page instead of trial by trial.
function failureSummary(trials) {
  const failed = trials.filter((tr) => ["FAILED", "TIMEOUT"].includes(tr.status));
  if (!failed.length) return null;
  const counts = new Map();
  for (const tr of failed) {
    const line = errorLine(tr.error) || tr.status.toLowerCase();
    const entry = counts.get(line) || { n: 0, first: tr };
    entry.n += 1;
    counts.set(line, entry);
  }
  const [line, { n, first }] = [...counts.entries()].sort((a, b) => b[1].n - a[1].n)[0];
  const all = failed.length === trials.filter((tr) => tr.ended_at != null).length;
  return el("div", { class: "failure-summary" },
    el("p", {}, el("strong", { text: all ? `All ${plural(failed.length, "trial")} failed` : `${plural(failed.length, "trial")} failed` }),
      `; ${n === failed.length ? "every one" : `${n} of them`} with:`),
    el("pre", { class: "error", text: line }),
    el("p", {}, "See ", el("a", { href: `/trials/${first.id}`, text: `trial #${first.id}` }), " for the traceback and log."));
}

// How the newest export came about; one stopped before its run finished an epoch has no metric.
function exportedSentence(o) {
  const m = o.metric;
  const last = m ? `${m.name} ${fmtNum(m.value)} at the last finished epoch (${m.optimize_mode})` : null;
  if (o.exported.value != null) {
    return `The search exported this architecture after ${plural(o.epochs_done, "epoch")}${last ? `; ${last}` : ""}.`;
  }
  const when = o.epochs_done ? `after ${plural(o.epochs_done, "epoch")} and part of the next` : "during its first epoch";
  return `The search was stopped ${when} and exported this architecture: the export has no metric${last ? ` (${last})` : ""}.`;
}

// A one-shot search's architecture: the exported one, else the current choice if the trainer
// publishes it (arch/selected), else where to watch the search.
function oneShotArchitecture(node, body, exp) {
  const o = exp.oneshot_progress;
  const heading = node.querySelector("h2");
  if (o.exported) {
    heading.textContent = "Exported architecture";
    clear(body,
      el("p", {}, exportedSentence(o)),
      sampleTable(o.exported.sample),
      codeBlock(fixedArchSnippet(o.exported.sample, exp.info)));
  } else if (exp.selected) {
    heading.textContent = "Current architecture";
    const at = exp.selected.epoch != null ? `epoch ${shownEpoch(exp.selected.epoch)}` : `step ${exp.selected.step}`;
    clear(body,
      el("p", {}, `The one-shot search's current choice (${at}); see `, el("a", { href: "/oneshot", text: "One-shot" }), "."),
      sampleTable(exp.selected.sample),
      codeBlock(fixedArchSnippet(exp.selected.sample, exp.info)));
  } else {
    heading.textContent = "Architecture";
    clear(body, el("p", { class: "muted" }, "Exported when the search ends (or is stopped); until then ",
      el("a", { href: "/oneshot", text: "One-shot" }), " shows each label's probabilities epoch by epoch."));
  }
}

export function overviewPage() {
  let cards, best, bestSection, history, historySection, space, config, lastStatic = null;
  return {
    needs: () => ["experiment", "trials"],
    mount(root) {
      cards = el("div", { class: "cards" });
      historySection = section("Final metric per trial", history = chartBox());
      best = el("div");
      space = el("div");
      config = el("div");
      root.append(
        cards,
        el("div", { class: "two" },
          bestSection = section("Best architecture", best),
          historySection),
        el("div", { class: "two" },
          section("Search space", space),
          section("Configuration", config)),
      );
    },
    update({ experiment: exp, trials }) {
      const reason = exp.end_reason && exp.state !== "running"
        ? el("div", { class: "muted small", text: exp.end_reason }) : null;
      clear(cards,
        card("Status", el("div", { class: "stat-value" }, statusPill(exp.state)), reason,
          el("div", { class: "muted small", text: `id ${exp.id}` })),
        ...(exp.one_shot
          ? [epochCard(exp), elapsedCard(exp), metricCard(exp), architectureCard(exp)]
          : [progressCard(exp.progress), elapsedCard(exp), bestCard(exp)]),
        exp.pareto ? frontCard(exp.pareto) : null);
      if (exp.one_shot) {
        oneShotArchitecture(bestSection, best, exp);
      } else if (exp.best) {
        clear(best,
          el("p", {}, "Trial ", el("a", { href: `/trials/${exp.best.id}`, text: `#${exp.best.id}` }),
            ` reached ${fmtNum(exp.best.final_value)}.`),
          sampleTable(exp.best.sample),
          codeBlock(fixedArchSnippet(exp.best.sample, exp.info)));
      } else {
        clear(best, failureSummary(trials) || el("p", { class: "muted", text: "No successful trial yet." }));
      }
      historySection.hidden = !!exp.one_shot; // one supernet, not a history of trials
      if (!exp.one_shot) plot(history, ...historyFigure(trials, exp.optimize_mode, exp.best?.id),
        exp.best ? null : "No successful trial yet.");
      const staticKey = JSON.stringify([exp.space, exp.config, exp.info]);
      if (staticKey !== lastStatic) {
        lastStatic = staticKey;
        clear(space,
          el("p", {}, `${plural(exp.space.labels.length, "label")} · `,
            el("strong", { text: exp.space.size ?? "?" }), " architectures"),
          spaceTable(exp.space),
          exp.info?.profiled_ranges ? rangesTable(exp.info.profiled_ranges) : null);
        const info = Object.entries(exp.info || {})
          .filter(([k]) => !["duration", "end_reason", "profiled_ranges", "pareto_front"].includes(k))
          .filter(([k]) => !["model_import", "model_call", "oneshot"].includes(k))
          .map(([k, v]) => [k, isTimestampKey(k) && typeof v === "number" ? fmtTime(v) : fmtValue(v)]);
        clear(config,
          keyValueTable(info),
          keyValueTable(flatten(exp.config, "", []).filter(([k]) =>
            !(exp.one_shot && MULTI_TRIAL_FIELDS.has(k.split(".")[0])))));
      }
    },
  };
}
