// Several objectives: a scatter of two of them with the Pareto front highlighted (click a point
// to open its trial), and parallel coordinates over all of them.

import { baseLayout, chartBox, plot } from "./charts.js";
import { el, fmtNum, plotlyText as t, section } from "./dom.js";

const FRONT_COLOR = "#d4a017";
const OTHER_COLOR = "#9aa5b1";

function scatterFigure(data, xName, yName) {
  const trace = (front) => {
    const pts = data.points.filter((p) => p.front === front);
    if (front) pts.sort((a, b) => a.values[xName] - b.values[xName]);
    return {
      type: "scatter",
      mode: front ? "lines+markers" : "markers",
      line: { shape: "hv", color: FRONT_COLOR, width: 1 },
      name: front ? `Pareto front (${pts.length})` : `other trials (${pts.length})`,
      x: pts.map((p) => p.values[xName]),
      y: pts.map((p) => p.values[yName]),
      customdata: pts.map((p) => p.id),
      text: pts.map((p) => t(`trial #${p.id}`)),
      hovertemplate: `%{text}<br>${t(xName)} %{x}<br>${t(yName)} %{y}<extra></extra>`,
      marker: { size: front ? 10 : 7, color: front ? FRONT_COLOR : OTHER_COLOR, line: { width: front ? 1 : 0, color: "#333" } },
    };
  };
  const dir = (name) => (data.objectives[name] === "maximize" ? "↑ better" : "↓ better");
  const layout = baseLayout({
    xaxis: { title: { text: t(`${xName} (${data.objectives[xName] === "maximize" ? "→ better" : "← better"})`) } },
    yaxis: { title: { text: t(`${yName} (${dir(yName)})`) } },
  });
  return [[trace(false), trace(true)], layout];
}

function parallelObjectives(data) {
  const names = Object.keys(data.objectives);
  const dimensions = names.map((name) => ({
    label: t(`${name} (${data.objectives[name] === "maximize" ? "max" : "min"})`),
    values: data.points.map((p) => p.values[name]),
  }));
  dimensions.push({ label: "on the front", values: data.points.map((p) => (p.front ? 1 : 0)), tickvals: [0, 1], ticktext: ["no", "yes"], range: [-0.1, 1.1] });
  const traces = [{
    type: "parcoords",
    dimensions,
    line: { color: data.points.map((p) => (p.front ? 1 : 0)), colorscale: [[0, OTHER_COLOR], [1, FRONT_COLOR]] },
  }];
  return [traces, baseLayout({ margin: { l: 96, r: 72, t: 56, b: 24 } })];
}

export function paretoPage() {
  let scatter, parallel, pickX, pickY, table, data = null;
  const redraw = () => {
    if (!data) return;
    const empty = data.objectives ? (data.points.length ? null : "No successful trial with every objective yet.")
      : "This experiment has one objective (set config.objectives for several).";
    const names = data.objectives ? Object.keys(data.objectives) : [];
    for (const [select, fallback] of [[pickX, names[0]], [pickY, names[1] ?? names[0]]]) {
      if (select.options.length !== names.length) {
        select.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
        select.value = fallback ?? "";
      }
    }
    plot(scatter, ...(data.objectives ? scatterFigure(data, pickX.value, pickY.value) : [[], {}]), empty);
    plot(parallel, ...(data.objectives ? parallelObjectives(data) : [[], {}]), empty);
    const front = data.points.filter((p) => p.front);
    table.replaceChildren(
      el("thead", {}, el("tr", {}, el("th", { text: "trial" }), names.map((n) => el("th", { text: n })))),
      el("tbody", {}, front.map((p) => el("tr", {},
        el("td", {}, el("a", { href: `/trials/${p.id}`, text: `#${p.id}` })),
        names.map((n) => el("td", { class: "num", text: fmtNum(p.values[n]) }))))),
    );
  };
  return {
    needs: () => ["experiment", "pareto"],
    mount(root) {
      scatter = chartBox("tall");
      parallel = chartBox("tall");
      pickX = el("select", { "aria-label": "x objective" });
      pickY = el("select", { "aria-label": "y objective" });
      pickX.addEventListener("change", redraw);
      pickY.addEventListener("change", redraw);
      table = el("table", { class: "data" });
      root.append(
        section("Objectives", el("p", { class: "muted small" }, "Every successful trial; the Pareto front (no other trial is at least as good on every objective and better on one) in gold. Click a point to open its trial. x: ", pickX, " y: ", pickY), scatter),
        section("Parallel coordinates", el("p", { class: "muted small", text: "One line per trial over all objectives; drag along an axis to filter." }), parallel),
        section("The front", table),
      );
    },
    update({ pareto }) {
      data = pareto;
      redraw();
      if (scatter.on && !scatter.dataset.linked) {
        scatter.dataset.linked = "1";
        scatter.on("plotly_click", (event) => {
          const id = event?.points?.[0]?.customdata;
          if (id != null) document.dispatchEvent(new CustomEvent("navigate", { detail: `/trials/${id}` }));
        });
      }
    },
  };
}
