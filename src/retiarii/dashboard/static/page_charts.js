// Charts over all trials, and the one-shot page (series written by one-shot trainers).

import {
  archFinalFigure, archProbFigure, byValueFigure, chartBox, curvesFigure, historyFigure, parallelFigure, plot,
  pruningSavings, seriesLinesFigure, shownEpoch, timeFigure,
} from "./charts.js";
import { clear, el, fmtNum, fmtValue, sampleTable, section } from "./dom.js";

export function chartsPage() {
  let history, curves, overTime, byValue, parallel, note, savings;
  const labelCharts = new Map();
  return {
    needs: () => ["experiment", "trials", "intermediates"],
    mount(root) {
      history = chartBox();
      curves = chartBox();
      savings = el("p", { class: "small", id: "pruning-savings" });
      overTime = chartBox();
      byValue = el("div", { class: "grid-charts" });
      parallel = chartBox("tall");
      note = el("p", { class: "muted small" });
      root.append(
        el("div", { class: "two" },
          section("Final metric per trial", el("p", { class: "muted small", text: "Each successful trial, with the best metric so far." }), history),
          section("Intermediate curves", el("p", { class: "muted small", text: "Every report of every trial; the best trial in gold; a red cross where a trial was stopped early." }), savings, curves)),
        section("Final metric over time", el("p", { class: "muted small", text: "Each successful trial at the moment it ended, with the best so far: how fast the search improved." }), overTime),
        section("Metric by chosen value",
          el("p", { class: "muted small", text: "For each label, the final metrics of the trials that chose each value: which choices matter." }),
          byValue),
        section("Parallel coordinates", note, parallel),
      );
    },
    update({ experiment: exp, trials, intermediates }) {
      const bestId = exp.best?.id;
      const done = trials.filter((tr) => tr.final_value != null).length;
      const none = done ? null : "No successful trial yet.";
      plot(history, ...historyFigure(trials, exp.optimize_mode, bestId), none);
      plot(overTime, ...timeFigure(trials, exp.optimize_mode, exp.info?.run_started_at ?? exp.created_at), none);
      const pruned = pruningSavings(intermediates, trials);
      savings.textContent = pruned
        ? `Early stopping: ${pruned.count} trial${pruned.count === 1 ? "" : "s"} stopped after ${pruned.used} of the ${pruned.wouldBe} reports a full run would have made; about ${Math.round(100 * pruned.saved)}% of the search's compute saved.`
        : "";
      plot(curves, ...curvesFigure(intermediates, trials, bestId),
        Object.keys(intermediates).length ? null : "No intermediate metric reported yet.");
      for (const spaceLabel of exp.space.labels) {
        let box = labelCharts.get(spaceLabel.label);
        if (!box) {
          box = chartBox("small");
          labelCharts.set(spaceLabel.label, box);
          byValue.append(el("div", { class: "label-chart" }, el("h3", {}, el("code", { text: spaceLabel.label })), box));
        }
        plot(box, ...byValueFigure(spaceLabel.label, spaceLabel, trials), none);
      }
      note.textContent = `One line per successful trial (${done}): its value for each label and its final metric. Drag along an axis to filter.`;
      plot(parallel, ...parallelFigure(exp.space, trials, exp.optimize_mode), none);
    },
  };
}

function seriesGroups(names) {
  const groups = { loss: [], metric: [], prob: [], selected: null, other: [] };
  for (const name of names) {
    if (name === "loss" || name.startsWith("loss/")) groups.loss.push(name);
    else if (name.startsWith("metric/")) groups.metric.push(name);
    else if (name.startsWith("arch_prob/")) groups.prob.push(name);
    else if (name === "arch/selected") groups.selected = name;
    else groups.other.push(name);
  }
  return groups;
}

// The supernet's run epoch by epoch: the loss and every metric, the headline metric's best
// epoch (in its own direction) marked. Returns null before the first epoch.
function epochTable(series, names, progress) {
  const columns = names.filter((n) => series.series[n].epoch.every((e) => e != null)
    && series.series[n].value.every((v) => typeof v === "number"));
  const rows = new Map(); // epoch -> {name: value}
  for (const name of columns) {
    const c = series.series[name];
    c.epoch.forEach((e, i) => { if (!rows.has(e)) rows.set(e, {}); rows.get(e)[name] = c.value[i]; });
  }
  if (!rows.size) return null;
  const headline = progress?.metric ? `metric/${progress.metric.name}` : null;
  const bestEpoch = progress?.metric?.best_epoch;
  const head = el("tr", {}, el("th", { class: "num", text: "epoch" }), columns.map((n) =>
    el("th", { class: "num" }, n === headline ? el("strong", { text: n }) : n)));
  const body = [...rows.keys()].sort((a, b) => a - b).map((e) => el("tr",
    { class: e + 1 === bestEpoch ? "best-row" : "", "data-epoch": String(e + 1) },
    el("td", { class: "num" }, String(e + 1), e + 1 === bestEpoch ? el("span", { class: "star", title: `best ${progress.metric.name}`, text: " ★" }) : null),
    columns.map((n) => el("td", { class: "num", text: n in rows.get(e) ? fmtNum(rows.get(e)[n]) : "" }))));
  return el("table", { class: "data", id: "epoch-table" }, el("thead", {}, head), el("tbody", {}, body));
}

