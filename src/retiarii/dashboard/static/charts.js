// Plotly figures. Every string from the experiment goes through plotlyText() before it reaches
// Plotly (trace names, category values, tick texts, titles, hover text).

import { el, fmtValue, labelDomain, metricOf, plotlyText as t } from "./dom.js";

const CONFIG = {
  displaylogo: false,
  responsive: true,
  modeBarButtonsToRemove: ["select2d", "lasso2d"],
  toImageButtonOptions: { format: "png", scale: 2 },
};
const FONT = { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 12 };
const BEST_COLOR = "#d4a017";
const COLORS = ["#2f6fdf", "#e4572e", "#17a398", "#8a4fff", "#f0a202", "#c2185b", "#4c9a2a", "#5d6d7e"];

export function baseLayout(extra) {
  return {
    font: FONT,
    margin: { l: 64, r: 24, t: 36, b: 48 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#fff",
    hovermode: "closest",
    uirevision: "keep", // keep the user's zoom across live updates
    legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom" },
    ...extra,
  };
}

const drawn = new WeakMap(); // div -> JSON of what it shows, to skip redraws of unchanged data

// Draw (or update in place) a chart in `div`; a no-op when the figure has not changed. With an
// `empty` message, show that message instead of the chart (e.g. before any trial succeeded).
export function plot(div, traces, layout, empty) {
  if (empty) {
    if (div.dataset.empty !== empty) {
      if (drawn.has(div) && window.Plotly) window.Plotly.purge(div);
      drawn.delete(div);
      div.dataset.empty = empty;
      div.replaceChildren(el("p", { class: "muted empty", text: empty }));
    }
    return;
  }
  if (div.dataset.empty) {
    delete div.dataset.empty;
    div.replaceChildren();
  }
  if (typeof window.Plotly === "undefined") {
    div.replaceChildren(el("p", { class: "muted", text: "Charts unavailable: plotly.js did not load." }));
    return;
  }
  const key = JSON.stringify([traces, layout]);
  if (drawn.get(div) === key) return;
  drawn.set(div, key);
  window.Plotly.react(div, traces, layout, CONFIG);
}

export function chartBox(cls) {
  return el("div", { class: `chart ${cls || ""}` });
}

function axisTitle(text) {
  return { text: t(text) };
}

// An axis of whole numbers (trial ids, report sequences): no ticks between them.
function integerAxis(values, title) {
  const top = values.length ? Math.max(...values) : 1;
  return { title: axisTitle(title), tick0: 0, dtick: Math.max(1, Math.ceil(top / 12)), zeroline: false };
}

function shortLabel(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// Final metric of every trial in trial order, with the best-so-far line.
export function historyFigure(trials, optimizeMode, bestId) {
  const done = trials.filter((tr) => metricOf(tr) != null);
  const better = optimizeMode === "minimize" ? (a, b) => a < b : (a, b) => a > b;
  const bestX = [], bestY = [];
  let soFar = null;
  for (const tr of done) {
    if (soFar === null || better(tr.final_value, soFar)) soFar = tr.final_value;
    bestX.push(tr.id);
    bestY.push(soFar);
  }
  const hover = done.map((tr) => t(sampleText(tr.sample)));
  const best = done.filter((tr) => tr.id === bestId);
  const traces = [
    {
      type: "scatter", mode: "markers", name: "final metric",
      x: done.map((tr) => tr.id), y: done.map((tr) => tr.final_value), text: hover,
      marker: { size: 8, color: COLORS[0], line: { width: 1, color: "#fff" } },
      hovertemplate: "trial %{x}<br>metric %{y}<br>%{text}<extra></extra>",
    },
    {
      type: "scatter", mode: "lines", name: `best so far (${optimizeMode})`, x: bestX, y: bestY,
      line: { shape: "hv", color: BEST_COLOR, width: 2 }, hoverinfo: "skip",
    },
    {
      type: "scatter", mode: "markers", name: "best trial",
      x: best.map((tr) => tr.id), y: best.map((tr) => tr.final_value),
      text: best.map((tr) => t(sampleText(tr.sample))),
      marker: { size: 14, symbol: "star", color: BEST_COLOR, line: { width: 1, color: "#8a6500" } },
      hovertemplate: "best: trial %{x}<br>metric %{y}<br>%{text}<extra></extra>",
    },
  ];
  const failed = trials.filter((tr) => ["FAILED", "TIMEOUT"].includes(tr.status));
  if (failed.length && done.length) {
    const ys = done.map((tr) => tr.final_value);
    const low = Math.min(...ys);
    traces.push({
      type: "scatter", mode: "markers", name: "failed",
      x: failed.map((tr) => tr.id), y: failed.map(() => low),
      marker: { symbol: "x", color: "#cf222e", size: 9 },
      hovertemplate: "trial %{x} failed<extra></extra>",
    });
  }
  const layout = baseLayout({
    xaxis: integerAxis(trials.map((tr) => tr.id), "trial"),
    yaxis: { title: axisTitle("final metric"), zeroline: false },
  });
  return [traces, layout];
}

export function sampleText(sample) {
  return Object.entries(sample || {}).map(([k, v]) => `${k}=${fmtValue(v)}`).join(", ");
}

// Intermediate curves of all trials, overlaid; the best trial drawn on top in gold.
export function curvesFigure(curves, trials, bestId) {
  const byId = new Map(trials.map((tr) => [String(tr.id), tr]));
  const ids = Object.keys(curves).sort((a, b) => a - b);
  const many = ids.length > 12;
  const traces = ids.map((id, i) => {
    const tr = byId.get(id);
    const best = Number(id) === bestId;
    return {
      type: "scatter", mode: curves[id].x.length > 1 ? "lines" : "markers", name: `trial ${id}`,
      x: curves[id].x, y: curves[id].y,
      line: { width: best ? 3.5 : 1.5, color: best ? BEST_COLOR : COLORS[i % COLORS.length] },
      opacity: best || !many ? 1 : 0.55,
      hovertemplate: `trial ${id}${tr ? " (" + t(tr.status) + ")" : ""}<br>step %{x}: %{y}<extra></extra>`,
    };
  });
  // the best trial last, so it is drawn above the others
  traces.sort((a, b) => (a.name === `trial ${bestId}`) - (b.name === `trial ${bestId}`));
  // where each early-stopped trial was stopped: a cross on its last report
  const stopped = ids.filter((id) => byId.get(id)?.status === "EARLY_STOPPED" && curves[id].x.length);
  if (stopped.length) {
    traces.push({
      type: "scatter", mode: "markers", name: "stopped early",
      x: stopped.map((id) => curves[id].x[curves[id].x.length - 1]),
      y: stopped.map((id) => curves[id].y[curves[id].y.length - 1]),
      text: stopped.map((id) => `trial ${id}`),
      marker: { symbol: "x", size: 10, color: "#cf222e", line: { width: 2 } },
      hovertemplate: "%{text} stopped early at step %{x}: %{y}<extra></extra>",
    });
  }
  const layout = baseLayout({
    showlegend: !many || stopped.length > 0,
    xaxis: integerAxis(ids.flatMap((id) => curves[id].x), "report (sequence)"),
    yaxis: { title: axisTitle("intermediate metric"), zeroline: false },
  });
  return [traces, layout];
}

// A numerical label (uniform, loguniform, ...): the final metric against the value, one point per
// trial, on a log axis for log distributions.
function numericFigure(label, spaceLabel, done) {
  const traces = [{
    type: "scatter", mode: "markers",
    x: done.map((tr) => tr.sample[label]), y: done.map((tr) => tr.final_value),
    text: done.map((tr) => `trial ${tr.id}`),
    marker: { color: COLORS[0], size: 7, opacity: 0.8 },
    hovertemplate: "%{text}<br>value %{x}<br>metric %{y}<extra></extra>",
  }];
  const layout = baseLayout({
    showlegend: false,
    margin: { l: 56, r: 16, t: 8, b: 40 },
    xaxis: { type: spaceLabel.numeric.log ? "log" : "linear", automargin: true, zeroline: false },
    yaxis: { title: axisTitle("final metric"), zeroline: false },
  });
  return [traces, layout];
}

// For one label: the final metric of the trials, grouped by the value they chose.
export function byValueFigure(label, spaceLabel, trials) {
  const done = trials.filter((tr) => metricOf(tr) != null && label in (tr.sample || {}));
  if (spaceLabel?.numeric) return numericFigure(label, spaceLabel, done);
  const seen = new Set(done.map((tr) => fmtValue(tr.sample[label])));
  const domain = labelDomain(spaceLabel);
  const order = (domain || []).map(fmtValue).filter((v) => seen.has(v));
  for (const v of seen) if (!order.includes(v)) order.push(v);
  const traces = order.map((value, i) => {
    const group = done.filter((tr) => fmtValue(tr.sample[label]) === value);
    return {
      type: "box", name: t(value), y: group.map((tr) => tr.final_value),
      x: group.map(() => t(value)), text: group.map((tr) => `trial ${tr.id}`),
      boxpoints: "all", jitter: 0.4, pointpos: 0, boxmean: true,
      marker: { color: COLORS[i % COLORS.length], size: 6 }, line: { width: 1.5 },
      hovertemplate: "%{text}<br>metric %{y}<extra></extra>",
    };
  });
  const layout = baseLayout({
    showlegend: false,
    margin: { l: 56, r: 16, t: 8, b: 40 },
    xaxis: { type: "category", categoryorder: "array", categoryarray: order.map(t), automargin: true },
    yaxis: { title: axisTitle("final metric"), zeroline: false },
  });
  return [traces, layout];
}

// Parallel coordinates: one axis per label (its candidates) and one for the final metric.
export function parallelFigure(space, trials, optimizeMode) {
  const done = trials.filter((tr) => metricOf(tr) != null);
  const dimensions = [];
  for (const spaceLabel of space.labels) {
    const label = spaceLabel.label;
    if (spaceLabel.numeric) { // a continuous axis (log10 of the value for log distributions)
      const log = spaceLabel.numeric.log;
      const raw = done.map((tr) => Number(tr.sample?.[label]));
      dimensions.push({
        label: t(shortLabel(log ? `log10 ${label}` : label, 24)),
        values: raw.map((v) => (log ? Math.log10(v) : v)),
      });
      continue;
    }
    const values = done.map((tr) => fmtValue(tr.sample?.[label]));
    const domain = (labelDomain(spaceLabel) || []).map(fmtValue);
    for (const v of values) if (!domain.includes(v)) domain.push(v);
    if (!domain.length) continue;
    dimensions.push({
      label: t(shortLabel(label, 24)),
      values: values.map((v) => domain.indexOf(v)),
      tickvals: domain.map((_, i) => i),
      ticktext: domain.map((v) => t(shortLabel(v, 16))),
      range: [-0.25, Math.max(domain.length - 1, 0) + 0.25],
    });
  }
  const metric = done.map((tr) => tr.final_value);
  dimensions.push({ label: "final metric", values: metric });
  const traces = [{
    type: "parcoords",
    dimensions,
    line: {
      color: metric, colorscale: "Viridis", reversescale: optimizeMode === "minimize",
      showscale: true, colorbar: { title: { text: "metric" }, thickness: 12 },
    },
    labelangle: dimensions.length > 8 ? -20 : 0,
    labelfont: { size: 12 },
  }];
  const layout = baseLayout({ margin: { l: 96, r: 72, t: 56, b: 24 } });
  return [traces, layout];
}

// One-shot: the store counts epochs from 0; the user reads them from 1.
export function shownEpoch(epoch) {
  return epoch == null ? epoch : epoch + 1;
}

// One-shot: several numeric series in one chart (x: epoch when every point has one, else step).
export function seriesLinesFigure(entries, yTitle) {
  let xTitle = "epoch";
  const traces = entries.map(([name, columns], i) => {
    const useEpoch = columns.epoch.every((e) => e != null);
    if (!useEpoch) xTitle = "step";
    return {
      type: "scatter", mode: columns.value.length > 1 ? "lines" : "markers", name: t(name),
      x: useEpoch ? columns.epoch.map(shownEpoch) : columns.step, y: columns.value,
      line: { width: 2, color: COLORS[i % COLORS.length] },
    };
  });
  const layout = baseLayout({
    showlegend: true, // name the series even when it is alone
    xaxis: { title: axisTitle(xTitle), zeroline: false, ...(xTitle === "epoch" ? { tick0: 1, dtick: epochTick(traces) } : {}) },
    yaxis: { title: axisTitle(yTitle), zeroline: false },
  });
  return [traces, layout];
}

function epochTick(traces) {
  const top = Math.max(1, ...traces.map((tr) => tr.x.length));
  return Math.max(1, Math.ceil(top / 12));
}

function probCandidates(columns) {
  const candidates = [];
  for (const point of columns.value) {
    if (point && typeof point === "object") {
      for (const key of Object.keys(point)) if (!candidates.includes(key)) candidates.push(key);
    }
  }
  return candidates;
}

// Whether `candidate` (a key of an arch_prob point) is what `chosen` (the label's value in
// arch/selected: a value, or a list of them for an input choice) picks.
export function isChosen(candidate, chosen) {
  if (chosen === undefined) return false;
  const picked = Array.isArray(chosen) ? chosen : [chosen];
  return picked.some((v) => String(typeof v === "object" && v !== null ? JSON.stringify(v) : v) === candidate);
}

// One-shot: the probability of each candidate (rows) at each epoch (columns), as a heatmap that
// reads the same after one epoch and after fifty.
export function archProbFigure(columns) {
  const useEpoch = columns.epoch.every((e) => e != null);
  const x = useEpoch ? columns.epoch.map(shownEpoch) : columns.step;
  const candidates = probCandidates(columns);
  const z = candidates.map((c) => columns.value.map((p) => (p && typeof p[c] === "number" ? p[c] : null)));
  const traces = [{
    type: "heatmap", x, y: candidates.map((c) => t(c)), z, zmin: 0, zmax: 1,
    colorscale: "Blues", reversescale: true, xgap: x.length <= 60 ? 1 : 0, ygap: 1,
    colorbar: { title: { text: "p" }, thickness: 10 },
    hovertemplate: `${useEpoch ? "epoch" : "step"} %{x}<br>%{y}: %{z:.3f}<extra></extra>`,
  }];
  const layout = baseLayout({
    margin: { l: 96, r: 16, t: 8, b: 48 },
    xaxis: { title: axisTitle(useEpoch ? "epoch" : "step"), zeroline: false, type: "linear", ...(useEpoch ? { tick0: 1, dtick: Math.max(1, Math.ceil(x.length / 12)) } : {}) },
    yaxis: { type: "category", automargin: true, autorange: "reversed" },
  });
  return [traces, layout];
}

// One-shot: the latest probabilities of a label as bars, the chosen candidate (arch/selected) in
// gold and named.
export function archFinalFigure(columns, chosen) {
  const candidates = probCandidates(columns);
  const last = columns.value[columns.value.length - 1] || {};
  const marked = candidates.map((c) => isChosen(c, chosen));
  const traces = [{
    type: "bar", orientation: "h", y: candidates.map((c) => t(c)),
    x: candidates.map((c) => (typeof last[c] === "number" ? last[c] : 0)),
    marker: { color: marked.map((m) => (m ? BEST_COLOR : COLORS[0])) },
    text: marked.map((m) => (m ? "chosen" : "")), textposition: "outside", cliponaxis: false,
    hovertemplate: "%{y}: %{x:.3f}<extra></extra>",
  }];
  const layout = baseLayout({
    showlegend: false,
    margin: { l: 96, r: 56, t: 8, b: 48 },
    xaxis: { title: axisTitle("final probability"), range: [0, 1.05], zeroline: false },
    yaxis: { type: "category", automargin: true, autorange: "reversed" },
  });
  return [traces, layout];
}

// A single trial's intermediate curve, with its final metric as a dashed line.
export function trialCurveFigure(trial) {
  const xs = trial.intermediates.map((r) => r.sequence);
  const traces = [{
    type: "scatter", mode: xs.length > 1 ? "lines+markers" : "markers", name: "intermediate",
    x: xs, y: trial.intermediates.map((r) => r.value_num),
    line: { color: COLORS[0], width: 2 }, marker: { size: 6 },
    hovertemplate: "report %{x}: %{y}<extra></extra>",
  }];
  const shapes = [];
  if (trial.final_value != null) {
    traces.push({
      type: "scatter", mode: "lines", name: "final", x: [xs[0] ?? 0, xs[xs.length - 1] ?? 1],
      y: [trial.final_value, trial.final_value], line: { dash: "dash", color: BEST_COLOR, width: 2 },
      hovertemplate: "final %{y}<extra></extra>",
    });
  }
  const layout = baseLayout({
    shapes,
    xaxis: integerAxis(xs, "report (sequence)"),
    yaxis: { title: axisTitle("intermediate metric"), zeroline: false },
  });
  if (xs.length === 1) {
    // one report: a point in the middle of a small window around it, not on a -1..1 axis
    const y = trial.intermediates[0].value_num;
    const ys = [y, trial.final_value].filter((v) => v != null);
    const span = Math.max(Math.abs(Math.max(...ys) - Math.min(...ys)), Math.abs(y) * 0.1, 1e-3);
    layout.xaxis = { ...layout.xaxis, range: [xs[0] - 1, xs[0] + 1], dtick: 1 };
    layout.yaxis = { ...layout.yaxis, range: [Math.min(...ys) - span, Math.max(...ys) + span] };
    traces[0].marker = { size: 10 };
    if (traces[1]) traces[1].x = [xs[0] - 1, xs[0] + 1];
  }
  return [traces, layout];
}

// Final metric against wall-clock time since the experiment started (minutes): how fast the
// search improved, which trial ids alone do not show when trials run in parallel.
export function timeFigure(trials, optimizeMode, startedAt) {
  const done = trials.filter((tr) => metricOf(tr) != null && tr.ended_at != null)
    .sort((a, b) => a.ended_at - b.ended_at);
  const minutes = (tr) => (tr.ended_at - startedAt) / 60;
  const better = optimizeMode === "minimize" ? (a, b) => a < b : (a, b) => a > b;
  const bestX = [], bestY = [];
  let soFar = null;
  for (const tr of done) {
    if (soFar === null || better(tr.final_value, soFar)) soFar = tr.final_value;
    bestX.push(minutes(tr));
    bestY.push(soFar);
  }
  const traces = [
    {
      type: "scatter", mode: "markers", name: "final metric", x: done.map(minutes),
      y: done.map((tr) => tr.final_value), text: done.map((tr) => `trial ${tr.id}`),
      marker: { size: 8, color: COLORS[0], line: { width: 1, color: "#fff" } },
      hovertemplate: "%{text}<br>ended at %{x:.2f} min<br>metric %{y}<extra></extra>",
    },
    {
      type: "scatter", mode: "lines", name: `best so far (${optimizeMode})`, x: bestX, y: bestY,
      line: { shape: "hv", color: BEST_COLOR, width: 2 }, hoverinfo: "skip",
    },
  ];
  const layout = baseLayout({
    xaxis: { title: axisTitle("minutes since the experiment started"), zeroline: false, rangemode: "tozero" },
    yaxis: { title: axisTitle("final metric"), zeroline: false },
  });
  return [traces, layout];
}

// What early stopping saved, in reports (epochs, usually): the early-stopped trials made
// `used` of the `full` reports they would have made had they run as long as the longest
// completed trial; `saved` is the share of all reports that this spared. Null if none stopped.
export function pruningSavings(curves, trials) {
  const reports = (curve) => (curve && curve.x.length ? curve.x[curve.x.length - 1] + 1 : 0);
  const lengths = (status) => trials.filter((tr) => tr.status === status)
    .map((tr) => reports(curves[String(tr.id)]));
  const stopped = lengths("EARLY_STOPPED");
  if (!stopped.length) return null;
  const full = Math.max(0, ...lengths("SUCCEEDED"), ...stopped);
  const used = stopped.reduce((a, b) => a + b, 0);
  const wouldBe = stopped.length * full;
  const total = lengths("SUCCEEDED").reduce((a, b) => a + b, 0) + used;
  return { count: stopped.length, used, wouldBe, saved: total + wouldBe - used > 0 ? (wouldBe - used) / (total + wouldBe - used) : 0 };
}

// The intermediate curves of a few chosen trials, one colour each (the compare page).
export function compareCurvesFigure(curves, trials) {
  const traces = trials.map((tr, i) => {
    const curve = curves[String(tr.id)] || { x: [], y: [] };
    return {
      type: "scatter", mode: curve.x.length > 1 ? "lines+markers" : "markers", name: `trial ${tr.id}`,
      x: curve.x, y: curve.y, line: { color: COLORS[i % COLORS.length], width: 2 }, marker: { size: 7 },
      hovertemplate: `trial ${tr.id}<br>report %{x}: %{y}<extra></extra>`,
    };
  });
  const xs = traces.flatMap((tr) => tr.x);
  const layout = baseLayout({
    xaxis: integerAxis(xs, "report (sequence)"),
    yaxis: { title: axisTitle("intermediate metric"), zeroline: false },
  });
  return [traces, layout];
}
