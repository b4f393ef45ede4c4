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
import * as sections from "./sections.js";

const LOSS_KEYS = ["train/loss", "val/loss"];

const cursors = new Cursors(); // per key: the last step held, the last one read
const latest = { ...boot.latest };
const MAX_KEYS = 100; // keys per request (the API's limit)
const FIRST_POINTS = 1000; // points per series in a chart's first read
const BATCH_KEYS = 40; // keys per first read of charts coming into view
const MAX_IN_FLIGHT = 2; // first reads at a time
const BATCH_WAIT_MS = 16; // charts coming into view together share a read
let loading = null; // the first read, while it runs
const marked = new Set(boot.summaryMarked || []); // keys the job marks as summaries
const held = new Map(); // key -> points of a key whose chart is not created yet
const loadedKeys = new Set(); // keys whose whole series has been read
const requested = new Set(); // keys queued, being read, or read
const queue = [];
let inFlight = 0;
let flushTimer = 0;

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

/** Mark the loss chart's x axis at the steps of the job's comments. */
export function markComments(steps) {
  lossChart?.markComments(steps);
}

// --- small charts: created when their placeholder nears the viewport ----------------

const PNG_ICON =
  '<svg viewBox="0 0 16 16" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M8 2.5v8M4.5 7L8 10.5 11.5 7M3 13.5h10"/></svg>';

/** Merge `points` into `into` (both in step order) by step: a repeated step replaces. */
function mergePoints(into, points) {
  if (!into || !into.length) return points.slice();
  const last = into[into.length - 1][0];
  if (points.every((p, i) => p[0] > (i ? points[i - 1][0] : last))) return into.concat(points);
  const byStep = new Map(into.map((p) => [p[0], p]));
  for (const p of points) byStep.set(p[0], p);
  return [...byStep.values()].sort((a, b) => a[0] - b[0]);
}

/** The chart of `key`, drawn into its placeholder (the page calls this when the
 * placeholder nears the viewport): points held so far are drawn, the series is read
 * (batched with other charts coming into view) unless it was already. */
