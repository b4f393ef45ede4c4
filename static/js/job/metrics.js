// The loss chart, the small chart of every other key, and the metric cards above them.
// Loaded once from the API, then appended to: pushed points (and polled ones) are added,
// nothing already drawn is fetched again. Keys are logged at their own rates (train/loss
// every step, val/loss every few hundred), so what the page missed is read per key, from
// the last step it holds of that key (lib/catchup.js); a point read twice (pushed and
// read) replaces the other by step.

import { LineChart } from "../charts/line.js";
import { firstJSON, getJSON, jobMetricsUrl } from "../lib/api.js";
import { Cursors } from "../lib/catchup.js";
import { metric, setText, steps, toNumber } from "../lib/format.js";
import { boot, uid } from "./boot.js";

const LOSS_KEYS = ["train/loss", "val/loss"];

const cursors = new Cursors(); // per key: the last step held, the last one read
const latest = { ...boot.latest };
const MAX_KEYS = 100; // keys per request (the API's limit)
let loading = null; // the first read, while it runs

// --- charts -------------------------------------------------------------------------

const lossCanvas = document.getElementById("loss-chart");
const resetButton = document.getElementById("loss-reset");
const smoothingInput = document.getElementById("smoothing");
let lossChart = null;
const smallCharts = new Map();

function savedSmoothing() {
  try {
    const value = parseFloat(localStorage.getItem("tb-smoothing"));
    return Number.isFinite(value) ? value : 0.6;
  } catch {
    return 0.6;
  }
}

if (lossCanvas) {
  lossChart = new LineChart(lossCanvas, {
    series: [
      { id: "train/loss", label: "train", color: "accent", smooth: true },
      { id: "val/loss", label: "val", color: "series2", smooth: true },
    ],
    onZoom: (zoomed) => {
      resetButton.hidden = !zoomed;
    },
  });
  const alpha = savedSmoothing();
  smoothingInput.value = String(alpha);
  setText(document.getElementById("smoothing-value"), alpha.toFixed(2));
  lossChart.setSmoothing(alpha);
  smoothingInput.addEventListener("input", () => {
    const value = parseFloat(smoothingInput.value);
    setText(document.getElementById("smoothing-value"), value.toFixed(2));
    lossChart.setSmoothing(value);
    try {
      localStorage.setItem("tb-smoothing", String(value));
    } catch {
      /* not persisted */
    }
  });
  resetButton.addEventListener("click", () => lossChart.resetZoom());
  if (boot.errorStep !== null) lossChart.markStep(boot.errorStep);
}

function smallChart(key) {
  let chart = smallCharts.get(key);
  if (chart) return chart;
  const container = document.getElementById("small-charts");
  if (!container) return null;
  let article = [...container.querySelectorAll(".small-chart")].find((el) => el.dataset.key === key);
  if (!article) {
    // A key the job started logging after the page was painted.
    article = document.createElement("article");
    article.className = "panel small-chart";
    article.dataset.key = key;
    article.innerHTML =
      '<div class="panel__head"><h3></h3><span class="small-chart__value num" data-f="value"></span>' +
      '<button class="btn btn--ghost btn--icon chart-png" type="button" data-png>' +
      '<svg viewBox="0 0 16 16" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M8 2.5v8M4.5 7L8 10.5 11.5 7M3 13.5h10"/></svg></button></div>' +
      '<div class="panel__body"><div class="chart-box chart-box--sm"><canvas role="img"></canvas></div></div>';
    article.querySelector("h3").textContent = key;
    article.querySelector("canvas").setAttribute("aria-label", `${key} by step`);
    const png = article.querySelector("[data-png]");
    png.title = `Download ${key} as PNG`;
    png.setAttribute("aria-label", `Download ${key} chart as PNG`);
    const after = [...container.children].find((el) => el.dataset.key > key);
    container.insertBefore(article, after || null);
  }
  chart = new LineChart(article.querySelector("canvas"), {
    series: [{ id: key, label: key, color: "accent" }],
  });
  chart.$article = article;
  if (boot.errorStep !== null) chart.markStep(boot.errorStep);
  smallCharts.set(key, chart);
  return chart;
}

function chartFor(key) {
  if (LOSS_KEYS.includes(key)) return lossChart;
  return smallChart(key);
}

/** The greatest step of `points` (in step order, but a push may be in parts). */
function lastStepOf(points) {
  let last = points[0][0];
  for (const [step] of points) if (step > last) last = step;
  return last;
}

// --- metric cards -------------------------------------------------------------------

function updateMetricCard(key, points) {
  const last = points[points.length - 1];
  const previous = points.length > 1 ? points[points.length - 2][1] : latest[key];
  latest[key] = last[1];
  const el = document.querySelector(`.metric[data-key="${CSS.escape(key)}"]`);
  if (el) {
    setText(el.querySelector('[data-f="value"]'), metric(last[1]));
    setText(el.querySelector('[data-f="step"]'), `step ${steps(last[0])}`);
    const deltaEl = el.querySelector('[data-f="delta"]');
    const now = toNumber(last[1]);
    const before = toNumber(previous);
    if (Number.isFinite(now) && Number.isFinite(before)) {
      const delta = now - before;
      const better = el.dataset.better === "down" ? delta <= 0 : delta >= 0;
      setText(deltaEl, `${delta >= 0 ? "↑" : "↓"}${metric(Math.abs(delta))}`);
      deltaEl.dataset.good = String(better);
    }
  }
  const chart = smallCharts.get(key);
  if (chart) setText(chart.$article.querySelector('[data-f="value"]'), metric(last[1]));
}

