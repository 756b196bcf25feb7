// The dashboard's single-page app: routing, the header, live polling, stop and export.

import { clear, el, getJSON, HttpError } from "./dom.js";
import { chartsPage, oneshotPage } from "./page_charts.js";
import { comparePage } from "./page_compare.js";
import { overviewPage } from "./page_overview.js";
import { paretoPage } from "./page_pareto.js";
import { trialPage, trialsPage } from "./page_trials.js";

const LIVE_MS = 2000; // while the experiment runs
const IDLE_MS = 15000; // once it ended (it may be resumed)
const RETRY_MS = 5000;
const LIVE_STATES = new Set(["created", "running"]);

const $ = (id) => document.getElementById(id);
let current = null; // { name, page, ctx }
let timer = null;
let generation = 0;
let stopping = false;

function route(path) {
  let m;
  if (path === "/" || path === "/index.html") return { name: "overview", make: overviewPage, title: "Overview" };
  // trials: pages about trials, which a one-shot search (one supernet) does not have
  if (path === "/trials") return { name: "trials", make: trialsPage, title: "Trials", trials: true };
  if ((m = path.match(/^\/trials?\/(\d+)$/))) return { name: "trials", make: () => trialPage(Number(m[1])), id: Number(m[1]), title: `Trial #${m[1]}`, trials: true };
  if (path === "/charts") return { name: "charts", make: chartsPage, title: "Charts", trials: true };
  if (path === "/compare") return { name: "trials", make: comparePage, title: "Compare trials", trials: true };
  if (path === "/oneshot") return { name: "oneshot", make: oneshotPage, title: "One-shot" };
  if (path === "/pareto") return { name: "pareto", make: paretoPage, title: "Objectives" };
  return null;
}

// What the pages need, loaded incrementally where it can be: the trials and the curves are kept
// here and merged with what changed since the last poll (the server's cursor), so a steady poll
// of a large experiment moves only what changed.
const cache = { trials: new Map(), trialList: [], trialCursor: 0, curves: {}, curveCursor: 0, id: null };

// Another experiment behind the same address (a new exp.run on the port): start afresh.
function forget(id) {
  if (cache.id === id) return false;
  const known = cache.id !== null;
  Object.assign(cache, { trials: new Map(), trialList: [], trialCursor: 0, curves: {}, curveCursor: 0, id });
  return known;
}

async function loadTrials() {
  const body = await getJSON(`/api/trials?since=${cache.trialCursor}`);
  for (const row of body.trials) cache.trials.set(row.id, row);
  cache.trialCursor = body.cursor;
  if (body.trials.length || cache.trialList.length !== cache.trials.size) {
    cache.trialList = [...cache.trials.values()].sort((a, b) => a.id - b.id);
  }
  return cache.trialList;
}

async function loadCurves() {
  const body = await getJSON(`/api/intermediates?since=${cache.curveCursor}`);
  if (Object.keys(body.curves).length) cache.curves = { ...cache.curves, ...body.curves };
  cache.curveCursor = body.cursor;
  return cache.curves;
}

const LOADERS = {
  experiment: () => getJSON("/api/experiment"),
  trials: loadTrials,
  intermediates: loadCurves,
  series: () => getJSON("/api/series"),
  pareto: () => getJSON("/api/pareto"),
  trial: (r) => getJSON(`/api/trials/${r.id}`),
  table: (r, page) => page.loadTable(getJSON),
};

function banner(message, kind) {
  const node = $("banner");
  node.hidden = !message;
  node.className = `banner ${kind || ""}`;
  node.textContent = message || "";
}

function mount() {
  generation += 1;
  clearTimeout(timer);
  const r = route(location.pathname);
  const view = $("view");
  clear(view);
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", r !== null && a.dataset.page === r.name);
  }
  if (!r) {
    current = null;
    view.append(el("section", { class: "card" }, el("h2", { text: "Page not found" }),
      el("p", {}, el("a", { href: "/", text: "Back to the overview" }))));
    return;
  }
  const page = r.make();
  page.mount(view);
  current = { route: r, page };
  tick();
}

// What a trial page says when the experiment is a one-shot search: what it has instead.
function oneShotNotice(r, exp) {
  const strategy = exp.info?.strategy ? ` (${exp.info.strategy})` : "";
  return el("section", { class: "card", id: "oneshot-notice" },
    el("h2", { text: `${r.title}: not in a one-shot search` }),
    el("p", {}, `This experiment is a one-shot search${strategy}: it trains one supernet that `
      + "holds every candidate instead of running trials, so there are no trials to list, compare "
      + "or chart."),
    el("ul", {},
      el("li", {}, el("a", { href: "/oneshot", text: "One-shot" }),
        ": the loss and metrics per epoch and each label's architecture probabilities over the epochs."),
      el("li", {}, el("a", { href: "/", text: "Overview" }),
        ": the epoch it has reached, its metric, and the exported architecture with the code that rebuilds it.")));
}

// Trial pages of a one-shot search show the notice; from then on only the header is polled.
function showOneShotNotice(r, exp) {
  current.notice = true;
  clear($("view"), oneShotNotice(r, exp));
}