function createChart(key, article) {
  if (smallCharts.has(key)) return smallCharts.get(key);
  article.classList.add("small-chart--live");
  const box = article.querySelector(".chart-box");
  box.classList.remove("chart-box--idle");
  if (!loadedKeys.has(key)) box.classList.add("is-loading");
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${key} by step`);
  box.append(canvas);
  const png = document.createElement("button");
  png.className = "btn btn--ghost btn--icon chart-png";
  png.type = "button";
  png.dataset.png = "";
  png.title = `Download ${key} as PNG`;
  png.setAttribute("aria-label", `Download ${key} chart as PNG`);
  png.innerHTML = PNG_ICON;
  article.querySelector(".panel__head").append(png);
  const chart = new LineChart(canvas, { series: [{ id: key, label: key, color: "accent" }] });
  chart.$article = article;
  if (boot.errorStep !== null) chart.markStep(boot.errorStep);
  smallCharts.set(key, chart);
  const points = held.get(key);
  held.delete(key);
  if (points) chart.setPoints(key, points);
  if (loadedKeys.has(key)) chart.loaded();
  else request(key);
  return chart;
}

// --- reading series: batched, a few requests at a time ------------------------------

/** Queue the first read of `key`'s whole series (once). */
function request(key) {
  if (requested.has(key)) return;
  requested.add(key);
  queue.push(key);
  if (!flushTimer) flushTimer = setTimeout(flush, BATCH_WAIT_MS);
}

function flush() {
  flushTimer = 0;
  while (inFlight < MAX_IN_FLIGHT && queue.length) {
    const keys = queue.splice(0, BATCH_KEYS);
    inFlight += 1;
    readWhole(keys)
      .catch(() => {
        // Read again by the next poll.
        for (const key of keys) requested.delete(key);
      })
      .finally(() => {
        inFlight -= 1;
        flush();
      });
  }
}

/** Read the whole series of `keys` (each at most FIRST_POINTS long) and draw them. */
async function readWhole(keys, url = null) {
  const named = keys.filter(nameable);
  const reads = [];
  if (url) reads.push(firstJSON(url));
  else if (named.length) reads.push(getJSON(jobMetricsUrl(uid, `max_points=${FIRST_POINTS}&keys=${named.map(encodeURIComponent).join(",")}`)));
  // Keys the API cannot name come with every key (rare: a comma in a key).
  if (!url && named.length < keys.length) reads.push(getJSON(jobMetricsUrl(uid, `max_points=${FIRST_POINTS}`)));
  const answers = await Promise.all(reads);
  const series = {};
  for (const data of answers) {
    for (const key of keys) {
      const value = data.series[key];
      if (!value || series[key]) continue;
      series[key] = value.points;
      if (value.points.length) cursors.read(key, lastStepOf(value.points));
    }
  }
  for (const key of keys) loadedKeys.add(key);
  applySeries(series, { replace: true });
  for (const key of keys) smallCharts.get(key)?.loaded();
  return series;
}

function chartFor(key) {
  if (LOSS_KEYS.includes(key)) return lossChart;
  return smallCharts.get(key) || null;
}

/** Points of a key that is not drawn as a chart: a Summary row shows them, or they wait
 * for the key's chart (its placeholder is created if the key is new). */
function holdPoints(key, points) {
  const row = sections.summaryRow(key);
  const last = points[points.length - 1];
  if (row || marked.has(key)) {
    const step = row && row.dataset.step !== "" ? Number(row.dataset.step) : null;
    // A single-value key with a second point becomes a chart; marked keys stay rows.
    const second = !marked.has(key) && row && points.some((p) => p[0] !== step);
    if (!second) {
      if (step === null || lastStepOf(points) >= step) sections.setSummary(key, last[1], lastStepOf(points));
      return;
    }
    // Its first point comes with the chart's read of the whole series.
    sections.dropSummary(key);
  }
  held.set(key, mergePoints(held.get(key), points));
  sections.placeholder(key);
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
  const article = sections.article(key);
  if (article) setText(article.querySelector('[data-f="value"]'), metric(last[1]));
}

function applySeries(series, { replace = false } = {}) {
  for (const [key, points] of Object.entries(series)) {
    if (!points.length) continue;
    const chart = chartFor(key);
    if (chart) {
      // Points pushed while the first read ran are kept: appending merges by step.
      if (replace && chart.lastX(key) === null) chart.setPoints(key, points);
      else chart.append(key, points);
    } else if (!LOSS_KEYS.includes(key)) holdPoints(key, points);
    // The card shows the newest step: a catch-up of older points (a key that lags) does
    // not replace what a push already showed.
    const held = cursors.newest(key);
    if (held !== null && lastStepOf(points) < held) continue;
    if (!replace || !(key in latest)) updateMetricCard(key, points);
    else {
      const article = sections.article(key);
      if (article) setText(article.querySelector('[data-f="value"]'), metric(latest[key]));
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

/** The series so far: the loss chart and the first charts in one request (the page's
 * inline script started it); every other chart reads its series when it nears the
 * viewport. */
export function load() {
  if (!lossChart) return Promise.resolve();
  loading ||= (async () => {
    const first = boot.firstKeys || [];
    for (const key of first) requested.add(key);
    sections.onVisible(createChart);
    let series = {};
    try {
      if (boot.firstUrl) series = await readWhole(first, boot.firstUrl);
    } catch (error) {
      for (const key of first) requested.delete(key); // read again by the next poll
      throw error;
    }
    if (!Object.values(series).some((points) => points.length) && !boot.hasMetrics) {
      showChartEmpty("No metrics reported yet");
    } else if (!series["train/loss"]?.length && !series["val/loss"]?.length) lossChart.loaded();
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

/** Whether the page reads `key` when it catches up: the loss keys, and keys whose chart
 * has read its series (the others are read whole when their chart is created). */
const followed = (key) => LOSS_KEYS.includes(key) || loadedKeys.has(key);

/** What the page missed of every key it follows: each key's points after the last step
 * read of it (keys with the same last step share a request), and every point of loss
 * keys it has not read yet. Keys the page did not know of (`latestMetrics`: the job's
 * latest points by key, from its detail) get their chart placeholder or Summary row.
 * `ticket` is LiveFeed's, for this read. Resolves to how many points came. */
export async function poll(ticket = null, latestMetrics = Promise.resolve({})) {
  if (!lossChart) return 0;
  if (loading) await loading.catch(() => {});
  const groups = [...cursors.groups()]
    .map(([since, keys]) => [since, keys.filter(followed)])
    .filter(([, keys]) => keys.length);
  const reads = groups.flatMap(([since, keys]) => seriesReads(keys, since));
  const unread = new Set(cursors.unread().filter((key) => LOSS_KEYS.includes(key)));
  reads.push(
    latestMetrics.then((points) => {
      for (const [key, point] of Object.entries(points || {})) {
        if (LOSS_KEYS.includes(key)) {
          if (!cursors.has(key)) unread.add(key);
        } else learnKey(key, point);
      }
      return Promise.all(seriesReads([...unread], null));
    }),
  );
  // Charts whose first read failed read again.
  for (const key of smallCharts.keys()) if (!requested.has(key)) request(key);
  const answers = (await Promise.all(reads)).flat();
  const series = {};
  for (const answer of answers) {
    for (const [key, value] of Object.entries(answer)) {
      if (!value.points.length || !followed(key)) continue;
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

/** A key's latest point from the job's detail: a Summary row moves to a chart when its key
 * has a point at another step; a key the page did not know of gets its place. */
function learnKey(key, point) {
  if (smallCharts.has(key) || held.has(key)) return;
  const row = sections.summaryRow(key);
  if (row) {
    if (point.step !== Number(row.dataset.step) || marked.has(key)) holdPoints(key, [[point.step, point.value, point.epoch ?? null]]);
    return;
  }
  if (!sections.article(key)) holdPoints(key, [[point.step, point.value, point.epoch ?? null]]);
}

/** A `metrics` push, carried by the socket of `epoch`. */
export function apply(msg, epoch = null) {
  clearChartEmpty();
  applySeries(msg.series);
  for (const [key, points] of Object.entries(msg.series)) {
    if (points.length) cursors.pushed(key, lastStepOf(points), undefined, epoch);
  }
}

/** Checkpoints as diamonds on the loss chart's x axis (the best filled). */
export function markCheckpoints(steps, best = null) {
  lossChart?.markSteps(steps, best);
}
