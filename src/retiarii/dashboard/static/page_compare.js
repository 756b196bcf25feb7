// Several trials side by side: their intermediate curves on one chart and their samples and
// results in one table, the values that differ between them highlighted.

import { chartBox, compareCurvesFigure, plot } from "./charts.js";
import { clear, el, fmtDuration, fmtNum, fmtValue, section, statusPill } from "./dom.js";

export function comparedIds(search) {
  const raw = new URLSearchParams(search).get("ids") || "";
  return [...new Set(raw.split(",").map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0))];
}

export function comparePage() {
  let note, curves, table;
  const ids = comparedIds(location.search);
  return {
    needs: () => ["experiment", "trials", "intermediates"],
    mount(root) {
      note = el("p", { class: "muted small" });
      curves = chartBox();
      table = el("div", { class: "scroll" });
      root.append(
        section("Compare trials", note, table),
        section("Intermediate curves", curves),
      );
    },
    update({ experiment: exp, trials, intermediates }) {
      const byId = new Map(trials.map((tr) => [tr.id, tr]));
      const chosen = ids.map((id) => byId.get(id)).filter(Boolean);
      const missing = ids.filter((id) => !byId.has(id));
      clear(note,
        ids.length < 2 ? "Tick two or more trials in the trials table, then press Compare. " : "",
        missing.length ? `No trial ${missing.map((id) => `#${id}`).join(", ")} in this experiment. ` : "",
        el("a", { href: "/trials", text: "Back to the trials" }));
      if (!chosen.length) {
        clear(table);
        plot(curves, [], {}, "No trial to compare.");
        return;
      }
      const labels = exp.space.labels.map((l) => l.label);
      const rows = [
        ["status", (tr) => statusPill(tr.status), null],
        ["final metric", (tr) => el("strong", { text: fmtNum(tr.final_value) }), (tr) => tr.final_value],
        ["duration", (tr) => fmtDuration(tr.duration), null],
        ...labels.map((label) => [label, (tr) => el("code", { text: label in (tr.sample || {}) ? fmtValue(tr.sample[label]) : "" }),
          (tr) => JSON.stringify(tr.sample?.[label])]),
      ];
      const head = el("tr", {}, el("th", { text: "" }), chosen.map((tr) =>
        el("th", {}, el("a", { href: `/trials/${tr.id}`, text: `#${tr.id}` }), exp.best?.id === tr.id ? " ★" : "")));
      const body = rows.map(([name, cell, key]) => {
        const differs = key && new Set(chosen.map(key)).size > 1;
        return el("tr", { class: differs ? "differs" : "" }, el("th", {}, name === "status" || name === "final metric" || name === "duration" ? name : el("code", { text: name })),
          chosen.map((tr) => el("td", { class: differs ? "diff" : "" }, cell(tr))));
      });
      clear(table, el("table", { class: "data compare", id: "compare-table" }, el("thead", {}, head), el("tbody", {}, body)));
      const reported = chosen.some((tr) => intermediates[String(tr.id)]);
      plot(curves, ...compareCurvesFigure(intermediates, chosen), reported ? null : "None of these trials reported an intermediate metric.");
    },
  };
}