function updateHeader(exp) {
  $("exp-name").textContent = exp.name;
  const pill = $("exp-state");
  pill.textContent = exp.state;
  pill.className = `pill s-${exp.state}`;
  document.title = `${current?.route.title ?? "retiarii"} · ${exp.name} · retiarii`;
  const stop = $("stop");
  stop.hidden = !exp.can_stop;
  stop.disabled = stopping && exp.can_stop;
  if (!exp.can_stop) stopping = false;
  stop.textContent = stop.disabled ? "Stopping…" : "Stop experiment";
  $("nav").querySelector('[data-page="oneshot"]').hidden = !exp.has_series && !exp.one_shot;
  // a one-shot search trains one supernet: trial tables and charts across trials make no sense
  $("nav").querySelector('[data-page="trials"]').hidden = !!exp.one_shot;
  $("nav").querySelector('[data-page="charts"]').hidden = !!exp.one_shot;
  $("nav").querySelector('[data-page="pareto"]').hidden = !exp.pareto;
  const k = $("export-k");
  k.max = String(Math.max(1, exp.progress.succeeded));
  k.closest("label").hidden = !!exp.one_shot; // a one-shot search exports one architecture
  if (exp.one_shot) $("export").href = "/api/export?top_k=1";
  $("export").hidden = !!exp.one_shot && !exp.oneshot_progress?.exported; // nothing to export yet
}

function isLive(exp) {
  return LIVE_STATES.has(exp.state);
}

// One poll at a time: a tick asked for while one runs (navigation, a new filter) runs right after.
let busy = false;
let again = false;

async function tick() {
  clearTimeout(timer);
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    await poll();
  } finally {
    busy = false;
  }
  if (again) {
    again = false;
    tick();
  }
}

async function poll() {
  if (!current) return;
  if (document.hidden) return; // resumed by visibilitychange
  const mine = generation;
  const { route: r, page } = current;
  const needs = current.notice ? ["experiment"]
    : ["experiment", ...page.needs().filter((k) => k !== "experiment")];
  let delay = RETRY_MS;
  try {
    const values = await Promise.all(needs.map((k) => LOADERS[k](r, page)));
    if (mine !== generation) return; // the user navigated meanwhile
    const data = Object.fromEntries(needs.map((k, i) => [k, values[i]]));
    if (forget(data.experiment.id)) {
      again = true; // what was merged belongs to the previous experiment: fetch it all again
      return;
    }
    updateHeader(data.experiment);
    if (r.trials && data.experiment.one_shot && !current.notice) {
      showOneShotNotice(r, data.experiment);
    } else if (!current.notice) {
      page.update(data);
    }
    if (!stopping) banner("");
    const live = isLive(data.experiment);
    $("live").textContent = `${live ? "● live" : "○ " + data.experiment.state} · updated ${new Date().toLocaleTimeString()}`;
    $("live").className = `live ${live ? "on" : ""}`;
    delay = live ? LIVE_MS : IDLE_MS;
  } catch (err) {
    if (mine !== generation) return;
    if (err instanceof HttpError && err.status === 404 && r.id != null) {
      // a one-shot search has no trial #n, whichever n: say what it has instead, as for #1
      const exp = await LOADERS.experiment().catch(() => null);
      if (mine !== generation) return;
      if (!exp?.one_shot) {
        clear($("view"), el("section", { class: "card" }, el("h2", { text: `No trial #${r.id}` }),
          el("p", { class: "muted", text: err.message }), el("p", {}, el("a", { href: "/trials", text: "All trials" }))));
        current = null;
        return;
      }
      updateHeader(exp);
      showOneShotNotice(r, exp);
      delay = isLive(exp) ? LIVE_MS : IDLE_MS;
    } else {
      banner(`Cannot reach the experiment: ${err.message}. Retrying…`, "error");
      $("live").textContent = "○ disconnected";
      $("live").className = "live";
      console.error(err);
    }
  }
  if (mine === generation) timer = setTimeout(tick, delay);
}

function navigate(url) {
  if (url === location.pathname + location.search) return;
  history.pushState({}, "", url);
  mount();
  window.scrollTo(0, 0);
}

document.addEventListener("click", (event) => {
  const a = event.target.closest("a");
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/static/")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
document.addEventListener("navigate", (event) => navigate(event.detail));
window.addEventListener("popstate", mount);
document.addEventListener("refresh", () => tick()); // a page's query changed
document.addEventListener("visibilitychange", () => { if (!document.hidden) tick(); });

$("export-k").addEventListener("input", () => {
  const k = Math.max(1, Math.floor(Number($("export-k").value) || 1));
  $("export").href = `/api/export?top_k=${k}`;
});

$("stop").addEventListener("click", async () => {
  if (!window.confirm("Stop the experiment? Running trials are interrupted; it can be resumed later (retiarii resume).")) return;
  stopping = true;
  $("stop").disabled = true;
  $("stop").textContent = "Stopping…";
  try {
    const response = await fetch("/api/stop", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    banner("Stop requested: running trials are being interrupted.", "info");
  } catch (err) {
    stopping = false;
    banner(`Could not stop the experiment: ${err.message}`, "error");
  }
  tick();
});

mount();