function applySeries(series, { replace = false } = {}) {
  for (const [key, points] of Object.entries(series)) {
    if (!points.length) continue;
    const chart = chartFor(key);
    if (chart) {
      // Points pushed while the first read ran are kept: appending merges by step.
      if (replace && chart.lastX(key) === null) chart.setPoints(key, points);
      else chart.append(key, points);
    }
    // The card shows the newest step: a catch-up of older points (a key that lags) does
    // not replace what a push already showed.
    const held = cursors.newest(key);
    if (held !== null && lastStepOf(points) < held) continue;
    if (!replace || !(key in latest)) updateMetricCard(key, points);
    else {
      const chartValue = smallCharts.get(key);
      if (chartValue) setText(chartValue.$article.querySelector('[data-f="value"]'), metric(latest[key]));
    }
  }
}

function showChartEmpty(text) {
  for (const box of document.querySelectorAll(".area-loss .chart-box, .small-chart .chart-box")) {
    box.classList.remove("is-loading");
    if (!box.querySelector(".chart-empty")) {
      const empty = document.createElement("div");
      empty.className = "chart-empty";
      empty.textContent = text;
      box.append(empty);
    }
  }
}

function clearChartEmpty() {
  for (const el of document.querySelectorAll(".chart-empty")) el.remove();
}

/** The series so far (the page's first read). */
export function load() {
  if (!lossChart) return Promise.resolve();
  loading ||= (async () => {
    const data = await firstJSON(jobMetricsUrl(uid, "max_points=1000"));
    const series = {};
    for (const [key, value] of Object.entries(data.series)) {
      series[key] = value.points;
      if (value.points.length) cursors.read(key, lastStepOf(value.points));
    }
    applySeries(series, { replace: true });
    if (!Object.keys(series).length) showChartEmpty("No metrics reported yet");
    else if (!series["train/loss"] && !series["val/loss"]) lossChart.loaded();
    for (const chart of smallCharts.values()) chart.loaded();
  })();
  return loading;
}

// A key can be named in `keys=` unless it holds a comma or edge spaces (the API splits
// and trims the list); such keys are read with every other key.
const nameable = (key) => key !== "" && !key.includes(",") && key.trim() === key;

/** The series of `keys` (null: every key) after step `since` (null: all). */
async function readSeries(keys, since) {
  const query = ["max_points=10000"];
  if (keys) query.push(`keys=${keys.map(encodeURIComponent).join(",")}`);
  if (since !== null) query.push(`since_step=${since}`);
  const data = await getJSON(jobMetricsUrl(uid, query.join("&")));
  return data.series;
}

/** The reads of `keys` after `since`: named in parts of MAX_KEYS, or all keys at once. */
function seriesReads(keys, since) {
  const named = keys.filter(nameable);
  const reads = [];
  for (let i = 0; i < named.length; i += MAX_KEYS) reads.push(readSeries(named.slice(i, i + MAX_KEYS), since));
  if (named.length < keys.length) reads.push(readSeries(null, since));
  return reads;
}

/** What the page missed of every key: each key's points after the last step read of it
 * (keys with the same last step share a request), and every point of keys it has not
 * read yet (`metricKeys`: the job's keys, from its detail). `ticket` is LiveFeed's, for
 * this read. Resolves to how many points came. */
export async function poll(ticket = null, metricKeys = Promise.resolve([])) {
  if (!lossChart) return 0;
  if (loading) await loading.catch(() => {});
  const groups = cursors.groups();
  const reads = [...groups].flatMap(([since, keys]) => seriesReads(keys, since));
  const unread = new Set(cursors.unread());
  reads.push(
    metricKeys.then((keys) => {
      for (const key of keys || []) if (!cursors.has(key)) unread.add(key);
      return Promise.all(seriesReads([...unread], null));
    }),
  );
  const answers = (await Promise.all(reads)).flat();
  const series = {};
  for (const answer of answers) {
    for (const [key, value] of Object.entries(answer)) {
      if (!value.points.length) continue;
      // A key read twice (by name and among all keys) merges by step in the chart.
      if (series[key]) {
        const byStep = new Map(series[key].map((p) => [p[0], p]));
        for (const p of value.points) byStep.set(p[0], p);
        series[key] = [...byStep.values()].sort((a, b) => a[0] - b[0]);
      } else series[key] = value.points;
    }
  }
  const news = Object.values(series).reduce((n, points) => n + points.length, 0);
  if (news) clearChartEmpty();
  applySeries(series);
  for (const [key, points] of Object.entries(series)) cursors.read(key, lastStepOf(points));
  cursors.readDone(ticket);
  return news;
}

/** A `metrics` push, carried by the socket of `epoch`. */
export function apply(msg, epoch = null) {
  clearChartEmpty();
  applySeries(msg.series);
  for (const [key, points] of Object.entries(msg.series)) {
    if (points.length) cursors.pushed(key, lastStepOf(points), undefined, epoch);
  }
}