export function oneshotPage() {
  let root, charts = new Map(), shape = null;

  function chartFor(key, title, hint, cls) {
    if (!charts.has(key)) {
      const box = chartBox(cls);
      charts.set(key, box);
      root.append(section(title, hint ? el("p", { class: "muted small", text: hint }) : null, box));
    }
    return charts.get(key);
  }

  return {
    needs: () => ["experiment", "series"],
    mount(node) {
      root = node;
    },
    update({ experiment: exp, series }) {
      const names = series.names;
      const key = JSON.stringify(names);
      if (key !== shape) { // the set of series changed: lay the page out again
        shape = key;
        charts = new Map();
        clear(root);
        if (!names.length) {
          root.append(section("One-shot", el("p", { class: "muted", text: exp.one_shot
            ? "Nothing logged yet: the loss appears here after the first training steps, the metrics and architecture probabilities after the first epoch."
            : "This experiment has no one-shot series (loss, metric/<name>, arch_prob/<label>)." })));
          return;
        }
      }
      if (!names.length) return;
      const g = seriesGroups(names);
      const numeric = (name) => series.series[name].value.every((v) => typeof v === "number");
      if (g.selected) {
        const values = series.series[g.selected].value;
        const epochs = series.series[g.selected].epoch;
        let box = charts.get("selected");
        if (!box) {
          box = el("div");
          charts.set("selected", box);
          root.append(section("Current architecture", box));
        }
        const at = shownEpoch(epochs[epochs.length - 1]);
        clear(box, el("p", { class: "muted small", text: at != null ? `as of epoch ${at}` : "latest" }),
          sampleTable(values[values.length - 1]));
      }
      // one chart per kind and x axis: series per epoch and series per step never share an axis
      for (const [kind, title] of [["loss", "Loss"], ["metric", "Metrics"]]) {
        const names = g[kind].filter(numeric);
        const perEpoch = names.filter((n) => series.series[n].epoch.every((e) => e != null));
        const perStep = names.filter((n) => !perEpoch.includes(n));
        for (const [group, axis] of [[perEpoch, "epoch"], [perStep, "step"]]) {
          if (!group.length) continue;
          const heading = perEpoch.length && perStep.length ? `${title} per ${axis}` : title;
          plot(chartFor(`${kind}:${axis}`, heading, null),
            ...seriesLinesFigure(group.map((n) => [n, series.series[n]]), kind));
        }
      }
      // the trainer's current choice if it publishes one, else the exported architecture
      const chosen = g.selected ? series.series[g.selected].value.at(-1)
        : exp.oneshot_progress?.exported?.sample ?? null;
      for (const name of g.prob) {
        const label = name.slice("arch_prob/".length);
        let boxes = charts.get(name);
        if (!boxes) {
          boxes = { heat: chartBox("small"), bars: chartBox("small") };
          boxes.heat.dataset.chart = "arch-heatmap";
          boxes.bars.dataset.chart = "arch-final";
          charts.set(name, boxes);
          root.append(section(`Architecture probabilities: ${label}`,
            el("p", { class: "muted small", text: "Each candidate's probability at each epoch (darker: likelier), and the latest probabilities with the chosen candidate in gold." }),
            el("div", { class: "two arch-prob", "data-label": label }, boxes.heat, boxes.bars)));
        }
        plot(boxes.heat, ...archProbFigure(series.series[name]));
        const value = chosen && typeof chosen === "object" ? chosen[label] : undefined;
        plot(boxes.bars, ...archFinalFigure(series.series[name], value));
      }
      let epochs = charts.get("epochs");
      if (!epochs) {
        epochs = el("div", { class: "scroll" });
        charts.set("epochs", epochs);
        root.append(section("Epochs", el("p", { class: "muted small", text: "The loss and every metric at the end of each epoch; ★ the best epoch of the search's metric (in its direction)." }), epochs));
      }
      const table = epochTable(series, [...g.loss, ...g.metric], exp.oneshot_progress);
      epochs.closest("section").hidden = !table;
      clear(epochs, table);
      for (const name of g.other) {
        const columns = series.series[name];
        if (numeric(name)) {
          plot(chartFor(name, name, null, "small"), ...seriesLinesFigure([[name, columns]], name));
        } else {
          let box = charts.get(name);
          if (!box) {
            box = el("pre", { class: "code" });
            charts.set(name, box);
            root.append(section(name, box));
          }
          box.textContent = fmtValue(columns.value[columns.value.length - 1]);
        }
      }
    },
  };
}
